//! Admission: the limits every connection is served under
//! ([`ConnectionLimits`], the smaller ones before authentication), and the
//! count of a listener's open connections ([`Admission`], [`Ticket`]).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Largest message an unauthenticated peer may send, in bytes (segment data).
pub const PRE_AUTH_MAX_MESSAGE_BYTES: u64 = 64 << 10;
/// Calls an unauthenticated peer may have in flight.
pub const PRE_AUTH_MAX_CALLS: usize = 4;

/// The limits every client connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Calls (on any capability of the connection) the peer may have in
    /// flight; further calls are answered `overloaded`. Default 256.
    pub max_calls_in_flight: usize,
    /// A connection with no call in flight that sends nothing for this long
    /// is closed. Default 5 minutes.
    pub idle_timeout: Duration,
    /// A message must arrive completely within this time of its first byte,
    /// or the connection is closed. Default 60 seconds.
    pub frame_timeout: Duration,
    /// A TCP connection that has not authenticated within this time of
    /// being accepted is closed. Default 10 seconds.
    pub auth_timeout: Duration,
    /// Connections open at once, per listener. Default 1000.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_calls_in_flight: 256,
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(60),
            auth_timeout: Duration::from_secs(10),
            max_connections: 1000,
        }
    }
}

/// Counts the open connections of a listener, against `max_connections`.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    open: Rc<Cell<usize>>,
    max: usize,
}

/// One admitted connection; gives its place back when dropped.
pub(crate) struct Ticket(Rc<Cell<usize>>);

impl Admission {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            open: Rc::new(Cell::new(0)),
            max: max.max(1),
        }
    }

    /// How many connections are open.
    pub(crate) fn open(&self) -> usize {
        self.open.get()
    }

    /// A ticket for one more connection, or the number open when full.
    pub(crate) fn admit(&self) -> Result<Ticket, usize> {
        let open = self.open.get();
        if open >= self.max {
            return Err(open);
        }
        self.open.set(open + 1);
        Ok(Ticket(self.open.clone()))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}
