//! The peers, measured in the same run: what a user would pick instead of
//! caplet. Each is found where `scripts/install-peers.sh` puts it (or where
//! the user points), and reported as missing otherwise — never faked.
//!
//! - fork+exec of `/bin/true`: the floor of any process-per-request sandbox.
//! - `bwrap --unshare-all` (bubblewrap) running `/bin/true`: a
//!   container-style sandbox start.
//! - Deno Workers (`@deno/linux-x64-glibc` from npm): one V8 isolate each,
//!   created with `deno: { permissions: "none" }`, driven by
//!   `bench/deno/peer.js` inside one Deno process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

use crate::report::Point;
use crate::stats::{Summary, Unit};

const DENO_PEER: &str = include_str!("../deno/peer.js");
const DENO_WORKER: &str = include_str!("../deno/worker.js");

/// Where `scripts/install-peers.sh` installs Deno, under the repository.
const DENO_IN_REPO: &str = "bench/peers/node_modules/@deno/linux-x64-glibc/deno";

/// Starts `program` with `args`, `n` times, and times each run to its exit.
fn process_starts(program: &Path, args: &[&str], n: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("starting {}", program.display()))?;
        samples.push(start.elapsed());
        anyhow::ensure!(status.success(), "{} failed: {status}", program.display());
    }
    Ok(Summary::times(samples))
}

/// fork+exec of `/bin/true`, `n` times.
pub fn fork_exec(n: usize) -> anyhow::Result<Summary> {
    process_starts(Path::new("/bin/true"), &[], n)
}

/// `bwrap --unshare-all --ro-bind / / /bin/true`, `n` times.
pub fn bwrap(program: &Path, n: usize) -> anyhow::Result<Summary> {
    process_starts(
        program,
        &["--unshare-all", "--ro-bind", "/", "/", "/bin/true"],
        n,
    )
}

/// `name` on `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The Deno binary: `explicit`, else the one the install script put in this
/// repository (looked up from the current directory and from where this
/// program was built), else `deno` on `PATH`.
pub fn find_deno(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return is_executable(path).then(|| path.to_path_buf());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    [PathBuf::from(DENO_IN_REPO), repo.join(DENO_IN_REPO)]
        .into_iter()
        .find(|candidate| is_executable(candidate))
        .or_else(|| on_path("deno"))
}

/// A Deno binary with the peer scripts written next to each other.
pub struct Deno {
    binary: PathBuf,
    dir: tempfile::TempDir,
}

/// Live Deno Workers: memory per worker and how many were created.
pub struct DenoDensity {
    pub per_worker: Summary,
    pub reached: usize,
}

impl Deno {
    pub fn new(binary: PathBuf) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("peer.js"), DENO_PEER)?;
        std::fs::write(dir.path().join("worker.js"), DENO_WORKER)?;
        Ok(Self { binary, dir })
    }

    /// `deno --version`'s first line.
    pub fn version(&self) -> anyhow::Result<String> {
        let out = Command::new(&self.binary).arg("--version").output()?;
        anyhow::ensure!(out.status.success(), "deno --version failed");
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string())
    }

    fn run(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let out = Command::new(&self.binary)
            .args(["run", "--quiet", "--unstable-worker-options"])
            .arg(format!("--allow-read={}", self.dir.path().display()))
            .arg(self.dir.path().join("peer.js"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "deno peer {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        serde_json::from_slice(&out.stdout).context("the deno peer's output is not JSON")
    }

    fn samples(value: &serde_json::Value, field: &str) -> anyhow::Result<Vec<f64>> {
        value[field]
            .as_array()
            .with_context(|| format!("no {field} in the deno peer's output"))?
            .iter()
            .map(|v| v.as_f64().context("a sample is not a number"))
            .collect()
    }

    /// new Worker + postMessage + reply + terminate, `n` times.
    pub fn cold(&self, n: usize) -> anyhow::Result<Summary> {
        let out = self.run(&["cold", &n.to_string()])?;
        Ok(Summary::of(Unit::Time, Self::samples(&out, "samples")?))
    }

    /// postMessage + reply to one live worker, `n` times.
    pub fn warm(&self, n: usize) -> anyhow::Result<Summary> {
        let out = self.run(&["warm", &n.to_string()])?;
        Ok(Summary::of(Unit::Time, Self::samples(&out, "samples")?))
    }

    /// fib(`arg`) in one live worker, `n` times.
    pub fn fib(&self, n: usize, arg: u32) -> anyhow::Result<Summary> {
        let out = self.run(&["fib", &n.to_string(), &arg.to_string()])?;
        Ok(Summary::of(Unit::Time, Self::samples(&out, "samples")?))
    }

    /// `clients` clients at once for `secs` seconds, each messaging its own
    /// live worker (`warm`) or creating, messaging and terminating workers
    /// (`cold`).
    pub fn throughput(&self, kind: &str, clients: usize, secs: f64) -> anyhow::Result<Point> {
        let out = self.run(&["throughput", &clients.to_string(), kind, &secs.to_string()])?;
        let rate = out["rate"]
            .as_f64()
            .context("no rate in the deno peer's output")?;
        let busy = out["cores_busy"].as_f64();
        crate::throughput::point(clients, rate, Self::samples(&out, "samples")?, busy)
    }

    /// `n` live idle workers.
    pub fn density(&self, n: usize) -> anyhow::Result<DenoDensity> {
        let out = self.run(&["density", &n.to_string()])?;
        Ok(DenoDensity {
            per_worker: Summary::of(Unit::Bytes, Self::samples(&out, "bytes_per_worker")?),
            reached: out["reached"].as_u64().unwrap_or(0) as usize,
        })
    }
}
