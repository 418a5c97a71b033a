//! caplet's broker: owns the capabilities, supervises a pool of isolate-host
//! processes, and serves clients over Cap'n Proto.
//!
//! Everything runs on one thread (a tokio `current_thread` runtime and a
//! `LocalSet`), because capnp-rpc is single-threaded. Code map:
//! - [`pool`]: spawning, watching and respawning isolate-hosts.
//! - [`service`]: the `Broker` and `Worker` services clients call.
//! - [`quota`]: per-principal quotas (workers, cached ids, memory,
//!   connections); [`cache`]: the `get` cache, counted per principal.
//! - [`bindings`]: a worker's granted capabilities and their schemas.
//! - [`builtins`]: the `fs`, `kv` and `http` capabilities the broker serves.
//! - [`config`]: `caplet.toml`, the policies, secrets and quotas of the
//!   built-ins.
//! - [`mcp_config`]: the `[mcp]` and `[mcp_servers.NAME]` sections of
//!   `caplet.toml` (`caplet mcp`, upstream MCP servers).
//! - [`upstream`]: upstream MCP servers served as capabilities (`mcp:NAME`).
//! - [`calls`]: the call log of an invocation, recorded by the membranes.
//! - [`membrane`]: the proxy around granted capabilities (keeps pipelining).
//! - [`types`]: TypeScript declarations of a worker's `env`.
//! - [`limits`]: defaults, maxima and the effective limits of a worker.
//! - [`log_sink`]: the revocable proxy the host streams console lines to.
//! - [`listener`]: the Unix socket and the TCP port clients connect to.
//! - [`connection`]: one client connection, hardened: calls in flight,
//!   idle and slow-message deadlines, backpressure.
//! - [`descriptors`]: the descriptor limit, raised at start, and the
//!   reserve unauthenticated TCP connections never take.
//! - [`auth`]: the token file, the `Gatekeeper` of TCP connections and the
//!   backoff after failed authentications.

pub mod audit;
pub mod auth;
pub mod bindings;
pub mod builtins;
pub mod cache;
pub mod calls;
pub mod config;
pub mod connection;
pub mod descriptors;
mod error;
pub mod grant;
pub mod limits;
pub mod listener;
pub mod log_sink;
pub mod mcp_config;
pub mod membrane;
pub mod pool;
pub mod quota;
pub mod service;
pub mod types;
pub mod upstream;

use std::rc::Rc;

pub use auth::Tokens;
pub use config::BuiltinConfig;
pub use connection::ConnectionLimits;
pub use error::Error;
pub use limits::{LimitPolicy, Limits};
pub use pool::{HostCommand, HostPool, PoolOptions};
pub use quota::Quotas;

/// Reader limits for every message the broker reads (from clients and from
/// isolate-hosts), and the client library reads from the broker:
/// - traversal limit 80 MiB (10 Mi words): big enough for 64 MiB of modules
///   plus the rest of a `WorkerCode`; a frame whose segment table announces
///   more is refused before its body is read;
/// - nesting limit 64, against deeply nested pointers.
///
/// capnp-futures also refuses frames of 512 segments or more. A message that
/// breaks a limit ends the connection it came on, and only that one.
pub fn reader_options() -> capnp::message::ReaderOptions {
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(Some(caplet::MAX_MESSAGE_WORDS));
    options.nesting_limit(64);
    options
}

/// How a broker runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to start isolate-hosts.
    pub host_command: HostCommand,
    /// How many isolate-hosts to keep running.
    pub hosts: usize,
    /// Worker limit defaults and maxima.
    pub limits: LimitPolicy,
    /// Limits of every client connection.
    pub connection: ConnectionLimits,
    /// What `caplet.toml` configures: the data directory, policies, secrets
    /// and volume quotas of the built-ins, and the per-principal quotas.
    pub builtins: BuiltinConfig,
    /// Placement rules (cordons).
    pub pool: PoolOptions,
}

impl Config {
    /// The defaults: one host per core, built-in limits.
    pub fn new(host_command: HostCommand) -> Self {
        Self {
            host_command,
            hosts: std::thread::available_parallelism().map_or(1, |n| n.get()),
            limits: LimitPolicy::default(),
            connection: ConnectionLimits::default(),
            builtins: BuiltinConfig::default(),
            pool: PoolOptions::default(),
        }
    }
}

/// A running broker: its hosts and shared state. Must be created and used
/// inside a `LocalSet`.
pub struct Broker {
    shared: Rc<service::Shared>,
    connection: ConnectionLimits,
    /// Open connections on the Unix socket, and on TCP.
    unix_admission: connection::Admission,
    tcp_admission: connection::Admission,
    /// Unauthenticated TCP connections, within the descriptor budget.
    tcp_unauthenticated: listener::Unauthenticated,
}

impl Broker {
    /// Raises the descriptor limit ([`descriptors`]) and starts the host
    /// pool.
    pub fn start(config: Config) -> Self {
        let budget = descriptors::Budget::raise(config.hosts);
        let pool = HostPool::start(config.host_command, config.hosts, config.pool);
        let quotas = config.builtins.quotas;
        Self {
            shared: service::Shared::new(
                pool,
                config.limits,
                builtins::Builtins::new(config.builtins)
                    .expect("the built-in schemas are compiled in and checked by a unit test"),
                quotas,
            ),
            connection: config.connection,
            unix_admission: connection::Admission::new(config.connection.max_connections),
            tcp_admission: connection::Admission::new(config.connection.max_connections),
            tcp_unauthenticated: listener::Unauthenticated {
                admission: connection::Admission::new(budget.unauthenticated),
                budget,
            },
        }
    }

    /// A `Broker` capability for an in-process client, whose principal is
    /// this process's user (`unix:<uid>`, as on the Unix socket).
    pub fn client(&self) -> caplet::caplet_capnp::broker::Client {
        // SAFETY: getuid(2) has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        self.client_for(format!("unix:{uid}"))
    }

    /// A `Broker` capability for an in-process client acting as `principal`.
    pub fn client_for(&self, principal: impl Into<String>) -> caplet::caplet_capnp::broker::Client {
        capnp_rpc::new_client(service::BrokerService::new(self.shared.clone(), principal))
    }

    /// Serves clients on a Unix socket until the future is dropped.
    pub async fn serve(&self, listener: &listener::UnixListener) -> Result<(), Error> {
        listener
            .serve(
                self.shared.clone(),
                self.connection,
                self.unix_admission.clone(),
            )
            .await
    }

    /// Serves token-authenticated clients on TCP until the future is dropped.
    pub async fn serve_tcp(&self, listener: &listener::TcpListener) -> Result<(), Error> {
        listener
            .serve(
                self.shared.clone(),
                self.connection,
                self.tcp_admission.clone(),
                self.tcp_unauthenticated.clone(),
            )
            .await
    }

    /// The host pool.
    pub fn pool(&self) -> &Rc<HostPool> {
        &self.shared.pool
    }

    /// Stops the hosts and waits until they have ended.
    pub async fn shutdown(&self) {
        self.shared.pool.shutdown();
        self.shared.pool.stopped().await;
    }
}
