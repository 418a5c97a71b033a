//! Upstream MCP servers as capabilities (`[mcp_servers.NAME]`, granted as
//! `mcp:NAME`, `mcp.capnp`).
//!
//! The broker is the MCP client (`rmcp`): it starts the server's command
//! at the first grant, lists its tools, and serves one capability per
//! grant whose interface it builds from that list, one method per tool
//! (every method takes a `ToolCall` and answers a `ToolResult`). A call's
//! arguments are checked against the tool's `inputSchema` (crate
//! `jsonschema`) before the upstream sees them. The capability goes into a
//! worker's `env` like any built-in, so its calls pass the membrane (call
//! log, budgets, revocation) and count against the worker's subrequests.
//!
//! A supervisor task owns the running client: when the upstream process
//! dies it starts it again (after 50 ms, doubling up to 5 s while starts
//! fail). While it is down, calls answer `disconnected`. The process gets
//! the broker's environment without its `CAPLET_SECRET_*` variables, plus
//! the server's `env` table, whose `{secret:NAME}` placeholders are filled
//! in here: workers never see them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::rc::{Rc, Weak};
use std::time::Duration;

use caplet::caplet_capnp::compiled_schema;
use caplet::mcp_capnp::{tool_call, tool_result};
use caplet_capnp_js::dynamic::{self, DynServer};
use caplet_capnp_js::schema::SchemaSet;
use capnp::capability::{Params, Promise, Results};
use capnp::message::{Builder, HeapAllocator};
use capnp::traits::HasTypeId;
use capnp::{any_pointer, schema_capnp};
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceExt};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;

use crate::error::Error;

/// Most tools one upstream may list (each is a method of its interface).
pub const MAX_TOOLS: usize = 1024;

/// Largest tool result passed on to a worker, in bytes of JSON.
pub const MAX_RESULT_BYTES: usize = 16 << 20;

/// How long the broker waits for an upstream to start and list its tools.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The first and the longest wait before an upstream is started again.
const RESTART_DELAY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(5));

/// One checked `[mcp_servers.NAME]`.
#[derive(Clone)]
pub struct UpstreamConfig {
    name: String,
    /// The program and its arguments.
    command: Vec<String>,
    /// `env`, secrets filled in. Never printed.
    env: Vec<(String, String)>,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("UpstreamConfig")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("env", &env)
            .finish()
    }
}

impl UpstreamConfig {
    /// Checks `[mcp_servers.NAME]`; the error is one line without the key.
    pub fn new(
        name: &str,
        server: &crate::mcp_config::McpServerConfig,
        secrets: &caplet_egress::Secrets,
    ) -> Result<Self, String> {
        let command = match (&server.command, &server.url) {
            (Some(command), None) => command.clone(),
            (None, Some(_)) => {
                return Err(
                    "url: streamable HTTP upstreams are not supported yet: give `command`".into(),
                )
            }
            _ => return Err("give exactly one of `command` or `url`".into()),
        };
        if command.first().is_none_or(|program| program.is_empty()) {
            return Err("command: give the program and its arguments".into());
        }
        let mut env = Vec::new();
        for (key, template) in &server.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(format!("env.{key}: not a variable name"));
            }
            let rule = caplet_egress::CredentialRule::new("*", "x-env", template)
                .map_err(|e| format!("env.{key}: {e}"))?;
            let value = rule.render_from(secrets).ok_or_else(|| {
                let missing: Vec<&str> = rule
                    .secret_names()
                    .filter(|s| !secrets.contains(s))
                    .collect();
                format!("env.{key}: no secret {}", missing.join(", "))
            })?;
            env.push((key.clone(), value));
        }
        Ok(Self {
            name: name.to_string(),
            command,
            env,
        })
    }

    /// The command, for `caplet audit`.
    pub fn command(&self) -> &[String] {
        &self.command
    }

    /// The names of the `env` variables (never their values).
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|(k, _)| k.as_str())
    }

    /// Starts the server and completes the MCP handshake.
    async fn connect(&self) -> Result<RunningService<RoleClient, ()>, String> {
        let mut command = tokio::process::Command::new(&self.command[0]);
        command.args(&self.command[1..]);
        command
            .env_clear()
            .envs(child_env(std::env::vars_os(), &self.env));
        let transport = TokioChildProcess::new(command)
            .map_err(|e| format!("cannot start {:?}: {e}", self.command[0]))?;
        match tokio::time::timeout(START_TIMEOUT, ().serve(transport)).await {
            Ok(Ok(running)) => Ok(running),
            Ok(Err(e)) => Err(format!("the MCP handshake failed: {e}")),
            Err(_) => Err(format!(
                "no MCP handshake within {} s",
                START_TIMEOUT.as_secs()
            )),
        }
    }

    /// Starts the server, lists its tools and stops it (`caplet types`,
    /// `caplet audit`).
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Error> {
        let running = self.connect().await.map_err(|e| self.unavailable(e))?;
        let tools = list(&running.peer().clone())
            .await
            .map_err(|e| self.unavailable(e))?;
        let _ = running.cancel().await;
        Ok(tools)
    }

    fn unavailable(&self, why: String) -> Error {
        Error::Unavailable(format!("mcp:{}: {why}", self.name))
    }
}

async fn list(peer: &Peer<RoleClient>) -> Result<Vec<Tool>, String> {
    let tools = tokio::time::timeout(START_TIMEOUT, peer.list_all_tools())
        .await
        .map_err(|_| "tools/list did not answer".to_string())?
        .map_err(|e| format!("tools/list failed: {e}"))?;
    if tools.len() > MAX_TOOLS {
        return Err(format!(
            "too_many_tools: it lists {} tools, over the limit of {MAX_TOOLS}",
            tools.len()
        ));
    }
    Ok(tools)
}

/// Longest tool name accepted, in bytes.
const MAX_TOOL_NAME_BYTES: usize = 128;

/// Names a tool may not have: on a capability stub they would shadow what
/// JavaScript itself looks up (a `then` makes the stub a thenable that
/// `await` would call).
const RESERVED_TOOL_NAMES: &[&str] = &[
    "then",
    "constructor",
    "__proto__",
    "toString",
    "valueOf",
    "toJSON",
];

/// Checks the names an upstream lists before they become methods: each
/// 1–128 bytes of printable ASCII other than space, none reserved, none
/// listed twice (a second would be unreachable). The error names the first
/// bad one.
fn check_tool_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let bad = |why: &str| Err(format!("bad_tool_name: {name:?}: {why}"));
        if name.is_empty() || name.len() > MAX_TOOL_NAME_BYTES {
            return bad(&format!("a tool name is 1-{MAX_TOOL_NAME_BYTES} bytes"));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic()) {
            return bad("a tool name is printable ASCII without spaces");
        }
        if RESERVED_TOOL_NAMES.contains(&name) {
            return bad("reserved in JavaScript");
        }
        if !seen.insert(name) {
            return bad("listed twice");
        }
    }
    Ok(())
}

/// One tool: its name, its argument checker and its description.
struct ToolEntry {
    tool: Tool,
    validator: jsonschema::Validator,
}

/// A running upstream, shared by all grants of `mcp:NAME`.
pub struct Upstream {
    config: UpstreamConfig,
    tools: Vec<ToolEntry>,
    interface_id: u64,
    schema: Builder<HeapAllocator>,
    /// The client while the upstream is up.
    peer: RefCell<Option<Peer<RoleClient>>>,
}

impl Upstream {
    /// Starts `config`'s server, lists its tools and keeps it running (a
    /// supervisor task restarts it when it dies). Needs a `LocalSet`.
    pub async fn start(config: UpstreamConfig) -> Result<Rc<Upstream>, Error> {
        let running = config.connect().await.map_err(|e| config.unavailable(e))?;
        let peer = running.peer().clone();
        let listed = list(&peer).await.map_err(|e| config.unavailable(e))?;
        check_tool_names(listed.iter().map(|t| &*t.name)).map_err(|e| config.unavailable(e))?;
        let mut tools = Vec::new();
        for tool in listed {
            let schema = Value::Object((*tool.input_schema).clone());
            let validator = jsonschema::validator_for(&schema).map_err(|e| {
                config.unavailable(format!(
                    "tool {:?}: its inputSchema is not a valid JSON Schema: {e}",
                    tool.name
                ))
            })?;
            tools.push(ToolEntry { tool, validator });
        }
        let listed: Vec<&Tool> = tools.iter().map(|t| &t.tool).collect();
        let (interface_id, set) = interface_schema(&config.name, &listed)?;
        let schema = crate::bindings::compiled_message(&set, interface_id)?;
        let upstream = Rc::new(Upstream {
            config,
            tools,
            interface_id,
            schema,
            peer: RefCell::new(Some(peer)),
        });
        tokio::task::spawn_local(supervise(Rc::downgrade(&upstream), running));
        Ok(upstream)
    }

    /// A capability calling its tools, with its interface schema.
    pub fn grant(
        self: &Rc<Self>,
    ) -> Result<(capnp::capability::Client, compiled_schema::Reader<'_>), Error> {
        let client = dynamic::client(Rc::new(UpstreamServer {
            upstream: self.clone(),
        }));
        Ok((
            client,
            self.schema
                .get_root_as_reader::<compiled_schema::Reader>()?,
        ))
    }

    /// The tools, as listed at start.
    pub fn tools(&self) -> impl Iterator<Item = &Tool> {
        self.tools.iter().map(|t| &t.tool)
    }

    async fn call(&self, method_id: u16, arguments: &str) -> Result<String, capnp::Error> {
        let entry = self.tools.get(usize::from(method_id)).ok_or_else(|| {
            capnp::Error::unimplemented(format!(
                "mcp:{} has no tool @{method_id}",
                self.config.name
            ))
        })?;
        let name = &entry.tool.name;
        let arguments: Value = serde_json::from_str(arguments)
            .map_err(|e| capnp::Error::failed(format!("type_error: {name}(): {e}")))?;
        let Value::Object(arguments) = arguments else {
            return Err(capnp::Error::failed(format!(
                "type_error: {name}(): the arguments must be an object"
            )));
        };
        let value = Value::Object(arguments);
        if let Some(error) = entry.validator.iter_errors(&value).next() {
            let path = error.instance_path().to_string();
            let field = if path.is_empty() {
                "the arguments".to_string()
            } else {
                format!("field {:?}", path.trim_start_matches('/').replace('/', "."))
            };
            return Err(capnp::Error::failed(format!(
                "type_error: {name}(): {field}: {error}"
            )));
        }
        let Value::Object(arguments) = value else {
            return Err(capnp::Error::failed(format!(
                "type_error: {name}(): the arguments must be an object"
            )));
        };
        let peer = self.peer.borrow().clone().ok_or_else(|| {
            capnp::Error::disconnected(format!(
                "disconnected: mcp:{}: the upstream is down and being restarted",
                self.config.name
            ))
        })?;
        let result = peer
            .call_tool(CallToolRequestParams::new(name.clone()).with_arguments(arguments))
            .await
            .map_err(|e| match e {
                rmcp::ServiceError::McpError(e) => {
                    capnp::Error::failed(format!("upstream: {name}(): {}", one_line(&e.message)))
                }
                other => capnp::Error::disconnected(format!(
                    "disconnected: mcp:{}: {name}(): {}",
                    self.config.name,
                    one_line(&other.to_string())
                )),
            })?;
        let text = || {
            result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        if result.is_error == Some(true) {
            return Err(capnp::Error::failed(format!(
                "tool_error: {name}(): {}",
                one_line(&text())
            )));
        }
        let json = match &result.structured_content {
            Some(value) => value.to_string(),
            None => Value::String(text()).to_string(),
        };
        if json.len() > MAX_RESULT_BYTES {
            return Err(capnp::Error::failed(format!(
                "too_large: the result of {name}() is {} bytes of JSON, over the limit of {MAX_RESULT_BYTES}",
                json.len()
            )));
        }
        Ok(json)
    }

    /// `Env` lines and declarations of this upstream granted as `binding`:
    /// an interface with one method per tool, typed from its JSON Schemas.
    pub fn declarations(&self, binding: &str) -> (String, String) {
        declarations(&self.config.name, binding, self.tools())
    }
}

/// The TypeScript of `tools` of upstream `name` granted as `binding`: the
/// interface's name, and its declaration.
pub fn declarations<'a>(
    name: &str,
    binding: &str,
    tools: impl Iterator<Item = &'a Tool>,
) -> (String, String) {
    let mut type_name: String = binding
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect();
    type_name.push_str("Tools");
    let mut out = format!(
        "/** The tools of the MCP server `{name}`. A tool error rejects with an RpcError; arguments that do not match its schema, with a TypeError. */\ninterface {type_name} {{\n"
    );
    for tool in tools {
        if let Some(doc) = tool.description.as_deref().filter(|d| !d.trim().is_empty()) {
            let _ = writeln!(out, "  /** {} */", doc.trim().replace("*/", "*\\/"));
        }
        let input = Value::Object((*tool.input_schema).clone());
        let output = tool
            .output_schema
            .as_ref()
            .map(|s| ts_type(&Value::Object((**s).clone()), 0))
            .unwrap_or_else(|| "unknown".into());
        let _ = writeln!(
            out,
            "  {}(args: {}): Promise<{output}>;",
            ts_prop(&tool.name),
            ts_type(&input, 0)
        );
    }
    out.push_str("}\n");
    (type_name, out)
}

/// A property name as TS writes it.
fn ts_prop(name: &str) -> String {
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        name.to_string()
    } else {
        Value::String(name.to_string()).to_string()
    }
}

/// The TS type of a JSON Schema (the common keywords; `unknown` for what
/// it cannot say).
fn ts_type(schema: &Value, depth: usize) -> String {
    const MAX_DEPTH: usize = 8;
    let Value::Object(s) = schema else {
        return if schema == &Value::Bool(false) {
            "never".into()
        } else {
            "unknown".into()
        };
    };
    if depth > MAX_DEPTH {
        return "unknown".into();
    }
    if let Some(Value::Array(values)) = s.get("enum") {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    if let Some(value) = s.get("const") {
        return value.to_string();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = s.get(key) {
            return options
                .iter()
                .map(|o| ts_type(o, depth + 1))
                .collect::<Vec<_>>()
                .join(" | ");
        }
    }
    let one = |ty: &str| -> String {
        match ty {
            "string" => "string".into(),
            "number" | "integer" => "number".into(),
            "boolean" => "boolean".into(),
            "null" => "null".into(),
            "array" => match s.get("items") {
                Some(items) => format!("Array<{}>", ts_type(items, depth + 1)),
                None => "unknown[]".into(),
            },
            "object" => object_type(s, depth),
            _ => "unknown".into(),
        }
    };
    match s.get("type") {
        Some(Value::String(ty)) => one(ty),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" | "),
        _ if s.contains_key("properties") => object_type(s, depth),
        _ => "unknown".into(),
    }
}

fn object_type(s: &serde_json::Map<String, Value>, depth: usize) -> String {
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(Value::Object(properties)) = s.get("properties") else {
        return "Record<string, unknown>".into();
    };
    let mut out = String::from("{ ");
    for (name, schema) in properties {
        if let Some(doc) = schema
            .get("description")
            .and_then(Value::as_str)
            .filter(|d| !d.trim().is_empty())
        {
            let _ = write!(out, "/** {} */ ", doc.trim().replace("*/", "*\\/"));
        }
        let optional = if required.contains(&name.as_str()) {
            ""
        } else {
            "?"
        };
        let _ = write!(
            out,
            "{}{optional}: {}; ",
            ts_prop(name),
            ts_type(schema, depth + 1)
        );
    }
    out.push('}');
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keeps the upstream running: starts it again whenever it ends.
async fn supervise(upstream: Weak<Upstream>, mut running: RunningService<RoleClient, ()>) {
    loop {
        let _ = running.waiting().await;
        let Some(config) = upstream.upgrade().map(|up| {
            up.peer.borrow_mut().take();
            up.config.clone()
        }) else {
            return;
        };
        eprintln!(
            "caplet: mcp upstream {:?} ended; starting it again",
            config.name
        );
        let mut delay = RESTART_DELAY.0;
        running = loop {
            tokio::time::sleep(delay).await;
            if upstream.strong_count() == 0 {
                return;
            }
            match config.connect().await {
                Ok(running) => break running,
                Err(why) => {
                    eprintln!("caplet: mcp upstream {:?}: {why}", config.name);
                    delay = (delay * 2).min(RESTART_DELAY.1);
                }
            }
        };
        match upstream.upgrade() {
            Some(up) => *up.peer.borrow_mut() = Some(running.peer().clone()),
            None => return,
        }
        eprintln!("caplet: mcp upstream {:?} is up again", config.name);
    }
}

/// Serves one grant of an upstream.
struct UpstreamServer {
    upstream: Rc<Upstream>,
}

impl DynServer for UpstreamServer {
    fn dispatch(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> Promise<(), capnp::Error> {
        if interface_id != self.upstream.interface_id {
            return Promise::err(capnp::Error::unimplemented(format!(
                "interface {interface_id:#x} is not mcp:{}",
                self.upstream.config.name
            )));
        }
        Promise::from_future(async move {
            let arguments = params
                .get()?
                .get_as::<tool_call::Reader>()?
                .get_arguments()?
                .to_string()?;
            let json = self.upstream.call(method_id, &arguments).await?;
            results
                .get()
                .init_as::<tool_result::Builder>()
                .set_json(&json);
            Ok(())
        })
    }
}

/// The interface of upstream `name`: one method per tool, each taking a
/// `ToolCall` and answering a `ToolResult`, as a `CompiledSchema`.
pub fn interface_schema(name: &str, tools: &[&Tool]) -> Result<(u64, SchemaSet), Error> {
    let mut hasher = std::hash::DefaultHasher::new();
    ("caplet mcp upstream", name).hash(&mut hasher);
    for t in tools {
        t.name.hash(&mut hasher);
    }
    let id = hasher.finish() | 1 << 63;
    let mut own = capnp::message::Builder::new_default();
    {
        let mut node = own.init_root::<schema_capnp::node::Builder>();
        node.set_id(id);
        node.set_display_name(format!("mcp:{name}"));
        node.set_display_name_prefix_length(4);
        let mut interface = node.init_interface();
        interface.reborrow().init_superclasses(0);
        let mut methods = interface.init_methods(tools.len() as u32);
        for (i, t) in tools.iter().enumerate() {
            let mut method = methods.reborrow().get(i as u32);
            method.set_name(&*t.name);
            method.set_code_order(i as u16);
            method.set_param_struct_type(tool_call::Builder::TYPE_ID);
            method.set_result_struct_type(tool_result::Builder::TYPE_ID);
        }
    }
    let request = capnp::serialize::read_message(
        &mut &caplet::SCHEMA_NODES[..],
        capnp::message::ReaderOptions::new(),
    )?;
    let request: schema_capnp::code_generator_request::Reader<'_> = request.get_root()?;
    let mut nodes = vec![own.get_root_as_reader::<schema_capnp::node::Reader>()?];
    for node in request.get_nodes()? {
        if node.get_display_name()?.to_str()?.starts_with("mcp.capnp:") {
            nodes.push(node);
        }
    }
    let set = SchemaSet::from_nodes(nodes).map_err(|e| Error::Schema(e.to_string()))?;
    set.check_interface(id)
        .map_err(|e| Error::Schema(format!("mcp:{name}: {e}")))?;
    Ok((id, set))
}

/// The upstreams a broker has started, by name.
#[derive(Default)]
pub struct Upstreams {
    started: RefCell<BTreeMap<String, Rc<Upstream>>>,
}

impl Upstreams {
    /// Upstream `name` of `configs`, started at its first use.
    pub async fn get(
        &self,
        configs: &BTreeMap<String, UpstreamConfig>,
        name: &str,
    ) -> Result<Rc<Upstream>, Error> {
        if let Some(up) = self.started.borrow().get(name) {
            return Ok(up.clone());
        }
        let config = configs.get(name).ok_or_else(|| {
            Error::BadGrant(format!(
                "mcp:{name}: no such MCP server in the broker's configuration"
            ))
        })?;
        let up = Upstream::start(config.clone()).await?;
        // Two first grants may have raced: keep the one stored first.
        Ok(self
            .started
            .borrow_mut()
            .entry(name.to_string())
            .or_insert(up)
            .clone())
    }
}

/// Variables of the broker's environment an upstream server inherits: what
/// a program needs to run and nothing else. A secret can come from any
/// variable (`[secrets] x = { env = "GITHUB_TOKEN" }`), so the environment
/// is cleared and only these pass, then the server's own `env`.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// The whole environment of an upstream server's process: the
/// [`INHERITED_ENV`] variables of `parent`, then `own` (which wins).
fn child_env(
    parent: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    own: &[(String, String)],
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = parent
        .filter(|(key, _)| key.to_str().is_some_and(|k| INHERITED_ENV.contains(&k)))
        .collect();
    env.retain(|(key, _)| !own.iter().any(|(k, _)| key.to_str() == Some(k.as_str())));
    env.extend(own.iter().map(|(k, v)| (k.into(), v.into())));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_names_that_would_be_unsafe_or_unreachable_methods_are_refused() {
        assert_eq!(
            check_tool_names(["add", "get-weather", "a.b"].into_iter()),
            Ok(())
        );
        for (names, why) in [
            (vec!["add", "add"], "\"add\": listed twice"),
            (vec!["then"], "\"then\": reserved in JavaScript"),
            (vec!["__proto__"], "\"__proto__\": reserved in JavaScript"),
            (vec![""], "\"\": a tool name is 1-128 bytes"),
            (vec!["two words"], "printable ASCII without spaces"),
            (vec!["caf\u{e9}"], "printable ASCII without spaces"),
        ] {
            let error = check_tool_names(names.into_iter()).unwrap_err();
            assert!(
                error.starts_with("bad_tool_name: ") && error.contains(why),
                "{error}"
            );
        }
        let long = "x".repeat(129);
        assert!(check_tool_names([long.as_str()].into_iter()).is_err());
    }

    #[test]
    fn an_upstream_inherits_no_secret_of_the_broker() {
        let parent = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/caplet"),
            ("GITHUB_TOKEN", "ghp_secret"),
            ("CAPLET_SECRET_DB", "hunter2"),
            ("PGPASSWORD", "hunter3"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let own = [
            ("TOKEN".to_string(), "for-the-server".to_string()),
            ("HOME".to_string(), "/srv".to_string()),
        ];
        let mut env: Vec<(String, String)> = child_env(parent.into_iter(), &own)
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect();
        env.sort();
        assert_eq!(
            env,
            [
                ("HOME", "/srv"),
                ("PATH", "/usr/bin"),
                ("TOKEN", "for-the-server")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    fn tool(name: &str, description: &str, input: Value, output: Option<Value>) -> Tool {
        let object = |v: Value| match v {
            Value::Object(map) => std::sync::Arc::new(map),
            _ => panic!("a schema is an object"),
        };
        let mut tool = Tool::new(name.to_string(), description.to_string(), object(input));
        tool.output_schema = output.map(object);
        tool
    }

    #[test]
    fn tools_are_declared_from_their_json_schemas_with_their_descriptions() {
        let add = tool(
            "add",
            "Add two numbers.",
            json!({
                "type": "object",
                "properties": {
                    "a": { "type": "integer", "description": "The first." },
                    "b": { "type": "number" },
                    "mode": { "enum": ["fast", "exact"] },
                    "tags": { "type": "array", "items": { "type": "string" } },
                },
                "required": ["a", "b"],
            }),
            Some(
                json!({ "type": "object", "properties": { "total": { "type": "number" } }, "required": ["total"] }),
            ),
        );
        let odd = tool("get-page", "", json!({ "type": "object" }), None);
        let (name, text) = declarations("calc", "my_calc", [&add, &odd].into_iter());
        assert_eq!(name, "MyCalcTools");
        assert!(text.contains("interface MyCalcTools {\n"), "{text}");
        assert!(text.contains("  /** Add two numbers. */\n"), "{text}");
        assert!(
            text.contains(
                "  add(args: { /** The first. */ a: number; b: number; mode?: \"fast\" | \"exact\"; tags?: Array<string>; }): Promise<{ total: number; }>;\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  \"get-page\"(args: Record<string, unknown>): Promise<unknown>;\n"),
            "{text}"
        );
    }

    #[test]
    fn each_tool_is_a_method_of_the_upstreams_interface() {
        let a = tool("add", "", json!({ "type": "object" }), None);
        let b = tool("get-page", "", json!({ "type": "object" }), None);
        let (id, set) = interface_schema("calc", &[&a, &b]).expect("schema");
        let interface = set.interface(id).expect("interface");
        let names: Vec<&str> = interface.methods.iter().map(|m| &*m.name).collect();
        assert_eq!(names, ["add", "get-page"]);
        assert!(interface
            .methods
            .iter()
            .all(|m| m.param_struct == tool_call::Builder::TYPE_ID
                && m.result_struct == tool_result::Builder::TYPE_ID));
        // Another tool list is another interface.
        let (other, _) = interface_schema("calc", &[&a]).expect("schema");
        assert_ne!(id, other);
    }

    #[test]
    fn server_configs_are_checked_and_never_print_secret_values() {
        let mut secrets = caplet_egress::Secrets::new();
        secrets.insert("calc", "s3cr3t").unwrap();
        let server = |command: Option<Vec<&str>>, url: Option<&str>, env: &[(&str, &str)]| {
            crate::mcp_config::McpServerConfig {
                command: command.map(|c| c.into_iter().map(String::from).collect()),
                url: url.map(String::from),
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }
        };
        let ok = UpstreamConfig::new(
            "calc",
            &server(
                Some(vec!["calc-server", "--stdio"]),
                None,
                &[("TOKEN", "Bearer {secret:calc}")],
            ),
            &secrets,
        )
        .expect("config");
        assert_eq!(ok.env, [("TOKEN".to_string(), "Bearer s3cr3t".to_string())]);
        assert!(!format!("{ok:?}").contains("s3cr3t"));
        for (bad, needle) in [
            (server(None, None, &[]), "exactly one of `command` or `url`"),
            (
                server(Some(vec!["x"]), Some("http://a"), &[]),
                "exactly one of",
            ),
            (server(Some(vec![]), None, &[]), "give the program"),
            (
                server(None, Some("http://127.0.0.1:1/mcp"), &[]),
                "not supported yet",
            ),
            (
                server(Some(vec!["x"]), None, &[("T", "{secret:nope}")]),
                "env.T: no secret nope",
            ),
        ] {
            let error = UpstreamConfig::new("calc", &bad, &secrets).unwrap_err();
            assert!(error.contains(needle), "{error}");
        }
    }
}
