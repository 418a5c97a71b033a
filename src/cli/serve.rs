//! `caplet serve`: a long-lived broker on a Unix socket and/or a TCP port.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use caplet_broker::listener::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Unix socket to listen on (created owner-only; removed on exit).
    /// Default: caplet.sock, unless --listen is given.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Also (or, without --socket, only) accept TCP clients at this address,
    /// e.g. 127.0.0.1:7420 (port 0 picks a free one). Needs --token-file.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// The tokens TCP clients authenticate with: one `name:token` per line
    /// (the name is the client's principal); `#` starts a comment line.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Close a connection that sends nothing for this long while it has no
    /// call in flight.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    idle_timeout_secs: u64,
    /// Close a connection whose message takes longer than this to arrive.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    frame_timeout_secs: u64,
    /// Close a TCP connection that has not authenticated this long after it
    /// was accepted.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    auth_timeout_secs: u64,
    /// Connections open at once on each listener (the Unix socket, TCP);
    /// more are closed as soon as they are accepted.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Calls one connection may have in flight; more are answered
    /// `overloaded`.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_calls_in_flight: u64,
    /// A per-principal quota, as NAME=VALUE with NAME one of `workers`,
    /// `cached_ids`, `memory_bytes`, `connections` (repeatable; wins over
    /// `[quotas]` of --config). A principal's sub-principals count inside it.
    #[arg(long, value_name = "NAME=VALUE", value_parser = caplet_broker::Quotas::parse_setting)]
    quota: Vec<(String, u64)>,
    /// Serve Prometheus metrics (`/metrics`), liveness (`/healthz`) and
    /// readiness (`/readyz`) over HTTP at this address, e.g.
    /// 127.0.0.1:9420. They need no token: bind it where only the
    /// orchestrator and the monitoring reach.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
    #[command(flatten)]
    broker: super::BrokerArgs,
}

pub async fn serve(args: Args) -> anyhow::Result<()> {
    // Everything that can be wrong with the arguments fails before any
    // isolate-host starts.
    let tokens = match (&args.listen, &args.token_file) {
        (Some(_), None) => {
            anyhow::bail!("--listen needs --token-file: TCP clients must present a token")
        }
        (None, Some(_)) => anyhow::bail!("--token-file is only used with --listen"),
        (Some(_), Some(file)) => Some(caplet_broker::Tokens::load(file)?),
        (None, None) => None,
    };
    let socket = match (&args.socket, &args.listen) {
        (Some(path), _) => Some(path.clone()),
        (None, None) => Some(PathBuf::from("caplet.sock")),
        (None, Some(_)) => None,
    };

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut config = args.broker.config(cores)?;
    config.connection.idle_timeout = Duration::from_secs(args.idle_timeout_secs);
    config.connection.frame_timeout = Duration::from_secs(args.frame_timeout_secs);
    config.connection.auth_timeout = Duration::from_secs(args.auth_timeout_secs);
    config.connection.max_connections = args.max_connections as usize;
    config.connection.max_calls_in_flight = args.max_calls_in_flight as usize;
    for (name, value) in &args.quota {
        config
            .builtins
            .quotas
            .set(name, *value)
            .map_err(anyhow::Error::msg)?;
    }
    let broker = caplet_broker::Broker::start(config);
    // A `[store]` database is reached and migrated before READY.
    if let Err(error) = broker.connect_store().await {
        broker.shutdown().await;
        return Err(error.into());
    }
    // Ends with the event loop.
    tokio::task::spawn_local(super::reclaim_freed_memory(super::RECLAIM_EVERY));
    let listeners = bind(socket, args.listen, tokens).await;
    let (unix, tcp) = match listeners {
        Ok(listeners) => listeners,
        Err(error) => {
            broker.shutdown().await;
            return Err(error);
        }
    };
    let metrics = match args.metrics {
        Some(address) => match super::metrics::Listener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                broker.shutdown().await;
                return Err(error);
            }
        },
        None => None,
    };
    // READY means work can start at once: every isolate-host is up.
    if let Err(error) = broker.pool().ready().await {
        broker.shutdown().await;
        return Err(error.into());
    }
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    {
        let mut stdout = std::io::stdout().lock();
        if let Some(unix) = &unix {
            writeln!(stdout, "READY {}", unix.path().display())?;
        }
        if let Some(tcp) = &tcp {
            writeln!(stdout, "READY tcp://{}", tcp.local_addr()?)?;
        }
        if let Some(metrics) = &metrics {
            writeln!(stdout, "READY http://{}/metrics", metrics.local_addr()?)?;
        }
        stdout.flush()?;
    }
    let serve_unix = async {
        match &unix {
            Some(listener) => broker.serve(listener).await,
            None => std::future::pending().await,
        }
    };
    let serve_tcp = async {
        match &tcp {
            Some(listener) => broker.serve_tcp(listener).await,
            None => std::future::pending().await,
        }
    };
    let serve_metrics = async {
        match &metrics {
            Some(listener) => listener.serve(broker.probe()).await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        () = serve_metrics => Ok(()),
        served = serve_unix => served.map_err(anyhow::Error::from),
        served = serve_tcp => served.map_err(anyhow::Error::from),
        _ = terminate.recv() => Ok(()),
        _ = interrupt.recv() => Ok(()),
    };
    drop(unix);
    drop(tcp);
    broker.shutdown().await;
    outcome
}

async fn bind(
    socket: Option<PathBuf>,
    listen: Option<SocketAddr>,
    tokens: Option<caplet_broker::Tokens>,
) -> anyhow::Result<(Option<UnixListener>, Option<TcpListener>)> {
    let unix = socket.map(|path| UnixListener::bind(&path)).transpose()?;
    let tcp = match (listen, tokens) {
        (Some(address), Some(tokens)) => Some(TcpListener::bind(address, tokens).await?),
        _ => None,
    };
    Ok((unix, tcp))
}
