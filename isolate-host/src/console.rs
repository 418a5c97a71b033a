//! The worker's log: `console.log`, `info`, `warn`, `error` and `debug`
//! write into the invocation's log lines, with a byte budget, and on to a
//! [`LogStream`] when the caller asked for live output.
//!
//! [`attach`] gives a worker's runtime its sink; the `console` object itself
//! is a lazy platform global (`platform/console.rs`), built from
//! [`methods`] on first use, so a worker that never logs pays nothing for it.

use std::cell::RefCell;
use std::rc::Rc;

use caplet::caplet_capnp::log_line::Level;
use rquickjs::function::Rest;
use rquickjs::{Ctx, Function, JsLifetime, Value};

use crate::log_stream::LogStream;

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
/// `Name: message`, other objects as JSON where possible.
fn format_value<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    if let Some(s) = value.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if value.is_undefined() {
        return "undefined".into();
    }
    if let Some(object) = value.as_object() {
        if object.is_error() {
            return crate::exception::describe(ctx, value).message;
        }
        if !value.is_function() {
            if let Ok(Some(json)) = ctx.json_stringify(value.clone()) {
                if let Ok(text) = json.to_string() {
                    return text;
                }
            }
        }
    }
    if value.is_big_int() {
        let digits = ctx
            .globals()
            .get::<_, Function>("String")
            .and_then(|f| f.call::<_, String>((value.clone(),)))
            .unwrap_or_default();
        return format!("{digits}n");
    }
    ctx.globals()
        .get::<_, Function>("String")
        .and_then(|f| f.call::<_, String>((value.clone(),)))
        .unwrap_or_else(|_| format!("[{}]", value.type_name()))
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
/// in that order), writing into the attached sink. Each formats its
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
            let text = args
                .0
                .iter()
                .map(|arg| format_value(&ctx, arg))
                .collect::<Vec<_>>()
                .join(" ");
            sink.borrow_mut().push(level, text);
        })?
        .with_name(name)?;
        methods.push(function);
    }
    Ok(methods)
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
