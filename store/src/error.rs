//! The crate's one error type.
//!
//! Leaf variants say what went wrong (`not found`, `quota exceeded: …`);
//! [`Error::Op`] and [`Error::Item`] wrap a leaf with the operation, the
//! path or key, and the index of a batch op, so that the final message is one
//! line such as `batch op 1: remove /tmp: not found`. The capnp servers turn
//! an `Error` into a capnp exception exactly once, through
//! `From<Error> for capnp::Error`.

use std::path::PathBuf;

use crate::{MAX_NAME_BYTES, MAX_PATH_BYTES};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the fs and kv stores.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be created.
    #[error("open {path}: {source}")]
    Open {
        /// The data directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// SQLite failed (I/O error, corruption, lock timeout).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL answered with an error (a constraint, a bad query, a lock
    /// wait over the lock timeout); `code` is its SQLSTATE.
    #[error("postgres: {code}: {message}")]
    Postgres {
        /// The SQLSTATE, e.g. `55P03` (lock not available).
        code: String,
        /// PostgreSQL's message, one line.
        message: String,
    },
    /// PostgreSQL cannot be reached (refused, closed, timed out, shutting
    /// down): the call failed and changed nothing it did not commit.
    #[error("storage unreachable: {0}")]
    Unreachable(String),
    /// The store's configuration is unusable (a bad URL, a missing password).
    #[error("store configuration: {0}")]
    Config(String),
    /// A broken invariant or an unusable database (never the caller's fault).
    #[error("internal error: {0}")]
    Internal(String),
    /// A principal, volume or store name is unusable.
    #[error("invalid {what} name {name}: {reason}")]
    InvalidName {
        /// `principal`, `volume` or `store`.
        what: &'static str,
        /// The name as given, quoted (and shortened when long).
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    // ---- context wrappers ---------------------------------------------------
    /// An operation on one path or key failed.
    #[error("{op} {target}: {source}")]
    Op {
        /// The operation, as named in the schema (`write`, `put` …).
        op: &'static str,
        /// The normalised path, or the input quoted when it is not valid.
        target: String,
        /// What went wrong.
        source: Box<Error>,
    },
    /// One item of a batch failed; nothing of the batch took effect.
    #[error("{what} {index}: {source}")]
    Item {
        /// `batch op` or `putMany entry`.
        what: &'static str,
        /// Index of the failing item, from 0.
        index: usize,
        /// The item's error (an [`Error::Op`]).
        source: Box<Error>,
    },

    // ---- paths --------------------------------------------------------------
    /// `..` would climb above the root.
    #[error("path escapes the volume root")]
    PathEscapesRoot,
    /// A path contains a NUL byte.
    #[error("path contains a NUL byte")]
    PathHasNul,
    /// A path is longer than [`MAX_PATH_BYTES`].
    #[error("path too long: {len} bytes, limit {MAX_PATH_BYTES}")]
    PathTooLong {
        /// Length of the path as given.
        len: usize,
    },
    /// A path component is longer than [`MAX_NAME_BYTES`].
    #[error("path component too long: {len} bytes, limit {MAX_NAME_BYTES}")]
    NameTooLong {
        /// Length of the offending component.
        len: usize,
    },

    // ---- file system --------------------------------------------------------
    /// Nothing exists at the path.
    #[error("not found")]
    NotFound,
    /// The path names a file where a directory is needed.
    #[error("not a directory")]
    NotADirectory,
    /// The path names a directory where a file is needed.
    #[error("is a directory")]
    IsADirectory,
    /// Something already exists at the path.
    #[error("already exists")]
    AlreadyExists,
    /// The destination of a rename exists and cannot be replaced.
    #[error("destination {to} already exists")]
    DestinationExists {
        /// The destination path.
        to: String,
    },
    /// A directory is not empty and `recursive` was not set.
    #[error("directory not empty")]
    NotEmpty,
    /// The parent directory is missing.
    #[error("parent directory {parent} does not exist")]
    ParentMissing {
        /// The missing parent.
        parent: String,
    },
    /// An ancestor is a file.
    #[error("parent {parent} is not a directory")]
    ParentNotADirectory {
        /// The ancestor that is a file.
        parent: String,
    },
    /// The root directory cannot be written, removed or renamed.
    #[error("the root directory cannot be changed")]
    RootImmutable,
    /// A directory would be moved under itself.
    #[error("cannot move a directory into itself")]
    IntoItself,
    /// A file would exceed [`crate::vfs::MAX_FILE_BYTES`].
    #[error("file too large: {size} bytes, limit {limit}")]
    FileTooLarge {
        /// The size the file would have.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The volume's byte quota would be exceeded.
    #[error("quota exceeded: volume {volume:?} allows {limit} bytes")]
    QuotaBytes {
        /// The volume name.
        volume: String,
        /// The quota, in bytes of file content.
        limit: u64,
    },
    /// The volume's entry quota would be exceeded.
    #[error("quota exceeded: volume {volume:?} allows {limit} entries")]
    QuotaEntries {
        /// The volume name.
        volume: String,
        /// The quota, in files plus directories.
        limit: u64,
    },
    /// A mutation was attempted on a read-only grant.
    #[error("volume {volume:?} is read-only")]
    ReadOnly {
        /// The volume name.
        volume: String,
    },
    /// A glob matched more entries than allowed.
    #[error("too many matches: limit {limit}")]
    TooManyMatches {
        /// The limit.
        limit: usize,
    },
    /// An answer would pass [`crate::answer::MAX_ANSWER_BYTES`].
    #[error("the {what} would be over {limit} bytes")]
    TooLarge {
        /// What the answer is: `batch results`, `listing`, `glob matches`.
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A batch (or putMany) has too many items.
    #[error("too many items: {len}, limit {limit}")]
    TooManyItems {
        /// Number of items given.
        len: usize,
        /// The limit.
        limit: usize,
    },

    // ---- key/value ----------------------------------------------------------
    /// A key is empty, too long or contains NUL.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// Why it was refused.
        reason: String,
    },
    /// A value is over [`crate::kv::MAX_VALUE_BYTES`].
    #[error("value too large: {size} bytes, limit {limit}")]
    ValueTooLarge {
        /// Size of the value.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A list cursor is malformed or belongs to another prefix.
    #[error("invalid cursor")]
    InvalidCursor,
}

impl Error {
    /// The innermost error, under any [`Error::Op`] / [`Error::Item`] context.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Op { source, .. } | Error::Item { source, .. } => source.cause(),
            other => other,
        }
    }

    /// Wraps `self` with the operation and its target (a path or key).
    pub(crate) fn op(self, op: &'static str, target: impl Into<String>) -> Error {
        Error::Op {
            op,
            target: target.into(),
            source: Box::new(self),
        }
    }

    /// The stable snake_case kind of the innermost error, which starts the
    /// reason of the capnp exception (`not_found: read /a: not found`), so
    /// clients tell failures apart without reading the message.
    pub fn kind(&self) -> &'static str {
        match self.cause() {
            Error::NotFound | Error::ParentMissing { .. } => "not_found",
            Error::AlreadyExists | Error::DestinationExists { .. } => "exists",
            Error::NotADirectory | Error::ParentNotADirectory { .. } => "not_a_directory",
            Error::IsADirectory => "is_a_directory",
            Error::NotEmpty => "not_empty",
            Error::PathEscapesRoot
            | Error::PathHasNul
            | Error::PathTooLong { .. }
            | Error::NameTooLong { .. }
            | Error::RootImmutable
            | Error::IntoItself => "bad_path",
            Error::FileTooLarge { .. } | Error::ValueTooLarge { .. } | Error::TooLarge { .. } => {
                "too_large"
            }
            Error::QuotaBytes { .. } | Error::QuotaEntries { .. } => "quota_exceeded",
            Error::ReadOnly { .. } => "read_only",
            Error::TooManyMatches { .. } | Error::TooManyItems { .. } => "too_many",
            Error::InvalidKey { .. } => "bad_key",
            Error::InvalidCursor => "bad_cursor",
            Error::InvalidName { .. } => "bad_name",
            Error::Open { .. }
            | Error::Sqlite(_)
            | Error::Postgres { .. }
            | Error::Config(_)
            | Error::Internal(_) => "storage",
            Error::Unreachable(_) => "disconnected",
            // `cause()` never returns a context wrapper.
            Error::Op { .. } | Error::Item { .. } => "storage",
        }
    }

    /// Whether the database stayed locked past its timeout (SQLite busy;
    /// PostgreSQL lock timeout, serialization failure or deadlock).
    fn is_busy(&self) -> bool {
        match self.cause() {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            Error::Postgres { code, .. } => matches!(code.as_str(), "55P03" | "40001" | "40P01"),
            _ => false,
        }
    }

    /// Whether the store could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.cause(), Error::Unreachable(_))
    }
}

/// Quotes user input for an error message: escaped, one line, at most ~100
/// bytes (an over-long path must not make an over-long message).
pub(crate) fn quote(input: &str) -> String {
    const MAX: usize = 96;
    if input.len() <= MAX {
        return format!("{input:?}");
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &input[..end])
}

impl From<Error> for capnp::Error {
    /// Store errors become `failed` with their kind first
    /// (`not_found: read /a: not found`), except a database that stayed
    /// locked past the busy timeout, which is back-pressure: `overloaded`,
    /// and a database that cannot be reached: `disconnected`.
    fn from(e: Error) -> capnp::Error {
        if e.is_unreachable() {
            capnp::Error::disconnected(format!("disconnected: {e}"))
        } else if e.is_busy() {
            capnp::Error::overloaded(format!("overloaded: {e}"))
        } else {
            capnp::Error::failed(format!("{}: {e}", e.kind()))
        }
    }
}

/// One line of PostgreSQL's error: its SQLSTATE and message, or what the
/// client saw; a lost or refused connection is [`Error::Unreachable`].
impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            // 08xxx: connection exception; 57P01-3: shutting down, crashed,
            // starting up.
            if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
                return Error::Unreachable(one_line(db.message()));
            }
            return Error::Postgres {
                code: code.to_string(),
                message: one_line(db.message()),
            };
        }
        let io = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(|io| io.to_string());
        let text = e.to_string();
        if e.is_closed() || io.is_some() || text == "timeout waiting for server" {
            return Error::Unreachable(match io {
                Some(io) => one_line(&format!("{text}: {io}")),
                None => one_line(&text),
            });
        }
        Error::Internal(one_line(&format!("postgres: {text}")))
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Error {
        use deadpool_postgres::PoolError;
        match e {
            PoolError::Backend(e) => e.into(),
            PoolError::Timeout(_) => {
                Error::Unreachable("no postgres connection became free in time".into())
            }
            other => Error::Internal(one_line(&format!("postgres pool: {other}"))),
        }
    }
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_lowercase_line_with_context() {
        let e = Error::QuotaBytes {
            volume: "workspace".into(),
            limit: 1048576,
        }
        .op("write", "/notes/a.txt");
        assert_eq!(
            e.to_string(),
            r#"write /notes/a.txt: quota exceeded: volume "workspace" allows 1048576 bytes"#
        );
        let e = Error::Item {
            what: "batch op",
            index: 1,
            source: Box::new(Error::NotFound.op("remove", "/tmp")),
        };
        assert_eq!(e.to_string(), "batch op 1: remove /tmp: not found");
        assert!(matches!(e.cause(), Error::NotFound));
    }

    #[test]
    fn quote_escapes_and_shortens() {
        assert_eq!(quote("a\0b"), r#""a\0b""#);
        let long = "é".repeat(100);
        let q = quote(&long);
        assert!(q.len() < 110, "{q}");
        assert!(q.ends_with('…'));
    }

    #[test]
    fn busy_maps_to_overloaded_and_the_rest_to_failed() {
        let busy = Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ))
        .op("write", "/a");
        assert_eq!(capnp::Error::from(busy).kind, capnp::ErrorKind::Overloaded);
        let e = capnp::Error::from(Error::NotFound.op("read", "/a"));
        assert_eq!(e.kind, capnp::ErrorKind::Failed);
        assert_eq!(e.extra, "not_found: read /a: not found");
        let e = capnp::Error::from(
            Error::QuotaBytes {
                volume: "v".into(),
                limit: 1,
            }
            .op("write", "/a"),
        );
        assert!(
            e.extra.starts_with("quota_exceeded: write /a: "),
            "{}",
            e.extra
        );
    }
}
