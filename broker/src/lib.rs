//! caplet's broker: owns the capabilities, supervises a pool of isolate-host
//! processes, and serves clients over Cap'n Proto.
//!
//! Everything runs on one thread (a tokio `current_thread` runtime and a
//! `LocalSet`), because capnp-rpc is single-threaded. Code map:
//! - [`pool`]: spawning, watching and respawning isolate-hosts.
//! - [`service`]: the `Broker` and `Worker` services clients call.
//! - [`bindings`]: a worker's granted capabilities and their schemas.
//! - [`limits`]: defaults, maxima and the effective limits of a worker.
//! - [`listener`]: the Unix socket clients connect to.

pub mod bindings;
mod error;
pub mod limits;
pub mod listener;
pub mod pool;
pub mod service;

use std::rc::Rc;

pub use error::Error;
pub use limits::{LimitPolicy, Limits};
pub use pool::{HostCommand, HostPool, PoolOptions};

/// Reader limits for every message the broker reads: big enough for 64 MiB of
/// modules, bounded against traversal bombs and deep nesting.
pub fn reader_options() -> capnp::message::ReaderOptions {
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(Some(80 << 20 >> 3));
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
            pool: PoolOptions::default(),
        }
    }
}

/// A running broker: its hosts and shared state. Must be created and used
/// inside a `LocalSet`.
pub struct Broker {
    shared: Rc<service::Shared>,
}

impl Broker {
    /// Starts the host pool.
    pub fn start(config: Config) -> Self {
        let pool = HostPool::start(config.host_command, config.hosts, config.pool);
        Self {
            shared: service::Shared::new(pool, config.limits),
        }
    }

    /// A `Broker` capability for an in-process client.
    pub fn client(&self) -> caplet::caplet_capnp::broker::Client {
        capnp_rpc::new_client(service::BrokerService::new(self.shared.clone()))
    }

    /// Serves clients on `listener` until the future is dropped.
    pub async fn serve(&self, listener: &listener::UnixListener) -> Result<(), Error> {
        listener.serve(self.shared.clone()).await
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
