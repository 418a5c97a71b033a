//! Turns caught JavaScript values into caplet errors: a one-line message
//! (`Error: boom`), the JS stack, and for syntax errors `module:line:column`.

use rquickjs::{Ctx, Type, Value};

use crate::error::Error;

/// The message of QuickJS's out-of-memory error.
pub const OUT_OF_MEMORY: &str = "InternalError: out of memory";

/// What a thrown `null` is taken for: QuickJS throws `null` when it has not
/// even the memory to build its out-of-memory error. (A worker that throws
/// `null` itself is reported the same way, and rebuilt, which is safe.)
pub const OUT_OF_MEMORY_OR_NULL: &str = "InternalError: out of memory (or a thrown null)";

/// A thrown JS value, described for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thrown {
    /// `Name: message` for errors, the value as a string otherwise.
    pub message: String,
    /// The JS stack (`    at f (main.js:1:32)` lines), empty when none.
    pub stack: String,
}

/// Describes a thrown value without running any of the worker's code where
/// avoidable: own data properties are read directly; only non-error values
/// fall back to `String(value)`, which may call a user `toString` (that runs
/// under the same limits as everything else).
pub fn describe<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Thrown {
    if value.type_of() == Type::Uninitialized {
        return Thrown {
            message: OUT_OF_MEMORY.to_string(),
            stack: String::new(),
        };
    }
    if value.is_null() {
        return Thrown {
            message: OUT_OF_MEMORY_OR_NULL.to_string(),
            stack: String::new(),
        };
    }
    if let Some(object) = value.as_object() {
        if object.is_error() {
            let name: String = object.get("name").unwrap_or_else(|_| "Error".into());
            let message: String = object.get("message").unwrap_or_default();
            let stack: String = object.get("stack").unwrap_or_default();
            let message = if message.is_empty() {
                name
            } else {
                format!("{name}: {message}")
            };
            return Thrown {
                message: bounded(one_line(&message)),
                stack: bounded(stack.trim_end().to_string()),
            };
        }
    }
    let text = value
        .as_string()
        .and_then(|s| s.to_string().ok())
        .or_else(|| {
            ctx.globals()
                .get::<_, rquickjs::Function>("String")
                .and_then(|f| f.call::<_, String>((value.clone(),)))
                .ok()
        })
        .unwrap_or_else(|| format!("a thrown {}", value.type_name()));
    Thrown {
        message: bounded(format!("Uncaught {}", one_line(&text))),
        stack: String::new(),
    }
}

/// Longest message or stack kept, in bytes: they travel in the answer, and
/// JS controls their size.
pub const MAX_TEXT_BYTES: usize = 64 << 10;

/// Cuts `text` to `MAX_TEXT_BYTES` (at a character boundary), saying so.
pub fn bounded(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" … (cut)");
    }
    text
}

/// Keeps only the first line, so every error message stays one line.
pub fn one_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first
    }
}

/// The error for a module that failed to compile.
pub fn compile_error<'js>(ctx: &Ctx<'js>, value: &Value<'js>, module: &str) -> Error {
    let thrown = describe(ctx, value);
    if let Some(rest) = thrown.message.split_once("module_not_found: ") {
        return Error::ModuleNotFound(rest.1.to_string());
    }
    let location = first_location(&thrown.stack).unwrap_or_else(|| module.to_string());
    let message = thrown
        .message
        .strip_prefix("SyntaxError: ")
        .unwrap_or(&thrown.message)
        .to_string();
    Error::Syntax { location, message }
}

/// The `file:line:column` of the innermost frame of a QuickJS stack.
pub fn first_location(stack: &str) -> Option<String> {
    let line = stack.lines().next()?.trim();
    let at = line.strip_prefix("at ")?;
    let location = match (at.rfind('('), at.ends_with(')')) {
        (Some(open), true) => &at[open + 1..at.len() - 1],
        _ => at,
    };
    Some(location.to_string())
}

/// Whether a thrown value is the engine stopping JavaScript (an interrupt,
/// running out of memory or stack) rather than the worker's own exception.
pub fn is_engine_stop(thrown: &Value<'_>) -> bool {
    // SAFETY: `thrown` is a live value; this only reads its header.
    if unsafe { rquickjs::qjs::JS_IsUncatchableError(thrown.as_raw()) } {
        return true;
    }
    let message = thrown
        .as_object()
        .and_then(|o| o.get::<_, rquickjs::Coerced<String>>("message").ok())
        .map(|m| m.0)
        .unwrap_or_default();
    message.contains("out of memory")
        || message.contains("stack overflow")
        || message.contains("Maximum call stack size exceeded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_innermost_location() {
        assert_eq!(
            first_location("    at main.js:3:19\n").as_deref(),
            Some("main.js:3:19")
        );
        assert_eq!(
            first_location("    at f (lib/m.js:1:32)\n    at main.js:2:1").as_deref(),
            Some("lib/m.js:1:32")
        );
        assert_eq!(first_location(""), None);
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(one_line("a\nb"), "a …");
        assert_eq!(one_line("a"), "a");
    }
}
