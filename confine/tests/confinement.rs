//! End-to-end proof that [`caplet_confine::confine`] is real.
//!
//! Confinement is irreversible, so the test runner never confines itself:
//! every case re-executes this binary with `CAPLET_CONFINE_SCENARIO` set; the
//! child (single-threaded, like an isolate-host) runs that scenario, confines
//! itself and prints `key=value` lines on stdout, which the parent asserts.
//! This target has its own `main` (`harness = false`); like libtest, it
//! takes name filters (substrings, or whole names with `--exact`) and
//! `--list`.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use caplet_confine::{confine, Options, Protection};

const SCENARIO_ENV: &str = "CAPLET_CONFINE_SCENARIO";
const PARENT_ENV: &str = "CAPLET_CONFINE_PARENT";

fn main() {
    if let Ok(scenario) = std::env::var(SCENARIO_ENV) {
        child(&scenario);
        return;
    }
    let cases: &[(&str, fn())] = &[
        (
            "confined_child_is_denied_the_world",
            confined_child_is_denied_the_world,
        ),
        ("tokio_workload_runs_confined", tokio_workload_runs_confined),
        ("quickjs_runs_confined", quickjs_runs_confined),
        (
            "parent_death_kills_the_confined_child",
            parent_death_kills_the_confined_child,
        ),
        ("wrong_parent_is_an_error", wrong_parent_is_an_error),
        (
            "require_all_matches_the_kernel",
            require_all_matches_the_kernel,
        ),
        ("failures_stay_diagnosable", failures_stay_diagnosable),
        (
            "foreign_architecture_calls_kill",
            foreign_architecture_calls_kill,
        ),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in cases {
            println!("{name}: test");
        }
        return;
    }
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, case) in cases {
        let selected = filters.is_empty()
            || filters.iter().any(|f| {
                if exact {
                    name == f
                } else {
                    name.contains(f.as_str())
                }
            });
        if !selected {
            continue;
        }
        ran += 1;
        match std::panic::catch_unwind(case) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

// ============================================================================
// Parent side: spawn a scenario, collect its lines, assert.

/// The running kernel's Landlock ABI (0 without Landlock).
fn landlock_abi() -> i64 {
    // SAFETY: the version query takes a null attribute and size 0.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    v.max(0)
}

fn scenario(name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(SCENARIO_ENV, name)
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

fn parse(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(cmd: &mut Command) -> BTreeMap<String, String> {
    let out = cmd.output().unwrap();
    let lines = parse(&out.stdout);
    assert!(
        out.status.success(),
        "child failed with {}: {lines:#?}",
        out.status
    );
    lines
}

fn expect(lines: &BTreeMap<String, String>, key: &str, want: &str) {
    assert_eq!(
        lines.get(key).map(String::as_str),
        Some(want),
        "{key} in {lines:#?}"
    );
}

fn confined_child_is_denied_the_world() {
    let lines = run(&mut scenario("denials"));
    expect(&lines, "seccomp_status", "2");
    expect(&lines, "no_new_privs_status", "1");
    expect(&lines, "seccomp", "applied");
    for key in [
        "open_existing",
        "open_proc",
        "create",
        "socket_inet",
        "socket_unix",
        "socketpair",
        "connect_tcp",
        "bind_tcp",
        "connect_unix",
        "execve",
        "spawn",
        "fork",
        "clone_thread",
        "mmap_exec",
        "mprotect_exec",
        "pkey_mprotect",
        "memfd_create",
        "io_uring_setup",
        "ptrace",
        "process_vm_readv",
        "unshare",
        "kill_parent",
        "prctl",
        "raise_nofile",
        "personality",
        "bpf",
        "userfaultfd",
        "perf_event_open",
        "statx",
    ] {
        expect(&lines, key, "EPERM");
    }
    expect(&lines, "thread", "failed");
    expect(&lines, "mmap_rw", "ok");
    expect(&lines, "pread_status", "ok");
    expect(&lines, "stderr", "ok");
    // Soft and hard limits, as the kernel sees them.
    expect(&lines, "limit_core", "0 0");
    expect(&lines, "limit_as", "4294967296 4294967296");
    let highest: u64 = lines["highest_fd"].parse().unwrap();
    let max_fds = format!("{}", highest + 1 + 4);
    expect(&lines, "max_fds", &max_fds);
    expect(&lines, "limit_nofile", &format!("{max_fds} {max_fds}"));
    if landlock_abi() >= 1 {
        expect(&lines, "landlock_filesystem", "applied");
    }
    if landlock_abi() >= 4 {
        expect(&lines, "landlock_network", "applied");
    }
    if landlock_abi() >= 6 {
        expect(&lines, "landlock_scopes", "applied");
    }
}

fn tokio_workload_runs_confined() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut child = scenario("workload")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    // Echo everything back until the child shuts its side down.
    let mut sock = ours;
    let mut buf = vec![0u8; 64 * 1024];
    let mut echoed = 0usize;
    loop {
        let n = sock.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        sock.write_all(&buf[..n]).unwrap();
        echoed += n;
    }
    drop(sock);
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let lines = parse(&stdout);
    assert!(status.success(), "child failed with {status}: {lines:#?}");
    assert_eq!(echoed, 1 << 20);
    expect(&lines, "seccomp", "applied");
    expect(&lines, "echo", "1048576");
    expect(&lines, "getrandom", "32");
    expect(&lines, "timers", "ok");
    expect(&lines, "local_tasks", "100");
    expect(&lines, "alloc_100mb", "ok");
    expect(&lines, "small_allocs", "ok");
    expect(&lines, "seccomp_status", "2");
}

fn quickjs_runs_confined() {
    let lines = run(&mut scenario("quickjs"));
    expect(&lines, "seccomp", "applied");
    expect(
        &lines,
        "js",
        "2000000:3999998:20000000:1,22,333:false:1970-01-01T00:00:00.000Z:TypeError:object",
    );
    expect(&lines, "js_oom", "error");
    expect(&lines, "js_stack_overflow", "RangeError");
    expect(&lines, "seccomp_status", "2");
}

/// Kills what a parent-death test started, however the test ends.
struct Reaper {
    middle: std::process::Child,
    grandchild: Option<libc::pid_t>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.grandchild {
            // SAFETY: plain kill of a pid the middle reported; harmless if gone.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.middle.kill();
        let _ = self.middle.wait();
    }
}

/// Reads what is available within `timeout_ms`: `None` on timeout, else the
/// number of bytes appended (0 at EOF).
fn read_within(
    pipe: &mut std::process::ChildStdout,
    seen: &mut Vec<u8>,
    timeout_ms: i32,
) -> Option<usize> {
    let mut pfd = libc::pollfd {
        fd: pipe.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd.
    if unsafe { libc::poll(&mut pfd, 1, timeout_ms) } == 0 {
        return None;
    }
    let mut chunk = [0u8; 256];
    let n = pipe.read(&mut chunk).unwrap();
    seen.extend_from_slice(&chunk[..n]);
    Some(n)
}

fn parent_death_kills_the_confined_child() {
    // test → middle → grandchild. The grandchild inherits the middle's stdout
    // (our pipe), confines itself with the middle as expected parent, says so,
    // and blocks forever. Killing the middle must kill the grandchild: the
    // pipe reaches EOF only when both have exited. The waits are bounded so
    // that a failure fails instead of hanging. As a child subreaper, this
    // process inherits the orphaned grandchild and can reap it.
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer.
    let subreaper = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(subreaper, 0);
    let mut reaper = Reaper {
        middle: scenario("middle").spawn().unwrap(),
        grandchild: None,
    };
    let mut stdout = reaper.middle.stdout.take().unwrap();
    let mut seen = Vec::new();
    loop {
        let lines = parse(&seen);
        reaper.grandchild = lines.get("grandchild_pid").map(|p| p.parse().unwrap());
        if reaper.grandchild.is_some() && lines.contains_key("grandchild") {
            break;
        }
        match read_within(&mut stdout, &mut seen, 30_000) {
            None => panic!("the grandchild did not confine itself: {lines:?}"),
            Some(0) => panic!("eof before the grandchild confined: {lines:?}"),
            Some(_) => {}
        }
    }
    assert_eq!(parse(&seen)["grandchild"], "confined");
    reaper.middle.kill().unwrap();
    reaper.middle.wait().unwrap();
    loop {
        match read_within(&mut stdout, &mut seen, 30_000) {
            None => panic!("grandchild {:?} survived its parent", reaper.grandchild),
            Some(0) => break,
            Some(_) => {}
        }
    }
    // EOF: the grandchild's descriptors are closed, so it is dead or dying;
    // reap it and check that SIGKILL ended it.
    let pid = reaper.grandchild.take().unwrap();
    let mut status = 0;
    // SAFETY: `status` is a valid int; `pid` is our (adopted) child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
        "grandchild ended with status {status:#x}: {:?}",
        parse(&seen)
    );
}

fn wrong_parent_is_an_error() {
    let lines = run(&mut scenario("wrong_parent"));
    let error = &lines["error"];
    assert!(
        error.starts_with("parent 1 is gone (parent is now "),
        "{error}"
    );
}

fn require_all_matches_the_kernel() {
    let lines = run(&mut scenario("require_all"));
    if landlock_abi() >= 6 {
        expect(&lines, "result", "ok");
    } else {
        assert!(lines["result"].starts_with("required protections missing: landlock"));
    }
}

fn failures_stay_diagnosable() {
    use std::os::unix::process::ExitStatusExt;
    // A panic prints its message and exits with 101; abort() and a stack
    // overflow end in SIGABRT (tgkill to itself), not in a seccomp kill.
    for (name, code, signal, message) in [
        ("panic", Some(101), None, "boom after confinement"),
        ("abort", None, Some(libc::SIGABRT), ""),
        (
            "stack_overflow",
            None,
            Some(libc::SIGABRT),
            "has overflowed its stack",
        ),
    ] {
        let out = scenario(name).stderr(Stdio::piped()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), code, "{name}: {}\n{stderr}", out.status);
        assert_eq!(
            out.status.signal(),
            signal,
            "{name}: {}\n{stderr}",
            out.status
        );
        assert!(stderr.contains(message), "{name}: {stderr}");
        expect(&parse(&out.stdout), "seccomp", "applied");
    }
}

fn foreign_architecture_calls_kill() {
    use std::os::unix::process::ExitStatusExt;
    // Control: without confinement, a 32-bit call works where the kernel has
    // compat support (x86_64 only; elsewhere the scenario prints "skipped").
    let control = scenario("compat_call").output().unwrap();
    let lines = parse(&control.stdout);
    if !control.status.success() || lines.get("compat_getpid").map(String::as_str) != Some("ok") {
        println!("note: no 32-bit system calls here, nothing to check");
        return;
    }
    let confined = scenario("compat_call_confined").output().unwrap();
    assert_eq!(
        confined.status.signal(),
        Some(libc::SIGSYS),
        "{}: {:?}",
        confined.status,
        parse(&confined.stdout)
    );
    expect(&parse(&confined.stdout), "seccomp", "applied");
}

// ============================================================================
// Child side.

fn out(key: &str, value: impl std::fmt::Display) {
    // Write straight to fd 1; the line must be complete before we may die.
    let line = format!("{key}={value}\n");
    std::io::stdout().write_all(line.as_bytes()).unwrap();
    std::io::stdout().flush().unwrap();
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".to_string(),
        libc::EACCES => "EACCES".to_string(),
        libc::ENOSYS => "ENOSYS".to_string(),
        libc::EINVAL => "EINVAL".to_string(),
        n => format!("errno {n}"),
    }
}

/// "ok" for a non-negative return value, else the errno's name.
fn rc(value: i64) -> String {
    if value >= 0 {
        "ok".to_string()
    } else {
        errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

fn io_result<T>(result: std::io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => e
            .raw_os_error()
            .map(errno_name)
            .unwrap_or_else(|| e.to_string()),
    }
}

fn parent_pid() -> libc::pid_t {
    std::env::var(PARENT_ENV).unwrap().parse().unwrap()
}

/// Confines with the defaults and prints what was applied.
fn confine_now(require_all: bool) {
    let opts = Options {
        require_all,
        ..Options::new(parent_pid())
    };
    let report = confine(&opts).unwrap();
    for p in &report.applied {
        let key = match p {
            Protection::LandlockFilesystem => "landlock_filesystem",
            Protection::LandlockNetwork => "landlock_network",
            Protection::LandlockScopes => "landlock_scopes",
            Protection::Seccomp => "seccomp",
            _ => continue,
        };
        out(key, "applied");
    }
    out("highest_fd", report.open_fds.last().unwrap());
    out("max_fds", report.max_fds);
    for missing in &report.missing {
        eprintln!("confine: {missing}");
    }
}

/// Re-reads `/proc/self/status` through a descriptor opened before
/// confinement and prints its seccomp and no_new_privs fields.
fn print_status(status: &std::fs::File) {
    let mut buf = vec![0u8; 16 * 1024];
    let n = status.read_at(&mut buf, 0).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Seccomp:\t") {
            out("seccomp_status", v);
        }
        if let Some(v) = line.strip_prefix("NoNewPrivs:\t") {
            out("no_new_privs_status", v);
        }
    }
    out("pread_status", "ok");
}

/// Prints the soft and hard limits that `confine` sets, read through a
/// descriptor on `/proc/self/limits` opened before confinement.
fn print_limits(limits: &std::fs::File) {
    let mut buf = vec![0u8; 16 * 1024];
    let n = limits.read_at(&mut buf, 0).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    for (prefix, key) in [
        ("Max core file size", "limit_core"),
        ("Max open files", "limit_nofile"),
        ("Max address space", "limit_as"),
    ] {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
        let fields: Vec<&str> = line[prefix.len()..].split_whitespace().collect();
        out(key, format!("{} {}", fields[0], fields[1]));
    }
}

fn child(scenario: &str) {
    match scenario {
        "denials" => denials(),
        "workload" => workload(),
        "quickjs" => quickjs(),
        "middle" => middle(),
        "grandchild" => grandchild(),
        "wrong_parent" => {
            let error = confine(&Options::new(1)).unwrap_err();
            out("error", error);
        }
        "require_all" => {
            let result = confine(&Options {
                require_all: true,
                ..Options::new(parent_pid())
            });
            match result {
                Ok(_) => out("result", "ok"),
                Err(e) => out("result", e),
            }
        }
        "panic" => {
            confine_now(false);
            panic!("boom after confinement");
        }
        "abort" => {
            confine_now(false);
            std::process::abort();
        }
        "stack_overflow" => {
            confine_now(false);
            out("depth", recurse(0));
        }
        "compat_call" => out("compat_getpid", compat_getpid()),
        "compat_call_confined" => {
            confine_now(false);
            out("compat_getpid", compat_getpid());
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// getpid through the 32-bit `int 0x80` entry: "ok" if it returned our pid.
#[cfg(target_arch = "x86_64")]
fn compat_getpid() -> &'static str {
    let ret: i64;
    // SAFETY: i386 getpid (20) takes no arguments and only clobbers eax.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("rax") 20i64 => ret, options(nostack));
    }
    if ret == i64::from(std::process::id()) {
        "ok"
    } else {
        "failed"
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn compat_getpid() -> &'static str {
    "skipped"
}

/// Recurses until the stack overflows.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    if frame[0] == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + frame[7]
}

fn sockaddr_in(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    }
}

fn denials() {
    // Opened before confinement: the status file and two unconnected sockets.
    let status = std::fs::File::open("/proc/self/status").unwrap();
    let limits = std::fs::File::open("/proc/self/limits").unwrap();
    // SAFETY: plain socket creation; the results are owned below.
    let tcp = unsafe { OwnedFd::from_raw_fd(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0)) };
    // SAFETY: as above.
    let unix = unsafe { OwnedFd::from_raw_fd(libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0)) };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    confine_now(false);

    print_limits(&limits);
    out(
        "open_existing",
        io_result(std::fs::File::open("/etc/hostname")),
    );
    out(
        "open_proc",
        io_result(std::fs::File::open("/proc/self/maps")),
    );
    out(
        "create",
        io_result(std::fs::File::create("/tmp/caplet-confine-must-not-exist")),
    );
    // SAFETY: the calls below take plain values or pointers to live locals.
    unsafe {
        out(
            "socket_inet",
            rc(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0).into()),
        );
        out(
            "socket_unix",
            rc(libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).into()),
        );
        let mut pair = [0; 2];
        out(
            "socketpair",
            rc(libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr()).into()),
        );
        let addr = sockaddr_in(port);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let ptr = &addr as *const libc::sockaddr_in as *const libc::sockaddr;
        out(
            "connect_tcp",
            rc(libc::connect(tcp.as_raw_fd(), ptr, len).into()),
        );
        let any = sockaddr_in(0);
        let any_ptr = &any as *const libc::sockaddr_in as *const libc::sockaddr;
        out(
            "bind_tcp",
            rc(libc::bind(tcp.as_raw_fd(), any_ptr, len).into()),
        );
        let mut un: libc::sockaddr_un = std::mem::zeroed();
        un.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in un.sun_path.iter_mut().zip(b"/tmp/caplet-confine.sock") {
            *dst = *src as libc::c_char;
        }
        let un_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let un_ptr = &un as *const libc::sockaddr_un as *const libc::sockaddr;
        out(
            "connect_unix",
            rc(libc::connect(unix.as_raw_fd(), un_ptr, un_len).into()),
        );

        let path = CString::new("/bin/true").unwrap();
        let argv = [path.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        out(
            "execve",
            rc(libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()).into()),
        );
        out("spawn", io_result(Command::new("/bin/true").spawn()));
        let pid = libc::fork();
        if pid == 0 {
            libc::_exit(0);
        }
        out("fork", rc(pid.into()));
        out(
            "clone_thread",
            rc(libc::syscall(
                libc::SYS_clone,
                libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND,
                0,
                0,
                0,
                0,
            )),
        );

        let exec = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        out(
            "mmap_exec",
            rc(if exec == libc::MAP_FAILED { -1 } else { 0 }),
        );
        let rw = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        out("mmap_rw", rc(if rw == libc::MAP_FAILED { -1 } else { 0 }));
        out(
            "mprotect_exec",
            rc(libc::mprotect(rw, 4096, libc::PROT_READ | libc::PROT_EXEC).into()),
        );
        out(
            "pkey_mprotect",
            rc(libc::syscall(
                libc::SYS_pkey_mprotect,
                rw,
                4096,
                libc::PROT_READ | libc::PROT_EXEC,
                -1,
            )),
        );
        let name = CString::new("x").unwrap();
        out(
            "memfd_create",
            rc(libc::syscall(libc::SYS_memfd_create, name.as_ptr(), 0)),
        );
        let mut params = [0u8; 120];
        out(
            "io_uring_setup",
            rc(libc::syscall(
                libc::SYS_io_uring_setup,
                1,
                params.as_mut_ptr(),
            )),
        );
        out(
            "ptrace",
            rc(libc::syscall(
                libc::SYS_ptrace,
                libc::PTRACE_TRACEME,
                0,
                0,
                0,
            )),
        );
        let mut byte = 0u8;
        let local = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 1,
        };
        let remote = libc::iovec {
            iov_base: (&byte as *const u8 as *mut u8).cast(),
            iov_len: 1,
        };
        out(
            "process_vm_readv",
            rc(libc::process_vm_readv(parent_pid(), &local, 1, &remote, 1, 0) as i64),
        );
        out("unshare", rc(libc::unshare(libc::CLONE_NEWUSER).into()));
        out("kill_parent", rc(libc::kill(parent_pid(), 0).into()));
        out(
            "prctl",
            rc(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0).into()),
        );
        let raise = libc::rlimit {
            rlim_cur: 4096,
            rlim_max: 4096,
        };
        out(
            "raise_nofile",
            rc(libc::setrlimit(libc::RLIMIT_NOFILE, &raise).into()),
        );
        out(
            "personality",
            rc(libc::syscall(libc::SYS_personality, 0x0400000)),
        );
        out("bpf", rc(libc::syscall(libc::SYS_bpf, 0, 0, 0)));
        out("userfaultfd", rc(libc::syscall(libc::SYS_userfaultfd, 0)));
        let mut attr = [0u8; 128];
        out(
            "perf_event_open",
            rc(libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_mut_ptr(),
                0,
                -1,
                -1,
                0,
            )),
        );
        let etc = CString::new("/etc/hostname").unwrap();
        let mut statx_buf = [0u8; 256];
        out(
            "statx",
            rc(libc::syscall(
                libc::SYS_statx,
                libc::AT_FDCWD,
                etc.as_ptr(),
                0,
                libc::STATX_BASIC_STATS,
                statx_buf.as_mut_ptr(),
            )),
        );
    }
    // A thread cannot be created either (clone is denied).
    let thread = std::thread::Builder::new().spawn(|| ());
    out("thread", if thread.is_err() { "failed" } else { "spawned" });
    out("stderr", io_result(std::io::stderr().write_all(b"")));
    print_status(&status);
    drop(listener);
}

fn workload() {
    let status = std::fs::File::open("/proc/self/status").unwrap();
    // Built before confinement, as the isolate-host must (see the crate docs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // SAFETY: fd 0 is the socket the parent passed as stdin; we own it now.
    let sock = unsafe { UnixStream::from_raw_fd(0) };

    confine_now(false);

    // Web Crypto's randomness (crypto.getRandomValues, key generation)
    // comes from the kernel through getrandom, which must stay allowed.
    let mut random = [0u8; 32];
    // SAFETY: `random` is a valid, writable buffer of 32 bytes.
    let got = unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
    out(
        "getrandom",
        if got < 0 {
            rc(got as i64)
        } else {
            got.to_string()
        },
    );

    runtime.block_on(async move {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                // Echo 1 MiB through the parent, writing and reading at once.
                sock.set_nonblocking(true).unwrap();
                let sock = tokio::net::UnixStream::from_std(sock).unwrap();
                let (mut rd, mut wr) = sock.into_split();
                let writer = tokio::task::spawn_local(async move {
                    use tokio::io::AsyncWriteExt;
                    let chunk: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
                    for _ in 0..256 {
                        wr.write_all(&chunk).await.unwrap();
                    }
                    wr.shutdown().await.unwrap();
                });
                let reader = tokio::task::spawn_local(async move {
                    use tokio::io::AsyncReadExt;
                    let mut got = Vec::new();
                    rd.read_to_end(&mut got).await.unwrap();
                    assert!(got.iter().zip((0..=255u8).cycle()).all(|(a, b)| *a == b));
                    got.len()
                });
                writer.await.unwrap();
                out("echo", reader.await.unwrap());

                // Timers: sleeps, a timeout that fires, an interval.
                tokio::time::sleep(Duration::from_millis(1)).await;
                let pending = std::future::pending::<()>();
                let timed_out = tokio::time::timeout(Duration::from_millis(2), pending).await;
                assert!(timed_out.is_err());
                let mut interval = tokio::time::interval(Duration::from_millis(1));
                for _ in 0..3 {
                    interval.tick().await;
                }
                out("timers", "ok");

                // Many local tasks talking over a channel.
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                for i in 0..100 {
                    let tx = tx.clone();
                    tokio::task::spawn_local(async move {
                        tokio::task::yield_now().await;
                        tx.send(i).unwrap();
                    });
                }
                drop(tx);
                let mut count = 0;
                while rx.recv().await.is_some() {
                    count += 1;
                }
                out("local_tasks", count);

                // 100 MB: one big buffer, then a growing one (realloc/mremap).
                let big = vec![7u8; 100 << 20];
                assert_eq!(
                    big.iter().step_by(4096).map(|&b| b as usize).sum::<usize>(),
                    7 * 25600
                );
                drop(big);
                let mut grow = Vec::new();
                for i in 0..(25 << 20) {
                    grow.push(i as u32);
                }
                assert_eq!(grow.len(), 25 << 20);
                drop(grow);
                out("alloc_100mb", "ok");
                let boxes: Vec<Box<[u8; 64]>> = (0..100_000).map(|_| Box::new([1; 64])).collect();
                assert_eq!(boxes.iter().map(|b| b[63] as usize).sum::<usize>(), 100_000);
                drop(boxes);
                out("small_allocs", "ok");
            })
            .await;
    });
    print_status(&status);
}

const JS: &str = r#"
const big = new Array(2000000).fill(0).map((_, i) => i * 2);
const s = 'ab'.repeat(10000000);
const ids = [...'foo-1 bar-22 baz-333'.matchAll(/([a-z]+)-(\d+)/g)].map(m => m[2]).join(',');
const evil = /^(a+)+$/.test('a'.repeat(18) + 'b');
const d = new Date(0).toISOString();
new Date().getTimezoneOffset();
new Date().toString();
Math.random();
const copy = JSON.parse(JSON.stringify({ a: [1, 2, 3], s: 'x' }));
let err;
try { null.x; } catch (e) { err = e.name; }
[big.length, big[big.length - 1], s.length, ids, evil, d, err, typeof copy].join(':')
"#;

fn quickjs() {
    let status = std::fs::File::open("/proc/self/status").unwrap();
    confine_now(false);

    let rt = rquickjs::Runtime::new().unwrap();
    rt.set_memory_limit(256 << 20);
    rt.set_max_stack_size(512 << 10);
    let ctx = rquickjs::Context::full(&rt).unwrap();
    ctx.with(|ctx| {
        let result: String = ctx.eval(JS).unwrap();
        out("js", result);
        // Over the memory limit: an exception, not a crash.
        let oom = ctx.eval::<rquickjs::Value, _>("'x'.repeat(1 << 20).repeat(1024)");
        out("js_oom", if oom.is_err() { "error" } else { "ok" });
        let overflow: String = ctx
            .eval(
                "function f(n) { return f(n + 1) + 1; } try { f(0); 'none' } catch (e) { e.name }",
            )
            .unwrap();
        out("js_stack_overflow", overflow);
    });
    drop(ctx);
    drop(rt);
    print_status(&status);
}

/// Spawns the grandchild with our stdout, reports its pid, then waits to be
/// killed by the test (if the grandchild exits first, reports how and exits,
/// so that the test sees EOF instead of hanging).
fn middle() {
    let mut grandchild = Command::new(std::env::current_exe().unwrap())
        .env(SCENARIO_ENV, "grandchild")
        .env(PARENT_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .spawn()
        .unwrap();
    out("grandchild_pid", grandchild.id());
    let status = grandchild.wait().unwrap();
    out("grandchild_exit", status);
}

/// Confines itself (its parent is the middle), says so and blocks forever on
/// a futex: only the parent-death signal can end it.
fn grandchild() {
    confine_now(true);
    out("grandchild", "confined");
    loop {
        std::thread::park();
    }
}
