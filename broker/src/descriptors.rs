//! File descriptors: how many the broker may have open, and how many of
//! them peers without a token may take.
//!
//! At start the broker raises its soft `RLIMIT_NOFILE` to the hard limit.
//! It keeps a reserve of descriptors for what must never starve: its
//! isolate-hosts (and their respawns), clients on the Unix socket, and the
//! SQLite files of the data directory. Unauthenticated TCP connections may
//! take at most half of what is left after the reserve, so that a flood of
//! peers without a token cannot push the broker to `EMFILE`; authenticated
//! connections are bounded per principal (`crate::quota`) and per listener
//! (`--max-connections`).

/// Descriptors kept for the broker's own needs: standard streams, the
/// listeners, the event loop, signal handling, the SQLite database and its
/// journal files, and reading the token and configuration files.
pub const BASE_RESERVE: u64 = 64;
/// Descriptors kept per isolate-host: its socket, its stderr pipe, and room
/// to respawn it.
pub const PER_HOST_RESERVE: u64 = 4;
/// Descriptors kept for clients on the Unix socket.
pub const UNIX_RESERVE: u64 = 64;

/// The broker's share-out of its descriptor limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft `RLIMIT_NOFILE` in force.
    pub limit: u64,
    /// Descriptors never given to unauthenticated TCP connections.
    pub reserve: u64,
    /// Unauthenticated TCP connections open at once, at most (at least 1).
    pub unauthenticated: usize,
}

impl Budget {
    /// The budget under a limit of `limit` descriptors with `hosts`
    /// isolate-hosts.
    pub fn new(limit: u64, hosts: usize) -> Self {
        let reserve = BASE_RESERVE + PER_HOST_RESERVE * hosts as u64 + UNIX_RESERVE;
        let unauthenticated = (limit.saturating_sub(reserve) / 2).max(1);
        Self {
            limit,
            reserve,
            unauthenticated: usize::try_from(unauthenticated).unwrap_or(usize::MAX),
        }
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit, and returns the
    /// budget under the limit then in force.
    pub fn raise(hosts: usize) -> Self {
        Self::new(raise_limit(), hosts)
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit
/// in force afterwards (unchanged if the kernel refuses).
pub fn raise_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes only into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit(2) reads only the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return raised.rlim_cur;
        }
    }
    limit.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthenticated_connections_get_half_of_what_the_reserve_leaves() {
        let budget = Budget::new(1024, 2);
        assert_eq!(budget.reserve, 64 + 8 + 64);
        assert_eq!(budget.unauthenticated, (1024 - 136) / 2);
        // Far too few descriptors: still one, never zero or a wrap-around.
        assert_eq!(Budget::new(16, 8).unauthenticated, 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_limit();
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit(2) writes only into the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) }, 0);
        assert_eq!(now.rlim_cur, now.rlim_max);
        assert_eq!(limit, now.rlim_cur);
    }
}
