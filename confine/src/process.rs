//! Process attributes set with `prctl` and `setrlimit`: parent-death signal,
//! non-dumpable, no_new_privs, and the resource limits.

use std::io;

use crate::Error;

/// The type glibc uses for resource numbers (`c_int` elsewhere).
#[cfg(target_env = "gnu")]
pub(crate) type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub(crate) type Resource = libc::c_int;

fn check(call: &'static str, rc: libc::c_int) -> Result<(), Error> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::Syscall {
            call,
            error: io::Error::last_os_error(),
        })
    }
}

/// Asks for `SIGKILL` when the parent dies, then checks that the parent is
/// still `expected` (it may have died before the request was made).
pub(crate) fn set_parent_death_signal(expected: libc::pid_t) -> Result<(), Error> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number, no pointers.
    check("prctl(PR_SET_PDEATHSIG)", unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    })?;
    // SAFETY: getppid cannot fail.
    let actual = unsafe { libc::getppid() };
    if actual != expected {
        return Err(Error::ParentGone { expected, actual });
    }
    Ok(())
}

/// Marks the process non-dumpable: no core dumps, and processes of the same
/// user cannot ptrace it or open its `/proc/<pid>` files.
pub(crate) fn set_not_dumpable() -> Result<(), Error> {
    // SAFETY: PR_SET_DUMPABLE takes an integer, no pointers.
    check("prctl(PR_SET_DUMPABLE)", unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0)
    })
}

/// Sets `no_new_privs`: execve can never grant privileges again (set-uid,
/// file capabilities); required for unprivileged seccomp and Landlock.
pub(crate) fn set_no_new_privs() -> Result<(), Error> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers, no pointers.
    check("prctl(PR_SET_NO_NEW_PRIVS)", unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    })
}

fn get_limit(resource: Resource) -> Result<libc::rlimit, Error> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    check("getrlimit", unsafe {
        libc::getrlimit(resource, &mut limit)
    })?;
    Ok(limit)
}

/// Sets both the soft and the hard limit of `resource` to `value`, or to the
/// current hard limit if that is lower (a limit can only be lowered), and
/// returns the value set. Lowering the hard limit makes it permanent.
pub(crate) fn lower_limit(
    call: &'static str,
    resource: Resource,
    value: u64,
) -> Result<u64, Error> {
    let current = get_limit(resource)?;
    let value = value.min(current.rlim_max);
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `limit` is a valid rlimit.
    check(call, unsafe { libc::setrlimit(resource, &limit) })?;
    Ok(value)
}

/// Whether `fd` is an open descriptor.
fn is_open(fd: libc::c_int) -> bool {
    // SAFETY: F_GETFD only inspects the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// The open file descriptors, ascending. Reads `/proc/self/fd` (the
/// directory's own descriptor is excluded by checking each entry again once
/// the listing is closed); without `/proc`, probes descriptors up to the soft
/// `RLIMIT_NOFILE` (at most 65536).
pub(crate) fn open_fds() -> Result<Vec<libc::c_int>, Error> {
    let listed: Option<Vec<libc::c_int>> = std::fs::read_dir("/proc/self/fd").ok().map(|dir| {
        dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    });
    let mut fds: Vec<libc::c_int> = match listed {
        Some(fds) => fds.into_iter().filter(|&fd| is_open(fd)).collect(),
        None => {
            let limit = get_limit(libc::RLIMIT_NOFILE)?.rlim_cur.min(65536) as libc::c_int;
            (0..limit).filter(|&fd| is_open(fd)).collect()
        }
    };
    fds.sort_unstable();
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn open_fds_lists_new_descriptors_and_only_open_ones() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fds = open_fds().unwrap();
        assert!(fds.contains(&a.as_raw_fd()));
        assert!(fds.contains(&b.as_raw_fd()));
        assert!(fds.windows(2).all(|w| w[0] < w[1]));
        // Other test threads may close theirs meanwhile; ours stay open.
        assert!(is_open(a.as_raw_fd()));
    }

    #[test]
    fn invalid_descriptors_are_not_open() {
        assert!(!is_open(-1));
        assert!(!is_open(libc::c_int::MAX));
    }
}
