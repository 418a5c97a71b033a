//! caplet's built-in `fs` and `kv` capabilities, stored in SQLite or
//! PostgreSQL.
//!
//! This crate owns the broker's embedded state for workers: virtual file
//! system volumes (`schema/fs.capnp`, interface `Volume`) and key/value
//! stores (`schema/kv.capnp`, interface `Store`). It has two layers:
//!
//! - the storage layer, plain Rust and independent of capnp: [`Store`]
//!   opens the SQLite database (bundled, through rusqlite) in a data
//!   directory, [`Vfs`] is one volume there ([`vfs`]), [`Kv`] one
//!   key/value store ([`kv`]); [`pg`] is the same on PostgreSQL, shared
//!   by several brokers; [`Backend`] is either, and [`backend`]'s
//!   [`VolumeHandle`] and [`KvHandle`] a volume or store on either, with
//!   async calls; [`path`] normalises paths and matches globs, [`answer`]
//!   bounds what one call answers, and [`dump`] moves a whole store
//!   between backends;
//! - the capnp servers: [`FsVolumeServer`] and [`KvStoreServer`] serve the
//!   generated `volume::Server` / `store::Server` traits on top of it.
//!
//! Every volume and store is namespaced by (principal, name): the broker
//! picks both at grant time, so two principals never see each other's data,
//! whatever names their code uses. On SQLite all of it lives in one file,
//! `store.sqlite3`, in WAL mode with a busy timeout, so several [`Store`]s
//! (threads or processes) can share a data directory ([`db`]).
//!
//! SQLite calls are synchronous and fast for the small operations served
//! here; the servers run them inline on the RPC thread. The connection sits
//! behind `Rc<RefCell<_>>`, borrowed only for the length of one call, never
//! across an `.await`.
//!
//! ```no_run
//! # fn main() -> Result<(), caplet_store::Error> {
//! let store = caplet_store::Store::open("/var/lib/caplet")?;
//! let volume = store.volume_client("alice", "workspace", false, caplet_store::Quota::default())?;
//! let kv = store.kv_client("alice", "cache")?;
//! # let _ = (volume, kv);
//! # Ok(())
//! # }
//! ```

/// Longest accepted path, in bytes, as given (before normalisation).
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path component, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

pub mod answer;
pub mod backend;
pub mod db;
pub mod dump;
pub mod error;
pub mod kv;
pub mod path;
pub mod pg;
pub mod server;
pub mod vfs;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rusqlite::Connection;

pub use answer::MAX_ANSWER_BYTES;
pub use backend::{KvHandle, VolumeHandle};
pub use error::{Error, Result};
pub use kv::{Kv, Page};
pub use pg::{PgOptions, PgStore};
pub use server::{FsVolumeServer, KvStoreServer};
pub use vfs::{Entry, Kind, Op, OpResult, Quota, Usage, Vfs};

/// The database in one data directory: the source of every volume and kv
/// store. One `Store` holds one SQLite connection, shared (single-threaded)
/// by the handles and servers it makes (and by its clones).
#[derive(Clone)]
pub struct Store {
    conn: Rc<RefCell<Connection>>,
    data_dir: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

impl Store {
    /// Opens (creating when needed) the store in `data_dir`: the directory
    /// and its `store.sqlite3`.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Store> {
        let data_dir = data_dir.as_ref().to_path_buf();
        let conn = db::open(&data_dir)?;
        Ok(Store {
            conn: Rc::new(RefCell::new(conn)),
            data_dir,
        })
    }

    /// Checks that the database answers, for readiness probes (`/readyz`):
    /// opens the database file afresh, read-only, and reads its schema
    /// version, so a file that is gone or damaged fails here even while
    /// the open connection's cache still answers. A PostgreSQL store
    /// answers the same call.
    pub fn ping(&self) -> Result<()> {
        let conn = Connection::open_with_flags(
            self.data_dir.join(db::DB_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))?;
        Ok(())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The volume `name` of `principal` (created empty when new), with the
    /// quota of this grant.
    pub fn vfs(&self, principal: &str, name: &str, quota: Quota) -> Result<Vfs> {
        Vfs::open(self.conn.clone(), principal, name, quota)
    }

    /// The kv store `name` of `principal` (created empty when new).
    pub fn kv(&self, principal: &str, name: &str) -> Result<Kv> {
        Kv::open(self.conn.clone(), principal, name)
    }

    /// A `Volume` capability on the volume `name` of `principal`. With
    /// `read_only`, every mutation fails with `volume "<name>" is read-only`.
    pub fn volume_client(
        &self,
        principal: &str,
        name: &str,
        read_only: bool,
        quota: Quota,
    ) -> Result<caplet::fs_capnp::volume::Client> {
        let vfs = self.vfs(principal, name, quota)?;
        Ok(capnp_rpc::new_client(FsVolumeServer::new(
            VolumeHandle::Sqlite(vfs),
            read_only,
        )))
    }

    /// A `Store` capability on the kv store `name` of `principal`.
    pub fn kv_client(
        &self,
        principal: &str,
        name: &str,
    ) -> Result<caplet::kv_capnp::store::Client> {
        let kv = self.kv(principal, name)?;
        Ok(capnp_rpc::new_client(KvStoreServer::new(KvHandle::Sqlite(
            kv,
        ))))
    }
}

/// Where volumes and kv stores live: a SQLite file in a data directory (the
/// default), or a PostgreSQL database that several brokers may share.
#[derive(Clone, Debug)]
pub enum Backend {
    /// One SQLite file, `store.sqlite3`, in a data directory.
    Sqlite(Store),
    /// A PostgreSQL database.
    Postgres(PgStore),
}

impl Backend {
    /// The volume `name` of `principal` (created empty when new), with the
    /// quota of this grant.
    pub fn volume(&self, principal: &str, name: &str, quota: Quota) -> Result<VolumeHandle> {
        Ok(match self {
            Backend::Sqlite(store) => VolumeHandle::Sqlite(store.vfs(principal, name, quota)?),
            Backend::Postgres(store) => VolumeHandle::Postgres(store.vfs(principal, name, quota)?),
        })
    }

    /// The kv store `name` of `principal` (created empty when new).
    pub fn kv(&self, principal: &str, name: &str) -> Result<KvHandle> {
        Ok(match self {
            Backend::Sqlite(store) => KvHandle::Sqlite(store.kv(principal, name)?),
            Backend::Postgres(store) => KvHandle::Postgres(store.kv(principal, name)?),
        })
    }

    /// A `Volume` capability on the volume `name` of `principal` (see
    /// [`Store::volume_client`]).
    pub fn volume_client(
        &self,
        principal: &str,
        name: &str,
        read_only: bool,
        quota: Quota,
    ) -> Result<caplet::fs_capnp::volume::Client> {
        let volume = self.volume(principal, name, quota)?;
        Ok(capnp_rpc::new_client(FsVolumeServer::new(
            volume, read_only,
        )))
    }

    /// A `Store` capability on the kv store `name` of `principal`.
    pub fn kv_client(
        &self,
        principal: &str,
        name: &str,
    ) -> Result<caplet::kv_capnp::store::Client> {
        let kv = self.kv(principal, name)?;
        Ok(capnp_rpc::new_client(KvStoreServer::new(kv)))
    }

    /// Whether the store answers now (for a readiness probe): SQLite reads
    /// its schema version; PostgreSQL makes one round trip. Cheap.
    pub async fn ping(&self) -> Result<()> {
        match self {
            Backend::Sqlite(store) => store.ping(),
            Backend::Postgres(store) => store.ping().await,
        }
    }
}
