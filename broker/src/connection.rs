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

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use capnp::capability::Promise;
use capnp_rpc::rpc_capnp::{exception, message};
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{twoparty, RpcSystem};
use futures::{AsyncReadExt, TryFutureExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::error::Error;
use crate::quota;

/// Unsent answer bytes above which the broker stops reading from a peer.
pub const MAX_BACKLOG_BYTES: u64 = 4 << 20;
/// How long a connection that is being closed may take to send its last
/// answers.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long capnp-rpc may take to flush its last message (an `Abort`) to a
/// connection that failed, before the socket is dropped anyway (the peer may
/// not be reading).
const END_GRACE: Duration = Duration::from_secs(1);
/// Rejected calls in a row after which the reader yields to other tasks.
const REJECTIONS_PER_YIELD: u32 = 64;
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

/// The per-connection call counter and close switch.
pub struct Gate {
    limit: usize,
    /// Whether the peer proved who it is (always, on the Unix socket).
    authenticated: Cell<bool>,
    idle_timeout: Duration,
    /// Question ids of the peer's calls not yet answered or finished.
    in_flight: RefCell<HashSet<u32>>,
    /// Question ids answered with capabilities, which the peer has not
    /// finished yet.
    unfinished: RefCell<HashSet<u32>>,
    /// Bytes of outgoing messages queued, and bytes written to the socket.
    queued_bytes: Cell<u64>,
    written_bytes: Cell<u64>,
    /// Woken when answers are sent or bytes are written.
    progress: Notify,
    /// Set when the broker decided to close the connection.
    closing: Cell<bool>,
    /// Why capnp-rpc is shutting the connection down.
    end: RefCell<Option<capnp::Error>>,
    /// Woken when either of the two above happens.
    close: Notify,
    /// The connection's shares of its principals' `connections` quotas
    /// (one per principal it authenticated as), given back when it ends.
    held: RefCell<Vec<quota::Held>>,
    /// The connection's place among the unauthenticated TCP connections,
    /// given back when it authenticates (or ends).
    unauthenticated: RefCell<Option<Ticket>>,
}

impl Gate {
    fn new(limits: ConnectionLimits, authenticated: bool) -> Rc<Self> {
        Rc::new(Self {
            limit: limits.max_calls_in_flight.max(1),
            authenticated: Cell::new(authenticated),
            idle_timeout: limits.idle_timeout,
            in_flight: RefCell::new(HashSet::new()),
            unfinished: RefCell::new(HashSet::new()),
            queued_bytes: Cell::new(0),
            written_bytes: Cell::new(0),
            progress: Notify::new(),
            closing: Cell::new(false),
            end: RefCell::new(None),
            close: Notify::new(),
            held: RefCell::new(Vec::new()),
            unauthenticated: RefCell::new(None),
        })
    }

    /// Keeps `ticket` (a place among the unauthenticated connections) until
    /// the peer authenticates.
    pub(crate) fn until_authenticated(&self, ticket: Ticket) {
        *self.unauthenticated.borrow_mut() = Some(ticket);
    }

    /// Counts this connection against `principal`'s `connections` quota
    /// (once per principal, however often it authenticates as it), until
    /// it ends.
    pub(crate) fn count_for(&self, book: &Rc<quota::Book>, principal: &str) -> Result<(), Error> {
        if self
            .held
            .borrow()
            .iter()
            .any(|h| h.principal() == principal)
        {
            return Ok(());
        }
        let held = book.connection(principal)?;
        self.held.borrow_mut().push(held);
        Ok(())
    }

    /// Keeps `held` until the connection ends.
    pub(crate) fn keep(&self, held: quota::Held) {
        self.held.borrow_mut().push(held);
    }

    /// Closes the connection once the calls in flight are answered (or after
    /// a grace period); no further calls are read.
    pub(crate) fn close_after_answers(&self) {
        self.closing.set(true);
        self.close.notify_one();
    }

    /// The peer authenticated: the connection gets its full limits.
    pub(crate) fn authenticated(&self) {
        self.authenticated.set(true);
        self.unauthenticated.borrow_mut().take();
    }

    /// Calls the peer has in flight (not answered yet).
    fn calls_in_flight(&self) -> usize {
        self.in_flight.borrow().len()
    }

    /// Whether another question would break the limit: calls in flight plus
    /// answers the peer holds without finishing them.
    fn full(&self) -> bool {
        let limit = if self.authenticated.get() {
            self.limit
        } else {
            self.limit.min(PRE_AUTH_MAX_CALLS)
        };
        self.in_flight.borrow().len() + self.unfinished.borrow().len() >= limit
    }

    fn backlog(&self) -> u64 {
        self.queued_bytes
            .get()
            .saturating_sub(self.written_bytes.get())
    }

    fn queued(&self, words: usize) {
        self.queued_bytes
            .set(self.queued_bytes.get() + 8 * words as u64);
    }

    fn wrote(&self, bytes: usize) {
        self.written_bytes
            .set(self.written_bytes.get() + bytes as u64);
        self.progress.notify_waiters();
    }

    /// The broker sent the answer to `question`; `needs_finish` when it
    /// carries capabilities the peer must finish.
    fn answered(&self, question: u32, needs_finish: bool) {
        if self.in_flight.borrow_mut().remove(&question) {
            if needs_finish {
                self.unfinished.borrow_mut().insert(question);
            }
            self.progress.notify_waiters();
        }
    }

    /// The peer is done with `question` (answered or not).
    fn finished(&self, question: u32) {
        let was_in_flight = self.in_flight.borrow_mut().remove(&question);
        let was_unfinished = self.unfinished.borrow_mut().remove(&question);
        if was_in_flight || was_unfinished {
            self.progress.notify_waiters();
        }
    }

    async fn answered_all(&self) {
        while self.calls_in_flight() > 0 {
            self.progress.notified().await;
        }
    }

    /// Waits while the peer leaves too many answers unread; fails when that
    /// lasts `idle_timeout` without any progress.
    async fn wait_for_room(&self) -> Result<(), Error> {
        while self.backlog() > MAX_BACKLOG_BYTES {
            let progress = self.progress.notified();
            if tokio::time::timeout(self.idle_timeout, progress)
                .await
                .is_err()
            {
                return Err(Error::Closed(format!(
                    "the peer read none of its answers for {} s",
                    self.idle_timeout.as_secs()
                )));
            }
        }
        Ok(())
    }
}

/// What the gate needs to know about a message.
#[derive(Debug, PartialEq, Eq)]
enum Peek {
    /// A question from the peer (`Call` or `Bootstrap`) with its id.
    Question(u32),
    /// The peer is done with a question.
    Finish(u32),
    /// An answer to one of the peer's questions, and whether the peer must
    /// finish it.
    Return(u32, bool),
    Other,
}

fn peek(body: capnp::Result<capnp::any_pointer::Reader<'_>>) -> Peek {
    let Ok(root) = body.and_then(|b| b.get_as::<message::Reader>()) else {
        return Peek::Other;
    };
    match root.which() {
        Ok(message::Call(Ok(call))) => Peek::Question(call.get_question_id()),
        Ok(message::Bootstrap(Ok(bootstrap))) => Peek::Question(bootstrap.get_question_id()),
        Ok(message::Finish(Ok(finish))) => Peek::Finish(finish.get_question_id()),
        Ok(message::Return(Ok(ret))) => {
            Peek::Return(ret.get_answer_id(), !ret.get_no_finish_needed())
        }
        _ => Peek::Other,
    }
}

type Connection = Box<dyn capnp_rpc::Connection<Side>>;

/// The two-party network with a [`Gate`] on its connection.
struct GatedNetwork<T: futures::AsyncRead + Unpin + 'static> {
    inner: twoparty::VatNetwork<T>,
    gate: Rc<Gate>,
}

impl<T: futures::AsyncRead + Unpin + 'static> capnp_rpc::VatNetwork<Side> for GatedNetwork<T> {
    fn connect(&mut self, host_id: Side) -> Option<Connection> {
        let gate = self.gate.clone();
        self.inner
            .connect(host_id)
            .map(|inner| GatedConnection::boxed(inner, gate))
    }

    fn accept(&mut self) -> Promise<Connection, capnp::Error> {
        let gate = self.gate.clone();
        Promise::from_future(
            self.inner
                .accept()
                .map_ok(move |inner| GatedConnection::boxed(inner, gate)),
        )
    }

    fn drive_until_shutdown(&mut self) -> Promise<(), capnp::Error> {
        self.inner.drive_until_shutdown()
    }
}

struct GatedConnection {
    inner: Rc<RefCell<Connection>>,
    gate: Rc<Gate>,
}

impl GatedConnection {
    fn boxed(inner: Connection, gate: Rc<Gate>) -> Connection {
        Box::new(Self {
            inner: Rc::new(RefCell::new(inner)),
            gate,
        })
    }
}

/// Answers question `id` with `overloaded` without involving capnp-rpc.
fn reject(inner: &RefCell<Connection>, gate: &Gate, id: u32) -> capnp::Result<()> {
    let error = capnp::Error::from(Error::TooManyCalls { limit: gate.limit });
    let mut outgoing = inner.borrow_mut().new_outgoing_message(32);
    {
        let root: message::Builder = outgoing.get_body()?.init_as();
        let mut ret = root.init_return();
        ret.set_answer_id(id);
        // The peer releases the capabilities it sent with the call itself,
        // and need not finish a question nobody keeps.
        ret.set_release_param_caps(true);
        ret.set_no_finish_needed(true);
        let mut exception = ret.init_exception();
        exception.set_reason(error.extra.as_str());
        exception.set_type(exception::Type::Overloaded);
    }
    gate.queued(outgoing.size_in_words());
    drop(outgoing.send());
    Ok(())
}

impl capnp_rpc::Connection<Side> for GatedConnection {
    fn get_peer_vat_id(&self) -> Side {
        self.inner.borrow().get_peer_vat_id()
    }

    fn new_outgoing_message(
        &mut self,
        first_segment_word_size: u32,
    ) -> Box<dyn capnp_rpc::OutgoingMessage> {
        Box::new(GatedOutgoing {
            inner: self
                .inner
                .borrow_mut()
                .new_outgoing_message(first_segment_word_size),
            gate: self.gate.clone(),
        })
    }

    fn receive_incoming_message(
        &mut self,
    ) -> Promise<Option<Box<dyn capnp_rpc::IncomingMessage>>, capnp::Error> {
        let inner = self.inner.clone();
        let gate = self.gate.clone();
        Promise::from_future(async move {
            let mut rejected = 0u32;
            loop {
                if gate.closing.get() {
                    // Closing: read nothing more; the connection task ends it.
                    return futures::future::pending().await;
                }
                gate.wait_for_room().await?;
                let next = inner.borrow_mut().receive_incoming_message();
                let Some(message) = next.await? else {
                    return Ok(None);
                };
                match peek(message.get_body()) {
                    Peek::Question(id) => {
                        if gate.full() {
                            reject(&inner, &gate, id)?;
                            rejected += 1;
                            if rejected.is_multiple_of(REJECTIONS_PER_YIELD) {
                                // A flood of calls must not starve other peers.
                                tokio::task::yield_now().await;
                            }
                            continue;
                        }
                        gate.in_flight.borrow_mut().insert(id);
                    }
                    Peek::Finish(id) => gate.finished(id),
                    Peek::Return(..) | Peek::Other => {}
                }
                return Ok(Some(message));
            }
        })
    }

    fn new_stream(
        &mut self,
    ) -> (
        Box<dyn capnp_rpc::FlowController>,
        Promise<(), capnp::Error>,
    ) {
        self.inner.borrow_mut().new_stream()
    }

    fn shutdown(&mut self, result: capnp::Result<()>) -> Promise<(), capnp::Error> {
        if let Err(error) = &result {
            *self.gate.end.borrow_mut() = Some(error.clone());
        }
        self.gate.close.notify_one();
        self.inner.borrow_mut().shutdown(result)
    }
}

/// An outgoing message that tells the gate when it answers a question.
struct GatedOutgoing {
    inner: Box<dyn capnp_rpc::OutgoingMessage>,
    gate: Rc<Gate>,
}

impl capnp_rpc::OutgoingMessage for GatedOutgoing {
    fn get_body(&mut self) -> capnp::Result<capnp::any_pointer::Builder<'_>> {
        self.inner.get_body()
    }

    fn get_body_as_reader(&self) -> capnp::Result<capnp::any_pointer::Reader<'_>> {
        self.inner.get_body_as_reader()
    }

    fn send(
        self: Box<Self>,
    ) -> (
        Promise<(), capnp::Error>,
        Rc<capnp::message::Builder<capnp::message::HeapAllocator>>,
    ) {
        if let Peek::Return(id, needs_finish) = peek(self.inner.get_body_as_reader()) {
            self.gate.answered(id, needs_finish);
        }
        self.gate.queued(self.inner.size_in_words());
        self.inner.send()
    }

    fn take(self: Box<Self>) -> capnp::message::Builder<capnp::message::HeapAllocator> {
        self.inner.take()
    }

    fn size_in_words(&self) -> usize {
        self.inner.size_in_words()
    }
}

/// Follows Cap'n Proto stream framing (a segment table, then the segments)
/// byte by byte, keeping nothing but counters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Framing {
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
    fn between_messages(&self) -> bool {
        matches!(self, Framing::Count { got: 0, .. })
    }

    /// Consumes `data`; returns how many messages it completed and the
    /// largest message size (segment data, in bytes) a segment table in it
    /// announced.
    fn feed(&mut self, mut data: &[u8]) -> Fed {
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
struct Fed {
    /// Messages completed.
    completed: usize,
    /// The largest message announced, in bytes of segment data.
    largest: u64,
}

/// A byte stream with the idle and slow-message deadlines, write accounting,
/// and a socket the connection task can take away.
struct Guarded<S> {
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
    fn new(socket: Rc<RefCell<Option<S>>>, gate: Rc<Gate>, limits: ConnectionLimits) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
