//! The SQLite database: opening it, its settings and its tables.
//!
//! One file, `store.sqlite3` in the data directory, holds every volume and
//! every kv store of every principal. It runs in WAL mode with a busy
//! timeout, so several connections (threads or processes) can share it:
//! readers never block, writers queue for up to [`BUSY_TIMEOUT`], and every
//! mutation runs in a `BEGIN IMMEDIATE` transaction (taking the write lock
//! up front, so two writers never deadlock upgrading a read lock).

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "store.sqlite3";

/// How long a writer waits for another connection's write to finish before
/// failing with `database is locked`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS volumes (
    id        INTEGER PRIMARY KEY,
    principal TEXT NOT NULL,
    name      TEXT NOT NULL,
    bytes     INTEGER NOT NULL DEFAULT 0,  -- total size of file content
    entries   INTEGER NOT NULL DEFAULT 0,  -- files plus directories, root excluded
    UNIQUE (principal, name)
);
-- One row per file or directory; the root is implicit.
CREATE TABLE IF NOT EXISTS nodes (
    volume  INTEGER NOT NULL REFERENCES volumes (id),
    path    TEXT NOT NULL,     -- normalised, e.g. /a/b.txt
    parent  TEXT NOT NULL,     -- normalised parent, e.g. /a
    dir     INTEGER NOT NULL,  -- 1 for a directory
    size    INTEGER NOT NULL,  -- length of content, 0 for a directory
    content BLOB,              -- NULL for a directory
    PRIMARY KEY (volume, path)
);
CREATE INDEX IF NOT EXISTS nodes_by_parent ON nodes (volume, parent, path);
CREATE TABLE IF NOT EXISTS kv_stores (
    id        INTEGER PRIMARY KEY,
    principal TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (principal, name)
);
CREATE TABLE IF NOT EXISTS kv (
    store INTEGER NOT NULL REFERENCES kv_stores (id),
    key   BLOB NOT NULL,       -- UTF-8 bytes, compared bytewise
    value BLOB NOT NULL,
    PRIMARY KEY (store, key)
);
";

/// Opens (creating when needed) the database in `data_dir`, switches it to
/// WAL mode and creates the tables. A data directory created here is
/// private to its owner (mode 0700); an existing one is left as it is.
pub fn open(data_dir: &Path) -> Result<Connection> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(data_dir).map_err(|source| Error::Open {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let mut conn = Connection::open(data_dir.join(DB_FILE))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Persistent once set; every later open just reads it back.
    let mode = switch_to_wal(&conn)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!(
            "could not switch the database to WAL mode (got {mode})"
        )));
    }
    // FULL: a committed write survives power loss, not only a crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version < SCHEMA_VERSION {
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(conn)
}

/// Sets WAL mode. Switching takes an exclusive lock *without* calling the
/// busy handler, so when another connection is creating or reading the
/// same fresh file at that moment SQLite answers `database is locked` at
/// once; retry for up to [`BUSY_TIMEOUT`] like the busy handler would.
fn switch_to_wal(conn: &Connection) -> Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return Ok(other?),
        }
    }
}

/// Checks a principal, volume or store name: 1–255 bytes, no NUL.
pub fn check_name(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > 255 {
        "longer than 255 bytes"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        what,
        name: crate::error::quote(name),
        reason,
    })
}

/// A namespace table: one row per (principal, name), keyed by `id`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Namespace {
    Volumes,
    KvStores,
}

impl Namespace {
    /// What a name in this table is called in errors.
    fn what(self) -> &'static str {
        match self {
            Namespace::Volumes => "volume",
            Namespace::KvStores => "store",
        }
    }

    /// The id of (principal, name), creating its row when new; both names are
    /// checked first.
    pub(crate) fn id(self, conn: &Connection, principal: &str, name: &str) -> Result<i64> {
        check_name("principal", principal)?;
        check_name(self.what(), name)?;
        let (insert, select) = match self {
            Namespace::Volumes => (
                "INSERT INTO volumes (principal, name) VALUES (?1, ?2)
                 ON CONFLICT (principal, name) DO NOTHING",
                "SELECT id FROM volumes WHERE principal = ?1 AND name = ?2",
            ),
            Namespace::KvStores => (
                "INSERT INTO kv_stores (principal, name) VALUES (?1, ?2)
                 ON CONFLICT (principal, name) DO NOTHING",
                "SELECT id FROM kv_stores WHERE principal = ?1 AND name = ?2",
            ),
        };
        conn.execute(insert, rusqlite::params![principal, name])?;
        Ok(conn.query_row(select, rusqlite::params![principal, name], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_in_wal_mode_twice() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(dir.path()).unwrap();
        let b = open(dir.path()).unwrap();
        for conn in [&a, &b] {
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
    }

    #[test]
    fn open_fails_clearly_when_the_dir_cannot_be_made() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = open(&file.join("sub")).unwrap_err();
        assert!(err.to_string().starts_with("open "), "{err}");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("volume", "workspace").is_ok());
        assert_eq!(
            check_name("volume", "").unwrap_err().to_string(),
            r#"invalid volume name "": empty"#
        );
        assert!(check_name("principal", "a\0").is_err());
        assert!(check_name("store", &"x".repeat(256)).is_err());
    }
}
