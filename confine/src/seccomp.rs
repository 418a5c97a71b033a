//! The seccomp allowlist of a confined isolate-host, and its installation.
//!
//! [`allowlist`] is the complete policy: every system call not in it returns
//! `EPERM`. [`DENIED`] names the calls whose denial the crate promises (they
//! are denied because they are absent from the allowlist; a unit test keeps
//! the two lists disjoint). The filter is compiled with `seccompiler` for the
//! running architecture and installed on every thread of the process (TSYNC).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::Error;

/// What a rule checks in the arguments of an allowed system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Args {
    /// Any arguments.
    Any,
    /// Argument `n` (a `prot` value) must not contain `PROT_EXEC`.
    NoExec(u8),
    /// Argument `n` (compared as 32 bits) must be one of the values.
    OneOf(u8, &'static [u64]),
    /// Argument `n` (compared as 32 bits) must equal the value.
    Is(u8, u64),
}

/// One allowed system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allowed {
    pub(crate) name: &'static str,
    pub(crate) nr: i64,
    pub(crate) args: Args,
}

/// `fcntl` commands allowed on already-open descriptors.
pub(crate) const FCNTL_CMDS: &[u64] = &[
    libc::F_GETFD as u64,
    libc::F_SETFD as u64,
    libc::F_GETFL as u64,
    libc::F_SETFL as u64,
    libc::F_DUPFD_CLOEXEC as u64,
];

/// `ioctl` requests allowed: non-blocking mode, close-on-exec, bytes readable,
/// and the two terminal queries that `isatty` and colour detection make.
// The constants are `c_ulong` on glibc but `c_int` on musl.
#[allow(clippy::unnecessary_cast)]
pub(crate) const IOCTL_REQUESTS: &[u64] = &[
    libc::FIONBIO as u64,
    libc::FIOCLEX as u64,
    libc::FIONCLEX as u64,
    libc::FIONREAD as u64,
    libc::TCGETS as u64,
    libc::TIOCGWINSZ as u64,
];

macro_rules! allow {
    ($list:ident, $($name:ident),+ $(,)?) => {
        $($list.push(Allowed {
            name: stringify!($name),
            nr: sysno::$name,
            args: Args::Any,
        });)+
    };
}

/// System call numbers, spelt as the kernel names them.
#[allow(non_upper_case_globals)]
mod sysno {
    #[cfg(target_arch = "x86_64")]
    pub(crate) use libc::SYS_epoll_wait as epoll_wait;
    pub(crate) use libc::{
        SYS_brk as brk, SYS_clock_getres as clock_getres, SYS_clock_gettime as clock_gettime,
        SYS_clock_nanosleep as clock_nanosleep, SYS_close as close,
        SYS_epoll_create1 as epoll_create1, SYS_epoll_ctl as epoll_ctl,
        SYS_epoll_pwait as epoll_pwait, SYS_epoll_pwait2 as epoll_pwait2, SYS_eventfd2 as eventfd2,
        SYS_exit as exit, SYS_exit_group as exit_group, SYS_fcntl as fcntl, SYS_futex as futex,
        SYS_getpeername as getpeername, SYS_getpid as getpid, SYS_getrandom as getrandom,
        SYS_getsockname as getsockname, SYS_getsockopt as getsockopt, SYS_gettid as gettid,
        SYS_gettimeofday as gettimeofday, SYS_ioctl as ioctl, SYS_lseek as lseek,
        SYS_madvise as madvise, SYS_mmap as mmap, SYS_mprotect as mprotect, SYS_mremap as mremap,
        SYS_munmap as munmap, SYS_nanosleep as nanosleep, SYS_pread64 as pread64, SYS_read as read,
        SYS_readv as readv, SYS_recvfrom as recvfrom, SYS_recvmsg as recvmsg,
        SYS_restart_syscall as restart_syscall, SYS_rt_sigaction as rt_sigaction,
        SYS_rt_sigprocmask as rt_sigprocmask, SYS_rt_sigreturn as rt_sigreturn,
        SYS_sched_getaffinity as sched_getaffinity, SYS_sched_yield as sched_yield,
        SYS_sendmsg as sendmsg, SYS_sendto as sendto, SYS_shutdown as shutdown,
        SYS_sigaltstack as sigaltstack, SYS_tgkill as tgkill, SYS_write as write,
        SYS_writev as writev,
    };
}

/// The complete allowlist for a process whose pid is `pid` (used to let
/// `tgkill` reach only the process itself, which `abort()` needs).
// Built push by push in commented groups, some only for one architecture.
#[allow(clippy::vec_init_then_push)]
pub(crate) fn allowlist(pid: libc::pid_t) -> Vec<Allowed> {
    let mut list = Vec::new();
    // I/O on descriptors that were open before confinement.
    allow!(list, read, readv, pread64, write, writev, lseek, close);
    allow!(list, recvfrom, recvmsg, sendto, sendmsg, shutdown);
    allow!(list, getsockopt, getsockname, getpeername);
    // Event loop (tokio/mio): epoll and its eventfd waker.
    allow!(
        list,
        epoll_create1,
        epoll_ctl,
        epoll_pwait,
        epoll_pwait2,
        eventfd2
    );
    #[cfg(target_arch = "x86_64")]
    allow!(list, epoll_wait);
    // Memory (malloc, QuickJS, stacks); mappings can never become executable.
    allow!(list, brk, munmap, mremap, madvise);
    for (name, nr) in [("mmap", sysno::mmap), ("mprotect", sysno::mprotect)] {
        list.push(Allowed {
            name,
            nr,
            args: Args::NoExec(2),
        });
    }
    // Synchronisation, scheduling, time, randomness.
    allow!(list, futex, sched_yield, sched_getaffinity);
    allow!(
        list,
        clock_gettime,
        clock_getres,
        gettimeofday,
        clock_nanosleep,
        nanosleep
    );
    allow!(list, getrandom);
    // Signals: Rust's stack-overflow handler, panics, abort().
    allow!(
        list,
        rt_sigaction,
        rt_sigprocmask,
        rt_sigreturn,
        sigaltstack,
        restart_syscall
    );
    allow!(list, getpid, gettid);
    list.push(Allowed {
        name: "tgkill",
        nr: sysno::tgkill,
        args: Args::Is(0, pid as u32 as u64),
    });
    // Descriptor flags, with a short list of commands.
    list.push(Allowed {
        name: "fcntl",
        nr: sysno::fcntl,
        args: Args::OneOf(1, FCNTL_CMDS),
    });
    list.push(Allowed {
        name: "ioctl",
        nr: sysno::ioctl,
        args: Args::OneOf(1, IOCTL_REQUESTS),
    });
    allow!(list, exit, exit_group);
    list
}

/// System calls the crate promises to deny (with `EPERM`), by name; those that
/// do not exist on the running architecture are left out.
pub(crate) const DENIED: &[&str] = &[
    // new channels to the world
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    // files
    #[cfg(target_arch = "x86_64")]
    "open",
    #[cfg(target_arch = "x86_64")]
    "creat",
    "openat",
    "openat2",
    "open_by_handle_at",
    "newfstatat",
    "statx",
    "memfd_create",
    "memfd_secret",
    // programs and processes
    "execve",
    "execveat",
    #[cfg(target_arch = "x86_64")]
    "fork",
    #[cfg(target_arch = "x86_64")]
    "vfork",
    "clone",
    "clone3",
    "kill",
    "tkill",
    "pidfd_open",
    "pidfd_getfd",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    // executable memory and its back doors
    "pkey_mprotect",
    "personality",
    "shmat",
    // kernel attack surface
    "userfaultfd",
    "perf_event_open",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // namespaces, mounts, modules, reboot, self-reconfiguration
    "mount",
    "umount2",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "prctl",
    "seccomp",
    "setrlimit",
    "prlimit64",
];

/// The seccompiler architecture of this build, if there is a policy for it.
pub(crate) fn target_arch() -> Option<TargetArch> {
    if cfg!(target_arch = "x86_64") {
        Some(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(TargetArch::aarch64)
    } else {
        None
    }
}

fn condition(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, Error> {
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        op,
        value,
    )?)
}

/// Compiles `list` into a BPF program: allow what matches, `EPERM` otherwise.
pub(crate) fn compile(list: &[Allowed], arch: TargetArch) -> Result<BpfProgram, Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for entry in list {
        let chain = match &entry.args {
            Args::Any => Vec::new(),
            Args::NoExec(arg) => vec![SeccompRule::new(vec![condition(
                *arg,
                SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
                0,
            )?])?],
            Args::OneOf(arg, values) => values
                .iter()
                .map(|&value| {
                    Ok(SeccompRule::new(vec![condition(
                        *arg,
                        SeccompCmpOp::Eq,
                        value,
                    )?])?)
                })
                .collect::<Result<_, Error>>()?,
            Args::Is(arg, value) => vec![SeccompRule::new(vec![condition(
                *arg,
                SeccompCmpOp::Eq,
                *value,
            )?])?],
        };
        rules.insert(entry.nr, chain);
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )?;
    Ok(filter.try_into()?)
}

/// Installs `program` on every thread of the process (seccompiler sets
/// `no_new_privs` again first, as the kernel requires).
pub(crate) fn install(program: &BpfProgram) -> Result<(), Error> {
    seccompiler::apply_filter_all_threads(program)?;
    Ok(())
}

/// Whether the kernel has seccomp at all (`PR_GET_SECCOMP` fails with
/// `EINVAL` on kernels built without it).
pub(crate) fn kernel_has_seccomp() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointer arguments.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_and_denylist_are_disjoint() {
        let allowed = allowlist(1);
        for name in DENIED {
            assert!(
                allowed.iter().all(|a| a.name != *name),
                "{name} is both allowed and denied"
            );
        }
    }

    #[test]
    fn allowlist_has_no_duplicates() {
        let allowed = allowlist(1);
        for (i, a) in allowed.iter().enumerate() {
            assert!(
                allowed[i + 1..].iter().all(|b| b.nr != a.nr),
                "{} is listed twice",
                a.name
            );
        }
    }

    #[test]
    fn memory_calls_are_filtered_on_prot_exec() {
        let allowed = allowlist(1);
        for name in ["mmap", "mprotect"] {
            let entry = allowed.iter().find(|a| a.name == name).unwrap();
            assert_eq!(entry.args, Args::NoExec(2));
        }
    }

    #[test]
    fn filter_compiles_for_this_architecture() {
        let arch = target_arch().unwrap();
        let program = compile(&allowlist(std::process::id() as libc::pid_t), arch).unwrap();
        assert!(!program.is_empty());
        assert!(program.len() < 4096);
    }
}
