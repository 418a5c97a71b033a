//! The byte stream under every caplet RPC connection, with writes coalesced
//! per event-loop turn.
//!
//! capnp-rpc's write queue flushes after every message, so each message was
//! its own `send` and, on a busy connection, its own wakeup of the peer. Here
//! the queue's writes land in a buffer and its flushes return at once; a
//! flusher task, woken by the first write, runs after the tasks that were
//! ready with it, so everything they queued in that turn leaves in one write.
//! The flusher outlives the connection until the buffer is drained, so
//! nothing queued before a connection ends is lost, but no longer than
//! [`DRAIN_GRACE`]: a peer that stops reading cannot keep a closed
//! connection's socket open. A write error is kept and returned to the next
//! write, which ends the connection.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use capnp_rpc::{rpc_twoparty_capnp::Side, twoparty};
use futures::io::BufReader;
use futures::{AsyncRead, AsyncWrite};

/// Bytes buffered before writes wait for the flusher.
const HIGH_WATER: usize = 64 << 10;

/// How long the flusher keeps trying to send what a dropped writer left.
pub const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A two-party network over `reader` and `writer`: reads buffered, writes
/// coalesced. Must be called inside a `LocalSet` (the flusher is spawned on
/// it).
pub fn network<R, W>(
    reader: R,
    writer: W,
    side: Side,
    options: capnp::message::ReaderOptions,
) -> twoparty::VatNetwork<BufReader<R>>
where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    twoparty::VatNetwork::new(BufReader::new(reader), coalesced(writer), side, options)
}

/// Wraps `writer` so that writes queued in one event-loop turn go out in one
/// write. Spawns the flusher on the current `LocalSet`.
pub fn coalesced<W: AsyncWrite + Unpin + 'static>(writer: W) -> Coalesced<W> {
    let shared = Rc::new(RefCell::new(State {
        writer,
        buf: Vec::new(),
        sent: 0,
        error: None,
        flusher: None,
        stalled: None,
        blocked: None,
        dropped: false,
    }));
    tokio::task::spawn_local(Flusher {
        shared: shared.clone(),
        grace: None,
    });
    Coalesced { shared }
}

struct State<W> {
    writer: W,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already written.
    sent: usize,
    /// The first write error; every later write fails with it.
    error: Option<(io::ErrorKind, String)>,
    /// The flusher, while it waits for bytes.
    flusher: Option<Waker>,
    /// The flusher, while it waits for the socket to take bytes (woken when
    /// the writer is dropped, to start its grace).
    stalled: Option<Waker>,
    /// A writer waiting for the buffer to drain below [`HIGH_WATER`].
    blocked: Option<Waker>,
    /// The `Coalesced` end is gone: drain, then stop.
    dropped: bool,
}

impl<W> State<W> {
    fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    fn error(&self) -> Option<io::Error> {
        self.error
            .as_ref()
            .map(|(kind, message)| io::Error::new(*kind, message.clone()))
    }

    fn wake_flusher(&mut self) {
        if let Some(waker) = self.flusher.take() {
            waker.wake();
        }
    }
}

/// The writing end handed to capnp-rpc (see the module docs).
pub struct Coalesced<W> {
    shared: Rc<RefCell<State<W>>>,
}

impl<W> AsyncWrite for Coalesced<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.shared.borrow_mut();
        if let Some(error) = state.error() {
            return Poll::Ready(Err(error));
        }
        let room = HIGH_WATER.saturating_sub(state.pending());
        if room == 0 {
            state.blocked = Some(cx.waker().clone());
            state.wake_flusher();
            return Poll::Pending;
        }
        let taken = room.min(data.len());
        state.buf.extend_from_slice(&data[..taken]);
        state.wake_flusher();
        Poll::Ready(Ok(taken))
    }

    /// The flusher sends what is buffered once this turn's tasks have run.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.borrow().error() {
            Some(error) => Poll::Ready(Err(error)),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<W> Drop for Coalesced<W> {
    fn drop(&mut self) {
        let mut state = self.shared.borrow_mut();
        state.dropped = true;
        state.wake_flusher();
        if let Some(waker) = state.stalled.take() {
            waker.wake();
        }
    }
}

/// Writes the buffer out whenever it holds bytes; ends once the `Coalesced`
/// end is dropped and everything is written (or [`DRAIN_GRACE`] has passed),
/// or on a write error.
struct Flusher<W> {
    shared: Rc<RefCell<State<W>>>,
    /// Started when the writer is dropped with bytes left.
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<W: AsyncWrite + Unpin> Future for Flusher<W> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = this.shared.borrow_mut();
        let state = &mut *state;
        loop {
            if state.error.is_some() {
                return Poll::Ready(());
            }
            if state.pending() == 0 {
                if state.dropped {
                    return Poll::Ready(());
                }
                state.flusher = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let written = Pin::new(&mut state.writer).poll_write(cx, &state.buf[state.sent..]);
            let written = match written {
                Poll::Pending if state.dropped => {
                    let grace = this
                        .grace
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(DRAIN_GRACE)));
                    return grace.as_mut().poll(cx);
                }
                Poll::Pending => {
                    state.stalled = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => Err(io::Error::from(io::ErrorKind::WriteZero)),
                Poll::Ready(result) => result,
            };
            let flushed = written.and_then(|n| {
                state.sent += n;
                if state.pending() > 0 {
                    return Ok(());
                }
                state.buf.clear();
                state.sent = 0;
                if state.buf.capacity() > 4 * HIGH_WATER {
                    state.buf.shrink_to(HIGH_WATER);
                }
                // The underlying writer is unbuffered; its flush is ready at
                // once (a pending one is polled again on the next wakeup).
                match Pin::new(&mut state.writer).poll_flush(cx) {
                    Poll::Ready(result) => result,
                    Poll::Pending => Ok(()),
                }
            });
            if let Err(error) = flushed {
                state.error = Some((error.kind(), error.to_string()));
            }
            if state.error.is_some() || state.pending() < HIGH_WATER {
                if let Some(waker) = state.blocked.take() {
                    waker.wake();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt, AsyncWriteExt};
    use std::time::Duration;
    use tokio_util::compat::TokioAsyncReadCompatExt;

    /// A sink that records each write it is asked to do.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Rc<RefCell<Vec<Vec<u8>>>>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.borrow_mut().push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn local(test: impl Future<Output = ()>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, test);
    }

    #[test]
    fn writes_flushed_in_one_turn_leave_in_one_write() {
        local(async {
            let recorder = Recorder::default();
            let mut writer = coalesced(recorder.clone());
            for message in [&b"one"[..], b"two", b"three"] {
                writer.write_all(message).await.unwrap();
                writer.flush().await.unwrap();
            }
            assert!(recorder.writes.borrow().is_empty(), "nothing written yet");
            tokio::task::yield_now().await;
            assert_eq!(*recorder.writes.borrow(), vec![b"onetwothree".to_vec()]);
        });
    }

    #[test]
    fn more_than_the_high_water_mark_arrives_whole_and_in_order() {
        local(async {
            let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
            let data: Vec<u8> = (0..5 * HIGH_WATER + 123).map(|i| (i % 251) as u8).collect();
            let sent = data.clone();
            let writing = tokio::task::spawn_local(async move {
                let mut writer = coalesced(ours.compat());
                writer.write_all(&sent).await.unwrap();
                writer.flush().await.unwrap();
            });
            let mut received = vec![0; data.len()];
            theirs.compat().read_exact(&mut received).await.unwrap();
            writing.await.unwrap();
            assert!(received == data, "the bytes arrived changed or reordered");
        });
    }

    #[test]
    fn bytes_queued_before_the_writer_is_dropped_are_still_sent() {
        local(async {
            let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
            {
                let mut writer = coalesced(ours.compat());
                writer.write_all(b"last words").await.unwrap();
            }
            let mut received = Vec::new();
            theirs.compat().read_to_end(&mut received).await.unwrap();
            assert_eq!(received, b"last words");
        });
    }

    #[test]
    fn a_peer_that_stops_reading_cannot_keep_a_dropped_writer_alive() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let (ours, _theirs) = tokio::net::UnixStream::pair().unwrap();
            let mut writer = coalesced(ours.compat());
            let shared = Rc::downgrade(&writer.shared);
            // More than the socket and the buffer hold: the write stalls.
            let big = vec![7; 8 << 20];
            let stalled = tokio::time::timeout(Duration::from_secs(1), writer.write_all(&big));
            assert!(stalled.await.is_err(), "the peer never reads");
            drop(writer);
            tokio::time::sleep(DRAIN_GRACE / 2).await;
            assert!(shared.strong_count() > 0, "still draining within the grace");
            tokio::time::sleep(DRAIN_GRACE).await;
            assert_eq!(shared.strong_count(), 0, "gave up after the grace");
        });
    }

    #[test]
    fn a_write_error_reaches_the_next_write() {
        local(async {
            let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
            drop(theirs);
            let mut writer = coalesced(ours.compat());
            writer.write_all(b"into the void").await.unwrap();
            tokio::task::yield_now().await;
            let error = writer.write_all(b"again").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        });
    }
}
