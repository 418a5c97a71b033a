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
//! - [`upstream`]: upstream MCP servers served as capabilities (`mcp:NAME`);
//!   [`upstream_http`]: the HTTP client under those reached by `url`.
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
//! - [`metrics`]: the counters and histograms `caplet serve --metrics`
//!   reports, and readiness ([`Probe::readiness`]).
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
pub mod metrics;
pub mod pool;
pub mod quota;
pub mod service;
pub mod types;
pub mod upstream;
pub mod upstream_http;

use std::rc::Rc;

pub use auth::Tokens;
pub use config::BuiltinConfig;
pub use connection::ConnectionLimits;
pub use error::Error;
pub use limits::{LimitPolicy, Limits};
pub use pool::{HostCommand, HostPool, PoolOptions};
pub use quota::Quotas;

/// The reader limits of every message the broker reads (defined with the
/// schemas, so that the client library shares them without the broker).
pub use caplet::reader_options;

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
    /// Whether the membranes record each invocation's calls (`calls`):
    /// on by default; off only to measure what recording costs (the
    /// bench), when every `calls` is empty.
    pub call_log: bool,
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
            call_log: true,
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
                config.call_log,
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

    /// Connects the `[store]` database and runs its migrations, when one is
    /// configured (see [`builtins::Builtins::connect_store`]).
    pub async fn connect_store(&self) -> Result<(), Error> {
        self.shared.builtins.connect_store().await
    }

    /// Whether the store of `fs` and `kv` answers now (for `/readyz`).
    pub async fn ping_store(&self) -> Result<(), caplet_store::Error> {
        self.shared.builtins.ping().await
    }

    /// What `caplet serve --metrics` reads: metrics and readiness.
    pub fn probe(&self) -> Probe {
        Probe {
            shared: self.shared.clone(),
            unix_admission: self.unix_admission.clone(),
            tcp_admission: self.tcp_admission.clone(),
        }
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

/// A broker's metrics and readiness, for its HTTP endpoints. Lives on the
/// broker's thread (`Rc`).
#[derive(Clone)]
pub struct Probe {
    shared: Rc<service::Shared>,
    unix_admission: connection::Admission,
    tcp_admission: connection::Admission,
}

impl Probe {
    /// Whether the broker can serve: at least one isolate-host is up (a
    /// host that exits is restarted within milliseconds), and the store
    /// answers a ping once it has been opened. The error names what is
    /// missing.
    pub async fn readiness(&self) -> Result<(), String> {
        let hosts = self.shared.pool.pids();
        if !hosts.iter().any(|pid| *pid != 0) {
            return Err(format!("no isolate-host is up (of {})", hosts.len()));
        }
        self.shared
            .builtins
            .ping()
            .await
            .map_err(|error| format!("the store does not answer: {error}"))
    }

    /// Every metric, in the Prometheus text format (version 0.0.4).
    pub async fn metrics_text(&self) -> String {
        let hosts = self.shared.pool.pids();
        let store_up = self
            .shared
            .builtins
            .ping_if_open()
            .await
            .map(|pinged| pinged.is_ok());
        self.shared.metrics.render(metrics::Gauges {
            hosts_up: hosts.iter().filter(|pid| **pid != 0).count(),
            hosts: hosts.len(),
            host_restarts: self.shared.pool.restarts(),
            unix_connections: self.unix_admission.open(),
            tcp_connections: self.tcp_admission.open(),
            store_up,
        })
    }
}
