//! `caplet-bench soak`: mixed load on a real `caplet serve` for a set time,
//! to show that memory and descriptors stay flat.
//!
//! Phases: warm-up under load, a quiet period, the load for `--duration`, a
//! second quiet period. The load, from `--clients` connections at once:
//! fresh loads and invocations (fs and kv writes and capability calls to a
//! Rust `Bench` capability from JS), cached `get`s, bursts of capability
//! calls, clients that vanish mid-call (a connection dropped while its
//! worker computes), and an isolate-host killed every `--kill-every`
//! seconds. Every `--sample-every` seconds it prints the broker's and the
//! hosts' RSS, the broker's open descriptors, calls answered and errors by
//! kind. At the end it checks that the broker's and the hosts' RSS after
//! the load came back to within 10% of their level after warm-up (both
//! measured at rest), and that the broker holds no more descriptors.
//!
//! Run: `cargo run --release -p caplet-bench -- soak [--duration 600]`

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet_client::{Builtin, Connection, Limits, Worker, WorkerCode};

use crate::memory;
use crate::provider;

/// Drives mixed load on `caplet serve` and reports memory, descriptors,
/// calls answered and errors by kind over time.
#[derive(Debug, clap::Parser)]
#[command(name = "caplet-bench soak")]
pub struct Args {
    /// Seconds of load after warm-up.
    #[arg(long, default_value_t = 600)]
    pub duration: u64,
    /// Seconds of load before the baseline is taken.
    #[arg(long, default_value_t = 30)]
    pub warmup: u64,
    /// Seconds at rest before each measurement of the baseline and the end.
    #[arg(long, default_value_t = 15)]
    pub settle: u64,
    /// Isolate-hosts of the server.
    #[arg(long, default_value_t = 2)]
    pub hosts: usize,
    /// Client connections driving load at once.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Seconds between two isolate-host kills (SIGKILL); 0 kills none.
    #[arg(long, default_value_t = 5)]
    pub kill_every: u64,
    /// Seconds between two samples.
    #[arg(long, default_value_t = 10)]
    pub sample_every: u64,
}

/// The worker every client runs.
const WORKER: &str = r#"
export default {
  // fs and kv writes, then capability calls.
  async run({ n }, env) {
    await env.fs.write({ path: `f${n % 32}`, content: new Uint8Array(8192).fill(n & 255) });
    await env.kv.put({ key: `k${n % 64}`, value: new Uint8Array(512).fill(n & 255) });
    let sum = 0;
    for (let i = 0; i < 10; i++) sum += (await env.bench.ping({ n: 1 })).n;
    return sum;
  },
  // A burst of capability calls, `inflight` at a time.
  async calls({ calls, inflight }, env) {
    let sent = 0, sum = 0;
    async function lane() {
      while (sent < calls) { sent++; sum += (await env.bench.ping({ n: 1 })).n; }
    }
    const lanes = [];
    for (let i = 0; i < inflight; i++) lanes.push(lane());
    await Promise.all(lanes);
    return sum;
  },
  // Computes until its CPU limit: the client is gone long before.
  spin() { for (;;) {} },
};
"#;

/// The longest any one operation may take before it counts as `timeout`.
const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a vanishing client waits before it drops its call.
const VANISH_AFTER: Duration = Duration::from_millis(50);

/// What the load did, by operation and by error kind.
#[derive(Default)]
struct Tally {
    answered: BTreeMap<&'static str, u64>,
    errors: BTreeMap<String, u64>,
    /// The first message of each error kind.
    examples: BTreeMap<String, String>,
    vanished: u64,
    kills: u64,
    ping_calls: u64,
}

impl Tally {
    fn error(&mut self, (kind, message): (String, String)) {
        *self.errors.entry(kind.clone()).or_default() += 1;
        self.examples.entry(kind).or_insert(message);
    }

    fn answered(&self) -> u64 {
        self.answered.values().sum()
    }

    fn errors(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One sample.
struct Sample {
    at: Duration,
    phase: &'static str,
    broker_rss: u64,
    hosts_rss: u64,
    hosts: usize,
    broker_fds: usize,
    answered: u64,
    errors: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.sample_every >= 1, "--sample-every must be at least 1");
    let exe = std::env::current_exe()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(caplet::spin::before_park)
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, soak(&args, &exe))
}

async fn soak(args: &Args, exe: &Path) -> anyhow::Result<()> {
    let server = Server::start(exe, args.hosts)?;
    let pid = server.child.id();
    let start = Instant::now();
    let tally = Rc::new(RefCell::new(Tally::default()));
    let samples = Rc::new(RefCell::new(Vec::<Sample>::new()));
    let phase = Rc::new(Cell::new("warm-up"));
    eprintln!(
        "soak: caplet serve --hosts {} (pid {pid}), {} clients, warm-up {} s, load {} s, \
         a host killed every {} s",
        args.hosts, args.clients, args.warmup, args.duration, args.kill_every
    );
    println!("| t (s) | phase | broker RSS (MiB) | hosts RSS (MiB) | hosts | broker fds | calls answered | errors |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");

    // The sampler runs through every phase.
    let sampling = Rc::new(Cell::new(true));
    let sampler = {
        let (tally, samples, phase, sampling) = (
            tally.clone(),
            samples.clone(),
            phase.clone(),
            sampling.clone(),
        );
        let every = Duration::from_secs(args.sample_every);
        tokio::task::spawn_local(async move {
            while sampling.get() {
                let sample = take_sample(pid, start, phase.get(), &tally.borrow());
                print_sample(&sample);
                samples.borrow_mut().push(sample);
                tokio::time::sleep(every).await;
            }
        })
    };

    // Warm-up, then rest, then the baseline.
    load_for(
        args,
        &server.socket,
        pid,
        &tally,
        Duration::from_secs(args.warmup),
    )
    .await;
    phase.set("rest");
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let baseline = take_sample(pid, start, "baseline", &tally.borrow());
    print_sample(&baseline);

    phase.set("load");
    load_for(
        args,
        &server.socket,
        pid,
        &tally,
        Duration::from_secs(args.duration),
    )
    .await;
    phase.set("rest");
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let end = take_sample(pid, start, "end", &tally.borrow());
    print_sample(&end);
    sampling.set(false);
    sampler.abort();

    let tally = tally.borrow();
    let peak_broker = samples
        .borrow()
        .iter()
        .map(|s| s.broker_rss)
        .max()
        .unwrap_or(0);
    let peak_hosts = samples
        .borrow()
        .iter()
        .map(|s| s.hosts_rss)
        .max()
        .unwrap_or(0);
    println!();
    println!(
        "Calls answered: {} ({}); ping calls that reached the Bench capability: {}; clients that vanished mid-call: {}; hosts killed: {}.",
        tally.answered(),
        list(&tally.answered),
        tally.ping_calls,
        tally.vanished,
        tally.kills
    );
    println!(
        "Errors by kind: {} in all{}{}.",
        tally.errors(),
        if tally.errors.is_empty() { "" } else { ": " },
        list(&tally.errors)
    );
    for (kind, message) in &tally.examples {
        println!("- e.g. {kind}: `{message}`");
    }
    println!(
        "Peak under load: broker {:.1} MiB, hosts {:.1} MiB.",
        mib(peak_broker),
        mib(peak_hosts)
    );
    let checks = [
        check("broker RSS", baseline.broker_rss, end.broker_rss),
        check("hosts RSS", baseline.hosts_rss, end.hosts_rss),
    ];
    for line in &checks {
        println!("{}", line.1);
    }
    let fds_ok = end.broker_fds <= baseline.broker_fds;
    println!(
        "{}: broker descriptors at rest {} after warm-up, {} after the load",
        if fds_ok { "PASS" } else { "FAIL" },
        baseline.broker_fds,
        end.broker_fds
    );
    server.stop();
    anyhow::ensure!(
        checks.iter().all(|c| c.0) && fds_ok,
        "memory or descriptors did not come back"
    );
    Ok(())
}

fn check(what: &str, baseline: u64, end: u64) -> (bool, String) {
    let ok = end as f64 <= baseline as f64 * 1.10;
    let change = (end as f64 / baseline.max(1) as f64 - 1.0) * 100.0;
    (
        ok,
        format!(
            "{}: {what} at rest {:.1} MiB after warm-up, {:.1} MiB after the load ({change:+.1}%, limit +10%)",
            if ok { "PASS" } else { "FAIL" },
            mib(baseline),
            mib(end)
        ),
    )
}

fn list<K: std::fmt::Display>(map: &BTreeMap<K, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn take_sample(pid: u32, start: Instant, phase: &'static str, tally: &Tally) -> Sample {
    Sample {
        at: start.elapsed(),
        phase,
        broker_rss: memory::rss(pid).unwrap_or(0),
        hosts_rss: memory::rss_of_children(pid).unwrap_or(0),
        hosts: memory::children(pid).map(|c| c.len()).unwrap_or(0),
        broker_fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0),
        answered: tally.answered(),
        errors: tally.errors(),
    }
}

fn print_sample(s: &Sample) {
    println!(
        "| {:.0} | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
        s.at.as_secs_f64(),
        s.phase,
        mib(s.broker_rss),
        mib(s.hosts_rss),
        s.hosts,
        s.broker_fds,
        s.answered,
        s.errors
    );
}

/// Runs the clients and the host killer for `length`, then waits for them.
async fn load_for(
    args: &Args,
    socket: &Path,
    pid: u32,
    tally: &Rc<RefCell<Tally>>,
    length: Duration,
) {
    let until = Instant::now() + length;
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        let (socket, tally) = (socket.to_path_buf(), tally.clone());
        tasks.push(tokio::task::spawn_local(async move {
            drive(client, &socket, until, &tally).await;
        }));
    }
    if args.kill_every > 0 {
        let (tally, every) = (tally.clone(), Duration::from_secs(args.kill_every));
        tasks.push(tokio::task::spawn_local(async move {
            let mut turn = 0usize;
            loop {
                tokio::time::sleep(every).await;
                if Instant::now() >= until {
                    break;
                }
                let hosts = memory::children(pid).unwrap_or_default();
                if let Some(host) = hosts.get(turn % hosts.len().max(1)) {
                    // SAFETY: kill(2) has no memory-safety preconditions.
                    unsafe { libc::kill(*host as libc::pid_t, libc::SIGKILL) };
                    tally.borrow_mut().kills += 1;
                }
                turn += 1;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// The kind of a failed operation, the text before the first `:` of its
/// error (`disconnected`, `overloaded`, `cpu_limit_exceeded` …), and its
/// message.
fn kind(error: &dyn std::fmt::Display) -> (String, String) {
    let text = error.to_string();
    let kind = text
        .split(':')
        .next()
        .unwrap_or("unknown")
        .trim()
        .to_string();
    (kind, text)
}

/// One client: a connection and a warm worker, replaced when they fail.
async fn drive(client: usize, socket: &Path, until: Instant, tally: &Rc<RefCell<Tally>>) {
    let pings = Rc::new(Cell::new(0u64));
    let mut conn: Option<Connection> = None;
    let mut warm: Option<Worker> = None;
    let mut n: u64 = 0;
    while Instant::now() < until {
        n += 1;
        if conn.is_none() {
            match Connection::connect(socket).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tally.borrow_mut().error(kind(&e));
                    continue;
                }
            }
        }
        let connection = conn.as_ref().expect("connected");
        let code = WorkerCode::new("soak.js", WORKER)
            .grant("bench", provider::new(pings.clone()), provider::schema())
            .grant_builtin("fs", Builtin::fs(format!("soak{client}")))
            .grant_builtin("kv", Builtin::kv(format!("soak{client}")))
            .limits(Limits {
                cpu_time_ms: Some(2_000),
                subrequests: Some(100_000),
                ..Limits::default()
            });
        let input = format!(r#"{{"n":{n},"calls":200,"inflight":8}}"#);
        let (op, result): (&'static str, Result<(), (String, String)>) = match n % 5 {
            0 => ("load+invoke", {
                let run = async {
                    let worker = connection.load(&code).await?;
                    worker.invoke("run", &input).await.map(|_| ())
                };
                timed(run).await
            }),
            1 => ("get+invoke", {
                let id = format!("soak-{client}-{}", n % 64);
                let run = async {
                    let worker = connection.get(&id, &code).await?;
                    worker.invoke("run", &input).await.map(|_| ())
                };
                timed(run).await
            }),
            2 | 4 => {
                if warm.is_none() {
                    match connection.load(&code).await {
                        Ok(w) => warm = Some(w),
                        Err(e) => {
                            tally.borrow_mut().error(kind(&e));
                            continue;
                        }
                    }
                }
                let worker = warm.as_ref().expect("loaded");
                let entry = if n % 5 == 2 { "calls" } else { "run" };
                let result = timed(worker.invoke(entry, &input)).await;
                if result.is_err() {
                    // Its host may have been killed: load a new one next time.
                    warm = None;
                }
                (
                    if entry == "calls" {
                        "capability calls"
                    } else {
                        "fs/kv writes"
                    },
                    result,
                )
            }
            _ => {
                // A client that vanishes mid-call: its own connection,
                // dropped while the worker computes.
                let spin = code.limits(Limits {
                    cpu_time_ms: Some(300),
                    ..Limits::default()
                });
                let vanish = async {
                    let conn = Connection::connect(socket).await?;
                    let worker = conn.load(&spin).await?;
                    let call = worker.invoke("spin", "null");
                    let _ = tokio::time::timeout(VANISH_AFTER, call).await;
                    Ok::<(), caplet_client::Error>(())
                };
                match timed(vanish).await {
                    Ok(()) => {
                        tally.borrow_mut().vanished += 1;
                        continue;
                    }
                    Err(e) => ("vanish", Err(e)),
                }
            }
        };
        let mut t = tally.borrow_mut();
        match result {
            Ok(()) => *t.answered.entry(op).or_default() += 1,
            // A killed host fails its workers' calls as `disconnected`;
            // the broker connection stays, and is reused.
            Err(error) => t.error(error),
        }
    }
    tally.borrow_mut().ping_calls += pings.get();
}

/// Runs one operation under [`OP_TIMEOUT`]; the error is its kind.
async fn timed<T>(
    op: impl std::future::Future<Output = Result<T, caplet_client::Error>>,
) -> Result<(), (String, String)> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(kind(&e)),
        Err(_) => Err(("timeout".into(), format!("no answer within {OP_TIMEOUT:?}"))),
    }
}

/// A `caplet serve` (this program re-executed) with a data directory, on a
/// socket in a temporary folder; stopped with SIGTERM.
struct Server {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(exe: &Path, hosts: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("soak.sock");
        let mut child = Command::new(exe)
            .args(["serve", "--hosts", &hosts.to_string(), "--socket"])
            .arg(&socket)
            .arg("--data")
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut ready)?;
        anyhow::ensure!(
            ready.starts_with("READY "),
            "caplet serve did not start: {ready:?}"
        );
        Ok(Self {
            child,
            socket,
            _dir: dir,
        })
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
