//! The benchmark run: caplet over a Unix socket and embedded, live-worker
//! density, then the peers; one report with ratios.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use caplet_client::Connection;

use crate::floor;
use crate::measure;
use crate::peers::{self, Deno};
use crate::report::Report;
use crate::stats::{Summary, Unit};

/// Measures caplet against its peers in one run, and prints median, p90 and
/// p99 of each measurement with the ratio against the peers.
#[derive(Debug, clap::Parser)]
#[command(name = "caplet-bench")]
pub struct Args {
    /// Samples of each latency measurement (cold, warm).
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
    /// Live idle workers loaded for the memory-per-worker measurement.
    #[arg(long, default_value_t = 10_000)]
    pub workers: usize,
    /// After the memory measurement, keep loading workers up to this many
    /// (or until a load fails or memory runs low) to find the largest number
    /// of live workers; 0 skips this ramp.
    #[arg(long, default_value_t = 0)]
    pub max_workers: usize,
    /// Isolate-hosts of the broker used for live workers (default: one per
    /// core, as `caplet serve`).
    #[arg(long)]
    pub hosts: Option<usize>,
    /// Capability calls per sample of the calls-per-second measurement.
    #[arg(long, default_value_t = 4000)]
    pub calls: u32,
    /// Capability calls in flight at once.
    #[arg(long, default_value_t = 32)]
    pub inflight: u32,
    /// Samples of the calls-per-second measurement.
    #[arg(long, default_value_t = 20)]
    pub call_samples: usize,
    /// Samples of fib(25).
    #[arg(long, default_value_t = 20)]
    pub fib_samples: usize,
    /// Live Deno Workers for the peer's memory per worker.
    #[arg(long, default_value_t = 100)]
    pub deno_workers: usize,
    /// The Deno binary (default: the one `scripts/install-peers.sh`
    /// installed, else `deno` on PATH).
    #[arg(long)]
    pub deno: Option<PathBuf>,
    /// Skip the peers.
    #[arg(long)]
    pub no_peers: bool,
    /// The PostgreSQL database of the `store` measurement (default
    /// `CAPLET_BENCH_PG_URL`; without either, only SQLite is measured).
    #[arg(long, value_name = "URL")]
    pub pg_url: Option<String>,
    /// Run only these measurements (comma-separated: cold, warm, calls,
    /// chain, fib, memory, peers, store), e.g. to profile one of them.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Print the tables as Markdown (for BENCHMARKS.md).
    #[arg(long)]
    pub markdown: bool,
    /// How long each caplet process polls its connections before it sleeps
    /// (`caplet --spin-us`), in microseconds; 0 measures caplet without it.
    #[arg(long, value_name = "MICROSECONDS",
          default_value_t = caplet::spin::DEFAULT_LIMIT.as_micros() as u64,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub spin_us: u64,
}

/// Chains per invocation in the pipelining measurement.
const CHAIN_REPS: u32 = 20;
/// The argument of the compute measurement.
const FIB_ARG: u32 = 25;

const COLD_TARGET: f64 = 250e-6;
const MEMORY_TARGET: f64 = 200.0 * 1024.0;
const WORKERS_TARGET: f64 = 50_000.0;
const CALLS_TARGET: f64 = 100_000.0;
const CHAIN_TARGET: f64 = 2.0;

impl Args {
    fn wants(&self, measurement: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|m| m == measurement)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.iterations >= 10, "--iterations must be at least 10");
    anyhow::ensure!(args.workers >= 100, "--workers must be at least 100");
    let exe = std::env::current_exe()?;
    // This process is the client and the embedded broker; `serve` and the
    // hosts get the same value.
    caplet::spin::set_limit(std::time::Duration::from_micros(args.spin_us));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(caplet::spin::before_park)
        .build()?;
    let local = tokio::task::LocalSet::new();
    let mut report = Report::default();
    report.notes.push(match args.spin_us {
        0 => "caplet processes sleep as soon as they run out of work (--spin-us 0)".to_string(),
        us => format!(
            "caplet processes poll their connections for up to {us} µs before they sleep \
             (--spin-us); CPU time includes that polling"
        ),
    });
    local.block_on(&runtime, caplet(&args, &exe, &mut report))?;
    if args.no_peers || !args.wants("peers") {
        report.notes.push("peers skipped".into());
    } else {
        measure_peers(&args, &mut report);
    }
    compare(&mut report);

    let n = args.iterations;
    println!(
        "caplet-bench: {n} samples per latency; p90/p99 are the slow tail (for rates: 90%/99% of samples were at least this fast)"
    );
    println!();
    report.print(args.markdown);
    Ok(())
}

async fn caplet(args: &Args, exe: &Path, report: &mut Report) -> anyhow::Result<()> {
    let n = args.iterations;
    let chain_samples = (n / 10).max(10);
    let inflight = args.inflight;

    if args.wants("store") {
        let pg_url = args
            .pg_url
            .clone()
            .or_else(|| std::env::var("CAPLET_BENCH_PG_URL").ok());
        crate::store::measure(n, pg_url.as_deref(), report).await?;
    }
    let server = Server::start(exe, 1)?;
    let conn = Connection::connect(&server.socket).await?;
    eprintln!("caplet over a Unix socket (caplet serve --hosts 1):");
    if args.wants("cold") {
        eprintln!("  engine floors, in this process…");
        report.add(
            "floor_runtime",
            "floor: QuickJS runtime + worker context, new + drop",
            floor::runtime_and_context(n),
        );
        report.add(
            "floor_compile",
            "floor: compiler on a cache miss, trivial module",
            floor::compile_in_fresh_context(n, measure::TRIVIAL),
        );
    }
    if args.wants("warm") {
        eprintln!("  warm invoke…");
        let warm = measure::warm(&conn, n).await;
        let (wall, cpu) = split(report, "warm invoke (unix socket)", warm);
        report.add("warm_unix", "warm invoke (unix socket)", wall);
        report.add("warm_unix_cpu", "  ↳ CPU time, all processes", cpu);
    }
    if args.wants("cold") {
        eprintln!("  cold load + first invoke ({n} samples)…");
        let cold = measure::cold(&conn, n).await;
        let (wall, cpu) = split(report, "cold load + first invoke (unix socket)", cold);
        report.add_target(
            "cold_unix",
            "cold: load + first invoke (unix socket)",
            wall,
            COLD_TARGET,
        );
        report.add("cold_unix_cpu", "  ↳ CPU time, all processes", cpu);
    }
    if args.wants("calls") {
        eprintln!("  capability calls…");
        let calls = measure::capability_calls(&conn, args.call_samples, args.calls, inflight).await;
        let (wall, cpu) = split(report, "capability call (unix socket)", calls);
        report.add_target(
            "calls_unix",
            format!("capability calls/s, {inflight} in flight (unix socket)"),
            wall,
            CALLS_TARGET,
        );
        report.add(
            "calls_unix_cpu",
            "  ↳ CPU time per call, all processes",
            cpu,
        );
    }
    if args.wants("chain") {
        eprintln!("  pipelined chains…");
        chains(report, &conn, "unix socket", chain_samples).await;
    }
    if args.wants("fib") {
        eprintln!("  fib({FIB_ARG})…");
        report.add(
            "fib",
            format!("compute: fib({FIB_ARG}) in a warm worker"),
            measure::fib(&conn, args.fib_samples, FIB_ARG).await,
        );
    }
    drop(conn);
    server.stop();

    if ["cold", "warm", "calls", "chain"]
        .iter()
        .any(|m| args.wants(m))
    {
        eprintln!("caplet with an embedded broker (1 isolate-host):");
        let mut config = caplet_broker::Config::new(caplet_broker::HostCommand::caplet(exe));
        config.hosts = 1;
        let embedded = Connection::embedded(config);
        if let Some(broker) = embedded.embedded_broker() {
            // Hosts up first, so that CPU clocks count them from the start.
            broker.pool().ready().await?;
        }
        if args.wants("warm") {
            eprintln!("  warm invoke…");
            let warm = measure::warm(&embedded, n).await;
            let (wall, cpu) = split(report, "warm invoke (embedded)", warm);
            report.add("warm_embedded", "warm invoke (embedded)", wall);
            report.add("warm_embedded_cpu", "  ↳ CPU time, all processes", cpu);
        }
        if args.wants("cold") {
            eprintln!("  cold load + first invoke ({n} samples)…");
            let cold = measure::cold(&embedded, n).await;
            let (wall, cpu) = split(report, "cold load + first invoke (embedded)", cold);
            report.add(
                "cold_embedded",
                "cold: load + first invoke (embedded)",
                wall,
            );
            report.add("cold_embedded_cpu", "  ↳ CPU time, all processes", cpu);
        }
        if args.wants("calls") {
            eprintln!("  capability calls…");
            let calls =
                measure::capability_calls(&embedded, args.call_samples, args.calls, inflight).await;
            let (wall, cpu) = split(report, "capability call (embedded)", calls);
            report.add_target(
                "calls_embedded",
                format!("capability calls/s, {inflight} in flight (embedded)"),
                wall,
                CALLS_TARGET,
            );
            report.add(
                "calls_embedded_cpu",
                "  ↳ CPU time per call, all processes",
                cpu,
            );
        }
        if args.wants("chain") {
            eprintln!("  pipelined chains…");
            chains(report, &embedded, "embedded", chain_samples).await;
        }
        embedded.close().await;
    }

    if !args.wants("memory") {
        return Ok(());
    }
    let hosts = args
        .hosts
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let workers = args.workers;
    eprintln!("live workers (caplet serve --hosts {hosts}): {workers} loaded and invoked once…");
    let server = Server::start(exe, hosts)?;
    let conn = Connection::connect(&server.socket).await?;
    let batch = (workers / 20).max(1);
    match measure::density(&conn, server.pid(), workers, batch, args.max_workers).await {
        Ok(density) => {
            report.add_target(
                "memory",
                format!("memory per live idle worker ({workers}, {hosts} hosts)"),
                Ok(density.per_worker),
                MEMORY_TARGET,
            );
            report.add(
                "memory_hosts",
                "  ↳ of which isolate-hosts",
                Ok(density.hosts_per_worker),
            );
            report.add(
                "memory_broker",
                "  ↳ of which broker",
                Ok(density.broker_per_worker),
            );
            let reached = Summary::single(Unit::Count, density.reached as f64);
            if args.max_workers > workers {
                report.add_target(
                    "reached",
                    format!("live workers reached (ramp up to {})", args.max_workers),
                    Ok(reached),
                    WORKERS_TARGET,
                );
            } else {
                report.add(
                    "reached",
                    "live workers reached (no ramp; see --max-workers)",
                    Ok(reached),
                );
            }
            if let Some(why) = density.stopped {
                report.notes.push(format!("live-worker ramp {why}"));
            }
        }
        Err(error) => report.add("memory", "memory per live idle worker", Err(error)),
    }
    drop(conn);
    server.stop();
    Ok(())
}

/// Wall and CPU summaries of one measurement, each failing alike; the CPU
/// time by role goes into a note.
fn split(
    report: &mut Report,
    what: &str,
    timed: anyhow::Result<measure::Timed>,
) -> (anyhow::Result<Summary>, anyhow::Result<Summary>) {
    match timed {
        Ok(timed) => {
            note_roles(report, what, &timed.roles);
            (Ok(timed.wall), Ok(timed.cpu))
        }
        Err(error) => {
            let again = anyhow::anyhow!("{error:#}");
            (Err(error), Err(again))
        }
    }
}

/// A note of the CPU time per `what` of each process role.
fn note_roles(report: &mut Report, what: &str, roles: &[(&'static str, f64)]) {
    let roles: Vec<String> = roles
        .iter()
        .map(|(role, seconds)| format!("{role} {}", Unit::Time.format(*seconds)))
        .collect();
    report.notes.push(format!(
        "CPU time per {what}, by process: {}",
        roles.join(", ")
    ));
}

/// One call against a chain of 10 dependent pipelined calls, and their ratio.
async fn chains(report: &mut Report, conn: &Connection, over: &str, samples: usize) {
    let (one, ten, ratio) = match measure::chains(conn, samples, &[1, 10], CHAIN_REPS).await {
        Ok(chains) => {
            for ((_, roles), what) in chains.iter().zip(["one call", "chain of 10"]) {
                note_roles(report, &format!("{what} from JS ({over})"), roles);
            }
            let (one, ten) = (chains[0].0, chains[1].0);
            let ratio = Summary::single(Unit::Ratio, ten.median / one.median);
            (Ok(one), Ok(ten), Ok(ratio))
        }
        Err(error) => {
            let again = || anyhow::anyhow!("{error:#}");
            (Err(again()), Err(again()), Err(error))
        }
    };
    let (one_key, ten_key, ratio_key) = if over == "embedded" {
        ("call_embedded", "chain_embedded", "chain_ratio_embedded")
    } else {
        ("call_unix", "chain_unix", "chain_ratio_unix")
    };
    report.add(
        one_key,
        format!("one capability call from JS ({over})"),
        one,
    );
    report.add(
        ten_key,
        format!("chain of 10 pipelined calls ({over})"),
        ten,
    );
    report.add_target(
        ratio_key,
        format!("  ↳ chain of 10 / one call ({over})"),
        ratio,
        CHAIN_TARGET,
    );
}

fn measure_peers(args: &Args, report: &mut Report) {
    let n = args.iterations;
    eprintln!("peer: fork+exec of /bin/true…");
    report.peer(
        "fork_exec",
        "fork+exec /bin/true",
        peers::fork_exec(n).map_err(|e| format!("failed: {e:#}")),
    );
    eprintln!("peer: bwrap --unshare-all…");
    let bwrap = match peers::on_path("bwrap") {
        Some(bwrap) => peers::bwrap(&bwrap, n).map_err(|e| format!("failed: {e:#}")),
        None => Err("missing (scripts/install-peers.sh installs bubblewrap)".into()),
    };
    report.peer("bwrap", "bwrap --unshare-all /bin/true", bwrap);

    let deno = match peers::find_deno(args.deno.as_deref()) {
        Some(binary) => Deno::new(binary).map_err(|e| format!("failed: {e:#}")),
        None => Err(match &args.deno {
            Some(path) => format!("missing ({} is not an executable)", path.display()),
            None => "missing (scripts/install-peers.sh installs it from npm)".to_string(),
        }),
    };
    let deno = match deno {
        Ok(deno) => {
            if let Ok(version) = deno.version() {
                report.notes.push(format!("Deno peer: {version}"));
            }
            Ok(deno)
        }
        Err(why) => Err(why),
    };
    let failed = |e: anyhow::Error| format!("failed: {e:#}");
    eprintln!("peer: Deno Workers…");
    let (cold, warm, fib, density) = match &deno {
        Ok(deno) => (
            deno.cold(n).map_err(failed),
            deno.warm(n).map_err(failed),
            deno.fib(args.fib_samples, FIB_ARG).map_err(failed),
            deno.density(args.deno_workers).map_err(failed),
        ),
        Err(why) => (
            Err(why.clone()),
            Err(why.clone()),
            Err(why.clone()),
            Err(why.clone()),
        ),
    };
    report.peer("deno_cold", "Deno Worker: new + message + terminate", cold);
    report.peer("deno_warm", "Deno Worker: message round trip", warm);
    report.peer("deno_fib", format!("Deno Worker: fib({FIB_ARG})"), fib);
    let deno_workers = args.deno_workers;
    match density {
        Ok(density) => {
            report.peer(
                "deno_memory",
                format!("Deno Worker: memory per live idle worker ({deno_workers})"),
                Ok(density.per_worker),
            );
            report.notes.push(format!(
                "Deno peer reached {} live workers (not ramped)",
                density.reached
            ));
        }
        Err(why) => report.peer(
            "deno_memory",
            "Deno Worker: memory per live idle worker",
            Err(why),
        ),
    }
}

fn compare(report: &mut Report) {
    for key in ["cold_unix", "cold_embedded"] {
        report.compare(key, &["deno_cold", "bwrap", "fork_exec"]);
    }
    for key in ["warm_unix", "warm_embedded"] {
        report.compare(key, &["deno_warm"]);
    }
    report.compare("memory", &["deno_memory"]);
    report.compare("fib", &["deno_fib"]);
}

/// A `caplet serve` (this program re-executed) on a socket in a temporary
/// folder; stopped with SIGTERM.
struct Server {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(exe: &Path, hosts: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("bench.sock");
        let mut child = Command::new(exe)
            .args(["serve", "--hosts", &hosts.to_string(), "--spin-us"])
            .arg(caplet::spin::limit().as_micros().to_string())
            .arg("--socket")
            .arg(&socket)
            // The density measurement holds thousands of workers as one
            // principal: no per-principal quota may stop it.
            .args(["--quota", &format!("workers={}", u64::MAX)])
            .args(["--quota", &format!("memory_bytes={}", u64::MAX)])
            .stdout(Stdio::piped())
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

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
