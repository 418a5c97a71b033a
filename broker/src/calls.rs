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
//! Bounded: at most [`MAX_RECORDS`] records and [`MAX_BYTES`] bytes of
//! records per invocation; later calls are only counted
//! ([`Window::dropped`], `callsDropped`). A call still in flight when the
//! invocation answers is recorded with outcome `in_flight`. One window at
//! a time: `Worker.invoke` serialises its invocations (the host runs them
//! one after another anyway).
//!
//! Live: a window may stream its records as they complete to a
//! [`Stream`] (the client's `LogSink.call`, through `log_sink`), in the
//! order the calls started: a record goes out once its call and every call
//! started before it have been answered, and the rest when the window
//! closes, so the `n`th record streamed is `calls[n]`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use caplet::caplet_capnp::call_record;

/// Most records one invocation keeps.
pub const MAX_RECORDS: usize = 4096;

/// Most bytes of records one invocation keeps, counted as they are encoded
/// in `calls` ([`Record::encoded_bytes`]).
pub const MAX_BYTES: usize = 1 << 20;

/// Where a window streams its records while the invocation runs.
pub type Stream = Rc<dyn Fn(&Record)>;

/// The longest outcome a record holds ([`outcome_of`]).
const MAX_OUTCOME: usize = 32;

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

impl Record {
    /// Its size in a `List(CallRecord)`: the struct (5 data words and 4
    /// pointers) and its 4 texts (with their NUL, in whole words).
    pub fn encoded_bytes(binding: &str, interface: &str, method: &str, outcome: &str) -> usize {
        let text = |t: &str| (t.len() + 1).div_ceil(8) * 8;
        72 + text(binding) + text(interface) + text(method) + text(outcome)
    }
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

#[derive(Default)]
struct State {
    /// Counts windows, so a call that outlives its invocation does not
    /// write into the next one's log.
    generation: u64,
    open: bool,
    start: Option<Instant>,
    records: Vec<Record>,
    /// Bytes of `records`, as encoded.
    bytes: usize,
    dropped: u64,
    /// Where finished records go while the window is open.
    stream: Option<Stream>,
    /// How many records were streamed.
    streamed: usize,
}

/// The call log of one worker (shared by the membranes of its bindings).
#[derive(Default)]
pub struct CallLog {
    /// Off only to measure what recording costs (`Config::call_log`).
    off: bool,
    state: RefCell<State>,
    /// Held by the invocation whose window is open.
    window: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The records of one invocation.
#[derive(Debug, Default)]
pub struct Window {
    pub records: Vec<Record>,
    /// Calls beyond [`MAX_RECORDS`] or [`MAX_BYTES`], not recorded.
    pub dropped: u64,
}

impl CallLog {
    pub fn new() -> Rc<Self> {
        Rc::new(Self::default())
    }

    /// A log that records nothing: every window is empty.
    pub fn off() -> Rc<Self> {
        Rc::new(Self {
            off: true,
            ..Self::default()
        })
    }

    /// Opens the log for one invocation, streaming its records to `stream`
    /// if set; waits for the previous one's window to close. The window
    /// closes when the guard is dropped or finished.
    pub async fn begin(self: &Rc<Self>, stream: Option<Stream>) -> Recording {
        let permit = self.window.clone().lock_owned().await;
        let mut state = self.state.borrow_mut();
        state.generation += 1;
        state.open = !self.off;
        state.start = Some(Instant::now());
        state.records.clear();
        state.bytes = 0;
        state.dropped = 0;
        state.stream = stream;
        state.streamed = 0;
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
        // Counted with the longest outcome, which the record may get.
        let bytes = Record::encoded_bytes(binding, interface, method, &"_".repeat(MAX_OUTCOME));
        if state.records.len() >= MAX_RECORDS || state.bytes + bytes > MAX_BYTES {
            state.dropped += 1;
            return None;
        }
        state.bytes += bytes;
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
        if state.stream.is_some() {
            // The finished records not yet streamed, up to the first call
            // still in flight; sent once the borrow has ended.
            let from = state.streamed;
            let ready = state.records[from..]
                .iter()
                .take_while(|r| r.duration_us.is_some())
                .count();
            if ready == 0 {
                return;
            }
            state.streamed += ready;
            let records = state.records[from..from + ready].to_vec();
            let stream = state.stream.clone();
            drop(state);
            if let Some(stream) = stream {
                for record in &records {
                    stream(record);
                }
            }
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
        let stream = state.stream.take();
        let streamed = std::mem::take(&mut state.streamed);
        drop(state);
        // The rest (calls still in flight, and those after them) go out
        // before the invocation answers.
        if let Some(stream) = stream {
            for record in records.iter().skip(streamed) {
                stream(record);
            }
        }
        Window { records, dropped }
    }
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog")
            .field("off", &self.off)
            .finish_non_exhaustive()
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
        if !kind.is_empty()
            && kind.len() <= MAX_OUTCOME
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
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
        write_one(record, out.reborrow().get(i as u32));
    }
}

/// Writes one record into a `CallRecord`.
pub fn write_one(record: &Record, mut r: call_record::Builder<'_>) {
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        futures::executor::block_on(f)
    }

    #[test]
    fn records_past_the_count_bound_are_counted_not_kept() {
        let log = CallLog::new();
        let binding: Rc<str> = "b".into();
        let recording = block_on(log.begin(None));
        for _ in 0..MAX_RECORDS + 7 {
            if let Some(ticket) = log.start(&binding, "I", "m", 8, None) {
                log.finish(ticket, 16, "ok");
            }
        }
        let window = recording.finish();
        assert_eq!(window.records.len(), MAX_RECORDS);
        assert_eq!(window.dropped, 7);
        // The next window starts empty.
        let window = block_on(log.begin(None)).finish();
        assert_eq!((window.records.len(), window.dropped), (0, 0));
    }

    #[test]
    fn records_past_the_byte_bound_are_counted_not_kept() {
        let log = CallLog::new();
        let binding: Rc<str> = "b".into();
        // A method name of 4 KiB: far fewer records fit in MAX_BYTES.
        let method = "m".repeat(4096);
        let each = Record::encoded_bytes("b", "I", &method, &"_".repeat(MAX_OUTCOME));
        let fit = MAX_BYTES / each;
        assert!(fit < MAX_RECORDS);
        let recording = block_on(log.begin(None));
        for _ in 0..fit + 3 {
            log.start(&binding, "I", &method, 8, None);
        }
        let window = recording.finish();
        assert_eq!(window.records.len(), fit);
        assert_eq!(window.dropped, 3);
        let encoded: usize = window
            .records
            .iter()
            .map(|r| Record::encoded_bytes(&r.binding, &r.interface, &r.method, &r.outcome))
            .sum();
        assert!(encoded <= MAX_BYTES);
    }

    #[test]
    fn records_stream_in_start_order_once_every_earlier_call_is_answered() {
        let log = CallLog::new();
        let binding: Rc<str> = "b".into();
        let sent = Rc::new(RefCell::new(Vec::<(String, Box<str>)>::new()));
        let into = sent.clone();
        let stream: Stream = Rc::new(move |r: &Record| {
            into.borrow_mut()
                .push((r.method.to_string(), r.outcome.clone()))
        });
        let recording = block_on(log.begin(Some(stream)));
        let first = log.start(&binding, "I", "first", 8, None).unwrap();
        let second = log.start(&binding, "I", "second", 8, Some(first)).unwrap();
        let third = log.start(&binding, "I", "third", 8, None).unwrap();
        let fourth = log.start(&binding, "I", "fourth", 8, None).unwrap();
        log.finish(second, 8, "ok");
        assert!(
            sent.borrow().is_empty(),
            "sent before an earlier call ended"
        );
        log.finish(first, 8, "failed");
        let names = |sent: &Vec<(String, Box<str>)>| -> Vec<String> {
            sent.iter().map(|(m, o)| format!("{m}:{o}")).collect()
        };
        assert_eq!(names(&sent.borrow()), ["first:failed", "second:ok"]);
        log.finish(fourth, 8, "ok");
        assert_eq!(sent.borrow().len(), 2);
        // The call still in flight and the ones after it go when it closes.
        let window = recording.finish();
        assert_eq!(
            names(&sent.borrow()),
            ["first:failed", "second:ok", "third:in_flight", "fourth:ok"]
        );
        assert_eq!(window.records.len(), 4);
        assert_eq!(window.records[1].pipelined_on, Some(0));
        // A call that ends after its window closed sends nothing.
        log.finish(third, 8, "ok");
        assert_eq!(sent.borrow().len(), 4);
    }

    #[test]
    fn a_log_that_is_off_records_nothing() {
        let log = CallLog::off();
        let recording = block_on(log.begin(None));
        assert!(log.start(&"b".into(), "I", "m", 8, None).is_none());
        let window = recording.finish();
        assert_eq!((window.records.len(), window.dropped), (0, 0));
    }
}
