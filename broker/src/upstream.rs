//! Upstream MCP servers as capabilities (`[mcp_servers.NAME]`, granted as
//! `mcp:NAME`, `mcp.capnp`).
//!
//! The broker is the MCP client (`rmcp`): at the first grant it starts the
//! server's `command` (stdio) or connects to its `url` (streamable HTTP,
//! through [`crate::upstream_http`]), lists its tools, and serves one
//! capability per grant whose interface it builds from that list, one
//! method per tool (every method takes a `ToolCall` and answers a
//! `ToolResult`). A call's arguments are checked against the tool's
//! `inputSchema` (crate `jsonschema`) before the upstream sees them. The
//! capability goes into a worker's `env` like any built-in, so its calls
//! pass the membrane (call log, budgets, revocation) and count against the
//! worker's subrequests.
//!
//! Starts are single-flight ([`Upstreams`]): grants that need an upstream
//! while it starts wait for that one start, and a failed start answers the
//! grants of its backoff period at once. A supervisor task owns the running
//! client: when the process dies, or a call finds the transport broken
//! (the HTTP server cannot be reached, its connection broke, it forgot the
//! session), it starts or connects again (after 50 ms, doubling up to 5 s
//! while that fails). While it is down, calls answer `disconnected`. An
//! answer the server did give (an error status, a body over the limit)
//! fails its call alone (`call_failure`). Each call has a timeout (`call_timeout_ms`),
//! answering `timeout`; `tools/list` is read for at most [`MAX_TOOL_PAGES`]
//! pages and [`MAX_TOOLS`] tools.
//!
//! Credentials stay here: a process gets a cleared environment (a few
//! variables of the broker's) plus the server's `env`, an HTTP server the
//! `headers`, both with their `{secret:NAME}` placeholders filled in here.
//! Workers, `caplet types` and `caplet audit` see only their names, and the
//! secrets are replaced by `[redacted]` in whatever the upstream answers
//! (every string and key of a result or of the tools listed, and error
//! texts, which are then cut to [`MAX_ERROR_TEXT_BYTES`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::rc::{Rc, Weak};
use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use tokio::sync::watch;
use tokio::time::Instant;

use caplet::caplet_capnp::compiled_schema;
use caplet::mcp_capnp::{tool_call, tool_result};
use caplet_capnp_js::dynamic::{self, DynServer};
use caplet_capnp_js::schema::SchemaSet;
use capnp::capability::{Params, Promise, Results};
use capnp::message::{Builder, HeapAllocator};
use capnp::traits::HasTypeId;
use capnp::{any_pointer, schema_capnp};
use hyper::header::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, PaginatedRequestParams, Tool};
use rmcp::service::{
    Peer, RoleClient, RunningService, RunningServiceCancellationToken, ServiceExt,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::Value;

use crate::error::Error;

/// Most tools one upstream may list (each is a method of its interface).
pub const MAX_TOOLS: usize = 1024;

/// Most pages of `tools/list` read before the listing fails.
pub const MAX_TOOL_PAGES: usize = 64;

/// Largest tool result passed on to a worker, in bytes of JSON.
pub const MAX_RESULT_BYTES: usize = 16 << 20;

/// How long the broker waits for an upstream to start and list its tools.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one tool call may take when `call_timeout_ms` is not given.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest `call_timeout_ms`: an hour.
pub const MAX_CALL_TIMEOUT_MS: u64 = 3_600_000;

/// The first and the longest wait before an upstream is started again, or
/// before a grant tries again to start one whose start failed.
pub const RESTART_DELAY: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(5));

/// How the broker reaches an upstream.
#[derive(Clone)]
enum Transport {
    /// A process it starts, over its stdin and stdout.
    Command {
        /// The program and its arguments.
        command: Vec<String>,
        /// `env`, secrets filled in. Never printed.
        env: Vec<(String, String)>,
    },
    /// A server at a URL, over streamable HTTP.
    Http {
        url: caplet_egress::url::Url,
        /// `headers`, secrets filled in. Never printed.
        headers: Vec<(HeaderName, HeaderValue)>,
    },
}

/// One checked `[mcp_servers.NAME]`.
#[derive(Clone)]
pub struct UpstreamConfig {
    name: String,
    transport: Transport,
    call_timeout: Duration,
    /// The secrets `env` or `headers` use, taken out of whatever the
    /// upstream answers (it could echo a credential back).
    redactor: caplet_egress::secrets::Redactor,
    /// The length of the longest of them, in bytes.
    longest_secret: usize,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("UpstreamConfig");
        out.field("name", &self.name);
        match &self.transport {
            Transport::Command { command, env } => {
                let env: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                out.field("command", command).field("env", &env)
            }
            Transport::Http { url, headers } => {
                let headers: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
                out.field("url", &url.to_string())
                    .field("headers", &headers)
            }
        }
        .field("call_timeout", &self.call_timeout)
        .finish()
    }
}

/// `template` with its `{secret:NAME}` placeholders filled from `secrets`,
/// and the values of the secrets it uses; `what` names it in errors.
fn render(
    what: &str,
    template: &str,
    secrets: &caplet_egress::Secrets,
    used: &mut Vec<String>,
) -> Result<String, String> {
    let rule = caplet_egress::CredentialRule::new("*", "x-template", template)
        .map_err(|e| format!("{what}: {e}"))?;
    let value = rule.render_from(secrets).ok_or_else(|| {
        let missing: Vec<&str> = rule
            .secret_names()
            .filter(|s| !secrets.contains(s))
            .collect();
        format!("{what}: no secret {}", missing.join(", "))
    })?;
    used.extend(
        rule.secret_names()
            .filter_map(|s| secrets.get(s))
            .map(str::to_string),
    );
    Ok(value)
}

impl UpstreamConfig {
    /// Checks `[mcp_servers.NAME]`; the error is one line without the key.
    pub fn new(
        name: &str,
        server: &crate::mcp_config::McpServerConfig,
        secrets: &caplet_egress::Secrets,
    ) -> Result<Self, String> {
        let mut used = Vec::new();
        let transport = match (&server.command, &server.url) {
            (Some(command), None) => {
                if command.first().is_none_or(|program| program.is_empty()) {
                    return Err("command: give the program and its arguments".into());
                }
                if !server.headers.is_empty() {
                    return Err("headers: only for a server at a `url`".into());
                }
                let mut env = Vec::new();
                for (key, template) in &server.env {
                    if key.is_empty() || key.contains('=') || key.contains('\0') {
                        return Err(format!("env.{key}: not a variable name"));
                    }
                    let value = render(&format!("env.{key}"), template, secrets, &mut used)?;
                    env.push((key.clone(), value));
                }
                Transport::Command {
                    command: command.clone(),
                    env,
                }
            }
            (None, Some(url)) => {
                let url = caplet_egress::url::Url::parse(url).map_err(|e| format!("url: {e}"))?;
                if !server.env.is_empty() {
                    return Err("env: only for a server started with `command`".into());
                }
                let mut headers = Vec::new();
                for (key, template) in &server.headers {
                    let what = format!("headers.{key}");
                    let value = render(&what, template, secrets, &mut used)?;
                    headers.push(crate::upstream_http::check_header(key, &value)?);
                }
                Transport::Http { url, headers }
            }
            _ => return Err("give exactly one of `command` or `url`".into()),
        };
        let call_timeout = match server.call_timeout_ms {
            None => DEFAULT_CALL_TIMEOUT,
            Some(ms @ 1..=MAX_CALL_TIMEOUT_MS) => Duration::from_millis(ms),
            Some(ms) => {
                return Err(format!(
                    "call_timeout_ms: {ms} is not between 1 and {MAX_CALL_TIMEOUT_MS}"
                ))
            }
        };
        Ok(Self {
            name: name.to_string(),
            transport,
            call_timeout,
            redactor: caplet_egress::secrets::Redactor::new(used.iter().map(String::as_str)),
            longest_secret: used.iter().map(String::len).max().unwrap_or(0),
        })
    }

    /// The command (empty for a server at a URL), for `caplet audit`.
    pub fn command(&self) -> &[String] {
        match &self.transport {
            Transport::Command { command, .. } => command,
            Transport::Http { .. } => &[],
        }
    }

    /// The names of the `env` variables (never their values).
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        let env: &[(String, String)] = match &self.transport {
            Transport::Command { env, .. } => env,
            Transport::Http { .. } => &[],
        };
        env.iter().map(|(k, _)| k.as_str())
    }

    /// The URL of a server at a URL, for `caplet audit`.
    pub fn url(&self) -> Option<String> {
        match &self.transport {
            Transport::Http { url, .. } => Some(url.to_string()),
            Transport::Command { .. } => None,
        }
    }

    /// The names of the headers sent to a server at a URL (never their
    /// values).
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        let headers: &[(HeaderName, HeaderValue)] = match &self.transport {
            Transport::Http { headers, .. } => headers,
            Transport::Command { .. } => &[],
        };
        headers.iter().map(|(k, _)| k.as_str())
    }

    /// Starts the server (or connects to it) and completes the MCP
    /// handshake.
    async fn connect(&self) -> Result<RunningService<RoleClient, ()>, String> {
        let handshake = match &self.transport {
            Transport::Command { command: argv, env } => {
                let mut command = tokio::process::Command::new(&argv[0]);
                command.args(&argv[1..]);
                command
                    .env_clear()
                    .envs(child_env(std::env::vars_os(), env));
                let transport = TokioChildProcess::new(command)
                    .map_err(|e| format!("cannot start {:?}: {e}", argv[0]))?;
                tokio::time::timeout(START_TIMEOUT, ().serve(transport)).await
            }
            Transport::Http { url, headers } => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
                config.custom_headers = headers.iter().cloned().collect();
                config.max_json_response_size = crate::upstream_http::MAX_RESPONSE_BYTES;
                let transport = StreamableHttpClientTransport::with_client(
                    crate::upstream_http::HttpClient::new(
                        url.clone(),
                        self.redactor.clone(),
                        self.longest_secret,
                    ),
                    config,
                );
                tokio::time::timeout(START_TIMEOUT, ().serve(transport)).await
            }
        };
        match handshake {
            Ok(Ok(running)) => Ok(running),
            Ok(Err(e)) => {
                let why = match &e {
                    rmcp::service::ClientInitializeError::TransportError { error, .. } => {
                        innermost(error)
                    }
                    other => other.to_string(),
                };
                Err(format!("the MCP handshake failed: {}", self.redact(&why)))
            }
            Err(_) => Err(format!(
                "no MCP handshake within {} s",
                START_TIMEOUT.as_secs()
            )),
        }
    }

    /// `text` from the upstream, on one line, without the secrets of this
    /// configuration, and at most [`MAX_ERROR_TEXT_BYTES`] long (an error
    /// text becomes an exception's message).
    fn redact(&self, text: &str) -> String {
        bounded(one_line(&self.redactor.redact(text)))
    }

    /// `value` with every string and key in it redacted (the secrets of
    /// this configuration replaced by `[redacted]`), as JSON. The strings
    /// are redacted before they are serialised, where a `"` or `\` of a
    /// secret would be escaped. `None` when a secret is still in the JSON
    /// (in a number, or across its syntax).
    fn redact_json(&self, mut value: Value) -> Option<String> {
        redact_value(&self.redactor, &mut value);
        let json = value.to_string();
        (self.redactor.redact(&json) == json).then_some(json)
    }

    /// `tools` as listed, with the secrets of this configuration taken out
    /// of their names, descriptions and schemas (they reach `caplet types`,
    /// `caplet audit` and method names). A tool whose name holds a secret
    /// is refused: it would be called by a name the upstream does not know.
    fn redact_tools(&self, tools: Vec<Tool>) -> Result<Vec<Tool>, String> {
        tools
            .into_iter()
            .map(|tool| {
                let mut value = serde_json::to_value(&tool)
                    .map_err(|e| format!("tools/list: {}", self.redact(&e.to_string())))?;
                redact_value(&self.redactor, &mut value);
                let redacted: Tool = serde_json::from_value(value)
                    .map_err(|e| format!("tools/list: {}", self.redact(&e.to_string())))?;
                if redacted.name != tool.name {
                    return Err(format!(
                        "bad_tool_name: {:?}: a tool name holds a secret of the configuration",
                        shortened(&redacted.name)
                    ));
                }
                Ok(redacted)
            })
            .collect()
    }

    /// Starts the server, lists its tools and stops it (`caplet types`,
    /// `caplet audit`).
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Error> {
        let running = self.connect().await.map_err(|e| self.unavailable(e))?;
        let tools = list(&running.peer().clone())
            .await
            .map_err(|e| self.unavailable(self.redact(&e)));
        let _ = running.cancel().await;
        self.redact_tools(tools?).map_err(|e| self.unavailable(e))
    }

    fn unavailable(&self, why: String) -> Error {
        Error::Unavailable(format!("mcp:{}: {why}", self.name))
    }
}

/// The tools `peer` lists, page after page: at most [`MAX_TOOLS`] tools
/// on at most [`MAX_TOOL_PAGES`] pages, in [`START_TIMEOUT`].
async fn list(peer: &Peer<RoleClient>) -> Result<Vec<Tool>, String> {
    let pages = async {
        let mut tools = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_TOOL_PAGES {
            let params = cursor.map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
            let page = peer
                .list_tools(params)
                .await
                .map_err(|e| format!("tools/list failed: {e}"))?;
            tools.extend(page.tools);
            if tools.len() > MAX_TOOLS {
                return Err(format!(
                    "too_many_tools: it lists more than the limit of {MAX_TOOLS} tools"
                ));
            }
            match page.next_cursor {
                None => return Ok(tools),
                Some(next) => cursor = Some(next),
            }
        }
        Err(format!(
            "too_many_tools: its tools/list goes on past the limit of {MAX_TOOL_PAGES} pages"
        ))
    };
    tokio::time::timeout(START_TIMEOUT, pages)
        .await
        .map_err(|_| "tools/list did not answer".to_string())?
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
        let bad = |why: &str| Err(format!("bad_tool_name: {:?}: {why}", shortened(name)));
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

/// Most characters of a tool name an error shows.
const SHOWN_NAME_CHARS: usize = 64;

/// `name`, cut after [`SHOWN_NAME_CHARS`] characters (with `…`).
fn shortened(name: &str) -> String {
    match name.char_indices().nth(SHOWN_NAME_CHARS) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_string(),
    }
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
    link: RefCell<Option<Link>>,
    /// Whether it is up, for whoever waits for it to be back.
    up: watch::Sender<bool>,
}

/// The client of one run of an upstream (one process, or one MCP session
/// over HTTP).
struct Link {
    peer: Peer<RoleClient>,
    /// Ends the run: the supervisor then starts a new one.
    stop: RunningServiceCancellationToken,
    /// Which run this is; a call only ends the run it was made on.
    run: u64,
}

impl Upstream {
    /// Starts `config`'s server, lists its tools and keeps it running (a
    /// supervisor task restarts it when it dies). Needs a `LocalSet`. The
    /// error is one line, `mcp:NAME: why`.
    async fn start(config: UpstreamConfig) -> Result<Rc<Upstream>, String> {
        let failed = |why: String| format!("mcp:{}: {why}", config.name);
        let running = config.connect().await.map_err(failed)?;
        let peer = running.peer().clone();
        let listed = list(&peer).await.map_err(|e| failed(config.redact(&e)))?;
        let listed = config.redact_tools(listed).map_err(failed)?;
        check_tool_names(listed.iter().map(|t| &*t.name)).map_err(failed)?;
        let mut tools = Vec::new();
        for tool in listed {
            let schema = Value::Object((*tool.input_schema).clone());
            let validator = jsonschema::validator_for(&schema).map_err(|e| {
                failed(config.redact(&format!(
                    "tool {:?}: its inputSchema is not a valid JSON Schema: {e}",
                    tool.name
                )))
            })?;
            tools.push(ToolEntry { tool, validator });
        }
        let listed: Vec<&Tool> = tools.iter().map(|t| &t.tool).collect();
        let (interface_id, set) =
            interface_schema(&config.name, &listed).map_err(|e| failed(e.to_string()))?;
        let schema = crate::bindings::compiled_message(&set, interface_id)
            .map_err(|e| failed(e.to_string()))?;
        let upstream = Rc::new(Upstream {
            config,
            tools,
            interface_id,
            schema,
            link: RefCell::new(Some(Link {
                peer,
                stop: running.cancellation_token(),
                run: 0,
            })),
            up: watch::Sender::new(true),
        });
        tokio::task::spawn_local(supervise(Rc::downgrade(&upstream), running));
        Ok(upstream)
    }

    /// Ends run `run` if it is still the current one.
    fn end_run(&self, run: u64) {
        let mut link = self.link.borrow_mut();
        if link.as_ref().is_some_and(|l| l.run == run) {
            if let Some(link) = link.take() {
                link.stop.cancel();
            }
            self.up.send_replace(false);
        }
    }

    /// Whether the upstream is up, as it changes (down while the
    /// supervisor starts it again).
    pub fn up(&self) -> watch::Receiver<bool> {
        self.up.subscribe()
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
        let (peer, run) = self
            .link
            .borrow()
            .as_ref()
            .map(|link| (link.peer.clone(), link.run))
            .ok_or_else(|| {
                capnp::Error::disconnected(format!(
                    "disconnected: mcp:{}: the upstream is down and being restarted",
                    self.config.name
                ))
            })?;
        let upstream = &self.config.name;
        let call =
            peer.call_tool(CallToolRequestParams::new(name.clone()).with_arguments(arguments));
        // Dropping the call on a timeout sends the upstream its cancellation.
        let result = tokio::time::timeout(self.config.call_timeout, call)
            .await
            .map_err(|_| {
                capnp::Error::failed(format!(
                    "timeout: mcp:{upstream}: {name}() did not answer within {} ms",
                    self.config.call_timeout.as_millis()
                ))
            })?
            .map_err(|e| {
                let (error, ends_run) = call_failure(&self.config, name, e);
                if ends_run {
                    // The transport failed (the process died, the server
                    // cannot be reached): this run is over, and the
                    // supervisor starts another after its backoff.
                    self.end_run(run);
                }
                error
            })?;
        let text = |content: &[rmcp::model::ContentBlock]| {
            content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        if result.is_error == Some(true) {
            return Err(capnp::Error::failed(format!(
                "tool_error: {name}(): {}",
                self.config.redact(&text(&result.content))
            )));
        }
        let json = match result.structured_content {
            Some(value) => value,
            None => Value::String(text(&result.content)),
        };
        let json = self.config.redact_json(json).ok_or_else(|| {
            capnp::Error::failed(format!(
                "redacted: the result of {name}() holds a secret of mcp:{upstream}'s configuration"
            ))
        })?;
        if json.len() > MAX_RESULT_BYTES {
            return Err(capnp::Error::failed(format!(
                "too_large: the result of {name}() is {} bytes of JSON, over the limit of {MAX_RESULT_BYTES}",
                json.len()
            )));
        }
        Ok(json)
    }
}

/// The error a call of tool `name` answers when its request failed, and
/// whether the failure ends the run it was made on.
///
/// rmcp wraps every error of the transport as `TransportSend`. Only a
/// broken transport ends the run (the supervisor then starts another): a
/// process whose pipe is gone, a server that cannot be reached or whose
/// connection broke (after one retry on a fresh connection, see
/// [`crate::upstream_http`]), a session the server no longer knows. An
/// answer the server did give, however bad (an error status, a body over
/// the limit, JSON that is not JSON-RPC), fails that call alone.
fn call_failure(
    config: &UpstreamConfig,
    name: &str,
    error: rmcp::ServiceError,
) -> (capnp::Error, bool) {
    use rmcp::transport::streamable_http_client::StreamableHttpError as Http;
    let upstream = &config.name;
    let disconnected = |why: &(dyn std::error::Error + 'static)| {
        let why = config.redact(&innermost(why));
        let error = format!("disconnected: mcp:{upstream}: {name}(): {why}");
        (capnp::Error::disconnected(error), true)
    };
    let failed = |why: String| {
        let error = format!("upstream: {name}(): {}", config.redact(&why));
        (capnp::Error::failed(error), false)
    };
    match error {
        rmcp::ServiceError::McpError(e) => failed(e.message.to_string()),
        e @ rmcp::ServiceError::TransportClosed => disconnected(&e),
        rmcp::ServiceError::TransportSend(e) => match e.error.downcast_ref::<Http<Error>>() {
            // Not over HTTP: a process's pipe is broken.
            None => disconnected(&e),
            Some(
                Http::Client(Error::UpstreamUnreachable { .. } | Error::UpstreamHttp(_))
                | Http::SessionExpired
                | Http::TransportChannelClosed,
            ) => disconnected(&e),
            Some(Http::ResponseBodyTooLarge { max_size }) => (
                capnp::Error::failed(format!(
                    "too_large: mcp:{upstream}: the answer to {name}() is over the limit of {max_size} bytes"
                )),
                false,
            ),
            Some(other) => failed(innermost(other)),
        },
        // An answer that is not a tool result, and the like.
        other => failed(other.to_string()),
    }
}

/// The name of the TypeScript interface of an upstream granted as
/// `binding`: `my_calc` and `my-calc` are both `MyCalcTools` (the caller
/// makes the names of one declaration unique).
pub fn type_name(binding: &str) -> String {
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
    type_name
}

/// The TypeScript of `tools` of upstream `name`, declared as interface
/// `type_name`.
pub fn declarations<'a>(
    name: &str,
    type_name: &str,
    tools: impl Iterator<Item = &'a Tool>,
) -> String {
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
    out
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

/// Longest error text of an upstream passed on (a tool error, an MCP
/// error's message), in bytes; the rest is cut with a note.
pub const MAX_ERROR_TEXT_BYTES: usize = 4096;

/// `text` cut to [`MAX_ERROR_TEXT_BYTES`] on a character boundary, with a
/// note saying how much was cut.
fn bounded(mut text: String) -> String {
    if text.len() <= MAX_ERROR_TEXT_BYTES {
        return text;
    }
    let total = text.len();
    let mut end = MAX_ERROR_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    let _ = write!(text, "… ({} of {total} bytes cut)", total - end);
    text
}

/// Replaces the secrets `redactor` knows in every string and key of
/// `value`.
fn redact_value(redactor: &caplet_egress::secrets::Redactor, value: &mut Value) {
    match value {
        Value::String(text) => {
            let redacted = redactor.redact(text);
            if redacted != *text {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(redactor, v)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                redact_value(redactor, &mut item);
                map.insert(redactor.redact(&key), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The last error of `error`'s chain (the cause, without the layers of
/// transport names around it).
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(source) = last.source() {
        last = source;
    }
    let text = last.to_string();
    text.strip_prefix("Client error: ")
        .map(str::to_string)
        .unwrap_or(text)
}

/// Keeps the upstream running: starts it again whenever it ends (the
/// process exits, or a call finds the transport broken), after 50 ms,
/// doubling up to 5 s while starts fail.
async fn supervise(upstream: Weak<Upstream>, mut running: RunningService<RoleClient, ()>) {
    let mut run = 0;
    loop {
        let _ = running.waiting().await;
        let Some(config) = upstream.upgrade().map(|up| {
            if up.link.borrow_mut().take().is_some() {
                up.up.send_replace(false);
            }
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
        run += 1;
        match upstream.upgrade() {
            Some(up) => {
                *up.link.borrow_mut() = Some(Link {
                    peer: running.peer().clone(),
                    stop: running.cancellation_token(),
                    run,
                });
                up.up.send_replace(true);
            }
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

/// A start of an upstream, awaited by every grant that needs it.
type Start = Shared<LocalBoxFuture<'static, Result<Rc<Upstream>, String>>>;

/// Where one upstream stands.
enum Slot {
    /// Being started: grants wait for this one start.
    Starting(Start),
    Up(Rc<Upstream>),
    /// Its last start failed with `why`: grants answer that until `until`,
    /// then one starts it again. `delay` grows like [`RESTART_DELAY`].
    Failed {
        why: String,
        until: Instant,
        delay: Duration,
    },
}

/// The upstreams a broker has started, by name.
///
/// A start is single-flight: the grants that need an upstream while it is
/// being started wait for that one start, which runs as a task of its own
/// (a grant cancelled meanwhile does not stall it). A failed start is remembered for
/// a backoff (50 ms after the first failure, doubling up to 5 s, like the
/// restarts of a running upstream): grants during it answer its error at once,
/// and the first grant after it starts the upstream again.
#[derive(Default)]
pub struct Upstreams {
    slots: Rc<RefCell<BTreeMap<String, Slot>>>,
}

impl Upstreams {
    /// Upstream `name` of `configs`, started at its first use.
    pub async fn get(
        &self,
        configs: &BTreeMap<String, UpstreamConfig>,
        name: &str,
    ) -> Result<Rc<Upstream>, Error> {
        let config = configs.get(name).ok_or_else(|| {
            Error::BadGrant(format!(
                "mcp:{name}: no such MCP server in the broker's configuration"
            ))
        })?;
        let start = {
            let mut slots = self.slots.borrow_mut();
            let previous = match slots.get(name) {
                Some(Slot::Up(up)) => return Ok(up.clone()),
                Some(Slot::Starting(start)) => Some(start.clone()),
                Some(Slot::Failed { why, until, delay }) => {
                    let now = Instant::now();
                    if now < *until {
                        return Err(Error::Unavailable(format!(
                            "{why} (a start failed {} ms ago: not retried for {} ms)",
                            (*delay - (*until - now)).as_millis(),
                            (*until - now).as_millis().max(1)
                        )));
                    }
                    let next = (*delay * 2).min(RESTART_DELAY.1);
                    let start = self.begin(name, config.clone(), next);
                    slots.insert(name.to_string(), Slot::Starting(start.clone()));
                    Some(start)
                }
                None => None,
            };
            previous.unwrap_or_else(|| {
                let start = self.begin(name, config.clone(), RESTART_DELAY.0);
                slots.insert(name.to_string(), Slot::Starting(start.clone()));
                start
            })
        };
        start.await.map_err(Error::Unavailable)
    }

    /// A start of `config`, run as a task of its own so that it completes
    /// (and [`START_TIMEOUT`] runs) whether or not a grant still awaits
    /// it, and records its outcome in its slot: up, or failed for `delay`.
    /// Needs a `LocalSet`.
    fn begin(&self, name: &str, config: UpstreamConfig, delay: Duration) -> Start {
        let slots = Rc::downgrade(&self.slots);
        let name = name.to_string();
        let failed = format!("mcp:{name}: its start ended before it was done");
        let task = tokio::task::spawn_local(async move {
            let started = Upstream::start(config).await;
            if let Some(slots) = slots.upgrade() {
                let slot = match &started {
                    Ok(up) => Slot::Up(up.clone()),
                    Err(why) => Slot::Failed {
                        why: why.clone(),
                        until: Instant::now() + delay,
                        delay,
                    },
                };
                slots.borrow_mut().insert(name, slot);
            }
            started
        });
        // A task fails to join only if it panicked or its runtime is
        // shutting down.
        async move { task.await.unwrap_or_else(|_| Err(failed)) }
            .boxed_local()
            .shared()
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
        assert_eq!(type_name("my_calc"), "MyCalcTools");
        let text = declarations("calc", "MyCalcTools", [&add, &odd].into_iter());
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

    fn server(
        command: Option<Vec<&str>>,
        url: Option<&str>,
        env: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> crate::mcp_config::McpServerConfig {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        crate::mcp_config::McpServerConfig {
            command: command.map(|c| c.into_iter().map(String::from).collect()),
            url: url.map(String::from),
            env: map(env),
            headers: map(headers),
            call_timeout_ms: None,
        }
    }

    #[test]
    fn secrets_are_taken_out_of_results_or_the_result_is_refused() {
        let mut secrets = caplet_egress::Secrets::new();
        secrets.insert("key", "1,\"b").unwrap();
        secrets.insert("token", "tok-123456").unwrap();
        let config = UpstreamConfig::new(
            "calc",
            &server(
                None,
                Some("http://a/mcp"),
                &[],
                &[("X-Key", "{secret:key}"), ("X-Token", "{secret:token}")],
            ),
            &secrets,
        )
        .expect("config");
        let plain = json!({"a": 2, "c": "no secret"});
        assert_eq!(config.redact_json(plain.clone()), Some(plain.to_string()));
        assert_eq!(
            config.redact_json(json!({"echo": "Bearer tok-123456"})),
            Some(r#"{"echo":"Bearer [redacted]"}"#.into())
        );
        // In a string, a `"` of the secret is escaped in the JSON: it is
        // redacted before; keys too.
        assert_eq!(
            config.redact_json(json!({"echo": "k=1,\"b;", "1,\"b": [true]})),
            Some(r#"{"[redacted]":[true],"echo":"k=[redacted];"}"#.into())
        );
        // Across the JSON's syntax it cannot be: the result is refused.
        assert_eq!(config.redact_json(json!({"a": 1, "b": 2})), None);
    }

    #[test]
    fn secrets_with_quotes_or_backslashes_are_redacted_in_results() {
        let mut secrets = caplet_egress::Secrets::new();
        secrets.insert("key", "pa\"ss\\w0rd").unwrap();
        let config = UpstreamConfig::new(
            "calc",
            &server(
                None,
                Some("http://a/mcp"),
                &[],
                &[("X-Key", "{secret:key}")],
            ),
            &secrets,
        )
        .expect("config");
        let text = Value::String("the key is pa\"ss\\w0rd".into());
        assert_eq!(
            config.redact_json(text),
            Some(r#""the key is [redacted]""#.into())
        );
    }

    #[test]
    fn error_texts_of_an_upstream_are_redacted_then_cut() {
        let mut secrets = caplet_egress::Secrets::new();
        secrets.insert("tok", "s3cr3t-token-value").unwrap();
        let config = UpstreamConfig::new(
            "calc",
            &server(
                None,
                Some("http://a/mcp"),
                &[],
                &[("X-Key", "{secret:tok}")],
            ),
            &secrets,
        )
        .expect("config");
        let short = config.redact("bad s3cr3t-token-value");
        assert_eq!(short, "bad [redacted]");
        // The secret sits across the cut: it is redacted before the cut.
        let long = format!(
            "{}s3cr3t-token-value{}",
            "é".repeat(2040),
            "x".repeat(100_000)
        );
        let text = config.redact(&long);
        assert!(!text.contains("s3cr"), "{}", &text[4000..]);
        assert_eq!(
            text,
            format!(
                "{}[redacted]xxxxxx… (99994 of 104090 bytes cut)",
                "é".repeat(2040)
            )
        );
        // A cut inside a character keeps the character whole.
        let text = config.redact(&format!("x{}", "é".repeat(3000)));
        assert!(
            text.starts_with(&format!("x{}", "é".repeat(2047))),
            "{text}"
        );
        assert!(text.ends_with("é… (1906 of 6001 bytes cut)"), "{text}");
    }

    #[test]
    fn a_bad_tool_name_is_shown_shortened() {
        let long = "x".repeat(10_000);
        let error = check_tool_names([long.as_str()].into_iter()).unwrap_err();
        assert_eq!(
            error,
            format!(
                "bad_tool_name: \"{}…\": a tool name is 1-128 bytes",
                "x".repeat(SHOWN_NAME_CHARS)
            )
        );
    }

    #[test]
    fn server_configs_are_checked_and_never_print_secret_values() {
        let mut secrets = caplet_egress::Secrets::new();
        secrets.insert("calc", "s3cr3t").unwrap();
        let ok = UpstreamConfig::new(
            "calc",
            &server(
                Some(vec!["calc-server", "--stdio"]),
                None,
                &[("TOKEN", "Bearer {secret:calc}")],
                &[],
            ),
            &secrets,
        )
        .expect("config");
        assert_eq!(ok.env_names().collect::<Vec<_>>(), ["TOKEN"]);
        let Transport::Command { env, .. } = &ok.transport else {
            panic!("a command")
        };
        assert_eq!(env, &[("TOKEN".to_string(), "Bearer s3cr3t".to_string())]);
        assert!(!format!("{ok:?}").contains("s3cr3t"));
        let http = UpstreamConfig::new(
            "calc",
            &server(
                None,
                Some("https://mcp.example.com/mcp"),
                &[],
                &[("Authorization", "Bearer {secret:calc}")],
            ),
            &secrets,
        )
        .expect("config");
        assert_eq!(http.url().as_deref(), Some("https://mcp.example.com/mcp"));
        assert_eq!(http.header_names().collect::<Vec<_>>(), ["authorization"]);
        assert!(http.command().is_empty());
        assert!(!format!("{http:?}").contains("s3cr3t"));
        for (bad, needle) in [
            (
                server(None, None, &[], &[]),
                "exactly one of `command` or `url`",
            ),
            (
                server(Some(vec!["x"]), Some("http://a"), &[], &[]),
                "exactly one of",
            ),
            (server(Some(vec![]), None, &[], &[]), "give the program"),
            (
                server(Some(vec!["x"]), None, &[("T", "{secret:nope}")], &[]),
                "env.T: no secret nope",
            ),
            (server(None, Some("ftp://a/mcp"), &[], &[]), "url: "),
            (server(None, Some("not a url"), &[], &[]), "url: "),
            (
                server(
                    None,
                    Some("http://a/mcp"),
                    &[],
                    &[("X-Key", "{secret:nope}")],
                ),
                "headers.X-Key: no secret nope",
            ),
            (
                server(None, Some("http://a/mcp"), &[], &[("bad name", "v")]),
                "headers.bad name: not a valid header name",
            ),
            (
                server(None, Some("http://a/mcp"), &[], &[("Accept", "v")]),
                "set by the MCP transport",
            ),
            (
                server(None, Some("http://a/mcp"), &[("T", "v")], &[]),
                "env: only for a server started with `command`",
            ),
            (
                server(Some(vec!["x"]), None, &[], &[("X-Key", "v")]),
                "headers: only for a server at a `url`",
            ),
        ] {
            let error = UpstreamConfig::new("calc", &bad, &secrets).unwrap_err();
            assert!(error.contains(needle), "{error}");
        }
        // A header value made invalid around a secret does not show it.
        let error = UpstreamConfig::new(
            "calc",
            &server(
                None,
                Some("http://a/mcp"),
                &[],
                &[("X-Key", "{secret:calc}\u{7f}")],
            ),
            &secrets,
        )
        .unwrap_err();
        assert!(error.starts_with("headers.X-Key: "), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
        let mut zero = server(Some(vec!["x"]), None, &[], &[]);
        zero.call_timeout_ms = Some(0);
        let error = UpstreamConfig::new("calc", &zero, &secrets).unwrap_err();
        assert!(
            error.contains("call_timeout_ms: 0 is not between 1 and"),
            "{error}"
        );
    }

    /// An MCP server of rmcp's own, served over streamable HTTP on
    /// 127.0.0.1 in this process: the upstream of the tests below.
    mod fake {
        use std::convert::Infallible;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        use rmcp::model::{
            CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
            PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
        };
        use rmcp::service::RequestContext;
        use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
        use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
        use rmcp::{ErrorData, RoleServer, ServerHandler};
        use serde_json::{json, Value};

        /// What `tools/list` answers.
        #[derive(Clone, Copy)]
        pub enum Listing {
            /// `echo`, `hang` and `whoami`, on one page.
            Tools,
            /// Pages of this many tools, each naming a next page.
            Endless(usize),
            /// `echo`, with the test's secret in its description and
            /// schema, and in a second tool's name when `true`.
            Leaky(bool),
        }

        #[derive(Clone)]
        pub struct Server {
            pub listing: Listing,
            /// Notified when a call of `hang` arrives.
            pub hanging: Arc<tokio::sync::Notify>,
            /// Notified when `tools/list` is answered.
            pub listed: Arc<tokio::sync::Notify>,
        }

        impl Server {
            /// A server listing `listing`, with notifications nobody waits for.
            pub fn new(listing: Listing) -> Self {
                Server {
                    listing,
                    hanging: Default::default(),
                    listed: Default::default(),
                }
            }
        }

        fn tool(name: String) -> Tool {
            let schema = json!({ "type": "object" });
            let Value::Object(schema) = schema else {
                unreachable!()
            };
            Tool::new(name, "a tool".to_string(), Arc::new(schema))
        }

        impl ServerHandler for Server {
            fn get_info(&self) -> ServerConfig {
                ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            }

            async fn list_tools(
                &self,
                request: Option<PaginatedRequestParams>,
                _context: RequestContext<RoleServer>,
            ) -> Result<ListToolsResult, ErrorData> {
                self.listed.notify_one();
                match self.listing {
                    Listing::Tools => Ok(ListToolsResult::with_all_items(
                        ["echo", "hang", "whoami"]
                            .map(String::from)
                            .map(tool)
                            .to_vec(),
                    )),
                    Listing::Leaky(in_name) => {
                        let mut echo = tool("echo".into());
                        echo.description = Some("Sends s3cr3t-token-value along.".into());
                        let schema = json!({
                            "type": "object",
                            "properties": { "s3cr3t-token-value": { "enum": ["s3cr3t-token-value"] } },
                        });
                        let Value::Object(schema) = schema else {
                            unreachable!()
                        };
                        echo.input_schema = Arc::new(schema);
                        let mut tools = vec![echo];
                        if in_name {
                            tools.push(tool("get-s3cr3t-token-value".into()));
                        }
                        Ok(ListToolsResult::with_all_items(tools))
                    }
                    Listing::Endless(size) => {
                        let page: usize = request
                            .and_then(|r| r.cursor)
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0);
                        let tools = (0..size).map(|i| tool(format!("t{page}_{i}"))).collect();
                        let mut result = ListToolsResult::with_all_items(tools);
                        result.next_cursor = Some((page + 1).to_string());
                        Ok(result)
                    }
                }
            }

            async fn call_tool(
                &self,
                request: CallToolRequestParams,
                context: RequestContext<RoleServer>,
            ) -> Result<CallToolResponse, ErrorData> {
                let text = match &*request.name {
                    "echo" => request
                        .arguments
                        .and_then(|a| a.get("text").cloned())
                        .and_then(|t| t.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    // Never answers.
                    "hang" => {
                        self.hanging.notify_one();
                        std::future::pending().await
                    }
                    // Echoes the credential it was sent.
                    "whoami" => context
                        .extensions
                        .get::<hyper::http::request::Parts>()
                        .and_then(|p| p.headers.get("authorization"))
                        .and_then(|v| v.to_str().ok())
                        .map(|v| format!("you sent {v}"))
                        .unwrap_or_default(),
                    other => {
                        return Err(ErrorData::invalid_params(format!("no tool {other}"), None))
                    }
                };
                Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
            }
        }

        /// A running server: its URL and how many MCP sessions were opened
        /// on it (one per start of the upstream).
        pub struct Running {
            pub url: String,
            pub address: std::net::SocketAddr,
            pub sessions: Arc<AtomicUsize>,
            /// TCP connections accepted.
            pub connections: Arc<AtomicUsize>,
            /// How many of the next POSTs to answer `429 Too Many
            /// Requests` (its text holds the test's secret) instead of
            /// passing them to the MCP server.
            pub refuse: Arc<AtomicUsize>,
            task: tokio::task::JoinHandle<()>,
        }

        impl Running {
            /// Stops the server and closes its connections.
            pub async fn stop(self) {
                self.task.abort();
                let _ = self.task.await;
            }

            pub fn sessions(&self) -> usize {
                self.sessions.load(Ordering::SeqCst)
            }
        }

        pub async fn serve(server: Server) -> Running {
            serve_on(server, "127.0.0.1:0".parse().expect("address")).await
        }

        pub async fn serve_on(server: Server, address: std::net::SocketAddr) -> Running {
            let sessions = Arc::new(AtomicUsize::new(0));
            let opened = sessions.clone();
            let service = Arc::new(StreamableHttpService::new(
                move || {
                    opened.fetch_add(1, Ordering::SeqCst);
                    Ok(server.clone())
                },
                Arc::new(LocalSessionManager::default()),
                StreamableHttpServerConfig::default(),
            ));
            let listener = tokio::net::TcpListener::bind(address).await.expect("bind");
            let address = listener.local_addr().expect("address");
            let accepted = Arc::new(AtomicUsize::new(0));
            let counted = accepted.clone();
            let refuse = Arc::new(AtomicUsize::new(0));
            let refusing = refuse.clone();
            let task = tokio::spawn(async move {
                // Aborting the server aborts its connections too.
                let mut connections = tokio::task::JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    // As HTTP servers do for kept-alive connections (else
                    // Nagle holds each small answer for the client's
                    // delayed ACK).
                    let _ = stream.set_nodelay(true);
                    let service = service.clone();
                    let refusing = refusing.clone();
                    connections.spawn(async move {
                        let handler = hyper::service::service_fn(
                            move |request: hyper::Request<hyper::body::Incoming>| {
                                let service = service.clone();
                                let refused = request.method() == hyper::Method::POST
                                    && refusing
                                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                            n.checked_sub(1)
                                        })
                                        .is_ok();
                                async move {
                                    if refused {
                                        let body = http_body_util::Full::new(bytes::Bytes::from(
                                            "slow down, s3cr3t-token-value",
                                        ));
                                        let mut response = hyper::Response::new(
                                            http_body_util::BodyExt::boxed(body),
                                        );
                                        *response.status_mut() =
                                            hyper::StatusCode::TOO_MANY_REQUESTS;
                                        return Ok::<_, Infallible>(response);
                                    }
                                    Ok::<_, Infallible>(service.handle(request).await)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), handler)
                            .await;
                    });
                }
            });
            Running {
                url: format!("http://{address}/mcp"),
                address,
                sessions,
                connections: accepted,
                refuse,
                task,
            }
        }
    }

    fn http_config(url: &str, call_timeout_ms: Option<u64>) -> BTreeMap<String, UpstreamConfig> {
        let mut secrets = caplet_egress::Secrets::new();
        secrets.insert("tok", "s3cr3t-token-value").unwrap();
        let mut config = server(
            None,
            Some(url),
            &[],
            &[("Authorization", "Bearer {secret:tok}")],
        );
        config.call_timeout_ms = call_timeout_ms;
        let config = UpstreamConfig::new("remote", &config, &secrets).expect("config");
        BTreeMap::from([("remote".to_string(), config)])
    }

    fn method(up: &Upstream, name: &str) -> u16 {
        up.tools().position(|t| t.name == name).expect("a tool") as u16
    }

    async fn local<F: std::future::Future>(test: F) -> F::Output {
        tokio::task::LocalSet::new().run_until(test).await
    }

    #[tokio::test]
    async fn an_http_upstream_gets_its_headers_and_never_shows_their_secret() {
        local(async {
            let running = fake::serve(fake::Server::new(fake::Listing::Tools)).await;
            let configs = http_config(&running.url, None);
            let upstreams = Upstreams::default();
            let up = upstreams.get(&configs, "remote").await.expect("started");
            let names: Vec<&str> = up.tools().map(|t| &*t.name).collect();
            assert_eq!(names, ["echo", "hang", "whoami"]);
            // Connections before: the handshake's and the event stream's.
            let before = running
                .connections
                .load(std::sync::atomic::Ordering::SeqCst);
            for _ in 0..20 {
                let echo = up
                    .call(method(&up, "echo"), r#"{"text":"hi"}"#)
                    .await
                    .expect("echo");
                assert_eq!(echo, r#""hi""#);
            }
            let opened = running
                .connections
                .load(std::sync::atomic::Ordering::SeqCst)
                - before;
            // Connections are kept alive: twenty calls need few (none
            // here), not one each.
            assert!(opened < 10, "{opened} connections for 20 calls");
            // The server got the header; what it sends back of it is
            // redacted.
            let whoami = up.call(method(&up, "whoami"), "{}").await.expect("whoami");
            assert_eq!(whoami, r#""you sent Bearer [redacted]""#);
        })
        .await
    }

    #[tokio::test]
    async fn the_tools_an_upstream_lists_are_redacted() {
        local(async {
            let running = fake::serve(fake::Server::new(fake::Listing::Leaky(false))).await;
            let configs = http_config(&running.url, None);
            let up = Upstreams::default()
                .get(&configs, "remote")
                .await
                .expect("started");
            let listed = configs["remote"].list_tools().await.expect("listed");
            for tools in [up.tools().cloned().collect::<Vec<_>>(), listed] {
                let json = serde_json::to_string(&tools).expect("json");
                assert!(!json.contains("s3cr3t"), "{json}");
                assert_eq!(
                    tools[0].description.as_deref(),
                    Some("Sends [redacted] along.")
                );
                assert_eq!(
                    Value::Object((*tools[0].input_schema).clone()),
                    json!({
                        "type": "object",
                        "properties": { "[redacted]": { "enum": ["[redacted]"] } },
                    })
                );
            }
            // A tool name with the secret is refused (the name would not be
            // the upstream's), without showing it.
            let running = fake::serve(fake::Server::new(fake::Listing::Leaky(true))).await;
            let configs = http_config(&running.url, None);
            let error = match Upstreams::default().get(&configs, "remote").await {
                Err(e) => e.to_string(),
                Ok(_) => panic!("started"),
            };
            assert_eq!(
                error,
                "unavailable: mcp:remote: bad_tool_name: \"get-[redacted]\": \
                 a tool name holds a secret of the configuration"
            );
        })
        .await
    }

    #[tokio::test]
    async fn concurrent_first_grants_share_one_start() {
        local(async {
            let running = fake::serve(fake::Server::new(fake::Listing::Tools)).await;
            let configs = http_config(&running.url, None);
            let upstreams = Upstreams::default();
            let (a, b, c) = tokio::join!(
                upstreams.get(&configs, "remote"),
                upstreams.get(&configs, "remote"),
                upstreams.get(&configs, "remote"),
            );
            let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
            assert!(Rc::ptr_eq(&a, &b) && Rc::ptr_eq(&b, &c));
            assert_eq!(running.sessions(), 1, "one start for three grants");
            let again = upstreams.get(&configs, "remote").await.expect("again");
            assert!(Rc::ptr_eq(&a, &again));
            assert_eq!(running.sessions(), 1);
        })
        .await
    }

    #[tokio::test]
    async fn a_start_goes_on_when_the_grant_that_began_it_is_cancelled() {
        local(async {
            let listed = std::sync::Arc::new(tokio::sync::Notify::new());
            let running = fake::serve(fake::Server {
                listed: listed.clone(),
                ..fake::Server::new(fake::Listing::Tools)
            })
            .await;
            let configs = http_config(&running.url, None);
            let upstreams = Upstreams::default();
            {
                // The grant is cancelled mid-start (after its first poll).
                let grant = upstreams.get(&configs, "remote");
                futures::pin_mut!(grant);
                assert!(futures::poll!(grant.as_mut()).is_pending());
            }
            // Nothing awaits the start now: it goes on by itself.
            tokio::time::timeout(Duration::from_secs(30), listed.notified())
                .await
                .expect("the tools were listed");
            let up = upstreams.get(&configs, "remote").await.expect("started");
            assert_eq!(up.tools().count(), 3);
            assert_eq!(running.sessions(), 1, "one start");
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_start_is_remembered_for_a_growing_backoff() {
        local(async {
            let secrets = caplet_egress::Secrets::new();
            let config = server(
                Some(vec!["/nonexistent/caplet-test-no-such-program"]),
                None,
                &[],
                &[],
            );
            let config = UpstreamConfig::new("gone", &config, &secrets).expect("config");
            let configs = BTreeMap::from([("gone".to_string(), config)]);
            let upstreams = Upstreams::default();
            let error = |e: Result<Rc<Upstream>, Error>| match e {
                Err(e) => e.to_string(),
                Ok(_) => panic!("started"),
            };
            let first = error(upstreams.get(&configs, "gone").await);
            assert!(
                first.starts_with("unavailable: mcp:gone: cannot start"),
                "{first}"
            );
            assert!(!first.contains("not retried"), "{first}");
            // At once: the same failure, without trying again.
            let cached = error(upstreams.get(&configs, "gone").await);
            assert!(cached.starts_with(&first), "{cached}");
            assert!(
                cached.ends_with("(a start failed 0 ms ago: not retried for 50 ms)"),
                "{cached}"
            );
            tokio::time::advance(Duration::from_millis(20)).await;
            let later = error(upstreams.get(&configs, "gone").await);
            assert!(
                later.ends_with("(a start failed 20 ms ago: not retried for 30 ms)"),
                "{later}"
            );
            // After the backoff a grant tries again; its failure is kept
            // twice as long.
            tokio::time::advance(Duration::from_millis(30)).await;
            let retried = error(upstreams.get(&configs, "gone").await);
            assert_eq!(retried, first);
            let cached = error(upstreams.get(&configs, "gone").await);
            assert!(cached.ends_with("not retried for 100 ms)"), "{cached}");
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_completes_a_connection_is_unreachable() {
        local(async {
            // It accepts TCP connections (in its backlog) and never says a
            // word: the TLS handshake waits for its answer.
            let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let address = silent.local_addr().expect("address");
            let configs = http_config(&format!("https://{address}/mcp"), None);
            let error = match Upstreams::default().get(&configs, "remote").await {
                Err(e) => e.to_string(),
                Ok(_) => panic!("started"),
            };
            assert_eq!(
                error,
                format!(
                    "unavailable: mcp:remote: the MCP handshake failed: \
                     cannot connect to {address}: no connection within 10 s"
                )
            );
        })
        .await
    }

    #[tokio::test]
    async fn tools_list_stops_at_its_limits_of_pages_and_tools() {
        local(async {
            for (size, needle) in [
                (
                    1,
                    "too_many_tools: its tools/list goes on past the limit of 64 pages",
                ),
                (
                    600,
                    "too_many_tools: it lists more than the limit of 1024 tools",
                ),
            ] {
                let running = fake::serve(fake::Server::new(fake::Listing::Endless(size))).await;
                let configs = http_config(&running.url, None);
                let error = match Upstreams::default().get(&configs, "remote").await {
                    Err(e) => e.to_string(),
                    Ok(_) => panic!("listed endless pages"),
                };
                assert!(error.contains(needle), "{error}");
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_call_past_its_timeout_fails_alone() {
        local(async {
            let running = fake::serve(fake::Server::new(fake::Listing::Tools)).await;
            let configs = http_config(&running.url, Some(300));
            let upstreams = Upstreams::default();
            let up = upstreams.get(&configs, "remote").await.expect("started");
            let hang = up.call(method(&up, "hang"), "{}");
            let echo = async {
                up.call(method(&up, "echo"), r#"{"text":"meanwhile"}"#)
                    .await
            };
            // Bounded, so that without the timeout this fails instead of
            // hanging.
            let (hang, echo) =
                tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(hang, echo) })
                    .await
                    .expect("the call timeout fired");
            assert_eq!(echo.expect("echo"), r#""meanwhile""#);
            let error = hang.expect_err("timed out");
            assert_eq!(
                error.extra,
                "timeout: mcp:remote: hang() did not answer within 300 ms"
            );
            assert_eq!(crate::calls::outcome_of(&error), "timeout");
            // The upstream still answers.
            let after = up
                .call(method(&up, "echo"), r#"{"text":"after"}"#)
                .await
                .expect("echo");
            assert_eq!(after, r#""after""#);
        })
        .await
    }

    #[tokio::test]
    async fn an_error_status_fails_its_call_alone_and_keeps_the_session() {
        local(async {
            let hanging = std::sync::Arc::new(tokio::sync::Notify::new());
            let running = fake::serve(fake::Server {
                hanging: hanging.clone(),
                ..fake::Server::new(fake::Listing::Tools)
            })
            .await;
            let configs = http_config(&running.url, None);
            let up = Upstreams::default()
                .get(&configs, "remote")
                .await
                .expect("started");
            // A call in flight meanwhile.
            let hang = up.call(method(&up, "hang"), "{}");
            let refused = async {
                hanging.notified().await;
                running.refuse.store(1, std::sync::atomic::Ordering::SeqCst);
                let refused = up.call(method(&up, "echo"), r#"{"text":"hi"}"#).await;
                let after = up.call(method(&up, "echo"), r#"{"text":"after"}"#).await;
                (refused, after)
            };
            let (refused, after) = tokio::select! {
                biased;
                // Still waiting for its answer: not cut off by the error.
                ended = hang => panic!("the call in flight ended: {ended:?}"),
                both = refused => both,
            };
            let refused = refused.expect_err("refused");
            assert_eq!(
                refused.extra,
                "upstream: echo(): the upstream refused the request: \
                 HTTP 429: Too Many Requests: slow down, [redacted]"
            );
            assert_eq!(crate::calls::outcome_of(&refused), "upstream");
            assert_eq!(after.expect("after"), r#""after""#);
            assert!(*up.up().borrow());
            assert_eq!(running.sessions(), 1, "the session was kept");
        })
        .await
    }

    #[test]
    fn an_answer_over_the_limit_is_too_large_and_keeps_the_run() {
        use rmcp::transport::streamable_http_client::StreamableHttpError;
        let configs = http_config("http://127.0.0.1:1/mcp", None);
        let config = &configs["remote"];
        let send = |error: StreamableHttpError<Error>| {
            rmcp::ServiceError::TransportSend(rmcp::transport::DynamicTransportError::from_parts(
                "test",
                std::any::TypeId::of::<()>(),
                Box::new(error),
            ))
        };
        let (error, ends_run) = call_failure(
            config,
            "big",
            send(StreamableHttpError::ResponseBodyTooLarge { max_size: 64 }),
        );
        assert!(!ends_run);
        assert_eq!(
            error.extra,
            "too_large: mcp:remote: the answer to big() is over the limit of 64 bytes"
        );
        assert_eq!(crate::calls::outcome_of(&error), "too_large");
        let (error, ends_run) = call_failure(
            config,
            "big",
            send(StreamableHttpError::UnexpectedContentType(Some(
                "text/html".into(),
            ))),
        );
        assert!(!ends_run);
        assert_eq!(crate::calls::outcome_of(&error), "upstream");
        // A connection that broke ends the run.
        let (error, ends_run) = call_failure(
            config,
            "big",
            send(StreamableHttpError::Client(Error::UpstreamHttp(
                "connection closed before message completed".into(),
            ))),
        );
        assert!(ends_run);
        assert_eq!(
            error.extra,
            "disconnected: mcp:remote: big(): http: connection closed before message completed"
        );
    }

    #[tokio::test]
    async fn an_http_upstream_that_is_down_answers_disconnected_until_it_is_back() {
        local(async {
            let running = fake::serve(fake::Server::new(fake::Listing::Tools)).await;
            let address = running.address;
            let configs = http_config(&running.url, None);
            let upstreams = Upstreams::default();
            let up = upstreams.get(&configs, "remote").await.expect("started");
            let echo = || up.call(method(&up, "echo"), r#"{"text":"hi"}"#);
            assert_eq!(echo().await.expect("echo"), r#""hi""#);
            running.stop().await;
            let error = echo().await.expect_err("down");
            assert_eq!(error.kind, capnp::ErrorKind::Disconnected);
            assert!(
                error.extra.starts_with(&format!(
                    "disconnected: mcp:remote: echo(): cannot connect to {address}: "
                )),
                "{error:?}"
            );
            // Down: calls answer at once, without trying the server.
            let mut up_again = up.up();
            let error = echo().await.expect_err("down");
            assert_eq!(
                error.extra,
                "disconnected: mcp:remote: the upstream is down and being restarted"
            );
            // Back: the supervisor's next try connects, and calls are
            // answered (a new MCP session).
            let back = fake::serve_on(fake::Server::new(fake::Listing::Tools), address).await;
            tokio::time::timeout(Duration::from_secs(30), up_again.wait_for(|up| *up))
                .await
                .expect("up again in time")
                .expect("up");
            assert_eq!(echo().await.expect("echo"), r#""hi""#);
            assert_eq!(back.sessions(), 1);
        })
        .await
    }
}
