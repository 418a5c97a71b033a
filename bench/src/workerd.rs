//! The workerd peer: Cloudflare's own runtime (the npm `workerd` package's
//! prebuilt binary) running `bench/workerd/parent.js`, a parent worker with
//! a Worker Loader binding (`workerLoader`, the API behind Dynamic Workers,
//! enabled by `--experimental`). The bench writes the config (Cap'n Proto
//! text), hands workerd a listening Unix socket (`--socket-fd`, so there is
//! nothing to wait for), and drives the parent over HTTP/1.1 with hyper.
//! Each request does one measured thing and answers a value the bench
//! checks.
//!
//! workerd enforces no CPU or memory limit on a dynamic worker in this
//! configuration (those limits belong to Cloudflare's production runtime),
//! and runs every isolate on one thread of one process.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::memory;
use crate::peers;
use crate::report::Point;
use crate::stats::{Summary, Unit};
use crate::throughput::{self, Kind};

const PARENT: &str = include_str!("../workerd/parent.js");

/// Where `scripts/install-peers.sh` installs workerd, under the repository.
const IN_REPO: [&str; 2] = [
    "bench/peers/node_modules/@cloudflare/workerd-linux-64/bin/workerd",
    "bench/peers/node_modules/workerd/bin/workerd",
];

/// The config: one service, the parent worker, with the loader binding and
/// the flag that gives it `ctx.exports` (its `Bench` entrypoint, passed to
/// dynamic workers as a capability).
const CONFIG: &str = r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "parent", worker = .parent) ],
  sockets = [ (name = "http", address = "unix:workerd.sock", http = (), service = "parent") ],
);

const parent :Workerd.Worker = (
  modules = [ (name = "parent.js", esModule = embed "parent.js") ],
  compatibilityDate = "2025-06-01",
  compatibilityFlags = ["experimental", "enable_ctx_exports"],
  bindings = [ (name = "LOADER", workerLoader = ()) ],
);
"#;

/// Live dynamic workers loaded per step of the memory measurement.
const DENSITY_BATCH: usize = 50;

/// The workerd binary: `explicit`, else the one the install script put in
/// this repository, else `workerd` on `PATH`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return peers::is_executable(path).then(|| path.to_path_buf());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    IN_REPO
        .iter()
        .flat_map(|p| [PathBuf::from(p), repo.join(p)])
        .find(|candidate| peers::is_executable(candidate))
        .or_else(|| peers::on_path("workerd"))
}

/// `workerd --version`.
pub fn version(binary: &Path) -> anyhow::Result<String> {
    let out = Command::new(binary).arg("--version").output()?;
    anyhow::ensure!(out.status.success(), "workerd --version failed");
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A running `workerd serve` with the parent worker.
pub struct Workerd {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Workerd {
    pub fn start(binary: &Path) -> anyhow::Result<Self> {
        // workerd runs in the config's folder: the binary's path must not
        // be relative.
        let binary = &std::fs::canonicalize(binary)?;
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("parent.js"), PARENT)?;
        std::fs::write(dir.path().join("config.capnp"), CONFIG)?;
        let socket = dir.path().join("workerd.sock");
        // Listening before workerd starts: requests wait in the backlog.
        let listener = UnixListener::bind(&socket)?;
        let fd = listener.as_raw_fd();
        let log = std::fs::File::create(dir.path().join("workerd.log"))?;
        let mut command = Command::new(binary);
        command
            .current_dir(dir.path())
            .args([
                "serve",
                "--experimental",
                "config.capnp",
                "--socket-fd",
                "http=3",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: between fork and exec only async-signal-safe calls: dup2
        // and fcntl on a descriptor this process owns.
        unsafe {
            command.pre_exec(move || {
                if fd == 3 {
                    let flags = libc::fcntl(3, libc::F_GETFD);
                    if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        drop(listener);
        Ok(Self { child, socket, dir })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What workerd printed, for an error message.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("workerd.log")).unwrap_or_default()
    }

    pub async fn connect(&self) -> anyhow::Result<Http> {
        Http::connect(&self.socket).await
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 connection to the parent worker.
pub struct Http {
    sender: SendRequest<Empty<Bytes>>,
}

impl Http {
    async fn connect(socket: &Path) -> anyhow::Result<Self> {
        let stream = tokio::net::UnixStream::connect(socket).await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(connection);
        Ok(Self { sender })
    }

    /// GETs `path` and returns the body of a 200 answer.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<String> {
        let request = hyper::Request::get(path)
            .header("host", "bench")
            .body(Empty::<Bytes>::new())?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        anyhow::ensure!(
            status.is_success(),
            "workerd answered {path} with {status}: {body}"
        );
        Ok(body)
    }

    /// GETs `path`, checks the body is `want`, and returns the time taken.
    async fn timed(&mut self, path: &str, want: &str) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let body = self.get(path).await?;
        let elapsed = start.elapsed();
        crate::measure::expect(&body, want)?;
        Ok(elapsed)
    }
}

/// Every workerd measurement of one run.
pub struct Results {
    pub noop: anyhow::Result<Summary>,
    pub cold: anyhow::Result<Summary>,
    pub warm: anyhow::Result<Summary>,
    pub warm_in_parent: anyhow::Result<Summary>,
    pub fib: anyhow::Result<Summary>,
    pub calls: anyhow::Result<Summary>,
    pub density: anyhow::Result<Density>,
    pub curves: Vec<(Kind, Vec<Point>)>,
}

/// Live dynamic workers: RSS growth of workerd per worker, and how many.
pub struct Density {
    pub per_worker: Summary,
    pub reached: usize,
    pub stopped: String,
}

/// Sizes of the workerd measurements.
pub struct Plan {
    pub n: usize,
    pub fib_samples: usize,
    pub fib_arg: u32,
    pub call_samples: usize,
    pub calls: u32,
    pub inflight: u32,
    pub max_workers: usize,
    pub density_budget: Duration,
    pub throughput_window: Option<Duration>,
}

/// Runs every measurement against one workerd.
pub async fn measure(workerd: &Workerd, plan: &Plan) -> anyhow::Result<Results> {
    let mut http = workerd.connect().await?;
    // The first request waits for workerd to start.
    http.get("/noop")
        .await
        .with_context(|| format!("workerd did not answer: {}", workerd.log().trim()))?;
    let n = plan.n;
    eprintln!("  HTTP round trip, cold load, warm call…");
    let noop = repeat(n, async |_| http.timed("/noop", "noop").await).await;
    let cold = repeat(n, async |i| {
        http.timed(&format!("/cold?i={i}"), &i.to_string()).await
    })
    .await;
    let warm = repeat(n, async |i| {
        http.timed(&format!("/warm?n=1&i={i}"), &i.to_string())
            .await
    })
    .await;
    const BATCH: u32 = 100;
    let warm_in_parent = repeat(n / 10 + 10, async |i| {
        let t = http
            .timed(&format!("/warm?n={BATCH}&i={i}"), &i.to_string())
            .await?;
        Ok(t / BATCH)
    })
    .await;
    eprintln!("  fib({})…", plan.fib_arg);
    let want = crate::measure::fib_value(plan.fib_arg).to_string();
    let fib_path = format!("/fib?n={}", plan.fib_arg);
    // The first request loads the worker.
    http.timed(&fib_path, &want).await?;
    let fib = repeat(plan.fib_samples, async |_| {
        http.timed(&fib_path, &want).await
    })
    .await;
    eprintln!("  capability calls from a dynamic worker to its parent…");
    let calls = calls(&mut http, plan).await;
    eprintln!(
        "  live dynamic workers (up to {}, {} s at most)…",
        plan.max_workers,
        plan.density_budget.as_secs()
    );
    let density = density(
        &mut http,
        workerd.pid(),
        plan.max_workers,
        plan.density_budget,
    )
    .await;
    drop(http);
    let mut curves = Vec::new();
    if let Some(window) = plan.throughput_window {
        for kind in [Kind::Warm, Kind::Cold, Kind::Calls] {
            eprintln!("  throughput across concurrency: {}…", kind.name());
            let mut points = Vec::new();
            for clients in throughput::CLIENTS {
                match concurrent(workerd, kind, clients, window).await {
                    Ok(point) => points.push(point),
                    Err(error) => {
                        eprintln!(
                            "  workerd {} with {clients} clients failed: {error:#}",
                            kind.name()
                        );
                        break;
                    }
                }
            }
            curves.push((kind, points));
        }
    }
    Ok(Results {
        noop,
        cold,
        warm,
        warm_in_parent,
        fib,
        calls,
        density,
        curves,
    })
}

/// `n` timed runs of `op` (given the run's index).
async fn repeat(
    n: usize,
    mut op: impl AsyncFnMut(usize) -> anyhow::Result<Duration>,
) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        samples.push(op(i).await?);
    }
    Ok(Summary::times(samples))
}

/// Calls per second from a dynamic worker to the parent's `Bench`
/// entrypoint, `inflight` at once; the first request is a warm-up.
async fn calls(http: &mut Http, plan: &Plan) -> anyhow::Result<Summary> {
    let path = format!("/calls?n={}&inflight={}", plan.calls, plan.inflight);
    let want = plan.calls.to_string();
    http.timed(&path, &want).await?;
    let mut rates = Vec::with_capacity(plan.call_samples);
    for _ in 0..plan.call_samples {
        let t = http.timed(&path, &want).await?;
        rates.push(f64::from(plan.calls) / t.as_secs_f64());
    }
    Ok(Summary::of(Unit::PerSecond, rates))
}

/// Loads dynamic workers in batches (each run once, and kept: the loader
/// holds workers by id), measuring workerd's RSS growth per batch, until
/// `max` are live, `budget` has passed, or less than 2 GiB of memory is
/// left; then checks that none was dropped.
async fn density(
    http: &mut Http,
    pid: u32,
    max: usize,
    budget: Duration,
) -> anyhow::Result<Density> {
    let start = Instant::now();
    // The first batch warms the loader; it is not counted.
    let mut live = 0;
    let mut per_worker = Vec::new();
    let mut stopped = format!("reached --workerd-workers {max}");
    while live < max {
        if start.elapsed() > budget {
            stopped = format!("stopped after {} s (--workerd-budget)", budget.as_secs());
            break;
        }
        let available = memory::available()?;
        if available < 2 << 30 {
            stopped = format!("stopped with {} MiB of memory left", available >> 20);
            break;
        }
        let size = DENSITY_BATCH.min(max - live);
        let before = memory::rss(pid)?;
        let anew = http
            .get(&format!("/load?from={live}&to={}", live + size))
            .await?;
        anyhow::ensure!(
            anew == size.to_string(),
            "workerd loaded {anew} of {size} new workers"
        );
        let grown = memory::rss(pid)?.saturating_sub(before) as f64;
        if live > 0 {
            per_worker.push(grown / size as f64);
        }
        live += size;
    }
    anyhow::ensure!(
        !per_worker.is_empty(),
        "too few workers for a memory sample ({live})"
    );
    let anew = http.get(&format!("/check?from=0&to={live}")).await?;
    anyhow::ensure!(
        anew == "0",
        "workerd dropped {anew} of {live} live dynamic workers"
    );
    Ok(Density {
        per_worker: Summary::of(Unit::Bytes, per_worker),
        reached: live,
        stopped,
    })
}

/// `clients` HTTP connections at once, each doing `kind` for `window`.
async fn concurrent(
    workerd: &Workerd,
    kind: Kind,
    clients: usize,
    window: Duration,
) -> anyhow::Result<Point> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut http = workerd.connect().await?;
        // Warm: each client's first request loads what it uses.
        match kind {
            Kind::Warm => http.timed("/warm?n=1&i=0", "0").await?,
            Kind::Cold => http.timed("/noop", "noop").await?,
            Kind::Calls => call_op(&mut http).await?.0,
        };
        connections.push(http);
    }
    // This process (the clients) and workerd, its child.
    let clock = crate::measure::CpuClock::new()?;
    let cpu_start = clock.now();
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::with_capacity(clients);
    for mut http in connections {
        tasks.push(tokio::task::spawn_local(async move {
            let mut units = 0u64;
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let (t, n) = match kind {
                    Kind::Warm => (
                        http.timed(&format!("/warm?n=1&i={i}"), &i.to_string())
                            .await?,
                        1,
                    ),
                    Kind::Cold => (
                        http.timed(&format!("/cold?i={i}"), &i.to_string()).await?,
                        1,
                    ),
                    Kind::Calls => call_op(&mut http).await?,
                };
                units += n;
                latencies.push(t.as_secs_f64());
            }
            anyhow::Ok((units, latencies))
        }));
    }
    let mut units = 0;
    let mut latencies = Vec::new();
    for task in tasks {
        let (n, mut l) = task.await??;
        units += n;
        latencies.append(&mut l);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let busy = (clock.now() - cpu_start) / elapsed;
    throughput::point(clients, units as f64 / elapsed, latencies, Some(busy))
}

/// One invocation making `CALLS_PER_OP` capability calls, as caplet's.
async fn call_op(http: &mut Http) -> anyhow::Result<(Duration, u64)> {
    let calls = throughput::CALLS_PER_OP;
    let path = format!("/calls?n={calls}&inflight={}", throughput::CALLS_INFLIGHT);
    Ok((
        http.timed(&path, &calls.to_string()).await?,
        u64::from(calls),
    ))
}
