//! caplet's own measurements, each against a [`Connection`] (a `caplet
//! serve` over its Unix socket, or an embedded broker).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use caplet_client::{Connection, Limits, Worker, WorkerCode};

use crate::memory;
use crate::provider;
use crate::stats::{Summary, Unit};

/// The trivial worker of the cold and warm measurements.
pub const TRIVIAL: &str = "export default { run: (input) => input };";

/// Calls `env.bench.ping` `calls` times with `inflight` calls outstanding.
pub const PING: &str = r#"
export default {
  async run({ calls, inflight }, env) {
    let sent = 0, sum = 0;
    async function lane() {
      while (sent < calls) {
        sent++;
        const { n } = await env.bench.ping({ n: 1 });
        sum += n;
      }
    }
    const lanes = [];
    for (let i = 0; i < inflight; i++) lanes.push(lane());
    await Promise.all(lanes);
    return sum;
  },
};
"#;

/// `reps` times, a chain of `depth` dependent calls, each on the capability
/// the previous one returns, sent pipelined (no await until the last).
const CHAIN: &str = r#"
export default {
  async run({ depth, reps }, env) {
    let last = 0;
    for (let r = 0; r < reps; r++) {
      let link = env.bench.next();
      for (let i = 1; i < depth; i++) link = link.next.next();
      last = (await link).depth;
    }
    return last;
  },
};
"#;

/// The same chains, each call awaited before the next is sent: one round
/// trip per link.
const CHAIN_AWAITED: &str = r#"
export default {
  async run({ depth, reps }, env) {
    let last = 0;
    for (let r = 0; r < reps; r++) {
      let link = await env.bench.next();
      for (let i = 1; i < depth; i++) link = await link.next.next();
      last = link.depth;
    }
    return last;
  },
};
"#;

/// The engine's raw speed.
const FIB: &str = r#"
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
export default { run: ({ n }) => fib(n) };
"#;

/// Wall time and CPU time (of this process and all its descendants: client,
/// broker, isolate-hosts) per operation. CPU time holds up when other work
/// shares the machine, where wall time does not.
pub struct Timed {
    pub wall: Summary,
    pub cpu: Summary,
    /// Mean CPU time per operation of each role (`client`, `broker`,
    /// `isolate-host`), over the whole measurement.
    pub roles: Vec<(&'static str, f64)>,
}

/// The CPU clocks of this process and its descendants, each with its role.
pub struct CpuClock {
    pids: Vec<(u32, &'static str)>,
}

impl CpuClock {
    pub fn new() -> anyhow::Result<Self> {
        let me = std::process::id();
        let pids = memory::family(me)?
            .into_iter()
            .map(|pid| {
                let role = match memory::first_argument(pid).as_deref() {
                    _ if pid == me => "client",
                    Some("serve") => "broker",
                    Some("isolate-host") => "isolate-host",
                    Some("relay") => "relay",
                    _ => "other",
                };
                (pid, role)
            })
            .collect();
        Ok(Self { pids })
    }

    pub fn now(&self) -> f64 {
        let pids: Vec<u32> = self.pids.iter().map(|(pid, _)| *pid).collect();
        memory::cpu_ns(&pids) as f64 * 1e-9
    }

    /// CPU seconds so far by role.
    fn by_role(&self) -> Vec<(&'static str, f64)> {
        let mut roles: Vec<(&'static str, f64)> = Vec::new();
        for (pid, role) in &self.pids {
            let seconds = memory::cpu_ns(&[*pid]) as f64 * 1e-9;
            match roles.iter_mut().find(|(r, _)| r == role) {
                Some((_, total)) => *total += seconds,
                None => roles.push((role, seconds)),
            }
        }
        roles
    }

    /// Mean CPU per operation by role since `start` (from `by_role`).
    fn roles_since(&self, start: &[(&'static str, f64)], ops: f64) -> Vec<(&'static str, f64)> {
        self.by_role()
            .into_iter()
            .map(|(role, now)| {
                let then = start
                    .iter()
                    .find(|(r, _)| *r == role)
                    .map_or(0.0, |(_, t)| *t);
                (role, (now - then) / ops)
            })
            .collect()
    }
}

/// Load a fresh trivial worker and invoke it once, `n` times.
pub async fn cold(conn: &Connection, n: usize) -> anyhow::Result<Timed> {
    let code = WorkerCode::new("trivial.js", TRIVIAL);
    timed_echoes(n, async |input: &str| {
        let worker = conn.load(&code).await?;
        Ok(worker.invoke("run", input).await?.output)
    })
    .await
}

/// Invoke one loaded worker `n` times.
pub async fn warm(conn: &Connection, n: usize) -> anyhow::Result<Timed> {
    let worker = conn.load(&WorkerCode::new("trivial.js", TRIVIAL)).await?;
    worker.invoke("run", "0").await?;
    timed_echoes(n, async |input: &str| {
        Ok(worker.invoke("run", input).await?.output)
    })
    .await
}

/// Times `n` runs of `echo` (wall and CPU time), the `i`th given `i` as its
/// input, which it must give back as its output.
async fn timed_echoes(
    n: usize,
    mut echo: impl AsyncFnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<Timed> {
    let clock = CpuClock::new()?;
    let roles = clock.by_role();
    let mut samples = Vec::with_capacity(n);
    let mut cpu = Vec::with_capacity(n);
    for i in 0..n {
        let input = i.to_string();
        let cpu_start = clock.now();
        let start = Instant::now();
        let output = echo(&input).await?;
        samples.push(start.elapsed());
        cpu.push(clock.now() - cpu_start);
        expect(&output, &input)?;
    }
    Ok(Timed {
        wall: Summary::times(samples),
        cpu: Summary::of(Unit::Time, cpu),
        roles: clock.roles_since(&roles, n as f64),
    })
}

/// fib(`arg`) in a warm worker, `n` times.
pub async fn fib(conn: &Connection, n: usize, arg: u32) -> anyhow::Result<Summary> {
    let code = WorkerCode::new("fib.js", FIB).limits(Limits {
        cpu_time_ms: Some(60_000),
        ..Limits::default()
    });
    let worker = conn.load(&code).await?;
    let input = format!(r#"{{"n":{arg}}}"#);
    let want = fib_value(arg).to_string();
    expect(&worker.invoke("run", &input).await?.output, &want)?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let done = worker.invoke("run", &input).await?;
        samples.push(start.elapsed());
        expect(&done.output, &want)?;
    }
    Ok(Summary::times(samples))
}

pub fn fib_value(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// A worker granted a fresh `Bench` capability as `env.bench`, and the
/// count of calls that reach it.
pub async fn with_bench(
    conn: &Connection,
    source: &str,
) -> anyhow::Result<(Worker, Rc<Cell<u64>>)> {
    let calls = Rc::new(Cell::new(0));
    let code = WorkerCode::new("main.js", source)
        .grant("bench", provider::new(calls.clone()), provider::schema())
        .limits(Limits {
            cpu_time_ms: Some(60_000),
            // The broker's maximum: the calls test makes thousands of calls
            // per invocation, over the default of 1,000.
            subrequests: Some(1_000_000),
            ..Limits::default()
        });
    Ok((conn.load(&code).await?, calls))
}

/// Capability calls per second from JS to the Rust `Bench` capability, with
/// `inflight` calls outstanding: `samples` invocations of `calls` calls each.
pub async fn capability_calls(
    conn: &Connection,
    samples: usize,
    calls: u32,
    inflight: u32,
) -> anyhow::Result<Timed> {
    let (worker, count) = with_bench(conn, PING).await?;
    let clock = CpuClock::new()?;
    let roles = clock.by_role();
    let mut cpu = Vec::with_capacity(samples);
    let input = format!(r#"{{"calls":{calls},"inflight":{inflight}}}"#);
    // One warm-up invocation (schema stubs, connection buffers).
    expect(
        &worker.invoke("run", &input).await?.output,
        &calls.to_string(),
    )?;
    let mut rates = Vec::with_capacity(samples);
    for _ in 0..samples {
        let before = count.get();
        let cpu_start = clock.now();
        let start = Instant::now();
        let done = worker.invoke("run", &input).await?;
        let elapsed = start.elapsed();
        cpu.push((clock.now() - cpu_start) / f64::from(calls));
        expect(&done.output, &calls.to_string())?;
        anyhow::ensure!(
            count.get() - before == u64::from(calls),
            "{} calls reached the capability, expected {calls}",
            count.get() - before
        );
        rates.push(f64::from(calls) / elapsed.as_secs_f64());
    }
    Ok(Timed {
        wall: Summary::of(Unit::PerSecond, rates),
        cpu: Summary::of(Unit::Time, cpu),
        roles: clock.roles_since(&roles, samples as f64 * f64::from(calls)),
    })
}

/// One shape of chain: `depth` dependent calls, each on the capability the
/// previous one returns, sent pipelined (nothing awaited before the last)
/// or each awaited before the next is sent.
#[derive(Debug, Clone, Copy)]
pub struct Chain {
    pub depth: u32,
    pub pipelined: bool,
}

/// The time of one chain from JS, for each of `shapes`: `samples`
/// invocations of `reps` chains each, per chain, with the mean CPU time per
/// chain of each role. The shapes take turns sample by sample, so that each
/// sees the same machine (other load comes and goes).
pub async fn chains(
    conn: &Connection,
    samples: usize,
    shapes: &[Chain],
    reps: u32,
) -> anyhow::Result<Vec<(Summary, Vec<(&'static str, f64)>)>> {
    let clock = CpuClock::new()?;
    let mut chains = Vec::new();
    for shape in shapes {
        let depth = shape.depth;
        let source = if shape.pipelined {
            CHAIN
        } else {
            CHAIN_AWAITED
        };
        let (worker, count) = with_bench(conn, source).await?;
        let input = format!(r#"{{"depth":{depth},"reps":{reps}}}"#);
        expect(
            &worker.invoke("run", &input).await?.output,
            &depth.to_string(),
        )?;
        chains.push((
            depth,
            worker,
            count,
            input,
            Vec::with_capacity(samples),
            Vec::new(),
        ));
    }
    for _ in 0..samples {
        for (depth, worker, count, input, times, cpu) in &mut chains {
            let before = count.get();
            let roles = clock.by_role();
            let start = Instant::now();
            let done = worker.invoke("run", input).await?;
            let elapsed = start.elapsed();
            add_roles(
                cpu,
                &clock.roles_since(&roles, f64::from(reps * samples as u32)),
            );
            expect(&done.output, &depth.to_string())?;
            anyhow::ensure!(
                count.get() - before == u64::from(*depth * reps),
                "{} calls reached the capability, expected {}",
                count.get() - before,
                *depth * reps
            );
            times.push(elapsed / reps);
        }
    }
    Ok(chains
        .into_iter()
        .map(|(_, _, _, _, times, cpu)| (Summary::times(times), cpu))
        .collect())
}

/// Adds `more` to `total`, role by role.
fn add_roles(total: &mut Vec<(&'static str, f64)>, more: &[(&'static str, f64)]) {
    for &(role, seconds) in more {
        match total.iter_mut().find(|(r, _)| *r == role) {
            Some((_, sum)) => *sum += seconds,
            None => total.push((role, seconds)),
        }
    }
}

/// Live idle workers: memory per worker, and how many were reached.
pub struct Density {
    /// RSS growth of the broker and its isolate-hosts per live worker, per
    /// batch of loads.
    pub per_worker: Summary,
    /// The same, isolate-hosts only.
    pub hosts_per_worker: Summary,
    /// The same, broker only.
    pub broker_per_worker: Summary,
    /// Workers live at the end.
    pub reached: usize,
    /// Why the ramp stopped before `max`, if it did.
    pub stopped: Option<String>,
}

/// Loads and invokes once `workers` trivial workers, keeping each alive, in
/// batches of `batch`, measuring the RSS growth of the broker (`broker_pid`)
/// and its isolate-hosts per batch. Then, up to `max` workers, keeps
/// loading (without measuring) until a load fails or the machine runs low on
/// memory.
pub async fn density(
    conn: &Connection,
    broker_pid: u32,
    workers: usize,
    batch: usize,
    max: usize,
) -> anyhow::Result<Density> {
    let code = WorkerCode::new("idle.js", TRIVIAL);
    let mut live = Vec::with_capacity(workers.max(max));
    let mut totals = Vec::new();
    let mut hosts_only = Vec::new();
    let mut broker_only = Vec::new();
    // Let the hosts settle: one worker each way first, so the sample
    // counts workers, not first-use allocations.
    live.push(load_one(conn, &code, 0).await?);
    while live.len() < workers {
        let size = batch.min(workers - live.len());
        let hosts_before = memory::rss_of_children(broker_pid)?;
        let broker_before = memory::rss(broker_pid)?;
        for _ in 0..size {
            live.push(load_one(conn, &code, live.len()).await?);
        }
        let hosts = memory::rss_of_children(broker_pid)?.saturating_sub(hosts_before) as f64;
        let broker = memory::rss(broker_pid)?.saturating_sub(broker_before) as f64;
        let n = size as f64;
        totals.push((hosts + broker) / n);
        hosts_only.push(hosts / n);
        broker_only.push(broker / n);
    }
    let mut stopped = None;
    while live.len() < max {
        if live.len() % 1000 == 0 {
            eprintln!("  {} live workers…", live.len());
            let available = memory::available()?;
            if available < 1 << 30 {
                stopped = Some(format!(
                    "stopped with {} MiB of memory left",
                    available >> 20
                ));
                break;
            }
        }
        match load_one(conn, &code, live.len()).await {
            Ok(worker) => live.push(worker),
            Err(error) => {
                stopped = Some(format!("load failed: {error}"));
                break;
            }
        }
    }
    let reached = live.len();
    drop(live);
    Ok(Density {
        per_worker: Summary::of(Unit::Bytes, totals),
        hosts_per_worker: Summary::of(Unit::Bytes, hosts_only),
        broker_per_worker: Summary::of(Unit::Bytes, broker_only),
        reached,
        stopped,
    })
}

async fn load_one(conn: &Connection, code: &WorkerCode, i: usize) -> anyhow::Result<Worker> {
    let worker = conn.load(code).await?;
    expect(
        &worker.invoke("run", &i.to_string()).await?.output,
        &i.to_string(),
    )?;
    Ok(worker)
}

pub fn expect(output: &str, want: &str) -> anyhow::Result<()> {
    anyhow::ensure!(output == want, "wrong output {output:?}, expected {want:?}");
    Ok(())
}
