//! The PostgreSQL connection pool, its migrations and namespace rows.
//!
//! A [`PgStore`] is a bounded pool of connections (`max_connections`,
//! default [`DEFAULT_MAX_CONNECTIONS`]). A connection that breaks is dropped
//! when it is next handed out (its task has ended), and a new one is made
//! on demand, so storage works again as soon as the database answers; a
//! call that finds no connection within [`CONNECT_TIMEOUT`] fails
//! `disconnected`. Each connection waits at most [`LOCK_TIMEOUT`] for a
//! row lock (then `overloaded`, like SQLite's busy timeout).
//!
//! Migrations are numbered; [`MIGRATIONS`] lists them in order and the
//! table `caplet_migrations` records those applied. They run at
//! [`PgStore::connect`], inside one transaction holding an advisory lock,
//! so brokers starting together apply each exactly once.

use std::cell::Cell;
use std::rc::Rc;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use crate::db::check_name;
use crate::error::{Error, Result};

/// Connections in the pool when the configuration names no other number.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// How long a call waits to connect, or for a free connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a statement waits for another transaction's row lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`. Never edit
/// one that has shipped; add the next.
pub const MIGRATIONS: &[&str] = &["
CREATE TABLE volumes (
    id        BIGSERIAL PRIMARY KEY,
    principal TEXT NOT NULL,
    name      TEXT NOT NULL,
    bytes     BIGINT NOT NULL DEFAULT 0,  -- total size of file content
    entries   BIGINT NOT NULL DEFAULT 0,  -- files plus directories, root excluded
    UNIQUE (principal, name)
);
-- One row per file or directory; the root is implicit. Paths compare
-- bytewise (COLLATE \"C\"), as in SQLite.
CREATE TABLE nodes (
    volume  BIGINT NOT NULL REFERENCES volumes (id),
    path    TEXT COLLATE \"C\" NOT NULL,
    parent  TEXT COLLATE \"C\" NOT NULL,
    dir     BOOLEAN NOT NULL,
    size    BIGINT NOT NULL,
    content BYTEA,
    PRIMARY KEY (volume, path)
);
CREATE INDEX nodes_by_parent ON nodes (volume, parent, path);
CREATE TABLE kv_stores (
    id        BIGSERIAL PRIMARY KEY,
    principal TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (principal, name)
);
CREATE TABLE kv (
    store BIGINT NOT NULL REFERENCES kv_stores (id),
    key   BYTEA NOT NULL,  -- UTF-8 bytes, compared bytewise
    value BYTEA NOT NULL,
    PRIMARY KEY (store, key)
);
"];

/// The advisory lock key the migrations run under ("caplet" in ASCII).
const MIGRATION_LOCK: i64 = 0x6361_706c_6574;

/// How to reach the database.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://USER@HOST:PORT/DB` (or a `key=value` connection string).
    pub url: String,
    /// The password, when the URL carries none (from a `[secrets]` entry).
    pub password: Option<String>,
    /// The pool's size.
    pub max_connections: usize,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &"…")
            .field("password", &self.password.as_ref().map(|_| "redacted"))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl PgOptions {
    /// `url`, no separate password, the default pool size.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            password: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A pool of connections to one PostgreSQL database: the source of every
/// volume and kv store. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Where it connects, without any password (for messages).
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish()
    }
}

impl PgStore {
    /// Connects, checks the database answers and runs the migrations it
    /// lacks. Must run inside a tokio runtime (the pool spawns each
    /// connection's task on it).
    pub async fn connect(options: &PgOptions) -> Result<PgStore> {
        let mut config = tokio_postgres::Config::from_str(&options.url)
            .map_err(|e| Error::Config(format!("the store url is not valid: {e}")))?;
        if let Some(password) = &options.password {
            config.password(password);
        }
        if config.get_user().is_none() {
            return Err(Error::Config("the store url names no user".into()));
        }
        if options.max_connections == 0 {
            return Err(Error::Config(
                "the pool needs at least one connection".into(),
            ));
        }
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name("caplet")
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .options(format!("-c lock_timeout={}", LOCK_TIMEOUT.as_millis()));
        let target = format!(
            "{}@{:?}/{}",
            config.get_user().unwrap_or_default(),
            config.get_hosts().first(),
            config.get_dbname().unwrap_or_default()
        );
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                // A broken connection shows as closed and is replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("the connection pool: {e}")))?;
        let store = PgStore { pool, target };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations the database lacks, in order, under the
    /// advisory lock; returns the schema version.
    async fn migrate(&self) -> Result<usize> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS caplet_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM caplet_migrations",
                &[],
            )
            .await?;
        let current = usize::try_from(row.get::<_, i32>(0)).unwrap_or(0);
        if current > MIGRATIONS.len() {
            return Err(Error::Config(format!(
                "the database is at schema version {current}, newer than this caplet's {}",
                MIGRATIONS.len()
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            tx.batch_execute(sql).await?;
            let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
            tx.execute(
                "INSERT INTO caplet_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(MIGRATIONS.len())
    }

    /// Where the store connects (user, host, database; never a password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether the database answers now: one round trip on a pooled
    /// connection. `Err` is [`Error::Unreachable`] when it does not.
    pub async fn ping(&self) -> Result<()> {
        let client = self.pool.get().await?;
        client.simple_query("").await?;
        Ok(())
    }

    /// The pool, for this backend's volumes and stores.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The volume `name` of `principal` (made on its first use).
    pub fn vfs(&self, principal: &str, name: &str, quota: crate::Quota) -> Result<super::PgVfs> {
        Ok(super::PgVfs::new(
            self.clone(),
            Namespace::new(Table::Volumes, principal, name)?,
            quota,
        ))
    }

    /// The kv store `name` of `principal` (made on its first use).
    pub fn kv(&self, principal: &str, name: &str) -> Result<super::PgKv> {
        Ok(super::PgKv::new(
            self.clone(),
            Namespace::new(Table::KvStores, principal, name)?,
        ))
    }
}

/// Which namespace table a row is in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Table {
    Volumes,
    KvStores,
}

/// One (principal, name) row of a namespace table, whose id is looked up
/// (and the row made) on first use and then kept.
#[derive(Clone, Debug)]
pub(crate) struct Namespace {
    table: Table,
    principal: String,
    pub(crate) name: String,
    id: Rc<Cell<Option<i64>>>,
}

impl Namespace {
    /// Checks both names.
    fn new(table: Table, principal: &str, name: &str) -> Result<Namespace> {
        check_name("principal", principal)?;
        check_name(
            match table {
                Table::Volumes => "volume",
                Table::KvStores => "store",
            },
            name,
        )?;
        Ok(Namespace {
            table,
            principal: principal.to_string(),
            name: name.to_string(),
            id: Rc::new(Cell::new(None)),
        })
    }

    /// The row's id, making the row when new.
    pub(crate) async fn id(&self, client: &impl deadpool_postgres::GenericClient) -> Result<i64> {
        if let Some(id) = self.id.get() {
            return Ok(id);
        }
        let (insert, select) = match self.table {
            Table::Volumes => (
                "INSERT INTO volumes (principal, name) VALUES ($1, $2)
                 ON CONFLICT (principal, name) DO NOTHING",
                "SELECT id FROM volumes WHERE principal = $1 AND name = $2",
            ),
            Table::KvStores => (
                "INSERT INTO kv_stores (principal, name) VALUES ($1, $2)
                 ON CONFLICT (principal, name) DO NOTHING",
                "SELECT id FROM kv_stores WHERE principal = $1 AND name = $2",
            ),
        };
        client
            .execute(insert, &[&self.principal, &self.name])
            .await?;
        let id: i64 = client
            .query_one(select, &[&self.principal, &self.name])
            .await?
            .get(0);
        self.id.set(Some(id));
        Ok(id)
    }
}
