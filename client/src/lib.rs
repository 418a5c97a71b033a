//! caplet's Rust client: connect to a broker (or start one in-process), load
//! JavaScript workers, invoke them.
//!
//! [`route::Router`] spreads `get` over several brokers by rendezvous
//! hashing, failing over to the next broker when one is down.
//!
//! Everything here is single-threaded (Cap'n Proto RPC is): call it from a
//! tokio `current_thread` runtime inside a `LocalSet`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), caplet_client::Error> {
//! use caplet_client::{Connection, WorkerCode};
//! let conn = Connection::connect("/tmp/caplet.sock").await?;
//! let code = WorkerCode::new("main.js", "export default { run: (input) => input.n + 1 }");
//! let worker = conn.load(&code).await?;
//! let done = worker.invoke("run", r#"{"n": 41}"#).await?;
//! assert_eq!(done.output, "42");
//! # Ok(()) }
//! ```

mod builtin;
mod error;
pub mod route;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use caplet::caplet_capnp::{broker, gatekeeper, log_line, log_sink, module, worker, worker_code};
use capnp_rpc::{rpc_twoparty_capnp, RpcSystem};
use futures::future::Either;
use futures::AsyncReadExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

pub use builtin::{parse_grant, Budget, Builtin, BuiltinKind};
pub use caplet::caplet_capnp::invoke_error::Kind as InvokeErrorKind;
pub use caplet::caplet_capnp::log_line::Level;
pub use error::{kind_name, Error, Limit};
pub use route::{BrokerAddress, Routed, Router};

/// The capnp crates the public API speaks in, re-exported for callers.
pub use {capnp, capnp_rpc};

/// One module of a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    pub kind: module::Kind,
    pub source: String,
}

/// Requested limits; `None` takes the broker's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub cpu_time_ms: Option<u32>,
    pub wall_time_ms: Option<u32>,
    pub stack_bytes: Option<u32>,
    pub module_bytes: Option<u64>,
    pub output_bytes: Option<u64>,
    pub log_bytes: Option<u64>,
    pub subrequests: Option<u32>,
    pub calls_in_flight: Option<u32>,
    pub pending_timers: Option<u32>,
}

/// The interface a granted capability implements. The broker may never have
/// seen it before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceSchema {
    /// `.capnp` source, compiled by the broker: the files (name, text) and
    /// the interface, `file.capnp:Name`.
    Source {
        files: Vec<(String, String)>,
        interface_name: String,
    },
    /// Already compiled: a serialized `CodeGeneratorRequest` (what
    /// `capnp compile -o-` writes, or a `build.rs` gets from the compiler)
    /// holding the interface, and the interface's id.
    Compiled { request: Vec<u8>, interface_id: u64 },
}

impl InterfaceSchema {
    /// The interface `interface_name` (e.g. `inventory.capnp:Inventory`)
    /// of one schema file.
    ///
    /// ```
    /// use caplet_client::InterfaceSchema;
    ///
    /// let schema = InterfaceSchema::source(
    ///     "inventory.capnp",
    ///     "@0x89d29c17024b1b90;\ninterface Inventory { count @0 () -> (n :UInt32); }\n",
    ///     "inventory.capnp:Inventory",
    /// );
    /// assert!(matches!(schema, InterfaceSchema::Source { ref files, .. } if files.len() == 1));
    /// ```
    pub fn source(
        file_name: impl Into<String>,
        text: impl Into<String>,
        interface_name: impl Into<String>,
    ) -> Self {
        Self::Source {
            files: vec![(file_name.into(), text.into())],
            interface_name: interface_name.into(),
        }
    }

    fn write(&self, out: caplet::caplet_capnp::interface_schema::Builder<'_>) -> Result<(), Error> {
        match self {
            Self::Source {
                files,
                interface_name,
            } => {
                let mut source = out.init_source();
                source.set_interface_name(interface_name);
                let mut list = source.init_files(files.len() as u32);
                for (i, (name, text)) in files.iter().enumerate() {
                    let mut file = list.reborrow().get(i as u32);
                    file.set_name(name);
                    file.set_text(text);
                }
            }
            Self::Compiled {
                request,
                interface_id,
            } => {
                let message = capnp::serialize::read_message_from_flat_slice(
                    &mut request.as_slice(),
                    capnp::message::ReaderOptions::new(),
                )?;
                let request: capnp::schema_capnp::code_generator_request::Reader<'_> =
                    message.get_root()?;
                let mut compiled = out.init_compiled();
                compiled.set_interface_id(*interface_id);
                compiled.set_nodes(request.get_nodes()?)?;
            }
        }
        Ok(())
    }
}

/// A capability granted to a worker as `env.<name>`.
#[derive(Clone)]
pub struct Grant {
    pub name: String,
    pub cap: capnp::capability::Client,
    pub schema: InterfaceSchema,
    /// What the grant may be used for; the default limits nothing.
    pub budget: Budget,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("name", &self.name)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// A worker's code: modules, main module, granted capabilities and limits.
#[derive(Debug, Clone, Default)]
pub struct WorkerCode {
    /// The main module; `None` means the first module.
    pub main_module: Option<String>,
    pub modules: Vec<Module>,
    pub grants: Vec<Grant>,
    pub limits: Limits,
    /// Built-in capabilities, as (binding name, built-in): asked of the
    /// broker with `Broker.builtin` when the worker is loaded.
    pub builtins: Vec<(String, Builtin)>,
    /// `Policy.allowEval`: the worker gets `eval` and the `Function`
    /// constructors.
    pub allow_eval: bool,
    /// Whom the worker acts for (`WorkerCode.principal`); `None` means this
    /// connection.
    pub principal: Option<String>,
}

impl WorkerCode {
    /// A worker of one JavaScript module, which is its main module.
    ///
    /// ```
    /// use caplet_client::{Builtin, Limits, WorkerCode};
    ///
    /// let code = WorkerCode::new("main.js", "import { f } from './lib.js'; export default () => f()")
    ///     .module("lib.js", "export const f = () => 42;")
    ///     .module("data.json", r#"{"answer": 42}"#)
    ///     .grant_builtin("kv", Builtin::kv("main"))
    ///     .limits(Limits { cpu_time_ms: Some(50), ..Limits::default() });
    /// assert_eq!(code.modules.len(), 3);
    /// assert_eq!(code.modules[2].kind, caplet::caplet_capnp::module::Kind::Json);
    /// assert_eq!(code.limits.cpu_time_ms, Some(50));
    /// ```
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Self {
        Self::default().module(name, source)
    }

    /// Adds a module; its kind follows its name (`.json` is JSON, anything
    /// else is JavaScript).
    pub fn module(mut self, name: impl Into<String>, source: impl Into<String>) -> Self {
        let name = name.into();
        let kind = if name.ends_with(".json") {
            module::Kind::Json
        } else {
            module::Kind::Js
        };
        self.modules.push(Module {
            name,
            kind,
            source: source.into(),
        });
        self
    }

    /// Grants a capability as `env.<name>`: any capnp client (one this
    /// program implements itself, or one it got from elsewhere) with the
    /// schema of its interface.
    pub fn grant(
        self,
        name: impl Into<String>,
        cap: impl capnp::capability::FromClientHook,
        schema: InterfaceSchema,
    ) -> Self {
        self.grant_budgeted(name, cap, schema, Budget::default())
    }

    /// Like [`WorkerCode::grant`], under `budget`: the broker enforces it
    /// for the grant and every capability reached through it
    /// ([`Worker::revoker`] revokes the grant).
    pub fn grant_budgeted(
        mut self,
        name: impl Into<String>,
        cap: impl capnp::capability::FromClientHook,
        schema: InterfaceSchema,
        budget: Budget,
    ) -> Self {
        self.grants.push(Grant {
            name: name.into(),
            cap: capnp::capability::Client::new(cap.into_client_hook()),
            schema,
            budget,
        });
        self
    }

    /// Grants one of the broker's built-in capabilities as `env.<name>`
    /// (e.g. `Builtin::fs("workspace")`; granted as `fetch`, an http
    /// gateway also gives the worker a global `fetch()`).
    pub fn grant_builtin(mut self, name: impl Into<String>, builtin: Builtin) -> Self {
        self.builtins.push((name.into(), builtin));
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Allows `eval` and the `Function` constructors (off by default).
    pub fn allow_eval(mut self, allow: bool) -> Self {
        self.allow_eval = allow;
        self
    }

    /// Names the principal the worker acts for (for `--cordon principal`).
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    fn write(
        &self,
        mut out: worker_code::Builder<'_>,
        builtins: &[(
            String,
            capnp::capability::Response<broker::builtin_results::Owned>,
        )],
    ) -> Result<(), Error> {
        out.set_main_module(self.main_module.as_deref().unwrap_or(""));
        out.set_principal(self.principal.as_deref().unwrap_or(""));
        out.reborrow().init_policy().set_allow_eval(self.allow_eval);
        let mut modules = out.reborrow().init_modules(self.modules.len() as u32);
        for (i, m) in self.modules.iter().enumerate() {
            let mut entry = modules.reborrow().get(i as u32);
            entry.set_name(&m.name);
            entry.set_kind(m.kind);
            entry.set_source(&m.source);
        }
        let mut env = out
            .reborrow()
            .init_env((self.grants.len() + builtins.len()) as u32);
        for (i, ((name, response), (_, builtin))) in builtins.iter().zip(&self.builtins).enumerate()
        {
            let response = response.get()?;
            let mut entry = env.reborrow().get((self.grants.len() + i) as u32);
            entry.set_name(name);
            if !builtin.budget.is_empty() {
                builtin.budget.write(entry.reborrow().init_budget());
            }
            entry.reborrow().init_cap().set_as_capability(
                response
                    .get_cap()
                    .get_as_capability::<capnp::capability::Client>()?
                    .hook,
            );
            entry.set_interface_schema(response.get_interface_schema()?)?;
        }
        for (i, grant) in self.grants.iter().enumerate() {
            let mut entry = env.reborrow().get(i as u32);
            entry.set_name(&grant.name);
            if !grant.budget.is_empty() {
                grant.budget.write(entry.reborrow().init_budget());
            }
            entry
                .reborrow()
                .init_cap()
                .set_as_capability(grant.cap.hook.add_ref());
            grant.schema.write(entry.init_interface_schema())?;
        }
        let l = &self.limits;
        let mut limits = out.init_limits();
        limits.set_memory_bytes(l.memory_bytes.unwrap_or(0));
        limits.set_cpu_time_ms(l.cpu_time_ms.unwrap_or(0));
        limits.set_wall_time_ms(l.wall_time_ms.unwrap_or(0));
        limits.set_stack_bytes(l.stack_bytes.unwrap_or(0));
        limits.set_module_bytes(l.module_bytes.unwrap_or(0));
        limits.set_output_bytes(l.output_bytes.unwrap_or(0));
        limits.set_log_bytes(l.log_bytes.unwrap_or(0));
        limits.set_subrequests(l.subrequests.unwrap_or(0));
        limits.set_calls_in_flight(l.calls_in_flight.unwrap_or(0));
        limits.set_pending_timers(l.pending_timers.unwrap_or(0));
        Ok(())
    }
}

/// A captured `console.*` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub text: String,
}

impl LogLine {
    /// The line as the schema carries it (an unknown level reads as info).
    fn read(line: log_line::Reader<'_>) -> capnp::Result<Self> {
        Ok(Self {
            level: line.get_level().unwrap_or(log_line::Level::Info),
            text: line.get_text()?.to_string()?,
        })
    }
}

/// Resource use of one invocation, as measured in the isolate-host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub wall_time: Duration,
    pub cpu_time: Duration,
    pub peak_memory_bytes: u64,
}

/// A successful invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The return value as JSON text.
    pub output: String,
    pub logs: Vec<LogLine>,
    pub stats: Stats,
    /// The capability calls it made (the call log, `CallRecord` in the
    /// schema), in the order they started.
    pub calls: Vec<CallRecord>,
    /// Calls made beyond the call log's bounds, not in `calls`.
    pub calls_dropped: u32,
}

/// One capability call of an invocation, as the broker recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The `env` binding it went through.
    pub binding: String,
    pub interface: String,
    pub method: String,
    /// From the invocation's start, µs.
    pub start_us: u64,
    pub duration_us: u64,
    pub params_bytes: u64,
    pub results_bytes: u64,
    /// `ok`, or the error kind.
    pub outcome: String,
    /// The index of the call it was pipelined on.
    pub pipelined_on: Option<u32>,
}

impl CallRecord {
    fn read(r: caplet::caplet_capnp::call_record::Reader<'_>) -> capnp::Result<Self> {
        let text = |t: capnp::Result<capnp::text::Reader<'_>>| -> capnp::Result<String> {
            Ok(t?.to_str()?.to_string())
        };
        Ok(Self {
            binding: text(r.get_binding())?,
            interface: text(r.get_interface())?,
            method: text(r.get_method())?,
            start_us: r.get_start_us(),
            duration_us: r.get_duration_us(),
            params_bytes: r.get_params_bytes(),
            results_bytes: r.get_results_bytes(),
            outcome: text(r.get_outcome())?,
            pipelined_on: u32::try_from(r.get_pipelined_on()).ok(),
        })
    }
}

/// A connection to a broker, remote or embedded.
///
/// A remote connection closes when it and every [`Worker`] loaded through
/// it are dropped, or at [`Connection::close`]; the broker then lets go of
/// everything it held. Other capabilities obtained through it (typed
/// entrypoints, built-ins) work while the connection or one of its workers
/// is kept.
pub struct Connection {
    broker: broker::Client,
    /// Keeps an embedded broker alive as long as the connection.
    #[cfg(feature = "embedded")]
    embedded: Option<Rc<caplet_broker::Broker>>,
    /// Keeps a remote connection open; `None` when embedded.
    link: Option<Rc<Link>>,
}

/// Held by a remote [`Connection`] and its [`Worker`]s. When the last of
/// them is dropped, or the connection is closed, the connection's RPC
/// system ends and its socket closes. Without it the RPC system would serve
/// until the broker hung up, and the connection would keep its place under
/// the broker's `--max-connections`.
struct Link {
    open: RefCell<Option<futures::channel::oneshot::Sender<()>>>,
}

impl Link {
    fn close(&self) {
        self.open.borrow_mut().take();
    }
}

impl Connection {
    /// Connects to `caplet serve` on a Unix socket (no token: the broker
    /// knows the caller by its uid).
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|source| Error::Connect {
                path: path.display().to_string(),
                source,
            })?;
        caplet::spin::watch(std::os::fd::AsRawFd::as_raw_fd(&stream));
        let (broker, link) = bootstrap(stream);
        Ok(Self {
            broker,
            #[cfg(feature = "embedded")]
            embedded: None,
            link: Some(link),
        })
    }

    /// Connects to `caplet serve --listen` over TCP at `address` (`host:port`)
    /// and authenticates with `token`; then works like [`Connection::connect`].
    /// A wrong token fails with `Error::Refused` of kind `unauthenticated`.
    pub async fn connect_tcp(address: &str, token: &str) -> Result<Self, Error> {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|source| Error::Connect {
                path: format!("tcp://{address}"),
                source,
            })?;
        // Small RPC messages must not wait for Nagle's algorithm.
        stream.set_nodelay(true).map_err(|source| Error::Connect {
            path: format!("tcp://{address}"),
            source,
        })?;
        caplet::spin::watch(std::os::fd::AsRawFd::as_raw_fd(&stream));
        let (gatekeeper, link): (gatekeeper::Client, _) = bootstrap(stream);
        let mut request = gatekeeper.authenticate_request();
        request.get().set_token(token);
        let response = request.send().promise.await?;
        Ok(Self {
            broker: response.get()?.get_broker()?,
            #[cfg(feature = "embedded")]
            embedded: None,
            link: Some(link),
        })
    }

    /// Speaks to a broker over any byte stream (both halves of a
    /// connection the caller opened), bootstrapping `Broker` directly.
    pub fn from_io(
        reader: impl futures::AsyncRead + Unpin + 'static,
        writer: impl futures::AsyncWrite + Unpin + 'static,
    ) -> Self {
        let (broker, link) = bootstrap_io(reader, writer);
        Self {
            broker,
            #[cfg(feature = "embedded")]
            embedded: None,
            link: Some(link),
        }
    }

    /// Starts a broker in this process (its isolate-hosts are still separate
    /// processes) and connects to it. Needs the `embedded` feature.
    #[cfg(feature = "embedded")]
    pub fn embedded(config: caplet_broker::Config) -> Self {
        let broker = Rc::new(caplet_broker::Broker::start(config));
        Self {
            broker: broker.client(),
            embedded: Some(broker),
            link: None,
        }
    }

    /// The embedded broker, if this connection started one.
    #[cfg(feature = "embedded")]
    pub fn embedded_broker(&self) -> Option<&Rc<caplet_broker::Broker>> {
        self.embedded.as_ref()
    }

    /// Asks the broker for a built-in capability (for this connection's
    /// principal), e.g. to fill a volume before granting it. `T` is the
    /// interface's client type (`caplet::fs_capnp::volume::Client` …).
    pub async fn builtin<T: capnp::capability::FromClientHook>(
        &self,
        builtin: &Builtin,
    ) -> Result<T, Error> {
        let response = self.builtin_response(builtin).await?;
        Ok(response.get()?.get_cap().get_as_capability()?)
    }

    async fn builtin_response(
        &self,
        builtin: &Builtin,
    ) -> Result<capnp::capability::Response<broker::builtin_results::Owned>, Error> {
        let mut request = self.broker.builtin_request();
        builtin.write(request.get().init_grant());
        Ok(request.send().promise.await?)
    }

    /// The built-ins of `code`, asked of the broker all at once.
    async fn builtins(
        &self,
        code: &WorkerCode,
    ) -> Result<
        Vec<(
            String,
            capnp::capability::Response<broker::builtin_results::Owned>,
        )>,
        Error,
    > {
        let answers = futures::future::join_all(
            code.builtins
                .iter()
                .map(|(_, builtin)| self.builtin_response(builtin)),
        )
        .await;
        code.builtins
            .iter()
            .zip(answers)
            .map(|((name, _), answer)| Ok((name.clone(), answer?)))
            .collect()
    }

    /// Loads a fresh worker.
    pub async fn load(&self, code: &WorkerCode) -> Result<Worker, Error> {
        let builtins = self.builtins(code).await?;
        let mut request = self.broker.load_request();
        code.write(request.get().init_code(), &builtins)?;
        let response = request.send().promise.await?;
        Ok(Worker {
            client: response.get()?.get_worker()?,
            _link: self.link.clone(),
        })
    }

    /// The TypeScript declarations of `code`'s `env` (`Broker.types`): the
    /// `.d.ts` a model or `tsc` reads to write a worker against its grants.
    pub async fn types(&self, code: &WorkerCode) -> Result<String, Error> {
        let builtins = self.builtins(code).await?;
        // Written as a load would be (a request's message carries the
        // capabilities), and only its `env` sent.
        let mut scratch = self.broker.load_request();
        code.write(scratch.get().init_code(), &builtins)?;
        let mut request = self.broker.types_request();
        request
            .get()
            .set_env(scratch.get().get_code()?.into_reader().get_env()?)?;
        let response = request.send().promise.await?;
        let text = response.get()?.get_typescript()?;
        Ok(text.to_str().map_err(capnp::Error::from)?.to_string())
    }

    /// Everything a worker of `code` could reach (`Broker.audit`): the JSON
    /// report `caplet audit --format json` prints, with `code`'s built-ins
    /// and their effective policies, its grants' interfaces and everything
    /// they lead to, its limits and this principal's quotas.
    pub async fn audit(&self, code: &WorkerCode) -> Result<String, Error> {
        let builtins = self.builtins(code).await?;
        let mut scratch = self.broker.load_request();
        code.write(scratch.get().init_code(), &builtins)?;
        let mut request = self.broker.audit_request();
        let written = scratch.get().get_code()?.into_reader();
        request.get().set_env(written.get_env()?)?;
        request.get().set_limits(written.get_limits()?)?;
        let response = request.send().promise.await?;
        let text = response.get()?.get_json()?;
        Ok(text.to_str().map_err(capnp::Error::from)?.to_string())
    }

    /// Loads a fresh worker and invokes it once, in one round trip: the
    /// invocation is pipelined on the load. A load failure is the error.
    pub async fn run(
        &self,
        code: &WorkerCode,
        entrypoint: &str,
        input: &str,
    ) -> Result<Invocation, Error> {
        let builtins = self.builtins(code).await?;
        let mut request = self.broker.load_request();
        code.write(request.get().init_code(), &builtins)?;
        let loading = request.send();
        let worker = Worker {
            client: loading.pipeline.get_worker(),
            _link: self.link.clone(),
        };
        let (loaded, invoked) = futures::join!(loading.promise, worker.invoke(entrypoint, input));
        loaded?;
        invoked
    }

    /// Loads a worker cached under `id`: the same id and code give the same
    /// worker; the same id with other code fails with `id_conflict`.
    pub async fn get(&self, id: &str, code: &WorkerCode) -> Result<Worker, Error> {
        let builtins = self.builtins(code).await?;
        let mut request = self.broker.get_request();
        request.get().set_id(id);
        code.write(request.get().init_code(), &builtins)?;
        let response = request.send().promise.await?;
        Ok(Worker {
            client: response.get()?.get_worker()?,
            _link: self.link.clone(),
        })
    }

    /// Closes a remote connection, also for the workers loaded through it
    /// (their calls then fail with `disconnected`); stops an embedded
    /// broker's hosts.
    pub async fn close(self) {
        if let Some(link) = &self.link {
            link.close();
        }
        #[cfg(feature = "embedded")]
        if let Some(broker) = self.embedded {
            broker.shutdown().await;
        }
    }
}

/// Starts an RPC connection on `stream` (driven on the current `LocalSet`)
/// and returns the broker's bootstrap capability as `T`.
fn bootstrap<S, T>(stream: S) -> (T, Rc<Link>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    T: capnp::capability::FromClientHook,
{
    let (reader, writer) = stream.compat().split();
    bootstrap_io(reader, writer)
}

fn bootstrap_io<T: capnp::capability::FromClientHook>(
    reader: impl futures::AsyncRead + Unpin + 'static,
    writer: impl futures::AsyncWrite + Unpin + 'static,
) -> (T, Rc<Link>) {
    let network = caplet::transport::network(
        reader,
        writer,
        rpc_twoparty_capnp::Side::Client,
        caplet::reader_options(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let bootstrap: T = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    let disconnector = rpc.get_disconnector();
    let (close, closed) = futures::channel::oneshot::channel::<()>();
    tokio::task::spawn_local(async move {
        // Until the peer hangs up, or the `Link` closes: then calls in
        // flight fail with `disconnected`, and the socket closes once the
        // broker has seen the end.
        if let Either::Right((_, rpc)) = futures::future::select(rpc, closed).await {
            let _ = futures::future::join(disconnector, rpc).await;
        }
    });
    let link = Link {
        open: RefCell::new(Some(close)),
    };
    (bootstrap, Rc::new(link))
}

/// Revokes one grant of a worker ([`Worker::revoker`]).
pub struct Revoker(caplet::caplet_capnp::revoker::Client);

impl Revoker {
    /// Revokes the grant (again: nothing more happens).
    pub async fn revoke(&self) -> Result<(), Error> {
        self.0.revoke_request().send().promise.await?;
        Ok(())
    }
}

/// A loaded worker.
#[derive(Clone)]
pub struct Worker {
    client: worker::Client,
    /// Keeps a remote connection open.
    _link: Option<Rc<Link>>,
}

impl Worker {
    /// Serves the main module's export `name` (`default` for the default
    /// export), an object implementing the interface `schema` describes, as a
    /// typed capability: calls on it run the JS methods, and can be
    /// pipelined like any Cap'n Proto call. Cast the result to the generated
    /// client type, e.g. `worker.entrypoint::<calculator::Client>(..)`.
    pub async fn entrypoint<C: capnp::capability::FromClientHook>(
        &self,
        name: &str,
        schema: &InterfaceSchema,
    ) -> Result<C, Error> {
        let mut request = self.client.entrypoint_request();
        request.get().set_export_name(name);
        schema.write(request.get().init_interface_schema())?;
        let response = request.send().promise.await?;
        Ok(response.get()?.get_cap().get_as_capability()?)
    }

    /// A revoker of this worker's grant `env.<binding>`: once it is
    /// revoked, every call through the grant and everything reached from
    /// it fails with `disconnected` (`revoked: …`), calls in flight too.
    pub async fn revoker(&self, binding: &str) -> Result<Revoker, Error> {
        let mut request = self.client.revoker_request();
        request.get().set_binding(binding);
        let response = request.send().promise.await?;
        Ok(Revoker(response.get()?.get_revoker()?))
    }

    /// Calls `entrypoint` (empty means `run`) with `input` (JSON text).
    pub async fn invoke(&self, entrypoint: &str, input: &str) -> Result<Invocation, Error> {
        self.invoke_with(entrypoint, input, None).await
    }

    /// Like [`Worker::invoke`], and calls `on_line` with each console line
    /// while the invocation runs (in order, all of them before this
    /// returns). The result's `logs` still hold every line.
    pub async fn invoke_streaming(
        &self,
        entrypoint: &str,
        input: &str,
        on_line: impl FnMut(LogLine) + 'static,
    ) -> Result<Invocation, Error> {
        let sink: log_sink::Client = capnp_rpc::new_client(LogSinkServer {
            on_line: std::cell::RefCell::new(Box::new(on_line)),
            on_call: None,
        });
        self.invoke_with(entrypoint, input, Some(sink)).await
    }

    /// Like [`Worker::invoke_streaming`], and calls `on_call` with each
    /// record of the call log while the invocation runs: in the order the
    /// calls started, each once it and every call before it have been
    /// answered (the `n`th is `calls[n]`), all before this returns. Under a
    /// slow callback records may be dropped (the logs then say how many).
    pub async fn invoke_watching(
        &self,
        entrypoint: &str,
        input: &str,
        on_line: impl FnMut(LogLine) + 'static,
        on_call: impl FnMut(CallRecord) + 'static,
    ) -> Result<Invocation, Error> {
        let sink: log_sink::Client = capnp_rpc::new_client(LogSinkServer {
            on_line: std::cell::RefCell::new(Box::new(on_line)),
            on_call: Some(std::cell::RefCell::new(Box::new(on_call))),
        });
        self.invoke_with(entrypoint, input, Some(sink)).await
    }

    async fn invoke_with(
        &self,
        entrypoint: &str,
        input: &str,
        sink: Option<log_sink::Client>,
    ) -> Result<Invocation, Error> {
        let mut request = self.client.invoke_request();
        request.get().set_entrypoint(entrypoint);
        request.get().set_input(input);
        if let Some(sink) = sink {
            request.get().set_log_sink(sink);
        }
        let response = request.send().promise.await?;
        let response = response.get()?;
        let logs = response
            .get_logs()?
            .iter()
            .map(LogLine::read)
            .collect::<capnp::Result<Vec<_>>>()?;
        let stats = response.get_stats()?;
        let stats = Stats {
            wall_time: Duration::from_micros(stats.get_wall_time_us()),
            cpu_time: Duration::from_micros(stats.get_cpu_time_us()),
            peak_memory_bytes: stats.get_peak_memory_bytes(),
        };
        let calls = response
            .get_calls()?
            .iter()
            .map(CallRecord::read)
            .collect::<capnp::Result<Vec<_>>>()?;
        if response.has_error() {
            let error = response.get_error()?;
            return Err(Error::invocation(
                error.get_kind().unwrap_or(InvokeErrorKind::Internal),
                error
                    .get_message()?
                    .to_string()
                    .map_err(capnp::Error::from)?,
                error.get_stack()?.to_string().map_err(capnp::Error::from)?,
                logs,
                stats,
                calls,
            ));
        }
        Ok(Invocation {
            output: response
                .get_output()?
                .to_string()
                .map_err(capnp::Error::from)?,
            logs,
            stats,
            calls,
            calls_dropped: response.get_calls_dropped(),
        })
    }
}

/// Serves `LogSink` for [`Worker::invoke_streaming`] and
/// [`Worker::invoke_watching`].
struct LogSinkServer {
    on_line: std::cell::RefCell<Box<dyn FnMut(LogLine)>>,
    /// `None`: records are refused (`unimplemented`), so the broker stops
    /// sending them.
    on_call: Option<OnCall>,
}

/// The callback of [`Worker::invoke_watching`].
type OnCall = std::cell::RefCell<Box<dyn FnMut(CallRecord)>>;

impl log_sink::Server for LogSinkServer {
    async fn write(
        self: capnp::capability::Rc<Self>,
        params: log_sink::WriteParams,
        _results: log_sink::WriteResults,
    ) -> Result<(), capnp::Error> {
        let line = LogLine::read(params.get()?.get_line()?)?;
        // The callback runs synchronously; the borrow ends before returning.
        (self.on_line.borrow_mut())(line);
        Ok(())
    }

    async fn call(
        self: capnp::capability::Rc<Self>,
        params: log_sink::CallParams,
        _results: log_sink::CallResults,
    ) -> Result<(), capnp::Error> {
        let Some(on_call) = &self.on_call else {
            return Err(capnp::Error::unimplemented(
                "call records were not asked for".into(),
            ));
        };
        let record = CallRecord::read(params.get()?.get_record()?)?;
        (on_call.borrow_mut())(record);
        Ok(())
    }
}
