//! One face over both backends: [`VolumeHandle`] is a volume and
//! [`KvHandle`] a kv store on SQLite or PostgreSQL, with async calls. The
//! capnp servers ([`crate::server`]) and the conformance suite use only
//! these, so both backends answer through the same code.
//!
//! On SQLite a call runs at once (it never waits on anything); on
//! PostgreSQL it waits for its connection and queries.

use crate::error::Result;
use crate::kv::{Kv, Page};
use crate::pg::{PgKv, PgVfs};
use crate::vfs::{Entry, Op, OpResult, Usage, Vfs};

/// A volume on either backend.
#[derive(Clone, Debug)]
pub enum VolumeHandle {
    /// In the broker's SQLite file.
    Sqlite(Vfs),
    /// In PostgreSQL.
    Postgres(PgVfs),
}

impl VolumeHandle {
    /// The volume's name.
    pub fn name(&self) -> &str {
        match self {
            VolumeHandle::Sqlite(v) => v.name(),
            VolumeHandle::Postgres(v) => v.name(),
        }
    }

    /// The quota of this grant.
    pub fn quota(&self) -> crate::vfs::Quota {
        match self {
            VolumeHandle::Sqlite(v) => v.quota(),
            VolumeHandle::Postgres(v) => v.quota(),
        }
    }

    /// Runs one op in its own transaction.
    pub async fn exec(&self, op: &Op) -> Result<OpResult> {
        match self {
            VolumeHandle::Sqlite(v) => v.exec(op),
            VolumeHandle::Postgres(v) => v.exec(op).await,
        }
    }

    /// Runs `ops` in one transaction: all take effect or none.
    pub async fn batch(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        match self {
            VolumeHandle::Sqlite(v) => v.batch(ops),
            VolumeHandle::Postgres(v) => v.batch(ops).await,
        }
    }

    /// Every entry whose path matches `pattern`.
    pub async fn glob(&self, pattern: &str) -> Result<Vec<Entry>> {
        match self {
            VolumeHandle::Sqlite(v) => v.glob(pattern),
            VolumeHandle::Postgres(v) => v.glob(pattern).await,
        }
    }

    /// What the volume holds now.
    pub async fn usage(&self) -> Result<Usage> {
        match self {
            VolumeHandle::Sqlite(v) => v.usage(),
            VolumeHandle::Postgres(v) => v.usage().await,
        }
    }
}

/// A kv store on either backend.
#[derive(Clone, Debug)]
pub enum KvHandle {
    /// In the broker's SQLite file.
    Sqlite(Kv),
    /// In PostgreSQL.
    Postgres(PgKv),
}

impl KvHandle {
    /// The value under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            KvHandle::Sqlite(kv) => kv.get(key),
            KvHandle::Postgres(kv) => kv.get(key).await,
        }
    }

    /// Stores `value` under `key`.
    pub async fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        match self {
            KvHandle::Sqlite(kv) => kv.put(key, value),
            KvHandle::Postgres(kv) => kv.put(key, value).await,
        }
    }

    /// Removes `key`; says whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        match self {
            KvHandle::Sqlite(kv) => kv.delete(key),
            KvHandle::Postgres(kv) => kv.delete(key).await,
        }
    }

    /// One page of the entries whose key starts with `prefix`.
    pub async fn list(
        &self,
        prefix: &str,
        cursor: &str,
        limit: u32,
        keys_only: bool,
    ) -> Result<Page> {
        match self {
            KvHandle::Sqlite(kv) => kv.list(prefix, cursor, limit, keys_only),
            KvHandle::Postgres(kv) => kv.list(prefix, cursor, limit, keys_only).await,
        }
    }

    /// Stores every entry in one transaction: all or none.
    pub async fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        match self {
            KvHandle::Sqlite(kv) => kv.put_many(entries),
            KvHandle::Postgres(kv) => kv.put_many(entries).await,
        }
    }
}
