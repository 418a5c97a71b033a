//! caplet's benchmark program. Prints median, p90 and p99 of each measurement,
//! with peers measured in the same run and the ratio against them.
//!
//! The program is also a complete `caplet` (it re-executes itself as
//! `serve` and `isolate-host`), so it needs nothing else built.
//!
//! Run: `cargo run --release -p caplet-bench -- [--iterations N]`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use caplet_client::{Connection, WorkerCode};
use clap::Parser;

/// Measures caplet against peers in one run.
#[derive(Debug, Parser)]
#[command(name = "caplet-bench")]
struct Args {
    /// Samples per measurement.
    #[arg(long, default_value_t = 300)]
    iterations: usize,
}

const TRIVIAL: &str = "export default { run: (input) => input };";

/// Percentiles of a set of samples.
struct Summary {
    median: Duration,
    p90: Duration,
    p99: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Summary {
        median: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() -> anyhow::Result<()> {
    // Re-executed as a broker or an isolate-host: behave exactly like `caplet`.
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("serve" | "isolate-host")
    ) {
        std::process::exit(match caplet_client::cli::main() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    let args = Args::parse();
    anyhow::ensure!(args.iterations >= 10, "--iterations must be at least 10");
    let exe = std::env::current_exe()?;

    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("bench.sock");
    let mut server = Command::new(&exe)
        .args(["serve", "--hosts", "1", "--socket"])
        .arg(&socket)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut ready = String::new();
    BufReader::new(server.stdout.take().expect("piped stdout")).read_line(&mut ready)?;
    anyhow::ensure!(
        ready.starts_with("READY "),
        "caplet serve did not start: {ready:?}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let n = args.iterations;
    let mut rows: Vec<(&str, Summary)> = Vec::new();

    local.block_on(&runtime, async {
        let conn = Connection::connect(&socket).await?;
        eprintln!("measuring cold load + first invoke over the Unix socket ({n} samples)…");
        rows.push((
            "cold: load + first invoke (unix socket)",
            cold(&conn, n).await?,
        ));
        eprintln!("measuring warm invokes over the Unix socket…");
        rows.push(("warm invoke (unix socket)", warm(&conn, n).await?));

        let mut config = caplet_broker::Config::new(caplet_broker::HostCommand::caplet(&exe));
        config.hosts = 1;
        let embedded = Connection::embedded(config);
        eprintln!("measuring cold load + first invoke, embedded broker…");
        rows.push((
            "cold: load + first invoke (embedded)",
            cold(&embedded, n).await?,
        ));
        rows.push(("warm invoke (embedded)", warm(&embedded, n).await?));
        embedded.close().await;
        anyhow::Ok(())
    })?;
    let _ = server.kill();
    let _ = server.wait();

    eprintln!("measuring the peer: fork+exec of /bin/true…");
    let peer = summarize(
        (0..n)
            .map(|_| {
                let start = Instant::now();
                let status = Command::new("/bin/true").status();
                assert!(status.is_ok_and(|s| s.success()), "/bin/true failed");
                start.elapsed()
            })
            .collect(),
    );

    println!("caplet-bench: {n} samples each; ratio = peer median / caplet median (higher is better for caplet)");
    println!(
        "{:<42} {:>12} {:>12} {:>12} {:>10}",
        "measurement", "median", "p90", "p99", "vs fork+exec"
    );
    for (name, s) in &rows {
        let ratio = peer.median.as_secs_f64() / s.median.as_secs_f64();
        println!(
            "{name:<42} {:>12} {:>12} {:>12} {:>9.1}×",
            micros(s.median),
            micros(s.p90),
            micros(s.p99),
            ratio
        );
    }
    println!(
        "{:<42} {:>12} {:>12} {:>12} {:>10}",
        "peer: fork+exec /bin/true",
        micros(peer.median),
        micros(peer.p90),
        micros(peer.p99),
        "1.0×"
    );
    Ok(())
}

/// Load a fresh trivial worker and invoke it once, `n` times.
async fn cold(conn: &Connection, n: usize) -> anyhow::Result<Summary> {
    let code = WorkerCode::new("trivial.js", TRIVIAL);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let worker = conn.load(&code).await?;
        let done = worker.invoke("run", &i.to_string()).await?;
        samples.push(start.elapsed());
        anyhow::ensure!(
            done.output == i.to_string(),
            "wrong output {:?}",
            done.output
        );
    }
    Ok(summarize(samples))
}

/// Invoke one loaded worker `n` times.
async fn warm(conn: &Connection, n: usize) -> anyhow::Result<Summary> {
    let worker = conn.load(&WorkerCode::new("trivial.js", TRIVIAL)).await?;
    worker.invoke("run", "0").await?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let done = worker.invoke("run", &i.to_string()).await?;
        samples.push(start.elapsed());
        anyhow::ensure!(
            done.output == i.to_string(),
            "wrong output {:?}",
            done.output
        );
    }
    Ok(summarize(samples))
}
