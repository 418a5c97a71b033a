//! Framing: [`Guarded`] follows the Cap'n Proto framing of the byte
//! stream without buffering it, to enforce the idle and slow-message
//! deadlines and the message size before authentication.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::admission::{ConnectionLimits, PRE_AUTH_MAX_MESSAGE_BYTES};
use super::gate::Gate;

/// Follows Cap'n Proto stream framing (a segment table, then the segments)
/// byte by byte, keeping nothing but counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Framing {
    /// Reading the segment count (minus one), little-endian u32.
    Count { got: usize, bytes: [u8; 4] },
    /// Reading segment sizes, in words.
    Sizes {
        left: u64,
        got: usize,
        bytes: [u8; 4],
        pad: bool,
        body: u64,
    },
    /// Padding after an even number of sizes.
    Padding { left: usize, body: u64 },
    /// Segment data.
    Body { left: u64 },
}

impl Default for Framing {
    fn default() -> Self {
        Framing::Count {
            got: 0,
            bytes: [0; 4],
        }
    }
}

impl Framing {
    /// Whether no part of a message has arrived since the last one ended.
    pub(super) fn between_messages(&self) -> bool {
        matches!(self, Framing::Count { got: 0, .. })
    }

    /// Consumes `data`; returns how many messages it completed and the
    /// largest message size (segment data, in bytes) a segment table in it
    /// announced.
    pub(super) fn feed(&mut self, mut data: &[u8]) -> Fed {
        let mut fed = Fed::default();
        while !data.is_empty() {
            match self {
                Framing::Count { got, bytes } | Framing::Sizes { got, bytes, .. } => {
                    let n = (4 - *got).min(data.len());
                    bytes[*got..*got + n].copy_from_slice(&data[..n]);
                    *got += n;
                    data = &data[n..];
                    if *got < 4 {
                        continue;
                    }
                    let word = u64::from(u32::from_le_bytes(*bytes));
                    *self = match *self {
                        Framing::Count { .. } => {
                            let count = word + 1;
                            Framing::Sizes {
                                left: count,
                                got: 0,
                                bytes: [0; 4],
                                pad: count.is_multiple_of(2),
                                body: 0,
                            }
                        }
                        Framing::Sizes {
                            left, pad, body, ..
                        } => {
                            let body = body.saturating_add(word * 8);
                            match (left - 1, pad) {
                                (0, true) => Framing::Padding { left: 4, body },
                                (0, false) => Framing::body(body, &mut fed),
                                (left, _) => Framing::Sizes {
                                    left,
                                    got: 0,
                                    bytes: [0; 4],
                                    pad,
                                    body,
                                },
                            }
                        }
                        _ => unreachable!("only Count and Sizes read words"),
                    };
                }
                Framing::Padding { left, body } => {
                    let n = (*left).min(data.len());
                    *left -= n;
                    data = &data[n..];
                    if *left == 0 {
                        *self = Framing::body(*body, &mut fed);
                    }
                }
                Framing::Body { left } => {
                    let n = (*left).min(data.len() as u64);
                    *left -= n;
                    data = &data[n as usize..];
                    if *left == 0 {
                        *self = Framing::default();
                        fed.completed += 1;
                    }
                }
            }
        }
        fed
    }

    /// The segment table is complete: `bytes` of segment data follow.
    fn body(bytes: u64, fed: &mut Fed) -> Framing {
        fed.largest = fed.largest.max(bytes);
        if bytes == 0 {
            fed.completed += 1;
            Framing::default()
        } else {
            Framing::Body { left: bytes }
        }
    }
}

/// What [`Framing::feed`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fed {
    /// Messages completed.
    pub(super) completed: usize,
    /// The largest message announced, in bytes of segment data.
    pub(super) largest: u64,
}

/// A byte stream with the idle and slow-message deadlines, write accounting,
/// and a socket the connection task can take away.
pub(super) struct Guarded<S> {
    socket: Rc<RefCell<Option<S>>>,
    gate: Rc<Gate>,
    framing: Framing,
    /// When the current message must have arrived, while one is arriving.
    message_deadline: Option<Instant>,
    timer: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    frame_timeout: Duration,
}

impl<S> Guarded<S> {
    pub(super) fn new(
        socket: Rc<RefCell<Option<S>>>,
        gate: Rc<Gate>,
        limits: ConnectionLimits,
    ) -> Self {
        Self {
            socket,
            gate,
            framing: Framing::default(),
            message_deadline: None,
            timer: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            idle_timeout: limits.idle_timeout,
            frame_timeout: limits.frame_timeout,
        }
    }

    fn closed() -> io::Error {
        io::Error::new(io::ErrorKind::NotConnected, "connection closed")
    }

    fn slow(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "a message took longer than {} s to arrive",
                self.frame_timeout.as_secs_f64()
            ),
        )
    }

    /// Updates the deadlines after `data` arrived.
    fn arrived(&mut self, data: &[u8]) -> io::Result<()> {
        let was_between = self.framing.between_messages();
        let fed = self.framing.feed(data);
        if fed.largest > PRE_AUTH_MAX_MESSAGE_BYTES && !self.gate.authenticated.get() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a message of {} bytes before authentication; the limit is {PRE_AUTH_MAX_MESSAGE_BYTES}",
                    fed.largest
                ),
            ));
        }
        let now = Instant::now();
        if self.framing.between_messages() {
            self.message_deadline = None;
            self.timer.as_mut().reset(now + self.idle_timeout);
        } else if was_between || fed.completed > 0 {
            let deadline = now + self.frame_timeout;
            self.message_deadline = Some(deadline);
            self.timer.as_mut().reset(deadline);
        } else if self.message_deadline.is_some_and(|d| now >= d) {
            return Err(self.slow());
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = match this.socket.borrow_mut().as_mut() {
            Some(socket) => Pin::new(socket).poll_read(cx, buf),
            None => return Poll::Ready(Err(Self::closed())),
        };
        match polled {
            Poll::Ready(Ok(())) => {
                let data = &buf.filled()[before..];
                if !data.is_empty() {
                    this.arrived(data)?;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if this.message_deadline.is_some() {
                    return Poll::Ready(Err(this.slow()));
                }
                if this.gate.calls_in_flight() == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("idle for {} s", this.idle_timeout.as_secs_f64()),
                    )));
                }
                // Quiet while waiting for its answers is not idle.
                let next = Instant::now() + this.idle_timeout;
                this.timer.as_mut().reset(next);
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = match this.socket.borrow_mut().as_mut() {
            Some(socket) => Pin::new(socket).poll_write(cx, data),
            None => return Poll::Ready(Err(Self::closed())),
        };
        if let Poll::Ready(Ok(n)) = polled {
            this.gate.wrote(n);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().socket.borrow_mut().as_mut() {
            Some(socket) => Pin::new(socket).poll_flush(cx),
            None => Poll::Ready(Err(Self::closed())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().socket.borrow_mut().as_mut() {
            Some(socket) => Pin::new(socket).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}
