//! `caplet mcp`: an MCP server (on `rmcp`) for code mode. It has two tools:
//! `search`, the slice of the worker's typed API (the declarations of
//! `caplet types`) that matches a query, and `execute`, which runs a
//! script in a fresh worker under the configured grants and limits and
//! returns `{result, logs, calls, error?}`. It speaks MCP on stdio, or the
//! streamable HTTP transport at `/mcp` with `--http` (see [`http`]).
//!
//! rmcp's services are `Send` and run as tokio tasks; caplet's client is
//! single-threaded. So the broker lives in this thread's `LocalSet`, and
//! the tools hand it their scripts through a channel ([`Runner`]): each
//! script runs as a local task of its own, so several run at once.

mod guard;
mod http;
pub(crate) mod script;
pub(crate) mod search;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use caplet_client::{Builtin, BuiltinKind, Connection, Error, Level, WorkerCode};

/// Results and logs longer than this many characters are cut by default.
pub const DEFAULT_MAX_CHARS: usize = 24_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve the streamable HTTP transport at http://ADDR/mcp instead of
    /// stdio. Off loopback, clients must send a bearer token of
    /// --token-file.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// The tokens HTTP clients present as `Authorization: Bearer TOKEN`: one
    /// `name:token` per line, as for `caplet serve`. Required with --http
    /// off loopback.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Grant a built-in capability to every script as env.BINDING
    /// (repeatable), as for `caplet run`; added to `[mcp] grants` of
    /// --config.
    #[arg(long = "grant", value_name = "BINDING=SPEC", value_parser = caplet_client::parse_grant)]
    grants: Vec<(String, Builtin)>,
    /// Cut a script's result and its logs at this many characters (default
    /// 24000, or `[mcp] max_chars` of --config).
    #[arg(long, value_name = "N")]
    max_chars: Option<usize>,
    #[command(flatten)]
    broker: super::BrokerArgs,
}

/// One script for the runner, and where its outcome goes.
struct Job {
    code: String,
    reply: oneshot::Sender<Value>,
}

/// The `Send` handle the MCP side holds: scripts go to the broker's thread.
#[derive(Clone)]
struct CodeMode {
    jobs: mpsc::UnboundedSender<Job>,
    index: Arc<search::Index>,
    tools: Arc<Vec<Tool>>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = args.broker.config(1)?;
    let grants = super::types::config_grants(&config.builtins, &args.grants)?;
    for (_, builtin) in &grants {
        if builtin.kind == BuiltinKind::Http {
            config.builtins.add_host_policy(&builtin.name)?;
        }
    }
    // The file's limits, then the flags again: a flag wins.
    for (name, value) in &config.builtins.mcp.limits.clone() {
        if *value == 0 {
            anyhow::bail!("[mcp] limits.{name}: a limit must be above 0");
        }
        super::set_limit(&mut config.limits.defaults, name, *value)
            .map_err(|e| anyhow::anyhow!("[mcp] limits: {e}"))?;
    }
    for (name, value) in &args.broker.limit_default {
        super::set_limit(&mut config.limits.defaults, name, *value).map_err(anyhow::Error::msg)?;
    }
    config
        .limits
        .check()
        .map_err(|e| anyhow::anyhow!("[mcp] limits: {e}"))?;
    let max_chars = args
        .max_chars
        .or(config.builtins.mcp.max_chars)
        .unwrap_or(DEFAULT_MAX_CHARS);

    let decls = super::types::grant_declarations(&grants, &[], &config.builtins)?;
    let (jobs, queue) = mpsc::unbounded_channel();
    let connection = Connection::embedded(config);
    if let Some(broker) = connection.embedded_broker() {
        broker.connect_store().await?;
    }
    let runner = Runner {
        connection,
        grants,
        max_chars,
    };
    tokio::task::spawn_local(runner.serve(queue));

    let server = CodeMode {
        jobs,
        tools: Arc::new(tools(&decls)),
        index: Arc::new(search::Index::new(&decls)),
    };
    match args.http {
        None => {
            if args.token_file.is_some() {
                anyhow::bail!("--token-file is only used with --http");
            }
            let (input, output, written) = guard::stdio(tokio::io::stdin(), tokio::io::stdout());
            let running = server
                .serve((input, output))
                .await
                .map_err(|e| anyhow::anyhow!("mcp: {e}"))?;
            running
                .waiting()
                .await
                .map_err(|e| anyhow::anyhow!("mcp: {e}"))?;
            // Every answer reaches stdout before the process ends.
            let _ = written.await;
        }
        Some(address) => http::serve(server, address, args.token_file.as_deref()).await?,
    }
    Ok(())
}

/// The two tools, their descriptions carrying the API's summary.
fn tools(decls: &str) -> Vec<Tool> {
    let summary = search::summary(decls);
    let object = |schema: Value| -> Arc<serde_json::Map<String, Value>> {
        match schema {
            Value::Object(map) => Arc::new(map),
            _ => Arc::new(serde_json::Map::new()),
        }
    };
    let execute = Tool::new(
        "execute",
        format!(
            "Run JavaScript or TypeScript in a fresh, sandboxed caplet worker and return \
             {{result, logs, calls, error?}}: `result` is the script's return value (JSON), \
             `logs` its console lines, `calls` the capability calls it made. `code` is either \
             statements run as the body of an async function with `env` in scope (they may \
             `await` and must `return` the result), an async arrow `async (env) => {{ … }}`, \
             or a module whose default export has `async run(input, env, ctx)`. Call many \
             methods in one script and return only what is needed; calls on a result's \
             capability fields need no `await` in between. The world is reachable only \
             through `env`:\n\n{summary}"
        ),
        object(json!({
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "The script: statements, an async arrow function, or a module with a default export."
                }
            },
            "required": ["code"]
        })),
    )
    .with_raw_output_schema(object(json!({
        "type": "object",
        "properties": {
            "result": {"description": "The script's return value."},
            "logs": {"type": "array", "items": {"type": "object", "properties": {
                "level": {"type": "string"}, "text": {"type": "string"}}}},
            "calls": {"type": "array", "items": {"type": "object"}},
            "notes": {"type": "array", "items": {"type": "string"}},
            "error": {"type": "object", "properties": {
                "kind": {"type": "string"}, "message": {"type": "string"}}}
        },
        "required": ["result", "logs", "calls"]
    })));
    let search = Tool::new(
        "search",
        format!(
            "Search the typed API of `env` (TypeScript declarations generated from the \
             capabilities' Cap'n Proto schemas): returns the matching interfaces, methods \
             and types with their documentation. The API in short:\n\n{summary}"
        ),
        object(json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words to look for, e.g. \"list files\"."}
            },
            "required": ["query"]
        })),
    );
    vec![search, execute]
}

impl ServerHandler for CodeMode {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("caplet", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "caplet runs scripts in sandboxed workers that reach the world only through \
                 `env`. Use `search` to find the API, then `execute` one script that does the \
                 whole task and returns only the result.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let text = |name: &str| -> Result<String, ErrorData> {
            match arguments.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(ErrorData::invalid_params(
                    format!("{}: `{name}` must be a string", request.name),
                    None,
                )),
            }
        };
        match &*request.name {
            "search" => {
                let query = text("query")?;
                Ok(
                    CallToolResult::success(vec![rmcp::model::ContentBlock::text(
                        self.index.search(&query),
                    )])
                    .into(),
                )
            }
            "execute" => {
                let code = text("code")?;
                let (reply, answer) = oneshot::channel();
                self.jobs
                    .send(Job { code, reply })
                    .map_err(|_| ErrorData::internal_error("the broker has stopped", None))?;
                let outcome = answer
                    .await
                    .map_err(|_| ErrorData::internal_error("the broker has stopped", None))?;
                Ok(if outcome.get("error").is_some() {
                    CallToolResult::structured_error(outcome)
                } else {
                    CallToolResult::structured(outcome)
                }
                .into())
            }
            other => Err(ErrorData::invalid_params(
                format!("no tool called {other:?}: the tools are search and execute"),
                None,
            )),
        }
    }
}

/// Runs scripts on the broker's thread.
struct Runner {
    connection: Connection,
    grants: Vec<(String, Builtin)>,
    max_chars: usize,
}

impl Runner {
    async fn serve(self, mut queue: mpsc::UnboundedReceiver<Job>) {
        let runner = std::rc::Rc::new(self);
        while let Some(job) = queue.recv().await {
            let runner = runner.clone();
            tokio::task::spawn_local(async move {
                let outcome = runner.execute(&job.code).await;
                let _ = job.reply.send(outcome);
            });
        }
    }

    /// Runs `code` in a fresh worker: `{result, logs, calls, notes?, error?}`.
    async fn execute(&self, code: &str) -> Value {
        let mut worker = WorkerCode::new("main.ts", script::module_source(code));
        for (binding, builtin) in &self.grants {
            worker = worker.grant_builtin(binding.clone(), builtin.clone());
        }
        let invoked = self.connection.run(&worker, "run", "null").await;
        let mut notes = Vec::new();
        let (result, logs, calls, error) = match invoked {
            Ok(done) => {
                let result = match script::cut(&done.output, self.max_chars) {
                    None => serde_json::from_str(&done.output).unwrap_or(Value::Null),
                    Some(cut) => {
                        notes.push(format!(
                            "result cut at {} of {} characters: shown as its JSON text",
                            self.max_chars,
                            done.output.chars().count()
                        ));
                        Value::String(cut)
                    }
                };
                (result, done.logs, done.calls, None)
            }
            Err(error) => {
                let kind = error_kind(&error);
                let mut message = match &error {
                    Error::Exception { message, .. } => message.clone(),
                    Error::LimitExceeded { message, .. }
                    | Error::Invocation { message, .. }
                    | Error::Refused { message, .. }
                    | Error::Denied { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                if let Error::Exception { stack, .. } = &error {
                    if !stack.is_empty() {
                        message.push('\n');
                        message.push_str(stack);
                    }
                }
                let logs = error.logs().to_vec();
                let calls = error.calls().to_vec();
                (
                    Value::Null,
                    logs,
                    calls,
                    Some(json!({ "kind": kind, "message": message })),
                )
            }
        };
        let mut budget = self.max_chars;
        let mut kept = Vec::new();
        for line in &logs {
            let n = line.text.chars().count();
            if n > budget {
                break;
            }
            budget -= n;
            kept.push(json!({ "level": level_name(line.level), "text": line.text }));
        }
        if kept.len() < logs.len() {
            notes.push(format!(
                "logs cut at {} characters: {} of {} lines shown",
                self.max_chars,
                kept.len(),
                logs.len()
            ));
        }
        let calls: Vec<Value> = calls.iter().map(super::call_json).collect();
        let mut out = json!({ "result": result, "logs": kept, "calls": calls });
        if !notes.is_empty() {
            out["notes"] = json!(notes);
        }
        if let Some(error) = error {
            out["error"] = error;
        }
        out
    }
}

/// The snake_case kind of an error, as caplet names it everywhere.
fn error_kind(error: &Error) -> String {
    match error {
        Error::Exception { .. } => "exception".into(),
        Error::LimitExceeded { limit, .. } => limit.kind_name().into(),
        Error::Invocation { kind, .. } => caplet_client::kind_name(*kind).into(),
        Error::Refused { kind, .. } | Error::Denied { kind, .. } => kind.clone(),
        Error::Disconnected(_) => "disconnected".into(),
        Error::Overloaded(_) => "overloaded".into(),
        Error::Connect { .. } | Error::Rpc(_) => "failed".into(),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "log",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}
