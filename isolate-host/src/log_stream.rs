//! Live console output: while an invocation runs, every console line it
//! keeps is also sent to the caller's `LogSink` (`schema/caplet.capnp`),
//! through the broker.
//!
//! Sending never blocks JavaScript: each line is one `write` call sent at
//! once (calls on one capability arrive in the order they were sent), and
//! the answers are only awaited in [`LogStream::flush`], after the
//! invocation and before its results are returned, so every line reaches
//! the caller before the answer. A sink that fails is ignored; one that is
//! slow delays the answer by at most [`FLUSH_TIMEOUT`]. At most
//! [`MAX_LINES`] lines of one invocation are streamed (the log byte budget
//! does not bound the count of empty lines); the rest reach the caller only
//! in the invocation's `logs`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use caplet::caplet_capnp::log_sink;

use crate::console::LogLine;

/// The longest an invocation's answer waits for its sink to take the lines.
pub const FLUSH_TIMEOUT: Duration = Duration::from_millis(caplet::LOG_FLUSH_TIMEOUT_MS);

/// The most lines one invocation streams.
pub const MAX_LINES: usize = 10_000;

/// The caller's sink of one invocation, and the writes in flight to it.
pub struct LogStream {
    sink: log_sink::Client,
    in_flight: Vec<Pin<Box<dyn Future<Output = ()>>>>,
}

impl LogStream {
    /// Streams to `sink`.
    pub fn new(sink: log_sink::Client) -> Self {
        Self {
            sink,
            in_flight: Vec::new(),
        }
    }

    /// Sends one line now (nothing once [`MAX_LINES`] were sent).
    pub fn send(&mut self, line: &LogLine) {
        if self.in_flight.len() >= MAX_LINES {
            return;
        }
        let mut request = self.sink.write_request();
        let mut out = request.get().init_line();
        out.set_level(line.level);
        out.set_text(&line.text);
        let answer = request.send().promise;
        self.in_flight.push(Box::pin(async move {
            // A failing sink is the caller's problem, not the worker's.
            let _ = answer.await;
        }));
    }

    /// Waits until the sink has answered every line (at most
    /// [`FLUSH_TIMEOUT`]).
    pub async fn flush(self) {
        let all = futures::future::join_all(self.in_flight);
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, all).await;
    }
}
