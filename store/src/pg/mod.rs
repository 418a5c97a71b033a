//! The PostgreSQL backend: the same volumes and kv stores as the SQLite one
//! ([`crate::vfs`], [`crate::kv`]), kept in one PostgreSQL database that
//! several brokers share.
//!
//! [`pool`] owns the connection pool (bounded, `deadpool-postgres` over
//! `tokio-postgres`), the versioned migrations run at start and the
//! (principal, name) namespace rows; [`vfs`] is one volume ([`PgVfs`]) and
//! [`kv`] one kv store ([`PgKv`]). Every call is async: a database that is
//! slow or gone holds up only the calls that use it, never the broker's
//! thread, and fails them with [`crate::Error::Unreachable`]
//! (`disconnected`).
//!
//! Semantics match SQLite's exactly (the conformance suite in
//! `store/tests/conformance.rs` runs on both). A mutation locks its
//! volume's row (`SELECT … FOR UPDATE`) before it reads anything, so
//! writers to one volume run one at a time across every broker, and the
//! usage counters and quota checks in that row are exact, like SQLite's
//! `BEGIN IMMEDIATE`. Reads run in a `REPEATABLE READ` read-only
//! transaction: one snapshot, like SQLite's deferred read.

pub mod kv;
pub mod pool;
pub mod vfs;

pub use kv::PgKv;
pub use pool::{PgOptions, PgStore};
pub use vfs::PgVfs;
