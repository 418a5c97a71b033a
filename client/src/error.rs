//! The client's error type: what went wrong, in variants a caller can match.

use caplet::caplet_capnp::invoke_error::Kind;

use crate::{LogLine, Stats};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker refused the request; `kind` is the stable snake_case kind
    /// (`syntax_error`, `module_not_found`, `limit_too_high`, `id_conflict` …).
    #[error("{kind}: {message}")]
    Refused { kind: String, message: String },
    /// The worker ran and failed.
    #[error("{}: {message}", kind_name(*kind))]
    Invoke {
        kind: Kind,
        message: String,
        stack: String,
        logs: Vec<LogLine>,
        stats: Stats,
    },
    /// The broker or the isolate-host went away.
    #[error("disconnected: {0}")]
    Disconnected(String),
    /// The broker is overloaded; try again later.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// Connecting to the broker failed.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    /// Any other Cap'n Proto failure.
    #[error("rpc: {0}")]
    Rpc(capnp::Error),
}

impl From<capnp::Error> for Error {
    fn from(error: capnp::Error) -> Self {
        let text = error.extra.clone();
        match error.kind {
            capnp::ErrorKind::Disconnected => Error::Disconnected(text),
            capnp::ErrorKind::Overloaded => Error::Overloaded(text),
            capnp::ErrorKind::Failed => match split_kind(&text) {
                Some((kind, message)) => Error::Refused {
                    kind: kind.to_string(),
                    message: message.to_string(),
                },
                None => Error::Rpc(error),
            },
            _ => Error::Rpc(error),
        }
    }
}

/// Splits `kind: message` where kind is snake_case, as the broker sends it.
/// Remote exceptions arrive prefixed with `remote exception: ` once per hop
/// (host → broker → client); skip those.
fn split_kind(text: &str) -> Option<(&str, &str)> {
    let mut text = text;
    while let Some(rest) = text.strip_prefix("remote exception: ") {
        text = rest;
    }
    let (kind, message) = text.split_once(": ")?;
    let snake = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    snake.then_some((kind, message))
}

/// The snake_case name of an invocation error kind.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Exception => "exception",
        Kind::EntrypointNotFound => "entrypoint_not_found",
        Kind::OutputNotSerializable => "output_not_serializable",
        Kind::BadInput => "bad_input",
        Kind::NeverSettled => "never_settled",
        Kind::CpuLimitExceeded => "cpu_limit_exceeded",
        Kind::MemoryLimitExceeded => "memory_limit_exceeded",
        Kind::WallTimeExceeded => "wall_time_exceeded",
        Kind::StackOverflow => "stack_overflow",
        Kind::OutputTooLarge => "output_too_large",
        Kind::Internal => "internal",
        Kind::SubrequestLimitExceeded => "subrequest_limit_exceeded",
        Kind::CallsInFlightExceeded => "calls_in_flight_exceeded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_refusals_keep_their_kind() {
        let err = Error::from(capnp::Error::failed(
            "remote exception: remote exception: syntax_error: main.js:2:9: unexpected token"
                .into(),
        ));
        match err {
            Error::Refused { kind, message } => {
                assert_eq!(kind, "syntax_error");
                assert_eq!(message, "main.js:2:9: unexpected token");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn disconnects_are_their_own_variant() {
        let err = Error::from(capnp::Error::disconnected("host died".into()));
        assert!(matches!(err, Error::Disconnected(_)));
    }
}
