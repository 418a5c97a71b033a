//! One client connection, hardened: every RPC connection the broker accepts
//! (Unix socket or TCP) is served here.
//!
//! Three layers sit between the socket and capnp-rpc:
//! - `Guarded` wraps the byte stream. It follows the Cap'n Proto framing
//!   (segment table, then segments) without buffering anything, and fails the
//!   read side when the connection is *idle* (nothing arrives for
//!   `idle_timeout` while no call is in flight) or *slow* (a message takes
//!   longer than `frame_timeout` to arrive completely). It also counts the
//!   bytes written, for backpressure, and lets the connection task drop the
//!   socket itself when the connection ends, whatever still refers to it.
//! - The reader limits of [`crate::reader_options`] (80 MiB traversal limit,
//!   nesting 64) and capnp-futures' own limit of 512 segments per message:
//!   a malformed or oversized frame fails this connection's RPC system, which
//!   closes this connection and nothing else.
//! - `GatedNetwork` wraps the two-party `VatNetwork` and looks at each RPC
//!   message's header. It counts the peer's questions (`Call`, `Bootstrap`)
//!   until their `Return` is sent or the peer `Finish`es them, and answers
//!   that carry capabilities until the peer `Finish`es them (capnp-rpc keeps
//!   those in its answer table until then). Beyond `max_calls_in_flight`, a
//!   question is answered `overloaded` right there and never reaches
//!   capnp-rpc (which has no flow limit of its own). This covers every
//!   capability on the connection, not only the bootstrap. When more
//!   than [`MAX_BACKLOG_BYTES`] of answers wait to be written (the peer does
//!   not read them), the broker stops reading from that peer, and closes the
//!   connection if that lasts `idle_timeout`.
//!
//! At most `max_connections` connections per listener are open at once:
//! beyond that, a new connection is closed as soon as it is accepted, and the
//! connections already open are served as before. The Unix socket and TCP
//! count apart, so peers without a token cannot lock out local clients.
//!
//! A TCP connection starts *unauthenticated*: until `Gatekeeper.authenticate`
//! succeeds, its messages may be at most [`PRE_AUTH_MAX_MESSAGE_BYTES`], it
//! may have at most [`PRE_AUTH_MAX_CALLS`] calls in flight, it is closed
//! if it has not authenticated within `auth_timeout`, and it holds one of
//! the few places the descriptor budget ([`crate::descriptors`]) leaves to
//! unauthenticated connections. A peer without a token
//! gets a few kilobytes of the broker's attention, not the full budget.

//!
//! Files: `admission` (limits, open-connection count), `gate` (calls in
//! flight, backlog, closing), `framing` (the guarded byte stream); this
//! file starts a connection with all three. `framing` uses `gate`, both use
//! `admission`; none uses this file.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::RpcSystem;
use futures::AsyncReadExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::TokioAsyncReadCompatExt;

mod admission;
mod framing;
mod gate;

pub(crate) use admission::{Admission, Ticket};
pub use admission::{ConnectionLimits, PRE_AUTH_MAX_CALLS, PRE_AUTH_MAX_MESSAGE_BYTES};
use framing::Guarded;
#[cfg(test)]
use framing::{Fed, Framing};
use gate::GatedNetwork;
#[cfg(test)]
use gate::{peek, Peek};
pub use gate::{Gate, MAX_BACKLOG_BYTES};

/// How long a connection that is being closed may take to send its last
/// answers.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long capnp-rpc may take to flush its last message (an `Abort`) to a
/// connection that failed, before the socket is dropped anyway (the peer may
/// not be reading).
const END_GRACE: Duration = Duration::from_secs(1);

/// Serves one RPC connection on the current `LocalSet` until it ends. `peer`
/// names the peer in log lines; `bootstrap` makes the connection's bootstrap
/// capability and may keep the [`Gate`] to close the connection later, or to
/// mark it [`Gate::authenticated`] when it starts `authenticated: false`.
pub(crate) fn spawn<S>(
    stream: S,
    ticket: Ticket,
    peer: String,
    limits: ConnectionLimits,
    authenticated: bool,
    bootstrap: impl FnOnce(&Rc<Gate>) -> capnp::capability::Client,
) where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let gate = Gate::new(limits, authenticated);
    if !authenticated {
        let gate = Rc::downgrade(&gate);
        let peer = peer.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(limits.auth_timeout).await;
            if let Some(gate) = gate.upgrade().filter(|g| !g.authenticated.get()) {
                eprintln!(
                    "caplet: closing the connection from {peer}: not authenticated within {} s",
                    limits.auth_timeout.as_secs_f64()
                );
                gate.close_after_answers();
            }
        });
    }
    let socket = Rc::new(RefCell::new(Some(stream)));
    let guarded = Guarded::new(socket.clone(), gate.clone(), limits);
    let (reader, writer) = guarded.compat().split();
    let network = caplet::transport::network(reader, writer, Side::Server, crate::reader_options());
    let network = GatedNetwork {
        inner: network,
        gate: gate.clone(),
    };
    let rpc = RpcSystem::new(Box::new(network), Some(bootstrap(&gate)));
    let disconnector = rpc.get_disconnector();
    tokio::task::spawn_local(async move {
        let mut rpc = std::pin::pin!(rpc);
        let outcome = tokio::select! {
            served = &mut rpc => served,
            () = gate.close.notified() => {
                if gate.closing.get() {
                    // Let the answers already owed go out first, then say
                    // goodbye.
                    let goodbye = async {
                        let _ = tokio::time::timeout(CLOSE_GRACE, gate.answered_all()).await;
                        let _ = tokio::time::timeout(CLOSE_GRACE, disconnector).await;
                    };
                    tokio::select! {
                        served = &mut rpc => served,
                        () = goodbye => Ok(()),
                    }
                } else {
                    // capnp-rpc is ending the connection; it may wait forever
                    // to flush its last words to a peer that does not read.
                    match tokio::time::timeout(END_GRACE, &mut rpc).await {
                        Ok(served) => served,
                        Err(_) => gate.end.borrow_mut().take().map_or(Ok(()), Err),
                    }
                }
            }
        };
        // Drop the socket itself, even if a capability still refers to the
        // connection: the peer sees the end now.
        drop(socket.borrow_mut().take());
        drop(ticket);
        // Whatever still refers to the gate, the connection is over.
        gate.held.borrow_mut().clear();
        gate.unauthenticated.borrow_mut().take();
        match outcome {
            Err(error) if error.kind != capnp::ErrorKind::Disconnected => {
                eprintln!("caplet: connection from {peer} ended: {error}");
            }
            _ => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnp_rpc::rpc_capnp::message;

    fn frame(segments: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(segments.len() as u32 - 1).to_le_bytes());
        for s in segments {
            assert_eq!(s.len() % 8, 0);
            out.extend_from_slice(&(s.len() as u32 / 8).to_le_bytes());
        }
        if segments.len().is_multiple_of(2) {
            out.extend_from_slice(&[0; 4]);
        }
        for s in segments {
            out.extend_from_slice(s);
        }
        out
    }

    #[test]
    fn framing_follows_messages_fed_in_any_pieces() {
        let mut bytes = frame(&[&[1; 16]]);
        bytes.extend(frame(&[&[2; 8], &[3; 24]]));
        bytes.extend(frame(&[&[], &[], &[4; 8]]));
        bytes.extend(frame(&[&[]]));
        for chunk in [1, 3, 5, 7, 64, bytes.len()] {
            let mut framing = Framing::default();
            let mut completed = 0;
            for piece in bytes.chunks(chunk) {
                completed += framing.feed(piece).completed;
            }
            assert_eq!(completed, 4, "chunk {chunk}");
            assert!(framing.between_messages(), "chunk {chunk}");
        }
    }

    #[test]
    fn framing_is_mid_message_until_the_last_byte() {
        let bytes = frame(&[&[9; 32]]);
        let mut framing = Framing::default();
        assert_eq!(
            framing.feed(&bytes[..bytes.len() - 1]),
            Fed {
                completed: 0,
                largest: 32
            }
        );
        assert!(!framing.between_messages());
        assert_eq!(framing.feed(&bytes[bytes.len() - 1..]).completed, 1);
        assert!(framing.between_messages());
    }

    #[test]
    fn framing_survives_absurd_headers_without_allocating() {
        let mut framing = Framing::default();
        // 2^32 segments of 2^32 - 1 words: counted, never stored.
        framing.feed(&u32::MAX.to_le_bytes());
        for _ in 0..1000 {
            framing.feed(&u32::MAX.to_le_bytes());
        }
        assert!(!framing.between_messages());
        assert!(matches!(framing, Framing::Sizes { .. }));
    }

    #[test]
    fn peek_reads_the_message_kind() {
        let mut builder = capnp::message::Builder::new_default();
        let mut call = builder.init_root::<message::Builder>().init_call();
        call.set_question_id(7);
        let reader = builder.get_root_as_reader::<capnp::any_pointer::Reader>();
        assert_eq!(peek(reader), Peek::Question(7));

        let mut builder = capnp::message::Builder::new_default();
        builder
            .init_root::<message::Builder>()
            .init_finish()
            .set_question_id(8);
        let reader = builder.get_root_as_reader::<capnp::any_pointer::Reader>();
        assert_eq!(peek(reader), Peek::Finish(8));

        let mut builder = capnp::message::Builder::new_default();
        builder
            .init_root::<message::Builder>()
            .init_return()
            .set_answer_id(9);
        let reader = builder.get_root_as_reader::<capnp::any_pointer::Reader>();
        assert_eq!(peek(reader), Peek::Return(9, true));

        let mut builder = capnp::message::Builder::new_default();
        let mut ret = builder.init_root::<message::Builder>().init_return();
        ret.set_answer_id(10);
        ret.set_no_finish_needed(true);
        let reader = builder.get_root_as_reader::<capnp::any_pointer::Reader>();
        assert_eq!(peek(reader), Peek::Return(10, false));

        let mut builder = capnp::message::Builder::new_default();
        builder.init_root::<message::Builder>().init_release();
        let reader = builder.get_root_as_reader::<capnp::any_pointer::Reader>();
        assert_eq!(peek(reader), Peek::Other);
    }
}
