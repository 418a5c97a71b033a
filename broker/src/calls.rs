//! The call log of a worker's invocations: every capability call its code
//! makes passes a membrane (`membrane`), which records it here. A
//! `Worker.invoke` opens a window ([`CallLog::begin`]) and returns the
//! records of the calls started in it as `calls` ([`CallLog::finish`]).
//!
//! A record holds the binding, interface and method names, the start (µs
//! from the invocation's start) and duration, the sizes of params and
//! results (their words × 8, as Cap'n Proto counts them), the outcome
//! (`ok`, or the error kind) and, for a call made on a capability of an
//! answer not yet returned (promise pipelining), the index of that call.
//!
//! Bounded: at most [`MAX_RECORDS`] records per invocation; later calls
//! are only counted ([`Window::dropped`]). A call still in flight when the
//! invocation answers is recorded with outcome `in_flight`. One window at
//! a time: `Worker.invoke` serialises its invocations (the host runs them
//! one after another anyway).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use caplet::caplet_capnp::call_record;

/// Most records one invocation keeps.
pub const MAX_RECORDS: usize = 4096;

/// One capability call.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub binding: Rc<str>,
    pub interface: Box<str>,
    pub method: Box<str>,
    pub start_us: u64,
    /// `None` while in flight.
    pub duration_us: Option<u64>,
    pub params_bytes: u64,
    pub results_bytes: u64,
    /// `ok`, or the error kind (`failed`, `not_found`, `disconnected` …).
    pub outcome: Box<str>,
    /// The index of the call whose answer this call was pipelined on.
    pub pipelined_on: Option<u32>,
}

/// Where a call's record is, to finish it.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    generation: u64,
    index: u32,
}

impl Ticket {
    /// The call's index in its invocation's log.
    pub fn index(self) -> u32 {
        self.index
    }
}

#[derive(Debug, Default)]
struct State {
    /// Counts windows, so a call that outlives its invocation does not
    /// write into the next one's log.
    generation: u64,
    open: bool,
    start: Option<Instant>,
    records: Vec<Record>,
    dropped: u64,
}

/// The call log of one worker (shared by the membranes of its bindings).
#[derive(Debug, Default)]
pub struct CallLog {
    state: RefCell<State>,
    /// Held by the invocation whose window is open.
    window: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The records of one invocation.
#[derive(Debug, Default)]
pub struct Window {
    pub records: Vec<Record>,
    /// Calls beyond [`MAX_RECORDS`], not recorded.
    pub dropped: u64,
}

impl CallLog {
    pub fn new() -> Rc<Self> {
        Rc::new(Self::default())
    }

    /// Opens the log for one invocation; waits for the previous one's window
    /// to close. The window closes when the guard is dropped or finished.
    pub async fn begin(self: &Rc<Self>) -> Recording {
        let permit = self.window.clone().lock_owned().await;
        let mut state = self.state.borrow_mut();
        state.generation += 1;
        state.open = true;
        state.start = Some(Instant::now());
        state.records.clear();
        state.dropped = 0;
        Recording {
            log: Some(self.clone()),
            _permit: permit,
        }
    }

    /// Records the start of a call; `None` when no window is open or the
    /// log is full. `origin` is the call whose answer the capability came
    /// from: the new call is pipelined on it if that one is still in flight.
    pub fn start(
        &self,
        binding: &Rc<str>,
        interface: &str,
        method: &str,
        params_bytes: u64,
        origin: Option<Ticket>,
    ) -> Option<Ticket> {
        let mut state = self.state.borrow_mut();
        if !state.open {
            return None;
        }
        if state.records.len() >= MAX_RECORDS {
            state.dropped += 1;
            return None;
        }
        let generation = state.generation;
        let pipelined_on = origin
            .filter(|o| o.generation == generation)
            .filter(|o| {
                state
                    .records
                    .get(o.index as usize)
                    .is_some_and(|r| r.duration_us.is_none())
            })
            .map(|o| o.index);
        let start_us = micros(state.start);
        let index = state.records.len() as u32;
        state.records.push(Record {
            binding: binding.clone(),
            interface: interface.into(),
            method: method.into(),
            start_us,
            duration_us: None,
            params_bytes,
            results_bytes: 0,
            outcome: "in_flight".into(),
            pipelined_on,
        });
        Some(Ticket { generation, index })
    }

    /// Records how a call ended.
    pub fn finish(&self, ticket: Ticket, results_bytes: u64, outcome: &str) {
        let mut state = self.state.borrow_mut();
        if ticket.generation != state.generation || !state.open {
            return;
        }
        let now = micros(state.start);
        if let Some(record) = state.records.get_mut(ticket.index as usize) {
            record.duration_us = Some(now.saturating_sub(record.start_us));
            record.results_bytes = results_bytes;
            record.outcome = outcome.into();
        }
    }

    fn close(&self) -> Window {
        let mut state = self.state.borrow_mut();
        state.open = false;
        let now = micros(state.start);
        let mut records = std::mem::take(&mut state.records);
        for record in &mut records {
            if record.duration_us.is_none() {
                record.duration_us = Some(now.saturating_sub(record.start_us));
            }
        }
        let dropped = std::mem::take(&mut state.dropped);
        Window { records, dropped }
    }
}

/// An open window of a [`CallLog`]; closing it (or dropping it, when the
/// invocation is cancelled) lets the next invocation record.
#[derive(Debug)]
pub struct Recording {
    log: Option<Rc<CallLog>>,
    /// Dropped after the window closed.
    _permit: tokio::sync::OwnedMutexGuard<()>,
}

impl Recording {
    /// Closes the window and returns its records.
    pub fn finish(mut self) -> Window {
        self.log.take().map(|log| log.close()).unwrap_or_default()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            log.close();
        }
    }
}

fn micros(start: Option<Instant>) -> u64 {
    start.map_or(0, |s| {
        s.elapsed().as_micros().try_into().unwrap_or(u64::MAX)
    })
}

/// The outcome of a failed call: the kind its reason starts with
/// (`not_found: …`, after any `remote exception: ` prefix), else the Cap'n
/// Proto type (`failed`, `overloaded`, `disconnected`, `unimplemented`).
pub fn outcome_of(error: &capnp::Error) -> String {
    let reason = error
        .extra
        .trim_start_matches("remote exception: ")
        .trim_start();
    if let Some((kind, _)) = reason.split_once(':') {
        if !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return kind.to_string();
        }
    }
    match error.kind {
        capnp::ErrorKind::Overloaded => "overloaded",
        capnp::ErrorKind::Disconnected => "disconnected",
        capnp::ErrorKind::Unimplemented => "unimplemented",
        _ => "failed",
    }
    .to_string()
}

/// Writes `records` into a `List(CallRecord)`.
pub fn write(records: &[Record], mut out: capnp::struct_list::Builder<'_, call_record::Owned>) {
    for (i, record) in records.iter().enumerate() {
        let mut r = out.reborrow().get(i as u32);
        r.set_binding(&*record.binding);
        r.set_interface(&*record.interface);
        r.set_method(&*record.method);
        r.set_start_us(record.start_us);
        r.set_duration_us(record.duration_us.unwrap_or(0));
        r.set_params_bytes(record.params_bytes);
        r.set_results_bytes(record.results_bytes);
        r.set_outcome(&*record.outcome);
        r.set_pipelined_on(record.pipelined_on.map_or(-1, i64::from));
    }
}
