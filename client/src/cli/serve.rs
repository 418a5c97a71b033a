//! `caplet serve`: a long-lived broker on a Unix socket.

use std::io::Write;
use std::path::PathBuf;

use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Unix socket to listen on (created owner-only; removed on exit).
    #[arg(long, value_name = "PATH", default_value = "caplet.sock")]
    socket: PathBuf,
    #[command(flatten)]
    broker: super::BrokerArgs,
}

pub async fn serve(args: Args) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let broker = caplet_broker::Broker::start(args.broker.config(cores)?);
    let listener = caplet_broker::listener::UnixListener::bind(&args.socket)?;
    // READY means work can start at once: every isolate-host is up.
    if let Err(error) = broker.pool().ready().await {
        broker.shutdown().await;
        return Err(error.into());
    }
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "READY {}", listener.path().display())?;
        stdout.flush()?;
    }
    let outcome = tokio::select! {
        served = broker.serve(&listener) => served.map_err(anyhow::Error::from),
        _ = terminate.recv() => Ok(()),
        _ = interrupt.recv() => Ok(()),
    };
    drop(listener);
    broker.shutdown().await;
    outcome
}
