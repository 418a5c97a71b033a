//! The broker's error type, and its one conversion into `capnp::Error`.

/// Why the broker refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The worker's code is malformed (names, sizes, missing main module …).
    #[error("bad_code: {0}")]
    BadCode(String),
    /// The modules are larger than the worker's module limit.
    #[error("module_too_large: the modules total {total} bytes, over the limit of {limit}")]
    ModuleTooLarge { total: u64, limit: u64 },
    /// A requested limit is above the broker's maximum.
    #[error("limit_too_high: {name} = {requested} is above the broker's maximum of {maximum}")]
    LimitTooHigh {
        name: &'static str,
        requested: u64,
        maximum: u64,
    },
    /// An interface schema does not compile or cannot be used from JS.
    #[error("schema_error: {0}")]
    Schema(String),
    /// `get` was called with an id already bound to different code.
    #[error("id_conflict: worker id {0:?} is already in use with different code")]
    IdConflict(String),
    /// No isolate-host could take the worker.
    #[error("no_host: {0}")]
    NoHost(String),
    /// Starting an isolate-host failed.
    #[error("spawn: cannot start isolate-host {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A token presented to `Gatekeeper.authenticate` matched no principal.
    #[error("unauthenticated: invalid token")]
    Unauthenticated,
    /// A connection has more calls in flight than its limit allows.
    #[error("too_many_calls: more than {limit} calls in flight on this connection")]
    TooManyCalls { limit: usize },
    /// The broker closed a client connection (it stopped reading, or broke
    /// a limit).
    #[error("connection closed: {0}")]
    Closed(String),
    /// The token file is malformed. Never carries a token.
    #[error("token file {path}: {reason}")]
    TokenFile { path: String, reason: String },
    /// A socket or file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The configuration file is malformed; names the file, line and key.
    #[error("{0}")]
    Config(String),
    /// `Broker.builtin` was asked for something the configuration does not
    /// allow, or a malformed name.
    #[error("bad_grant: {0}")]
    BadGrant(String),
    /// A field of a request is malformed (e.g. text that is not UTF-8).
    #[error("bad_input: {0}")]
    BadInput(String),
    /// A built-in cannot be served (its data directory cannot be opened).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An upstream MCP server at a URL cannot be reached
    /// (`crate::upstream_http`).
    #[error("cannot connect to {address}: {reason}")]
    UpstreamUnreachable { address: String, reason: String },
    /// An upstream MCP server at a URL answered an error status: the
    /// status and the start of its answer, on one line.
    #[error("the upstream refused the request: HTTP {status}: {detail}")]
    UpstreamRefused { status: u16, detail: String },
    /// An HTTP exchange with an upstream MCP server failed midway.
    #[error("http: {0}")]
    UpstreamHttp(String),
    /// A principal would hold more than a quota of `crate::quota` allows.
    #[error("quota_exceeded: {quota}: {detail}")]
    QuotaExceeded { quota: &'static str, detail: String },
    /// A Cap'n Proto error passing through (from a host or a malformed message).
    #[error(transparent)]
    Capnp(#[from] capnp::Error),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<Error> for capnp::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Capnp(inner) => inner,
            Error::NoHost(_) | Error::TooManyCalls { .. } | Error::QuotaExceeded { .. } => {
                capnp::Error::overloaded(error.to_string())
            }
            other => capnp::Error::failed(other.to_string()),
        }
    }
}

impl From<capnp::NotInSchema> for Error {
    fn from(error: capnp::NotInSchema) -> Self {
        Error::Capnp(error.into())
    }
}

impl From<std::str::Utf8Error> for Error {
    /// A text field that is not UTF-8 is the caller's fault: `bad_input`.
    fn from(error: std::str::Utf8Error) -> Self {
        Error::BadInput(format!("a text field is not valid utf-8 ({error})"))
    }
}
