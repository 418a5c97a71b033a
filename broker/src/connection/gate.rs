//! The gate: counts a connection's calls in flight and refuses those
//! beyond its limit before capnp-rpc sees them ([`Gate`], the
//! [`GatedNetwork`] around the two-party network), tracks the answer
//! backlog, and closes the connection on demand.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use capnp::capability::Promise;
use capnp_rpc::rpc_capnp::{exception, message};
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::twoparty;
use futures::TryFutureExt;
use tokio::sync::Notify;

use crate::error::Error;
use crate::quota;

use super::admission::{ConnectionLimits, Ticket, PRE_AUTH_MAX_CALLS};

/// Unsent answer bytes above which the broker stops reading from a peer.
pub const MAX_BACKLOG_BYTES: u64 = 4 << 20;
/// Rejected calls in a row after which the reader yields to other tasks.
const REJECTIONS_PER_YIELD: u32 = 64;

/// The per-connection call counter and close switch.
pub struct Gate {
    pub(super) limit: usize,
    /// Whether the peer proved who it is (always, on the Unix socket).
    pub(super) authenticated: Cell<bool>,
    pub(super) idle_timeout: Duration,
    /// Question ids of the peer's calls not yet answered or finished.
    pub(super) in_flight: RefCell<HashSet<u32>>,
    /// Question ids answered with capabilities, which the peer has not
    /// finished yet.
    pub(super) unfinished: RefCell<HashSet<u32>>,
    /// Bytes of outgoing messages queued, and bytes written to the socket.
    pub(super) queued_bytes: Cell<u64>,
    pub(super) written_bytes: Cell<u64>,
    /// Woken when answers are sent or bytes are written.
    pub(super) progress: Notify,
    /// Set when the broker decided to close the connection.
    pub(super) closing: Cell<bool>,
    /// Why capnp-rpc is shutting the connection down.
    pub(super) end: RefCell<Option<capnp::Error>>,
    /// Woken when either of the two above happens.
    pub(super) close: Notify,
    /// The connection's shares of its principals' `connections` quotas
    /// (one per principal it authenticated as), given back when it ends.
    pub(super) held: RefCell<Vec<quota::Held>>,
    /// The connection's place among the unauthenticated TCP connections,
    /// given back when it authenticates (or ends).
    pub(super) unauthenticated: RefCell<Option<Ticket>>,
}

impl Gate {
    pub(super) fn new(limits: ConnectionLimits, authenticated: bool) -> Rc<Self> {
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
    pub(super) fn calls_in_flight(&self) -> usize {
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

    pub(super) fn wrote(&self, bytes: usize) {
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

    pub(super) async fn answered_all(&self) {
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
pub(super) enum Peek {
    /// A question from the peer (`Call` or `Bootstrap`) with its id.
    Question(u32),
    /// The peer is done with a question.
    Finish(u32),
    /// An answer to one of the peer's questions, and whether the peer must
    /// finish it.
    Return(u32, bool),
    Other,
}

pub(super) fn peek(body: capnp::Result<capnp::any_pointer::Reader<'_>>) -> Peek {
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
pub(super) struct GatedNetwork<T: futures::AsyncRead + Unpin + 'static> {
    pub(super) inner: twoparty::VatNetwork<T>,
    pub(super) gate: Rc<Gate>,
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
