//! Test support: the `caplet` binary, a real `caplet serve` process on a
//! temporary socket, and a single-threaded runtime for the client library.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a test waits for a line from a server before failing.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(20);

/// The `caplet` binary of this package, which cargo builds before the
/// tests that use it.
pub fn caplet_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_caplet"))
}

/// A `caplet serve` process on a temporary socket, stopped on drop.
pub struct Server {
    pub child: Child,
    pub socket: PathBuf,
    /// `127.0.0.1:PORT` when started with `--listen`.
    pub tcp: Option<String>,
    /// `127.0.0.1:PORT` of the HTTP endpoints when started with `--metrics`.
    pub metrics: Option<String>,
    stderr: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `caplet serve --hosts N` and waits for its READY line.
    pub fn start(hosts: u16) -> Server {
        Self::start_with(hosts, &[])
    }

    /// Starts `caplet serve --hosts N --socket TEMP EXTRA…` and waits for its
    /// READY line, and for the `READY tcp://…` line too when `extra` has
    /// `--listen`.
    pub fn start_with(hosts: u16, extra: &[&str]) -> Server {
        Self::start_command(hosts, extra, |_| {})
    }

    /// Like [`Server::start_with`], with `configure` applied to the command
    /// first (e.g. to set resource limits in the child).
    pub fn start_command(
        hosts: u16,
        extra: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("caplet.sock");
        let mut command = Command::new(caplet_bin());
        command
            .args(["serve", "--hosts", &hosts.to_string()])
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().expect("spawn caplet serve");
        let stderr = forward_lines(child.stderr.take().expect("stderr"));
        let stdout = forward_lines(child.stdout.take().expect("stdout"));
        let ready = stdout
            .recv_timeout(LINE_TIMEOUT)
            .expect("no READY line from caplet serve");
        assert_eq!(ready, format!("READY {}", socket.display()));
        let tcp = extra.contains(&"--listen").then(|| {
            let ready = stdout
                .recv_timeout(LINE_TIMEOUT)
                .expect("no READY tcp:// line from caplet serve");
            ready
                .strip_prefix("READY tcp://")
                .unwrap_or_else(|| panic!("unexpected line {ready:?}"))
                .to_string()
        });
        let metrics = extra.contains(&"--metrics").then(|| {
            let ready = stdout
                .recv_timeout(LINE_TIMEOUT)
                .expect("no READY http:// line from caplet serve");
            ready
                .strip_prefix("READY http://")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .unwrap_or_else(|| panic!("unexpected line {ready:?}"))
                .to_string()
        });
        Server {
            child,
            socket,
            tcp,
            metrics,
            stderr,
            _dir: dir,
        }
    }

    /// The TCP address (`127.0.0.1:PORT`) of a server started with `--listen`.
    pub fn tcp(&self) -> &str {
        self.tcp.as_deref().expect("started without --listen")
    }

    /// Whether the server process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for a stderr line containing `needle`; returns it.
    pub fn wait_stderr(&self, needle: &str) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(LINE_TIMEOUT)
                .unwrap_or_else(|_| panic!("no stderr line containing {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Whether a stderr line containing `needle` has arrived by now (lines
    /// read before it are consumed); never blocks, for async tests that
    /// must keep their event loop running while they wait.
    pub fn stderr_arrived(&self, needle: &str) -> bool {
        while let Ok(line) = self.stderr.try_recv() {
            if line.contains(needle) {
                return true;
            }
        }
        false
    }

    /// The stderr lines that have arrived by now and were not read yet;
    /// never blocks.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    /// The pids of this server's isolate-hosts (its child processes).
    pub fn host_pids(&self) -> Vec<i32> {
        children_of(self.child.id() as i32)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        signal(self.child.id() as i32, libc::SIGTERM);
        self.child.wait().expect("wait for caplet serve")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Forwards a child's output lines to a channel (and, when the environment
/// variable `CAPLET_TEST_ECHO` is set, to this test's stderr, for debugging).
fn forward_lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let echo = std::env::var_os("CAPLET_TEST_ECHO").is_some();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if echo {
                eprintln!("server: {line}");
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Child pids of `pid`, from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, …
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let mut fields = after.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(pid) && state != Some("Z") {
            found.push(child);
        }
    }
    found.sort_unstable();
    found
}

/// Sends a signal to a process.
pub fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().next() != Some("Z")
        })
        .unwrap_or(false)
}

/// Runs a client-library future on a current-thread runtime inside a LocalSet.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    tokio::task::LocalSet::new().block_on(&runtime, future)
}

/// Runs `caplet` with `args`; returns (exit code, stdout, stderr).
pub fn caplet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(caplet_bin())
        .args(args)
        .output()
        .expect("run caplet");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `source` into a fresh temp dir as `name`; returns the dir and path.
pub fn script(name: &str, source: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, source).expect("write script");
    (dir, path)
}
