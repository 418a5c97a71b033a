//! `--only brokers`: aggregate invocations per second with one broker, then
//! with two, each a `caplet serve --hosts 1` of its own: do brokers add
//! capacity, or contend?
//!
//! The load is the same both times: [`CONNECTIONS`] client connections,
//! each keeping [`INFLIGHT`] invocations of its own warm worker in flight,
//! all on this process's one thread; with two brokers, half the
//! connections go to each. Each sample counts the invocations answered in
//! [`WINDOW`].

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

use caplet_client::{Connection, WorkerCode};

use crate::stats::{Summary, Unit};

/// Client connections, spread evenly over the brokers.
pub const CONNECTIONS: usize = 8;
/// Invocations each connection keeps in flight.
pub const INFLIGHT: usize = 4;
/// How long one sample lasts.
pub const WINDOW: Duration = Duration::from_millis(500);

const ECHO: &str = "export default { run: (input) => input };";

/// Invocations per second over `sockets` (one broker each), `samples`
/// windows after one window of warm-up.
pub async fn aggregate(sockets: &[&Path], samples: usize) -> anyhow::Result<Summary> {
    let mut workers = Vec::with_capacity(CONNECTIONS);
    let mut connections = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let conn = Connection::connect(sockets[i % sockets.len()]).await?;
        let worker = conn.load(&WorkerCode::new("echo.js", ECHO)).await?;
        worker.invoke("run", "0").await?;
        workers.push(worker);
        connections.push(conn);
    }
    let answered = Cell::new(0u64);
    let stop = Cell::new(false);
    let failed = std::cell::RefCell::new(None);
    let (answered, stop, failed) = (&answered, &stop, &failed);
    let drive = async {
        let lanes = workers.iter().flat_map(|worker| {
            (0..INFLIGHT).map(move |lane| async move {
                let input = lane.to_string();
                while !stop.get() {
                    match worker.invoke("run", &input).await {
                        Ok(done) if done.output == input => answered.set(answered.get() + 1),
                        Ok(done) => {
                            *failed.borrow_mut() =
                                Some(anyhow::anyhow!("echoed {:?}, not {input:?}", done.output));
                            stop.set(true);
                        }
                        Err(error) => {
                            *failed.borrow_mut() = Some(error.into());
                            stop.set(true);
                        }
                    }
                }
            })
        });
        futures::future::join_all(lanes).await;
    };
    let count = async {
        let mut rates = Vec::with_capacity(samples);
        // The first window warms up.
        for window in 0..=samples {
            let before = answered.get();
            let start = Instant::now();
            tokio::time::sleep(WINDOW).await;
            let rate = (answered.get() - before) as f64 / start.elapsed().as_secs_f64();
            if window > 0 {
                rates.push(rate);
            }
            if stop.get() {
                break;
            }
        }
        stop.set(true);
        rates
    };
    let ((), rates) = futures::join!(drive, count);
    if let Some(error) = failed.take() {
        return Err(error);
    }
    drop(workers);
    for conn in connections {
        conn.close().await;
    }
    Ok(Summary::of(Unit::PerSecond, rates))
}
