//! Throughput across concurrency: `C` clients at once, each with its own
//! connection to one `caplet serve` (one isolate-host per core), each
//! running one kind of operation back to back for a fixed window. The rate
//! is all the clients' operations over the window's wall time; the latency
//! percentiles are those of every single operation.
//!
//! The clients are tasks of this (single-threaded) bench process, as the
//! peers' clients are tasks of theirs; the client's CPU shares the machine
//! with the runtime it drives, for every runtime alike.

use std::path::Path;
use std::time::{Duration, Instant};

use caplet_client::{Connection, Worker, WorkerCode};

use crate::measure::{self, TRIVIAL};
use crate::report::Point;
use crate::stats::{Summary, Unit};

/// The concurrent clients of every curve.
pub const CLIENTS: [usize; 6] = [1, 2, 4, 8, 16, 64];
/// Capability calls per invocation, and in flight at once, in the
/// calls-per-second curve.
pub const CALLS_PER_OP: u32 = 100;
pub const CALLS_INFLIGHT: u32 = 8;

/// What each client does, back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Invoke its own loaded trivial worker.
    Warm,
    /// Load a fresh trivial worker and invoke it once.
    Cold,
    /// Invoke its own worker, which makes `CALLS_PER_OP` capability calls
    /// to the client's Rust `Bench` (the rate counts calls).
    Calls,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Warm => "warm invocations/s",
            Kind::Cold => "cold loads + first invoke/s",
            Kind::Calls => "capability calls/s",
        }
    }
}

/// One client's state: its connection and, but for cold loads, its worker.
struct Client {
    conn: Connection,
    worker: Option<Worker>,
    calls: Option<std::rc::Rc<std::cell::Cell<u64>>>,
}

/// `clients` concurrent clients of the broker at `socket`, each doing `kind`
/// for `window`.
pub async fn caplet(
    socket: &Path,
    kind: Kind,
    clients: usize,
    window: Duration,
) -> anyhow::Result<Point> {
    let mut prepared = Vec::with_capacity(clients);
    for _ in 0..clients {
        let conn = Connection::connect(socket).await?;
        let (worker, calls) = match kind {
            Kind::Cold => (None, None),
            Kind::Warm => {
                let worker = conn.load(&WorkerCode::new("trivial.js", TRIVIAL)).await?;
                measure::expect(&worker.invoke("run", "0").await?.output, "0")?;
                (Some(worker), None)
            }
            Kind::Calls => {
                let (worker, calls) = measure::with_bench(&conn, measure::PING).await?;
                (Some(worker), Some(calls))
            }
        };
        prepared.push(Client {
            conn,
            worker,
            calls,
        });
    }
    let clock = measure::CpuClock::new()?;
    let cpu_start = clock.now();
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::with_capacity(clients);
    for client in prepared {
        tasks.push(tokio::task::spawn_local(run_client(client, kind, deadline)));
    }
    let mut units = 0u64;
    let mut latencies = Vec::new();
    for task in tasks {
        let (n, mut l) = task.await??;
        units += n;
        latencies.append(&mut l);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let busy = (clock.now() - cpu_start) / elapsed;
    point(clients, units as f64 / elapsed, latencies, Some(busy))
}

/// A point from a rate, the latencies of single operations (seconds) and
/// the cores kept busy.
pub fn point(
    clients: usize,
    rate: f64,
    latencies: Vec<f64>,
    cores_busy: Option<f64>,
) -> anyhow::Result<Point> {
    anyhow::ensure!(!latencies.is_empty(), "no operation finished in the window");
    let summary = Summary::of(Unit::Time, latencies);
    Ok(Point {
        clients,
        rate,
        p50: summary.median,
        p90: summary.p90,
        p99: summary.p99,
        cores_busy,
    })
}

/// Runs `kind` until `deadline`; the units done (invocations, loads or
/// calls) and each operation's latency.
async fn run_client(
    client: Client,
    kind: Kind,
    deadline: Instant,
) -> anyhow::Result<(u64, Vec<f64>)> {
    let code = WorkerCode::new("trivial.js", TRIVIAL);
    let calls_input = format!(r#"{{"calls":{CALLS_PER_OP},"inflight":{CALLS_INFLIGHT}}}"#);
    let mut units = 0u64;
    let mut latencies = Vec::new();
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        let input = i.to_string();
        let start = Instant::now();
        match kind {
            Kind::Warm => {
                let worker = client.worker.as_ref().expect("a warm client has a worker");
                let out = worker.invoke("run", &input).await?.output;
                measure::expect(&out, &input)?;
                units += 1;
            }
            Kind::Cold => {
                let worker = client.conn.load(&code).await?;
                let out = worker.invoke("run", &input).await?.output;
                measure::expect(&out, &input)?;
                units += 1;
            }
            Kind::Calls => {
                let worker = client.worker.as_ref().expect("a calls client has a worker");
                let count = client.calls.as_ref().expect("a calls client counts");
                let before = count.get();
                let out = worker.invoke("run", &calls_input).await?.output;
                measure::expect(&out, &CALLS_PER_OP.to_string())?;
                anyhow::ensure!(
                    count.get() - before == u64::from(CALLS_PER_OP),
                    "{} calls reached the capability, expected {CALLS_PER_OP}",
                    count.get() - before
                );
                units += u64::from(CALLS_PER_OP);
            }
        }
        latencies.push(start.elapsed().as_secs_f64());
    }
    Ok((units, latencies))
}
