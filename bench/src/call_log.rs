//! What the call log costs: a warm capability call from JS (awaited, one
//! at a time) through an embedded broker that records calls, and through
//! one that does not (`Config::call_log`), in pairs of invocations taking
//! turns, so that both see the same machine. The ratio is the median of
//! the pairs' ratios.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use caplet_client::{Connection, Limits, Worker, WorkerCode};

use crate::provider;
use crate::report::Report;
use crate::stats::{Summary, Unit};

/// Awaited calls per invocation: under the log's 4096 records, so every
/// call of the "on" side is recorded.
const CALLS: u32 = 200;

/// The target of the issue: at most 5% more with the log on.
const TARGET: f64 = 1.05;

const SEQUENTIAL: &str = r#"
export default {
  async run(n, env) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += (await env.bench.ping({ n: 1 })).n;
    return sum;
  },
};
"#;

/// Measures `pairs` pairs of invocations and adds the rows to `report`.
pub async fn measure(exe: &Path, pairs: usize, report: &mut Report) {
    let rows = run(exe, pairs).await;
    match rows {
        Ok((on, off, ratio)) => {
            report.add("call_log_on", "warm capability call, call log on", Ok(on));
            report.add(
                "call_log_off",
                "warm capability call, call log off",
                Ok(off),
            );
            report.add_target(
                "call_log_ratio",
                "  ↳ on / off, median of paired runs",
                Ok(ratio),
                TARGET,
            );
        }
        Err(e) => report.add("call_log_on", "warm capability call, call log", Err(e)),
    }
}

async fn run(exe: &Path, pairs: usize) -> anyhow::Result<(Summary, Summary, Summary)> {
    let on = Side::start(exe, true).await?;
    let off = Side::start(exe, false).await?;
    let (mut t_on, mut t_off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        // Which side goes first alternates too.
        let (a, b) = if i % 2 == 0 {
            let a = on.per_call().await?;
            (a, off.per_call().await?)
        } else {
            let b = off.per_call().await?;
            (on.per_call().await?, b)
        };
        t_on.push(a);
        t_off.push(b);
        ratios.push(a / b);
    }
    on.conn.close().await;
    off.conn.close().await;
    Ok((
        Summary::of(Unit::Time, t_on),
        Summary::of(Unit::Time, t_off),
        Summary::of(Unit::Ratio, ratios),
    ))
}

/// An embedded broker (1 isolate-host), with or without the call log, and
/// a warm worker granted a `Bench` capability.
struct Side {
    conn: Connection,
    worker: Worker,
    log: bool,
    reached: Rc<Cell<u64>>,
}

impl Side {
    async fn start(exe: &Path, log: bool) -> anyhow::Result<Self> {
        let mut config = caplet_broker::Config::new(caplet_broker::HostCommand::caplet(exe));
        config.hosts = 1;
        config.call_log = log;
        let conn = Connection::embedded(config);
        if let Some(broker) = conn.embedded_broker() {
            broker.pool().ready().await?;
        }
        let reached = Rc::new(Cell::new(0));
        let code = WorkerCode::new("sequential.js", SEQUENTIAL)
            .grant("bench", provider::new(reached.clone()), provider::schema())
            .limits(Limits {
                cpu_time_ms: Some(60_000),
                ..Limits::default()
            });
        let worker = conn.load(&code).await?;
        let side = Side {
            conn,
            worker,
            log,
            reached,
        };
        // Warm: schema plans, stubs, connection buffers.
        side.per_call().await?;
        Ok(side)
    }

    /// One invocation of `CALLS` awaited calls: seconds per call.
    async fn per_call(&self) -> anyhow::Result<f64> {
        let before = self.reached.get();
        let start = Instant::now();
        let done = self.worker.invoke("run", &CALLS.to_string()).await?;
        let elapsed = start.elapsed();
        anyhow::ensure!(done.output == CALLS.to_string(), "output {}", done.output);
        anyhow::ensure!(
            self.reached.get() - before == u64::from(CALLS),
            "{} calls reached the capability",
            self.reached.get() - before
        );
        let recorded = if self.log { CALLS as usize } else { 0 };
        anyhow::ensure!(
            done.calls.len() == recorded,
            "{} calls recorded, expected {recorded}",
            done.calls.len()
        );
        Ok(elapsed.as_secs_f64() / f64::from(CALLS))
    }
}
