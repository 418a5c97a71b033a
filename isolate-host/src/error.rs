//! The isolate-host's error type, and its one conversion into `capnp::Error`.

use caplet::caplet_capnp::invoke_error::Kind;

/// Why loading or invoking a worker failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A module does not parse; `location` is `module:line:column`.
    #[error("syntax_error: {location}: {message}")]
    Syntax { location: String, message: String },
    /// An import names a module the worker does not have.
    #[error("module_not_found: {0}")]
    ModuleNotFound(String),
    /// The worker's code is malformed (bad module names, bad JSON module …).
    #[error("bad_code: {0}")]
    BadCode(String),
    /// Evaluating the main module threw.
    #[error("module_evaluation_failed: {0}")]
    Evaluation(String),
    /// The QuickJS engine itself failed (e.g. could not allocate a runtime).
    #[error("engine: {0}")]
    Engine(String),
    /// The host could not confine itself (or, with `--require-confinement`,
    /// the kernel lacks a protection).
    #[error("confinement: {0}")]
    Confinement(String),
    /// A Cap'n Proto message from the broker was malformed.
    #[error("protocol: {0}")]
    Protocol(#[from] capnp::Error),
}

impl From<Error> for capnp::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Protocol(inner) => inner,
            other => capnp::Error::failed(other.to_string()),
        }
    }
}

/// A failed invocation: what the caller sees in `InvokeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeFailure {
    pub kind: Kind,
    pub message: String,
    pub stack: String,
}

/// `kind: message`, the one-line form used where a failure becomes an error
/// text (a JS exception, a Cap'n Proto error).
impl std::fmt::Display for InvokeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", kind_name(self.kind), self.message)
    }
}

impl InvokeFailure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            stack: String::new(),
        }
    }
}

/// The snake_case name of an invocation error kind (the contract's names).
pub use caplet::invoke_error_kind_name as kind_name;
