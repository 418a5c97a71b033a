//! The worker's log: `console.log`, `info`, `warn`, `error` and `debug`
//! write into the invocation's log lines, with a byte budget, and on to a
//! [`LogStream`] when the caller asked for live output.
//!
//! [`attach`] gives a worker's runtime its sink; the `console` object itself
//! is a lazy platform global (`platform/console.rs`), built from
//! [`methods`] on first use, so a worker that never logs pays nothing for it.
//!
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

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use caplet::caplet_capnp::log_line::Level;
use caplet::caplet_capnp::log_sink;
use rquickjs::function::Rest;
use rquickjs::{Ctx, Function, JsLifetime, Value};

/// What a line costs the log budget besides its text (its place in the
/// answer), so a flood of empty lines is bounded too.
const LINE_OVERHEAD: usize = 32;

/// One captured console line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub text: String,
}

/// The log lines of the running invocation, capped at `limit` bytes.
#[derive(Default)]
pub struct LogSink {
    lines: Vec<LogLine>,
    bytes: usize,
    limit: usize,
    dropped: usize,
    /// Where kept lines also go as they are logged.
    stream: Option<LogStream>,
}

impl LogSink {
    /// Starts an invocation's log with a budget of `limit` bytes (the
    /// stream, if any, stays).
    pub fn reset(&mut self, limit: usize) {
        *self = LogSink {
            limit,
            stream: self.stream.take(),
            ..LogSink::default()
        };
    }

    /// Sends the lines kept from now on to `stream` too; returns the
    /// previous stream.
    pub fn set_stream(&mut self, stream: Option<LogStream>) -> Option<LogStream> {
        std::mem::replace(&mut self.stream, stream)
    }

    /// Keeps a line if the budget allows, otherwise counts it as dropped.
    pub fn push(&mut self, level: Level, text: String) {
        // Each line also costs its place in the answer: an empty line is not free.
        let cost = text.len() + LINE_OVERHEAD;
        if self.bytes + cost > self.limit {
            self.dropped += 1;
            return;
        }
        self.bytes += cost;
        let line = LogLine { level, text };
        if let Some(stream) = &mut self.stream {
            stream.send(&line);
        }
        self.lines.push(line);
    }

    /// Takes the lines, ending with a warning when some were dropped.
    pub fn take(&mut self) -> Vec<LogLine> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(LogLine {
                level: Level::Warn,
                text: format!(
                    "log limit of {} bytes reached: {} later line(s) dropped",
                    self.limit, self.dropped
                ),
            });
        }
        self.bytes = 0;
        self.dropped = 0;
        lines
    }
}

/// Formats one console argument: strings as they are, errors as
/// `Name: message`, other objects as JSON where possible, through the
/// replacer `shown` (from `js/console.js`: a Map as an object or a list of
/// pairs, a Set or typed array as a list, a RegExp or nested error as its
/// text, a BigInt as `"12n"`, a reference back to an enclosing object as
/// `"[Circular]"`). What the worker's own code throws meanwhile (a
/// `toJSON`, a getter, a `toString`) falls back to `String(value)` and is
/// dropped, never left pending to surface in later, unrelated code. Only
/// the engine stopping JavaScript (a limit) is thrown on.
fn format_value<'js>(
    ctx: &Ctx<'js>,
    shown: Option<&Function<'js>>,
    value: &Value<'js>,
) -> rquickjs::Result<String> {
    if let Some(s) = value.as_string() {
        return Ok(s.to_string().unwrap_or_default());
    }
    if value.is_undefined() {
        return Ok("undefined".into());
    }
    if let Some(object) = value.as_object() {
        if object.is_error() {
            return Ok(crate::exception::describe(ctx, value).message);
        }
        if !value.is_function() {
            let json = match shown {
                Some(shown) => shown
                    .call::<_, Value>(())
                    .and_then(|replacer| ctx.json_stringify_replacer(value.clone(), replacer)),
                None => ctx.json_stringify(value.clone()),
            };
            match json {
                Ok(Some(json)) => {
                    if let Ok(text) = json.to_string() {
                        // An object written as a JSON string (a Date, a URL,
                        // a RegExp) prints as that text, unquoted.
                        if text.starts_with('"') {
                            match ctx.json_parse(text.clone()) {
                                Ok(parsed) => {
                                    if let Some(Ok(plain)) =
                                        parsed.as_string().map(|s| s.to_string())
                                    {
                                        return Ok(plain);
                                    }
                                }
                                Err(rquickjs::Error::Exception) => recover(ctx)?,
                                Err(_) => {}
                            }
                        }
                        return Ok(text);
                    }
                }
                Ok(None) => {}
                Err(rquickjs::Error::Exception) => recover(ctx)?,
                Err(other) => return Err(other),
            }
        }
    }
    let string = ctx
        .globals()
        .get::<_, Function>("String")
        .and_then(|f| f.call::<_, String>((value.clone(),)));
    match string {
        Ok(text) if value.is_big_int() => Ok(format!("{text}n")),
        Ok(text) => Ok(text),
        Err(rquickjs::Error::Exception) => {
            recover(ctx)?;
            Ok(format!("[{}]", value.type_name()))
        }
        Err(_) => Ok(format!("[{}]", value.type_name())),
    }
}

/// Takes the exception the worker's code left pending; throws it on when it
/// is the engine stopping JavaScript (an interrupt, out of memory).
fn recover(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let thrown = ctx.catch();
    if crate::exception::is_engine_stop(&thrown) {
        return Err(ctx.throw(thrown));
    }
    Ok(())
}

/// The sink of a worker's runtime, kept as runtime userdata (it holds no
/// JS value).
struct Attached(Rc<RefCell<LogSink>>);

// SAFETY: holds no JS value and no lifetime.
unsafe impl<'js> JsLifetime<'js> for Attached {
    type Changed<'to> = Attached;
}

/// Makes `sink` the log of `ctx`'s runtime: where the `console` built later
/// writes.
pub fn attach(ctx: &Ctx<'_>, sink: Rc<RefCell<LogSink>>) -> rquickjs::Result<()> {
    ctx.store_userdata(Attached(sink))
        .map(drop)
        .map_err(|_| rquickjs::Exception::throw_internal(ctx, "the log is in use"))
}

/// The five native log methods (`log`, `info`, `warn`, `error`, `debug`,
/// in that order), writing into the attached sink. Each takes the JSON
/// replacer factory of `js/console.js` first, then formats the other
/// arguments and joins them with spaces.
pub fn methods<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Vec<Function<'js>>> {
    let Some(sink) = ctx
        .userdata::<Attached>()
        .map(|attached| attached.0.clone())
    else {
        return Err(rquickjs::Exception::throw_internal(
            ctx,
            "console is not available: this runtime has no log",
        ));
    };
    let mut methods = Vec::with_capacity(5);
    for (name, level) in [
        ("log", Level::Info),
        ("info", Level::Info),
        ("warn", Level::Warn),
        ("error", Level::Error),
        ("debug", Level::Debug),
    ] {
        let sink = sink.clone();
        let function = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
            // The first argument is the replacer factory of `js/console.js`.
            let mut args = args.0.into_iter();
            let shown = args.next().and_then(|f| f.into_function());
            let text = args
                .map(|arg| format_value(&ctx, shown.as_ref(), &arg))
                .collect::<rquickjs::Result<Vec<_>>>()?
                .join(" ");
            sink.borrow_mut().push(level, text);
            rquickjs::Result::Ok(())
        })?
        .with_name(name)?;
        methods.push(function);
    }
    Ok(methods)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_drops_later_lines_and_says_so() {
        let mut sink = LogSink::default();
        sink.reset(10 + 2 * LINE_OVERHEAD);
        sink.push(Level::Info, "12345".into());
        sink.push(Level::Info, "123456".into());
        sink.push(Level::Info, "12345".into());
        let lines = sink.take();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].text, "12345");
        assert!(lines[2].text.contains("1 later line(s) dropped"));
    }

    #[test]
    fn empty_lines_cost_budget_too() {
        let mut sink = LogSink::default();
        sink.reset(10 * LINE_OVERHEAD);
        for _ in 0..1000 {
            sink.push(Level::Info, String::new());
        }
        let lines = sink.take();
        assert_eq!(lines.len(), 11, "10 kept and the warning");
        assert!(lines[10].text.contains("990 later line(s) dropped"));
    }
}
