//! Irreversible confinement of a caplet isolate-host process.
//!
//! An isolate-host runs untrusted JavaScript. Its only legitimate channel is
//! the Cap'n Proto connection to the broker on the socket it inherited as
//! fd 0 (plus stderr for logs). [`confine`] takes every other way out from the
//! process, so that even a QuickJS engine escape cannot open a file, create a
//! socket, run a program, map executable memory or touch another process.
//! Confinement cannot be undone; call it once, early, from the process that is
//! to be confined, never from a test runner or the broker.
//!
//! # Protections, in the order they are applied
//!
//! 1. **Parent-death signal** — `prctl(PR_SET_PDEATHSIG, SIGKILL)`, then
//!    `getppid()` must still be [`Options::parent`]; otherwise the broker died
//!    before the request and [`Error::ParentGone`] is returned. Note the kernel
//!    sends the signal when the parent *thread* that spawned the process exits,
//!    so the broker must spawn isolate-hosts from a long-lived thread.
//! 2. **Non-dumpable** — `prctl(PR_SET_DUMPABLE, 0)`: other processes of the
//!    same user cannot ptrace it or open its `/proc/<pid>` files.
//! 3. **Resource limits** (soft = hard, so they cannot be raised again):
//!    `RLIMIT_CORE` = 0; `RLIMIT_NOFILE` = highest open descriptor + 1 +
//!    [`Options::spare_fds`]; `RLIMIT_AS` = [`Options::address_space`]
//!    (default 4 GiB). `RLIMIT_NPROC` is deliberately left alone: it counts
//!    every process of the user, not of this process.
//! 4. **no_new_privs** — `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
//! 5. **Landlock** — a ruleset handling all filesystem rights of the running
//!    ABI, TCP bind and connect (ABI ≥ 4) and the abstract-Unix-socket and
//!    signal scopes (ABI ≥ 6), with no rules: nothing is allowed. Best effort:
//!    what the kernel lacks is listed in [`Report::missing`].
//! 6. **Seccomp** — the allowlist below, installed on all threads (TSYNC).
//!
//! # Seccomp policy
//!
//! Every system call not listed here fails with `EPERM`. `EPERM` rather than
//! killing the process keeps a denial diagnosable: the caller sees an ordinary
//! "operation not permitted" error it can log and turn into an RPC failure,
//! instead of a silent `SIGSYS` death; library fallbacks (glibc reading
//! `/etc/localtime`, std probing cgroups) degrade gracefully. The security
//! cost is that hostile code can probe the policy, which it could read here
//! anyway. One exception kills the process: a call from another architecture
//! (32-bit `int 0x80` on x86_64, AArch32 compat on arm64) fails the filter's
//! architecture check, as seccompiler compiles it. x32 calls (numbers with
//! `__X32_SYSCALL_BIT`) match no allowed number and get `EPERM`.
//!
//! Allowed without argument checks:
//!
//! - I/O on descriptors opened before confinement: `read`, `readv`, `pread64`,
//!   `write`, `writev`, `lseek`, `close`, `recvfrom`, `recvmsg`, `sendto`,
//!   `sendmsg`, `shutdown`, `getsockopt`, `getsockname`, `getpeername`
//! - event loop: `epoll_create1`, `epoll_ctl`, `epoll_pwait`, `epoll_pwait2`,
//!   `eventfd2`, and `epoll_wait` on x86_64
//! - memory: `brk`, `munmap`, `mremap`, `madvise`
//! - threads' primitives and time: `futex`, `sched_yield`,
//!   `sched_getaffinity`, `clock_gettime`, `clock_getres`, `gettimeofday`,
//!   `clock_nanosleep`, `nanosleep`, `getrandom`
//! - signals: `rt_sigaction`, `rt_sigprocmask`, `rt_sigreturn`, `sigaltstack`,
//!   `restart_syscall`; identity: `getpid`, `gettid`; `exit`, `exit_group`
//!
//! Allowed with argument checks:
//!
//! - `mmap`, `mprotect`: only if `prot` does not contain `PROT_EXEC`
//! - `tgkill`: only to the process itself (`abort()` raises `SIGABRT`)
//! - `fcntl`: only `F_GETFD`, `F_SETFD`, `F_GETFL`, `F_SETFL`,
//!   `F_DUPFD_CLOEXEC`
//! - `ioctl`: only `FIONBIO`, `FIOCLEX`, `FIONCLEX`, `FIONREAD`, `TCGETS`,
//!   `TIOCGWINSZ`
//!
//! Denied, among everything else: `socket`, `socketpair`, `connect`, `bind`,
//! `listen`, `accept`, `accept4`; `open`, `creat`, `openat`, `openat2`,
//! `open_by_handle_at`, `newfstatat`, `statx`, `memfd_create`, `memfd_secret`;
//! `execve`, `execveat`, `fork`, `vfork`, `clone`, `clone3` (no processes and
//! no threads: an isolate-host is one thread; tokio's `spawn_blocking` and
//! `tokio::fs` would fail), `kill`, `tkill`, `pidfd_open`, `pidfd_getfd`,
//! `ptrace`, `process_vm_readv`, `process_vm_writev`; `pkey_mprotect`,
//! `personality` (`READ_IMPLIES_EXEC`), `shmat`; `userfaultfd`,
//! `perf_event_open`, `bpf`, `keyctl`, `add_key`, `request_key`,
//! `io_uring_setup`, `io_uring_enter`, `io_uring_register`; `mount`,
//! `umount2`, `unshare`, `setns`, `kexec_load`, `kexec_file_load`,
//! `init_module`, `finit_module`, `delete_module`, `reboot`, `prctl`,
//! `seccomp`, `setrlimit`, `prlimit64`.
//!
//! # What the caller must do first
//!
//! Everything that needs a file or a new socket must happen before
//! [`confine`]: in particular, build the tokio runtime first — with the
//! `signal` feature its driver creates a socketpair the first time a runtime
//! is built. New descriptors afterwards can only come from `epoll_create1`,
//! `eventfd2` and `F_DUPFD_CLOEXEC`, within [`Options::spare_fds`].
//!
//! Every descriptor open at confinement stays usable (read, write, sendmsg…):
//! close anything inherited by accident before confining, and check
//! [`Report::open_fds`]. The process must not start threads: `clone` is
//! denied, and Landlock restricts only the calling thread on kernels before
//! Landlock ABI 8.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The broker passes its pid, e.g. `caplet isolate-host --broker-pid 1234`.
//! let broker_pid: libc::pid_t = 1234;
//! let runtime = tokio::runtime::Builder::new_current_thread()
//!     .enable_all()
//!     .build()?;
//! let report = caplet_confine::confine(&caplet_confine::Options::new(broker_pid))?;
//! if !report.is_complete() {
//!     for line in report.to_string().lines() {
//!         eprintln!("isolate-host: {line}");
//!     }
//! }
//! runtime.block_on(async { /* serve the broker on fd 0 */ });
//! # Ok(())
//! # }
//! ```

mod lsm;
mod process;
mod seccomp;

use std::fmt;

/// One protection [`confine`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protection {
    /// `SIGKILL` when the parent exits.
    ParentDeathSignal,
    /// `PR_SET_DUMPABLE` = 0.
    NotDumpable,
    /// `RLIMIT_CORE` = 0.
    NoCoreDumps,
    /// `RLIMIT_NOFILE` just above the open descriptors.
    FileLimit,
    /// `RLIMIT_AS` = [`Options::address_space`].
    AddressSpaceLimit,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Landlock: no filesystem access.
    LandlockFilesystem,
    /// Landlock: no TCP bind or connect.
    LandlockNetwork,
    /// Landlock: no abstract Unix sockets or signals outside the domain.
    LandlockScopes,
    /// The seccomp allowlist.
    Seccomp,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protection::ParentDeathSignal => "parent-death signal",
            Protection::NotDumpable => "non-dumpable",
            Protection::NoCoreDumps => "no core dumps",
            Protection::FileLimit => "file descriptor limit",
            Protection::AddressSpaceLimit => "address space limit",
            Protection::NoNewPrivs => "no_new_privs",
            Protection::LandlockFilesystem => "landlock filesystem",
            Protection::LandlockNetwork => "landlock network",
            Protection::LandlockScopes => "landlock scopes",
            Protection::Seccomp => "seccomp",
        })
    }
}

/// A protection that could not be applied on this system, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The protection.
    pub protection: Protection,
    /// Why it is missing, e.g. "the kernel has no landlock".
    pub reason: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} missing: {}", self.protection, self.reason)
    }
}

/// How to confine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The pid the parent (the broker) must have; the broker passes its own
    /// pid to the isolate-host, e.g. on its command line.
    pub parent: libc::pid_t,
    /// `RLIMIT_AS` in bytes; `None` leaves it unchanged. Default 4 GiB: QuickJS
    /// heaps plus tokio and the binary, with room to spare.
    pub address_space: Option<u64>,
    /// Descriptors allowed above the highest open one. Default 4.
    pub spare_fds: u32,
    /// Fail with [`Error::Missing`] if any protection is missing.
    /// Default `false`: the caller logs [`Report::missing`].
    pub require_all: bool,
}

impl Options {
    /// The defaults, for a process whose parent is `parent`.
    pub fn new(parent: libc::pid_t) -> Options {
        Options {
            parent,
            address_space: Some(4 << 30),
            spare_fds: 4,
            require_all: false,
        }
    }
}

/// What [`confine`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Protections in force, in the order they were applied.
    pub applied: Vec<Protection>,
    /// Protections this system could not apply.
    pub missing: Vec<Missing>,
    /// The kernel's Landlock ABI version, `None` without Landlock.
    pub landlock_abi: Option<i32>,
    /// The descriptors open at confinement: all the process can ever use,
    /// since no call can open another file or socket. Anything beyond the
    /// isolate-host's socket, stdio and its event loop is a leak to close.
    pub open_fds: Vec<i32>,
    /// The `RLIMIT_NOFILE` set.
    pub max_fds: u64,
    /// The `RLIMIT_AS` set, if any.
    pub address_space: Option<u64>,
}

impl Report {
    /// Whether every protection was applied.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

impl fmt::Display for Report {
    /// One line per missing protection, or one line saying none is missing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing.is_empty() {
            return write!(f, "all {} protections applied", self.applied.len());
        }
        for (i, missing) in self.missing.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{missing}")?;
        }
        Ok(())
    }
}

/// Why confinement failed. After an error the process may be partly
/// confined; it should exit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The parent exited before the parent-death signal was set.
    #[error("parent {expected} is gone (parent is now {actual})")]
    ParentGone {
        /// The pid the caller expected.
        expected: libc::pid_t,
        /// The pid `getppid()` returned.
        actual: libc::pid_t,
    },
    /// A system call failed.
    #[error("{call} failed: {error}")]
    Syscall {
        /// The call, e.g. "prctl(PR_SET_NO_NEW_PRIVS)".
        call: &'static str,
        /// The error it returned.
        error: std::io::Error,
    },
    /// Building or applying the Landlock ruleset failed.
    #[error("landlock failed: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// Building or installing the seccomp filter failed.
    #[error("seccomp failed: {0}")]
    Seccomp(#[from] seccompiler::Error),
    /// [`Options::require_all`] was set and protections are missing; all the
    /// others were applied.
    #[error("required protections missing: {}", missing_list(&.0.missing))]
    Missing(Box<Report>),
}

impl From<seccompiler::BackendError> for Error {
    fn from(error: seccompiler::BackendError) -> Error {
        Error::Seccomp(seccompiler::Error::Backend(error))
    }
}

fn missing_list(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(Missing::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The system calls the seccomp filter allows on this architecture, by name;
/// some only with the argument checks listed in the crate docs.
pub fn allowed_syscalls() -> Vec<&'static str> {
    seccomp::allowlist(0).iter().map(|a| a.name).collect()
}

/// System calls the filter is guaranteed to deny with `EPERM`, by name (a
/// selection: everything [`allowed_syscalls`] does not list is denied).
pub fn denied_syscalls() -> &'static [&'static str] {
    seccomp::DENIED
}

/// Confines the calling process, irreversibly: see the crate docs for each
/// protection and the seccomp policy. Call it once: a second call fails, as
/// `setrlimit` is then denied. Must be called while the process is
/// single-threaded or after all its threads exist (seccomp covers every
/// thread; Landlock only the calling thread and threads it creates later).
pub fn confine(opts: &Options) -> Result<Report, Error> {
    let mut applied = Vec::new();
    let mut missing = Vec::new();

    process::set_parent_death_signal(opts.parent)?;
    applied.push(Protection::ParentDeathSignal);
    // Listed while /proc/self is still ours to read.
    let open_fds = process::open_fds()?;
    process::set_not_dumpable()?;
    applied.push(Protection::NotDumpable);

    process::lower_limit("setrlimit(RLIMIT_CORE)", libc::RLIMIT_CORE, 0)?;
    applied.push(Protection::NoCoreDumps);
    let highest = open_fds.last().copied().unwrap_or(-1);
    let wanted = (highest + 1) as u64 + u64::from(opts.spare_fds);
    let max_fds = process::lower_limit("setrlimit(RLIMIT_NOFILE)", libc::RLIMIT_NOFILE, wanted)?;
    applied.push(Protection::FileLimit);
    let address_space = match opts.address_space {
        Some(bytes) => {
            let set = process::lower_limit("setrlimit(RLIMIT_AS)", libc::RLIMIT_AS, bytes)?;
            applied.push(Protection::AddressSpaceLimit);
            Some(set)
        }
        None => None,
    };

    process::set_no_new_privs()?;
    applied.push(Protection::NoNewPrivs);

    let landlock = lsm::restrict()?;
    applied.extend(landlock.applied);
    missing.extend(
        landlock
            .missing
            .into_iter()
            .map(|(protection, reason)| Missing { protection, reason }),
    );

    match seccomp::target_arch() {
        Some(_) if !seccomp::kernel_has_seccomp() => missing.push(Missing {
            protection: Protection::Seccomp,
            reason: "the kernel has no seccomp".to_string(),
        }),
        Some(arch) => {
            // SAFETY: getpid cannot fail.
            let pid = unsafe { libc::getpid() };
            let program = seccomp::compile(&seccomp::allowlist(pid), arch)?;
            seccomp::install(&program)?;
            applied.push(Protection::Seccomp);
        }
        None => missing.push(Missing {
            protection: Protection::Seccomp,
            reason: format!("no policy for {}", std::env::consts::ARCH),
        }),
    }

    let report = Report {
        applied,
        missing,
        landlock_abi: landlock.abi,
        open_fds,
        max_fds,
        address_space,
    };
    if opts.require_all && !report.is_complete() {
        return Err(Error::Missing(Box::new(report)));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(missing: Vec<Missing>) -> Report {
        Report {
            applied: vec![Protection::NoNewPrivs, Protection::Seccomp],
            missing,
            landlock_abi: Some(3),
            open_fds: vec![0, 1, 2],
            max_fds: 7,
            address_space: None,
        }
    }

    #[test]
    fn report_prints_one_line_per_missing_protection() {
        let report = report(vec![
            Missing {
                protection: Protection::LandlockNetwork,
                reason: "landlock abi 3 has no tcp rights (abi 4)".to_string(),
            },
            Missing {
                protection: Protection::LandlockScopes,
                reason: "landlock abi 3 has no scopes (abi 6)".to_string(),
            },
        ]);
        assert_eq!(
            report.to_string(),
            "landlock network missing: landlock abi 3 has no tcp rights (abi 4)\n\
             landlock scopes missing: landlock abi 3 has no scopes (abi 6)"
        );
        assert!(!report.is_complete());
    }

    #[test]
    fn complete_report_says_so() {
        let report = report(Vec::new());
        assert_eq!(report.to_string(), "all 2 protections applied");
        assert!(report.is_complete());
    }

    #[test]
    fn missing_error_names_every_missing_protection() {
        let error = Error::Missing(Box::new(report(vec![Missing {
            protection: Protection::Seccomp,
            reason: "the kernel has no seccomp".to_string(),
        }])));
        assert_eq!(
            error.to_string(),
            "required protections missing: seccomp missing: the kernel has no seccomp"
        );
    }

    #[test]
    fn defaults_are_generous_and_lenient() {
        let opts = Options::new(42);
        assert_eq!(opts.parent, 42);
        assert_eq!(opts.address_space, Some(4 << 30));
        assert_eq!(opts.spare_fds, 4);
        assert!(!opts.require_all);
    }
}
