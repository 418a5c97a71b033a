//! The benchmark run: caplet over a Unix socket and embedded, live-worker
//! density, then the peers; one report with ratios.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use caplet_client::Connection;

use crate::charts;
use crate::floor;
use crate::measure;
use crate::peers::{self, Deno};
use crate::report::Report;
use crate::stats::{Summary, Unit};
use crate::throughput;
use crate::workerd;

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
    /// The workerd binary (default: the one `scripts/install-peers.sh`
    /// installed, else `workerd` on PATH).
    #[arg(long)]
    pub workerd: Option<PathBuf>,
    /// Most live dynamic workers for workerd's memory per worker.
    #[arg(long, default_value_t = 1000)]
    pub workerd_workers: usize,
    /// Seconds at most for loading workerd's live dynamic workers.
    #[arg(long, default_value_t = 30)]
    pub workerd_budget: u64,
    /// Skip the peers.
    #[arg(long)]
    pub no_peers: bool,
    /// The PostgreSQL database of the `store` measurement (default
    /// `CAPLET_BENCH_PG_URL`; without either, only SQLite is measured).
    #[arg(long, value_name = "URL")]
    pub pg_url: Option<String>,
    /// Run only these measurements (comma-separated: cold, warm, calls,
    /// chain, fib, platform, memory, brokers, peers, link, calllog, store), e.g. to profile one of them.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// One-way delay of the relay between client and broker for the
    /// pipelining-over-a-link measurement, in microseconds.
    #[arg(long, default_value_t = 1000)]
    pub delay_us: u64,
    /// Samples of each chain shape over the delayed link.
    #[arg(long, default_value_t = 10)]
    pub link_samples: usize,
    /// Seconds each point of the throughput-across-concurrency curves runs.
    #[arg(long, default_value_t = 1.0)]
    pub throughput_secs: f64,
    /// Also write the run's charts as SVG files into this folder
    /// (`docs/bench` for BENCHMARKS.md).
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
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
/// Over the delayed link: a pipelined chain of 10 against one call.
const LINK_CHAIN_TARGET: f64 = 1.3;
/// Chain depths over the delayed link (the chart's x axis).
const LINK_DEPTHS: [u32; 4] = [1, 2, 5, 10];

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
    let mut report = Report {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..Report::default()
    };
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
    if let Some(dir) = &args.svg {
        for path in charts::write(&report, dir)? {
            eprintln!("wrote {}", path.display());
        }
    }
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
    if args.wants("platform") {
        eprintln!("  platform globals, cold and warm…");
        let (cold, warm) = match crate::platform::cold_and_warm(&conn, n).await {
            Ok((cold, warm)) => (Ok(cold), Ok(warm)),
            Err(e) => (Err(anyhow::anyhow!("{e:#}")), Err(e)),
        };
        let what = "URL + TextEncoder + subtle.digest + Intl.NumberFormat";
        report.add(
            "platform_cold",
            format!("platform cold: load + first invoke, {what}"),
            cold,
        );
        report.add(
            "platform_warm",
            format!("platform warm: invoke, {what}"),
            warm,
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

    if args.wants("link") {
        link(args, exe, report).await?;
    }
    if args.wants("throughput") {
        throughput(args, exe, report).await?;
    }
    if args.wants("brokers") {
        brokers(args, exe, report).await?;
    }
    if args.wants("calllog") {
        eprintln!("call log on and off, embedded ({n} pairs)…");
        crate::call_log::measure(exe, n, report).await;
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
    let shapes = [1, 10].map(|depth| measure::Chain {
        depth,
        pipelined: true,
    });
    let (one, ten, ratio) = match measure::chains(conn, samples, &shapes, CHAIN_REPS).await {
        Ok(chains) => {
            for ((_, roles), what) in chains.iter().zip(["one call", "chain of 10"]) {
                note_roles(report, &format!("{what} from JS ({over})"), roles);
            }
            note_per_link(report, over, &chains[0].1, &chains[1].1);
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

/// Chains of calls to a capability that lives in the client, with a relay
/// adding `--delay-us` each way between the client and `caplet serve`: one
/// call, pipelined chains and the same chains awaited link by link.
async fn link(args: &Args, exe: &Path, report: &mut Report) -> anyhow::Result<()> {
    let delay = args.delay_us;
    let over = format!("{} ms link", delay as f64 / 1000.0);
    eprintln!("pipelining over a link with {delay} µs each way (relay process)…");
    let server = Server::start(exe, 1)?;
    let relay = Relay::start(exe, &server.socket, delay)?;
    let conn = Connection::connect(&relay.socket).await?;
    let mut shapes: Vec<measure::Chain> = LINK_DEPTHS
        .iter()
        .map(|&depth| measure::Chain {
            depth,
            pipelined: true,
        })
        .collect();
    shapes.extend(LINK_DEPTHS[1..].iter().map(|&depth| measure::Chain {
        depth,
        pipelined: false,
    }));
    let measured = measure::chains(&conn, args.link_samples, &shapes, CHAIN_REPS).await;
    drop(conn);
    relay.stop();
    server.stop();
    let chains = match measured {
        Ok(chains) => chains,
        Err(error) => {
            report.add(
                "link_one",
                format!("one capability call from JS ({over})"),
                Err(error),
            );
            return Ok(());
        }
    };
    let at = |depth: u32, pipelined: bool| {
        shapes
            .iter()
            .position(|s| s.depth == depth && (s.pipelined == pipelined || depth == 1))
            .map(|i| &chains[i])
            .expect("measured shape")
    };
    for &depth in &LINK_DEPTHS {
        report.chain_points.push(crate::report::ChainPoint {
            depth,
            pipelined: at(depth, true).0.median,
            awaited: at(depth, false).0.median,
        });
    }
    report.link = over.clone();
    let by_depth: Vec<String> = report
        .chain_points
        .iter()
        .map(|p| {
            format!(
                "{}: {} pipelined, {} awaited",
                p.depth,
                Unit::Time.format(p.pipelined),
                Unit::Time.format(p.awaited)
            )
        })
        .collect();
    report.notes.push(format!(
        "chain latency by length ({over}, medians): {}",
        by_depth.join("; ")
    ));
    let (one, ten, ten_awaited) = (at(1, true), at(10, true), at(10, false));
    report.add(
        "link_one",
        format!("one capability call from JS ({over})"),
        Ok(one.0),
    );
    report.add(
        "link_chain",
        format!("chain of 10 pipelined calls ({over})"),
        Ok(ten.0),
    );
    report.add_target(
        "link_chain_ratio",
        format!("  ↳ pipelined chain of 10 / one call ({over})"),
        Ok(Summary::single(Unit::Ratio, ten.0.median / one.0.median)),
        LINK_CHAIN_TARGET,
    );
    report.add(
        "link_awaited",
        format!("chain of 10 calls, each awaited ({over})"),
        Ok(ten_awaited.0),
    );
    report.add(
        "link_awaited_ratio",
        format!("  ↳ awaited chain of 10 / one call ({over}; 10× is a round trip per call)"),
        Ok(Summary::single(
            Unit::Ratio,
            ten_awaited.0.median / one.0.median,
        )),
    );
    report.add(
        "link_saved",
        format!("  ↳ time pipelining saves on a chain of 10 ({over})"),
        Ok(Summary::single(
            Unit::Time,
            ten_awaited.0.median - ten.0.median,
        )),
    );
    note_roles(report, &format!("one call from JS ({over})"), &one.1);
    note_per_link(report, &over, &one.1, &ten.1);
    Ok(())
}

/// caplet's throughput curves: `caplet serve` with one host per core, and
/// 1 to 64 concurrent clients.
async fn throughput(args: &Args, exe: &Path, report: &mut Report) -> anyhow::Result<()> {
    let cores = report.cores;
    let window = std::time::Duration::from_secs_f64(args.throughput_secs);
    // One host per core, as `caplet serve`; with more than one core, warm
    // and cold once more on a single host, to show what the cores add.
    let mut runs = vec![(cores, "caplet")];
    if cores > 1 {
        runs.push((1, "caplet, 1 host"));
    }
    for (hosts, runtime) in runs {
        let server = Server::start(exe, hosts)?;
        for kind in [
            throughput::Kind::Warm,
            throughput::Kind::Cold,
            throughput::Kind::Calls,
        ] {
            if hosts != cores && kind == throughput::Kind::Calls {
                continue;
            }
            eprintln!(
                "throughput across concurrency (caplet serve --hosts {hosts}): {}…",
                kind.name()
            );
            let mut points = Vec::new();
            for clients in throughput::CLIENTS {
                match throughput::caplet(&server.socket, kind, clients, window).await {
                    Ok(point) => points.push(point),
                    Err(error) => {
                        report.notes.push(format!(
                            "{runtime} {} with {clients} clients failed: {error:#}",
                            kind.name()
                        ));
                        break;
                    }
                }
            }
            report.curves.push(crate::report::Curve {
                runtime,
                kind: kind.name(),
                points,
            });
        }
        server.stop();
    }
    report.notes.push(format!(
        "throughput: caplet serve --hosts {cores} (\"caplet\") and --hosts 1 (\"caplet, 1 host\"); each point runs {} s; \
         the clients are tasks of the single-threaded bench process, for every runtime",
        args.throughput_secs
    ));
    Ok(())
}

/// A note of the CPU time each process spends per pipelined link: the
/// chain of 10 less one call, over 9.
fn note_per_link(
    report: &mut Report,
    over: &str,
    one: &[(&'static str, f64)],
    ten: &[(&'static str, f64)],
) {
    let mut total = 0.0;
    let roles: Vec<String> = ten
        .iter()
        .map(|(role, t)| {
            let o = one.iter().find(|(r, _)| r == role).map_or(0.0, |(_, o)| *o);
            let per_link = (t - o) / 9.0;
            total += per_link;
            format!("{role} {}", Unit::Time.format(per_link))
        })
        .collect();
    report.notes.push(format!(
        "CPU time per pipelined link ({over}; chain of 10 less one call, / 9): {} in all; {}",
        Unit::Time.format(total),
        roles.join(", ")
    ));
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
    if let (Ok(deno), true) = (&deno, args.wants("throughput")) {
        for (kind, name) in [
            ("warm", throughput::Kind::Warm.name()),
            ("cold", throughput::Kind::Cold.name()),
        ] {
            eprintln!("peer: Deno Workers, throughput across concurrency: {name}…");
            let mut points = Vec::new();
            for clients in throughput::CLIENTS {
                match deno.throughput(kind, clients, args.throughput_secs) {
                    Ok(point) => points.push(point),
                    Err(error) => {
                        report.notes.push(format!(
                            "Deno {name} with {clients} clients failed: {error:#}"
                        ));
                        break;
                    }
                }
            }
            report.curves.push(crate::report::Curve {
                runtime: "Deno Workers",
                kind: name,
                points,
            });
        }
    }
    measure_workerd(args, report);
}

/// The workerd peer: its Worker Loader, in the same run.
fn measure_workerd(args: &Args, report: &mut Report) {
    let missing = |why: String| {
        let rows: [(&'static str, &str); 7] = [
            ("workerd_noop", "workerd: HTTP request to the parent alone"),
            ("workerd_cold", "workerd: LOADER.load() + first call"),
            ("workerd_warm", "workerd: call to a loaded dynamic worker"),
            (
                "workerd_warm_parent",
                "workerd: call from the parent to a loaded dynamic worker",
            ),
            ("workerd_fib", "workerd: fib(25) in a dynamic worker"),
            (
                "workerd_calls",
                "workerd: calls/s from a dynamic worker to its parent",
            ),
            ("workerd_memory", "workerd: memory per live dynamic worker"),
        ];
        rows.map(|(key, name)| (key, name.to_string(), Err::<Summary, String>(why.clone())))
    };
    let rows = match workerd::find(args.workerd.as_deref()) {
        None => missing(match &args.workerd {
            Some(path) => format!("not installed ({} is not an executable)", path.display()),
            None => "not installed (scripts/install-peers.sh installs it from npm)".to_string(),
        }),
        Some(binary) => {
            if let Ok(version) = workerd::version(&binary) {
                report.notes.push(format!(
                    "workerd peer: {version}, `serve --experimental`, one parent worker with a workerLoader binding; \
                     workerd enforces no CPU or memory limit on dynamic workers in this configuration, and runs all isolates on one thread"
                ));
            }
            eprintln!("peer: workerd Worker Loader…");
            match run_workerd(args, &binary, report) {
                Ok(rows) => rows,
                Err(error) => missing(format!("failed: {error:#}")),
            }
        }
    };
    for (key, name, result) in rows {
        report.peer(key, name, result);
    }
}

type PeerRow = (&'static str, String, Result<Summary, String>);

fn run_workerd(args: &Args, binary: &Path, report: &mut Report) -> anyhow::Result<[PeerRow; 7]> {
    let plan = workerd::Plan {
        n: args.iterations,
        fib_samples: args.fib_samples,
        fib_arg: FIB_ARG,
        call_samples: args.call_samples,
        calls: args.calls,
        inflight: args.inflight,
        max_workers: args.workerd_workers,
        density_budget: std::time::Duration::from_secs(args.workerd_budget),
        throughput_window: args
            .wants("throughput")
            .then(|| std::time::Duration::from_secs_f64(args.throughput_secs)),
    };
    let server = workerd::Workerd::start(binary)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = tokio::task::LocalSet::new().block_on(&runtime, workerd::measure(&server, &plan));
    server.stop();
    let r = results?;
    let failed = |e: anyhow::Error| format!("failed: {e:#}");
    let inflight = args.inflight;
    let (memory_name, memory) = match r.density {
        Ok(d) => {
            report.notes.push(format!(
                "workerd peer: {} live dynamic workers, {}",
                d.reached, d.stopped
            ));
            (
                format!("workerd: memory per live dynamic worker ({})", d.reached),
                Ok(d.per_worker),
            )
        }
        Err(e) => (
            "workerd: memory per live dynamic worker".into(),
            Err(failed(e)),
        ),
    };
    for (kind, points) in r.curves {
        report.curves.push(crate::report::Curve {
            runtime: "workerd",
            kind: kind.name(),
            points,
        });
    }
    Ok([
        ("workerd_noop", "workerd: HTTP request to the parent alone".into(), r.noop.map_err(failed)),
        ("workerd_cold", "workerd: LOADER.load() + first call (HTTP request)".into(), r.cold.map_err(failed)),
        ("workerd_warm", "workerd: call to a loaded dynamic worker (HTTP request)".into(), r.warm.map_err(failed)),
        (
            "workerd_warm_parent",
            "workerd: call from the parent to a loaded dynamic worker (in-process, batch of 100)".into(),
            r.warm_in_parent.map_err(failed),
        ),
        ("workerd_fib", format!("workerd: fib({FIB_ARG}) in a dynamic worker"), r.fib.map_err(failed)),
        (
            "workerd_calls",
            format!("workerd: calls/s from a dynamic worker to its parent's entrypoint, {inflight} in flight"),
            r.calls.map_err(failed),
        ),
        ("workerd_memory", memory_name, memory),
    ])
}

/// Aggregate invocations per second with one `caplet serve --hosts 1`,
/// then with two ([`crate::brokers`]).
async fn brokers(args: &Args, exe: &Path, report: &mut Report) -> anyhow::Result<()> {
    use crate::brokers::{aggregate, CONNECTIONS, INFLIGHT};
    let samples = args.call_samples.max(5);
    eprintln!("aggregate invocations/s: one broker, then two…");
    let one = Server::start(exe, 1)?;
    let single = aggregate(&[&one.socket], samples).await;
    one.stop();
    let (a, b) = (Server::start(exe, 1)?, Server::start(exe, 1)?);
    let pair = aggregate(&[&a.socket, &b.socket], samples).await;
    a.stop();
    b.stop();
    let load = format!("{CONNECTIONS} connections × {INFLIGHT} in flight");
    report.add(
        "brokers_one",
        format!("invocations/s, 1 broker ({load})"),
        single,
    );
    report.add(
        "brokers_two",
        format!("invocations/s, 2 brokers ({load})"),
        pair,
    );
    Ok(())
}

fn compare(report: &mut Report) {
    report.compare("brokers_two", &["brokers_one"]);
    for key in ["cold_unix", "cold_embedded"] {
        report.compare(key, &["workerd_cold", "deno_cold", "bwrap", "fork_exec"]);
    }
    for key in ["warm_unix", "warm_embedded"] {
        report.compare(key, &["workerd_warm", "deno_warm"]);
    }
    report.compare("memory", &["workerd_memory", "deno_memory"]);
    report.compare("fib", &["workerd_fib", "deno_fib"]);
    for key in ["calls_unix", "calls_embedded"] {
        report.compare(key, &["workerd_calls"]);
    }
}

/// A latency-adding relay (this program re-executed as `relay`) in front of
/// a broker's socket; killed when stopped.
struct Relay {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Relay {
    fn start(exe: &Path, to: &Path, delay_us: u64) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("relay.sock");
        let mut child = Command::new(exe)
            .arg("relay")
            .arg("--listen")
            .arg(&socket)
            .arg("--to")
            .arg(to)
            .args(["--delay-us", &delay_us.to_string()])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut ready)?;
        anyhow::ensure!(
            ready.starts_with("READY "),
            "the relay did not start: {ready:?}"
        );
        Ok(Self {
            child,
            socket,
            _dir: dir,
        })
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
