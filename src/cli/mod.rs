//! The `caplet` command line: argument parsing and dispatch. Each subcommand
//! lives in its own module.
//!
//! This is the library of the root package `caplet-cli` (wasmtime's
//! `wasmtime-cli` layout): the `caplet` binary (`src/main.rs`) only calls
//! [`main`], and the benchmark program links it to run itself as
//! `caplet serve` and `caplet isolate-host`.

mod audit;
mod imports;
mod mcp;
mod metrics;
mod run;
mod serve;
mod store;
mod types;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// caplet runs untrusted JavaScript in isolates that reach the world only
/// through Cap'n Proto capabilities.
#[derive(Debug, Parser)]
#[command(name = "caplet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How long an idle caplet process keeps polling its connections before
    /// it sleeps, in microseconds (0: never). Applies to this process and to
    /// the processes a broker starts. An answer that comes within it is read
    /// without waking a sleeping CPU, most of a round trip's time on a
    /// virtual machine; the price is that CPU time when no answer comes.
    #[arg(long, global = true, value_name = "MICROSECONDS", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    spin_us: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a JavaScript worker once and print its JSON result.
    ///
    /// Without --connect, a broker is started in this process (its
    /// isolate-host is still a separate, confined process).
    Run(run::Args),
    /// Run a broker that many clients share, on a Unix socket and/or TCP.
    ///
    /// Prints `READY <socket>` (and `READY tcp://ADDR:PORT` with --listen) on
    /// stdout once it accepts connections and its isolate-hosts are up;
    /// Ctrl-C or SIGTERM shut it down cleanly.
    Serve(serve::Args),
    /// Print the TypeScript declarations (.d.ts) of a worker's env for the
    /// given grants: its Env type, every interface it reaches with its doc
    /// comments, and the worker's default-export shape.
    Types(types::Args),
    /// Print everything a worker's grants can reach: every interface reached
    /// through them (with the path by which), flags for what makes the
    /// surface open-ended, built-in policies, limits and quotas. With
    /// --diff OLD.json, what grew or shrank (exit status 3 if it grew).
    Audit(audit::Args),
    /// Serve code mode over MCP (stdio, or streamable HTTP with --http): a
    /// `search` tool over the typed API of the grants and an `execute`
    /// tool running a script in a fresh worker.
    Mcp(mcp::Args),
    /// Move the fs/kv store between backends: `export` writes a dump to
    /// stdout, `import` reads one from stdin (SQLite with --data, or
    /// PostgreSQL with --store).
    Store(store::Args),
    /// Internal: run as an isolate-host on the socket at stdin.
    #[command(hide = true)]
    IsolateHost(HostArgs),
}

/// Options of `caplet isolate-host` (set by the broker that starts it).
#[derive(Debug, clap::Args)]
struct HostArgs {
    /// The broker's pid: the host dies with it.
    #[arg(long, value_name = "PID")]
    broker_pid: Option<i32>,
    /// Exit if the kernel lacks any confinement feature.
    #[arg(long)]
    require_confinement: bool,
    /// Diagnostic: confine like a host, try to open FILE and create sockets,
    /// print what happened, and exit.
    #[arg(long, value_name = "FILE")]
    probe_confinement: Option<PathBuf>,
}

impl HostArgs {
    fn run(&self) -> anyhow::Result<()> {
        let options = caplet_isolate_host::HostOptions {
            broker_pid: self.broker_pid,
            require_confinement: self.require_confinement,
        };
        match &self.probe_confinement {
            Some(file) => {
                let report = caplet_isolate_host::probe_confinement(&options, file)?;
                println!("{report}");
                Ok(())
            }
            None => Ok(caplet_isolate_host::serve_stdin(&options)?),
        }
    }
}

/// Options shared by the commands that start a broker.
#[derive(Debug, clap::Args)]
struct BrokerArgs {
    /// Number of isolate-host processes (default: 1 for `run`, the number of
    /// cores for `serve`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    hosts: Option<u16>,
    /// The broker's configuration: http policies, secrets and volume quotas
    /// of the built-in capabilities, and per-principal quotas (see README,
    /// `caplet.toml`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the built-in fs volumes and kv stores are kept (a SQLite
    /// database, created at the first fs or kv grant).
    #[arg(long, value_name = "DIR", default_value = caplet_broker::config::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Keep fs volumes and kv stores in this PostgreSQL database instead
    /// (`postgres://USER@HOST:PORT/DB`; the password from `[store]
    /// password_secret`), shared by every broker given it; no data
    /// directory is made.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Refuse to run isolate-hosts on a kernel that lacks any confinement
    /// feature (seccomp, Landlock …); without it, what is missing is logged.
    #[arg(long)]
    require_confinement: bool,
    /// Keep workers of different principals (who a connection authenticated
    /// as, and sub-principals named in `WorkerCode.principal`) in different
    /// isolate-host processes.
    #[arg(long, value_name = "principal", value_parser = ["principal"])]
    cordon: Option<String>,
    /// A worker limit's default, as NAME=VALUE with NAME a field of `Limits`
    /// in schema/caplet.capnp, e.g. `cpuTimeMs=200` (repeatable).
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_limit)]
    limit_default: Vec<(String, u64)>,
    /// A worker limit's maximum, as NAME=VALUE (repeatable); asking for more
    /// fails with `limit_too_high`.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_limit)]
    limit_max: Vec<(String, u64)>,
}

fn parse_limit(spec: &str) -> Result<(String, u64), String> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {spec:?}"))?;
    let value = value.parse::<u64>().map_err(|e| format!("{name}: {e}"))?;
    if value == 0 {
        return Err(format!("{name}: a limit must be above 0"));
    }
    let ceiling = u64::from(caplet_broker::Limits::MAXIMA.stack_bytes);
    if name == "stackBytes" && value > ceiling {
        // The engine clamps the JS stack there: more would not be granted.
        return Err(format!(
            "stackBytes: at most {ceiling} (the engine's ceiling)"
        ));
    }
    // Checked here so that a typo is a usage error.
    let mut scratch = caplet_broker::Limits::DEFAULTS;
    set_limit(&mut scratch, name, value)?;
    Ok((name.to_string(), value))
}

/// Sets the limit called `name` (as in the schema) in `limits`.
fn set_limit(limits: &mut caplet_broker::Limits, name: &str, value: u64) -> Result<(), String> {
    let small =
        |value: u64| u32::try_from(value).map_err(|_| format!("{name}: {value} is too large"));
    match name {
        "memoryBytes" => limits.memory_bytes = value,
        "cpuTimeMs" => limits.cpu_time_ms = small(value)?,
        "wallTimeMs" => limits.wall_time_ms = small(value)?,
        "stackBytes" => limits.stack_bytes = small(value)?,
        "moduleBytes" => limits.module_bytes = value,
        "outputBytes" => limits.output_bytes = value,
        "logBytes" => limits.log_bytes = value,
        "subrequests" => limits.subrequests = small(value)?,
        "callsInFlight" => limits.calls_in_flight = small(value)?,
        "pendingTimers" => limits.pending_timers = small(value)?,
        other => return Err(format!("no limit called {other:?}")),
    }
    Ok(())
}

impl BrokerArgs {
    fn config(&self, default_hosts: usize) -> anyhow::Result<caplet_broker::Config> {
        let exe = std::env::current_exe().map_err(|e| {
            anyhow::anyhow!("cannot find the caplet executable to start isolate-hosts: {e}")
        })?;
        let mut command = caplet_broker::HostCommand::caplet(exe);
        if self.require_confinement {
            command = command.require_confinement();
        }
        let mut config = caplet_broker::Config::new(command);
        config.hosts = self.hosts.map_or(default_hosts, usize::from);
        config.builtins = match &self.config {
            Some(path) => caplet_broker::BuiltinConfig::load(path)?,
            None => caplet_broker::BuiltinConfig::from_env()?,
        };
        config.builtins.data_dir = self.data.clone();
        if let Some(url) = &self.store {
            config.builtins.set_store_url(url)?;
        }
        config.pool.cordon = self.cordon.is_some();
        for (name, value) in &self.limit_max {
            set_limit(&mut config.limits.maxima, name, *value).map_err(anyhow::Error::msg)?;
        }
        // A maximum below a built-in default lowers that default with it.
        let (d, m) = (&mut config.limits.defaults, &config.limits.maxima);
        d.memory_bytes = d.memory_bytes.min(m.memory_bytes);
        d.cpu_time_ms = d.cpu_time_ms.min(m.cpu_time_ms);
        d.wall_time_ms = d.wall_time_ms.min(m.wall_time_ms);
        d.stack_bytes = d.stack_bytes.min(m.stack_bytes);
        d.module_bytes = d.module_bytes.min(m.module_bytes);
        d.output_bytes = d.output_bytes.min(m.output_bytes);
        d.log_bytes = d.log_bytes.min(m.log_bytes);
        d.subrequests = d.subrequests.min(m.subrequests);
        d.calls_in_flight = d.calls_in_flight.min(m.calls_in_flight);
        d.pending_timers = d.pending_timers.min(m.pending_timers);
        for (name, value) in &self.limit_default {
            set_limit(&mut config.limits.defaults, name, *value).map_err(anyhow::Error::msg)?;
        }
        config
            .limits
            .check()
            .map_err(|e| anyhow::anyhow!("--limit-default: {e}"))?;
        Ok(config)
    }

    /// Whether a broker-side option was given (they mean nothing with
    /// `run --connect`).
    fn any_given(&self) -> bool {
        self.hosts.is_some()
            || self.config.is_some()
            || self.data.as_os_str() != caplet_broker::config::DEFAULT_DATA_DIR
            || self.store.is_some()
            || self.require_confinement
            || self.cordon.is_some()
            || !self.limit_default.is_empty()
            || !self.limit_max.is_empty()
    }
}

/// Runs the `caplet` command line; returns the process exit code.
pub fn main() -> ExitCode {
    no_huge_pages();
    let cli = Cli::parse();
    caplet::spin::set_limit(std::time::Duration::from_micros(cli.spin_us));
    let result = match cli.command {
        Command::IsolateHost(args) => args.run(),
        Command::Run(args) => block_on(run::run(args)),
        Command::Serve(args) => block_on(serve::serve(args)),
        Command::Types(args) => types::run(args),
        Command::Audit(args) => match audit::run(args) {
            Ok(code) => return code,
            Err(error) => Err(error),
        },
        Command::Mcp(args) => block_on(mcp::run(args)),
        Command::Store(args) => block_on(store::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a future on a single-threaded runtime inside a `LocalSet`.
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(caplet::spin::before_park)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the event loop: {e}"))?;
    tokio::task::LocalSet::new().block_on(&runtime, future)
}

/// A path argument that must name an existing file.
/// A call record as JSON, with the keys `caplet run --calls` prints (and
/// `caplet mcp`'s `execute` answers).
fn call_json(call: &caplet_client::CallRecord) -> serde_json::Value {
    serde_json::json!({
        "binding": call.binding,
        "interface": call.interface,
        "method": call.method,
        "start_us": call.start_us,
        "duration_us": call.duration_us,
        "params_bytes": call.params_bytes,
        "results_bytes": call.results_bytes,
        "outcome": call.outcome,
        "pipelined_on": call.pipelined_on,
    })
}

fn read_file(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {what} {}: {e}", path.display()))
}

/// Turns transparent huge pages off for this process and the processes it
/// starts (brokers, isolate-hosts). mimalloc asks for huge pages on its
/// arenas and purges freed memory after a delay; each later touch of a
/// purged range then faults in, and zeroes, a whole 2 MiB page. That was 8%
/// of the broker's CPU per cold load; without it a cold load was 5% faster
/// and memory per live worker steadier (caplet-bench). A kernel that refuses
/// leaves huge pages on, which only costs that time.
pub fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no
    // memory of ours.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// How often a serving broker lets the allocator give back what it freed.
pub const RECLAIM_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reclaims done so far in this process (tests watch it).
static RECLAIMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Gives the memory a broker freed back to the system, every `every`, for
/// as long as it runs. mimalloc purges a freed page only once its purge
/// delay (1 s) has passed *and* a later free comes along, so a broker that
/// goes quiet after a burst (a large answer refused, a storm of log lines)
/// would keep that memory. So `mi_collect(false)` purges what has been free
/// past the delay; it costs a walk of the thread's pages (microseconds), and
/// nothing when mimalloc is not the allocator. It must run on the broker's
/// own thread (mimalloc's heaps are per thread). SQLite allocates with the
/// C library's malloc, which keeps freed memory below its heap's top (a
/// 16 MiB file read is enough): with more than `TRIM_ABOVE` of it free,
/// `malloc_trim` returns it.
///
/// The beat comes from a thread of its own, not from a tokio timer: a timer
/// always pending in the broker's event loop doubled the cold load + first
/// invoke over the socket (190 → 360 µs, `caplet-bench --only cold`; the
/// loop's timer-wheel and timed `epoll_wait` on every park, with three
/// processes on two vCPUs), which a wake-up once a second does not.
pub async fn reclaim_freed_memory(every: std::time::Duration) {
    extern "C" {
        /// mimalloc's own `void mi_collect(bool force)` (`mimalloc.h`).
        fn mi_collect(force: bool);
    }
    let (beat, mut beats) = tokio::sync::mpsc::channel::<()>(1);
    let metronome = std::thread::Builder::new()
        .name("caplet-reclaim".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            // Ends with the receiver (the event loop is gone).
            if beat.blocking_send(()).is_err() {
                return;
            }
        });
    if metronome.is_err() {
        // No thread to spare: the memory is given back as mimalloc does.
        return;
    }
    while beats.recv().await.is_some() {
        // SAFETY: mi_collect takes no pointer and is safe to call at any
        // time from any thread.
        unsafe { mi_collect(false) };
        #[cfg(target_env = "gnu")]
        {
            // SAFETY: mallinfo2 and malloc_trim take no pointer of ours.
            if unsafe { libc::mallinfo2() }.fordblks > TRIM_ABOVE {
                // SAFETY: malloc_trim takes no pointer; it only returns
                // free heap memory to the system.
                unsafe { libc::malloc_trim(0) };
            }
        }
        RECLAIMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Free bytes in the C library's heap past which they are given back.
#[cfg(target_env = "gnu")]
const TRIM_ABOVE: usize = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    // Links mimalloc (`mi_collect`), as the `caplet` binary does.
    use mimalloc as _;

    #[test]
    fn reclaiming_keeps_no_timer_in_the_event_loop() {
        // An event loop without a time driver: a tokio timer panics in it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let before = RECLAIMS.load(Ordering::Relaxed);
            let every = std::time::Duration::from_millis(5);
            let task = tokio::task::spawn_local(reclaim_freed_memory(every));
            while RECLAIMS.load(Ordering::Relaxed) < before + 2 {
                assert!(!task.is_finished(), "the reclaim task ended");
                tokio::task::yield_now().await;
            }
            task.abort();
        });
    }
}
