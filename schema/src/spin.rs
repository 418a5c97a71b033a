//! A short spin before the event loop sleeps, while the other side of an RPC
//! connection is likely to answer.
//!
//! On a virtual machine an idle vCPU halts, and waking a process on it takes
//! an interrupt through the hypervisor. On the project's 2-vCPU VM a warm
//! invocation over the socket took 113-163 µs with client, broker and host
//! spread over both vCPUs, and 47 µs with all three on one; every message
//! between processes paid for a wakeup. Before a runtime parks,
//! [`before_park`] keeps the thread running for up to [`limit`], checking the
//! watched connections (one `epoll_wait` with no timeout per turn) and
//! yielding the CPU to any other runnable process in between, so an answer
//! that comes soon is read without a sleep and a wakeup. With it, the same
//! warm invocation took 40 µs.
//!
//! The cost is CPU time: a process that gets no answer spins for the whole
//! limit once each time it runs out of work. `caplet --spin-us 0` turns it
//! off. The spin, like the watched set, belongs to one thread: each caplet
//! process runs its event loop on its main thread.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The longest spin before a park, unless set otherwise.
pub const DEFAULT_LIMIT: Duration = Duration::from_micros(50);

thread_local! {
    static LIMIT: Cell<Duration> = const { Cell::new(DEFAULT_LIMIT) };
    /// This thread's epoll set of watched connections (made on first use).
    static WATCHED: RefCell<Option<OwnedFd>> = const { RefCell::new(None) };
}

/// Sets how long this thread spins before it parks (zero: never).
pub fn set_limit(limit: Duration) {
    LIMIT.with(|l| l.set(limit));
}

/// How long this thread spins before it parks.
pub fn limit() -> Duration {
    LIMIT.with(Cell::get)
}

/// Watches `fd` (a connection's socket) for readability while spinning. The
/// kernel drops it from the set when the socket is closed. If the set cannot
/// be made, the thread just never spins.
pub fn watch(fd: RawFd) {
    WATCHED.with(|watched| {
        let mut watched = watched.borrow_mut();
        if watched.is_none() {
            // SAFETY: epoll_create1 has no memory-safety preconditions.
            let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if epfd < 0 {
                return;
            }
            // SAFETY: `epfd` was just created and nothing else owns it.
            *watched = Some(unsafe { OwnedFd::from_raw_fd(epfd) });
        }
        let Some(epfd) = watched.as_ref() else {
            return;
        };
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: `event` is a valid epoll_event; a bad `fd` only fails.
        unsafe { libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
    });
}

/// Whether a watched connection has bytes waiting now (one `epoll_wait` with
/// no timeout); `false` on a thread that watches none. Work a process may
/// put off (an isolate-host's idle work) checks it first, so a message that
/// came meanwhile is handled before it.
pub fn readable() -> bool {
    WATCHED.with(|watched| {
        let watched = watched.borrow();
        let Some(epfd) = watched.as_ref() else {
            return false;
        };
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `event` has room for the one event asked for.
        unsafe { libc::epoll_wait(epfd.as_raw_fd(), &mut event, 1, 0) > 0 }
    })
}

/// Spins for up to [`limit`] until a watched connection is readable; returns
/// at once on a thread that watches none. For
/// `tokio::runtime::Builder::on_thread_park`.
pub fn before_park() {
    let limit = limit();
    if limit.is_zero() {
        return;
    }
    WATCHED.with(|watched| {
        let watched = watched.borrow();
        let Some(epfd) = watched.as_ref() else {
            return;
        };
        let start = Instant::now();
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        loop {
            // SAFETY: `event` has room for the one event asked for.
            let ready = unsafe { libc::epoll_wait(epfd.as_raw_fd(), &mut event, 1, 0) };
            if ready != 0 || start.elapsed() >= limit {
                return;
            }
            // SAFETY: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    /// Each test runs on its own thread, so its limit and watched set are
    /// its own.
    fn spin_for(limit: Duration) -> Duration {
        set_limit(limit);
        let start = Instant::now();
        before_park();
        start.elapsed()
    }

    #[test]
    fn a_thread_watching_nothing_does_not_spin() {
        assert!(spin_for(Duration::from_secs(30)) < Duration::from_secs(10));
    }

    #[test]
    fn a_readable_connection_ends_the_spin() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        watch(ours.as_raw_fd());
        theirs.write_all(b"x").unwrap();
        assert!(spin_for(Duration::from_secs(30)) < Duration::from_secs(10));
    }

    #[test]
    fn a_quiet_connection_spins_for_the_limit() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        watch(ours.as_raw_fd());
        let limit = Duration::from_millis(20);
        assert!(spin_for(limit) >= limit);
    }

    #[test]
    fn readable_says_whether_a_watched_connection_has_bytes() {
        assert!(!readable(), "a thread watching nothing has nothing to read");
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        watch(ours.as_raw_fd());
        assert!(!readable());
        theirs.write_all(b"x").unwrap();
        assert!(readable());
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut &ours, &mut byte).unwrap();
        assert!(!readable(), "read, the connection is quiet again");
    }

    #[test]
    fn a_zero_limit_never_spins() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        watch(ours.as_raw_fd());
        assert!(spin_for(Duration::ZERO) < Duration::from_millis(20));
        // And the quiet connection is what would have kept it spinning.
        assert!(spin_for(Duration::from_millis(20)) >= Duration::from_millis(20));
    }
}
