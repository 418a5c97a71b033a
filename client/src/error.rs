//! The client's error type: what went wrong, in variants a caller can match.

use caplet::caplet_capnp::invoke_error::Kind;

use crate::{CallRecord, LogLine, Stats};

/// Why a client call failed.
///
/// ```
/// use caplet_client::{Error, Limit};
///
/// fn explain(error: &Error) -> String {
///     match error {
///         Error::Exception { message, stack, .. } => format!("the worker threw {message}\n{stack}"),
///         Error::LimitExceeded { limit: Limit::CpuTime, .. } => "too much CPU".into(),
///         Error::LimitExceeded { limit, .. } => format!("over the {limit:?} limit"),
///         Error::Refused { kind, .. } if kind == "syntax_error" => "fix the code".into(),
///         Error::Denied { message, .. } => format!("not allowed: {message}"),
///         Error::Disconnected(_) => "the broker or host went away; retry".into(),
///         other => other.to_string(),
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The worker threw, or the promise it returned rejected.
    #[error("exception: {message}")]
    Exception {
        /// `Name: message`, e.g. `TypeError: x is undefined`.
        message: String,
        /// The JavaScript stack, when there is one.
        stack: String,
        logs: Vec<LogLine>,
        stats: Stats,
        /// The capability calls it made (the call log).
        calls: Vec<CallRecord>,
    },
    /// A limit ended the invocation; the worker is rebuilt before it runs again.
    #[error("{}: {message}", limit.kind_name())]
    LimitExceeded {
        limit: Limit,
        message: String,
        logs: Vec<LogLine>,
        stats: Stats,
        /// The capability calls it made (the call log).
        calls: Vec<CallRecord>,
    },
    /// The worker ran but its invocation failed otherwise: no such
    /// entrypoint, a result with no JSON form, malformed input, a promise
    /// that can never settle, or a bug in caplet (`Kind::Internal`).
    #[error("{}: {message}", kind_name(*kind))]
    Invocation {
        kind: Kind,
        message: String,
        logs: Vec<LogLine>,
        stats: Stats,
        /// The capability calls it made (the call log).
        calls: Vec<CallRecord>,
    },
    /// The broker refused the request; `kind` is the stable snake_case kind
    /// (`syntax_error`, `module_not_found`, `limit_too_high`, `id_conflict` …).
    #[error("{kind}: {message}")]
    Refused { kind: String, message: String },
    /// Authentication failed (`unauthenticated`), or a policy does not allow
    /// the request (`denied`).
    #[error("{kind}: {message}")]
    Denied { kind: String, message: String },
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
                Some((kind @ ("unauthenticated" | "denied"), message)) => Error::Denied {
                    kind: kind.to_string(),
                    message: message.to_string(),
                },
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

/// A resource limit of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// CPU time of one invocation (`Limits.cpuTimeMs`).
    CpuTime,
    /// Heap of the worker's runtime (`Limits.memoryBytes`).
    Memory,
    /// Wall-clock time of one invocation (`Limits.wallTimeMs`).
    WallTime,
    /// JavaScript stack (`Limits.stackBytes`).
    Stack,
    /// Size of the JSON output (`Limits.outputBytes`).
    Output,
    /// Capability calls one invocation may make (`Limits.subrequests`).
    Subrequests,
    /// Capability calls waiting at once (`Limits.callsInFlight`).
    CallsInFlight,
    /// Timers pending at once (`Limits.pendingTimers`).
    PendingTimers,
}

impl Limit {
    /// The limit an invocation error kind names, if it names one.
    pub fn of(kind: Kind) -> Option<Limit> {
        match kind {
            Kind::CpuLimitExceeded => Some(Limit::CpuTime),
            Kind::MemoryLimitExceeded => Some(Limit::Memory),
            Kind::WallTimeExceeded => Some(Limit::WallTime),
            Kind::StackOverflow => Some(Limit::Stack),
            Kind::OutputTooLarge => Some(Limit::Output),
            Kind::SubrequestLimitExceeded => Some(Limit::Subrequests),
            Kind::CallsInFlightExceeded => Some(Limit::CallsInFlight),
            Kind::TimerLimitExceeded => Some(Limit::PendingTimers),
            _ => None,
        }
    }

    /// The invocation error kind this limit ends an invocation with.
    pub fn kind(self) -> Kind {
        match self {
            Limit::CpuTime => Kind::CpuLimitExceeded,
            Limit::Memory => Kind::MemoryLimitExceeded,
            Limit::WallTime => Kind::WallTimeExceeded,
            Limit::Stack => Kind::StackOverflow,
            Limit::Output => Kind::OutputTooLarge,
            Limit::Subrequests => Kind::SubrequestLimitExceeded,
            Limit::CallsInFlight => Kind::CallsInFlightExceeded,
            Limit::PendingTimers => Kind::TimerLimitExceeded,
        }
    }

    /// The snake_case kind of the error this limit ends an invocation with.
    pub fn kind_name(self) -> &'static str {
        kind_name(self.kind())
    }
}

impl Error {
    /// The error for a failed invocation, sorted into its variant.
    pub(crate) fn invocation(
        kind: Kind,
        message: String,
        stack: String,
        logs: Vec<LogLine>,
        stats: Stats,
        calls: Vec<CallRecord>,
    ) -> Self {
        match (kind, Limit::of(kind)) {
            (Kind::Exception, _) => Error::Exception {
                message,
                stack,
                logs,
                stats,
                calls,
            },
            (_, Some(limit)) => Error::LimitExceeded {
                limit,
                message,
                logs,
                stats,
                calls,
            },
            (kind, None) => Error::Invocation {
                kind,
                message,
                logs,
                stats,
                calls,
            },
        }
    }

    /// The kind of a failed invocation (`None` for errors that are not an
    /// invocation's: refusals, lost connections …).
    pub fn invoke_kind(&self) -> Option<Kind> {
        match self {
            Error::Exception { .. } => Some(Kind::Exception),
            Error::LimitExceeded { limit, .. } => Some(limit.kind()),
            Error::Invocation { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The message of a failed invocation, if it ran.
    pub fn invoke_message(&self) -> Option<&str> {
        match self {
            Error::Exception { message, .. }
            | Error::LimitExceeded { message, .. }
            | Error::Invocation { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The logs of the invocation that failed, if it ran.
    pub fn logs(&self) -> &[LogLine] {
        match self {
            Error::Exception { logs, .. }
            | Error::LimitExceeded { logs, .. }
            | Error::Invocation { logs, .. } => logs,
            _ => &[],
        }
    }

    /// The call log of a failed invocation (empty for other errors).
    pub fn calls(&self) -> &[CallRecord] {
        match self {
            Error::Exception { calls, .. }
            | Error::LimitExceeded { calls, .. }
            | Error::Invocation { calls, .. } => calls,
            _ => &[],
        }
    }
}

/// The snake_case name of an invocation error kind (the contract's names).
pub use caplet::invoke_error_kind_name as kind_name;

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
    fn invocation_failures_sort_into_variants() {
        let sort = |kind| {
            Error::invocation(
                kind,
                "m".into(),
                String::new(),
                Vec::new(),
                Stats::default(),
                Vec::new(),
            )
        };
        assert!(matches!(sort(Kind::Exception), Error::Exception { .. }));
        assert!(matches!(
            sort(Kind::CpuLimitExceeded),
            Error::LimitExceeded {
                limit: Limit::CpuTime,
                ..
            }
        ));
        assert!(matches!(
            sort(Kind::BadInput),
            Error::Invocation {
                kind: Kind::BadInput,
                ..
            }
        ));
        assert_eq!(
            sort(Kind::MemoryLimitExceeded).to_string(),
            "memory_limit_exceeded: m"
        );
    }

    #[test]
    fn failed_authentication_is_denied() {
        let err = Error::from(capnp::Error::failed(
            "remote exception: unauthenticated: invalid token".into(),
        ));
        assert!(
            matches!(err, Error::Denied { ref message, .. } if message == "invalid token"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "unauthenticated: invalid token");
    }

    #[test]
    fn disconnects_are_their_own_variant() {
        let err = Error::from(capnp::Error::disconnected("host died".into()));
        assert!(matches!(err, Error::Disconnected(_)));
    }
}
