//! Moving a whole store between backends: [`Backend::export`] writes every
//! volume, file, directory, kv store and key as JSON lines, and
//! [`Backend::import`] reads them into another store (`caplet store
//! export` / `caplet store import`).
//!
//! The dump is text, one JSON object a line, after a first line
//! `{"caplet_store_dump":1}`: `{"volume":{"principal","name"}}`,
//! `{"node":{"principal","volume","path","dir","content"}}` (directories
//! before what they hold; content in standard base64, absent for a
//! directory), `{"store":{"principal","name"}}` and
//! `{"kv":{"principal","store","key","value"}}` (value in base64). An
//! import runs in one transaction: all of the dump or, on any error,
//! nothing. What the dump holds replaces what the target holds at the same
//! path or key; volume usage is recounted from the data.

use std::io::{BufRead, Write};

use base64::Engine as _;
use futures::{pin_mut, TryStreamExt};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::Backend;

/// The dump format's version, in its first line.
pub const DUMP_VERSION: u64 = 1;

/// What an export or import moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Volumes.
    pub volumes: u64,
    /// Files and directories.
    pub nodes: u64,
    /// kv stores.
    pub stores: u64,
    /// Keys.
    pub keys: u64,
}

impl Counts {
    fn records(&self) -> u64 {
        self.volumes + self.nodes + self.stores + self.keys
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} volumes, {} files and directories, {} kv stores, {} keys",
            self.volumes, self.nodes, self.stores, self.keys
        )
    }
}

/// Reports progress every this many records.
const PROGRESS_EVERY: u64 = 1000;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("dump i/o: {e}"))
}

/// One record of the dump.
enum Record {
    Volume {
        principal: String,
        name: String,
    },
    Node {
        principal: String,
        volume: String,
        path: String,
        content: Option<Vec<u8>>,
    },
    Store {
        principal: String,
        name: String,
    },
    Kv {
        principal: String,
        store: String,
        key: Vec<u8>,
        value: Vec<u8>,
    },
}

impl Record {
    fn to_json(&self) -> Value {
        match self {
            Record::Volume { principal, name } => {
                json!({ "volume": { "principal": principal, "name": name } })
            }
            Record::Node {
                principal,
                volume,
                path,
                content,
            } => match content {
                None => {
                    json!({ "node": { "principal": principal, "volume": volume, "path": path, "dir": true } })
                }
                Some(c) => {
                    json!({ "node": { "principal": principal, "volume": volume, "path": path, "dir": false, "content": b64(c) } })
                }
            },
            Record::Store { principal, name } => {
                json!({ "store": { "principal": principal, "name": name } })
            }
            Record::Kv {
                principal,
                store,
                key,
                value,
            } => json!({ "kv": {
                "principal": principal,
                "store": store,
                "key": String::from_utf8_lossy(key),
                "value": b64(value),
            } }),
        }
    }

    fn from_json(line: usize, value: &Value) -> Result<Record> {
        let bad = |why: &str| Error::Internal(format!("dump line {line}: {why}"));
        let obj = value.as_object().ok_or_else(|| bad("not an object"))?;
        let (kind, body) = obj
            .iter()
            .next()
            .filter(|_| obj.len() == 1)
            .ok_or_else(|| bad("expected one key"))?;
        let text = |field: &str| -> Result<String> {
            body.get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("{kind}.{field} missing")))
        };
        let bytes = |field: &str| -> Result<Vec<u8>> {
            base64::engine::general_purpose::STANDARD
                .decode(text(field)?)
                .map_err(|e| bad(&format!("{kind}.{field}: {e}")))
        };
        Ok(match kind.as_str() {
            "volume" => Record::Volume {
                principal: text("principal")?,
                name: text("name")?,
            },
            "node" => Record::Node {
                principal: text("principal")?,
                volume: text("volume")?,
                path: text("path")?,
                content: match body.get("dir").and_then(Value::as_bool) {
                    Some(true) => None,
                    Some(false) => Some(bytes("content")?),
                    None => return Err(bad("node.dir missing")),
                },
            },
            "store" => Record::Store {
                principal: text("principal")?,
                name: text("name")?,
            },
            "kv" => Record::Kv {
                principal: text("principal")?,
                store: text("store")?,
                key: text("key")?.into_bytes(),
                value: bytes("value")?,
            },
            other => return Err(bad(&format!("unknown record {other:?}"))),
        })
    }
}

/// Counts a record and reports progress.
fn tally(counts: &mut Counts, record: &Record, verb: &str, progress: &mut dyn FnMut(&str)) {
    match record {
        Record::Volume { .. } => counts.volumes += 1,
        Record::Node { .. } => counts.nodes += 1,
        Record::Store { .. } => counts.stores += 1,
        Record::Kv { .. } => counts.keys += 1,
    }
    if counts.records().is_multiple_of(PROGRESS_EVERY) {
        progress(&format!("{verb} {} records", counts.records()));
    }
}

const SELECT_VOLUMES: &str = "SELECT principal, name FROM volumes ORDER BY principal, name";
const SELECT_NODES: &str = "SELECT v.principal, v.name, n.path, n.dir, n.content
     FROM nodes n JOIN volumes v ON v.id = n.volume ORDER BY v.principal, v.name, n.path";
const SELECT_STORES: &str = "SELECT principal, name FROM kv_stores ORDER BY principal, name";
const SELECT_KEYS: &str = "SELECT s.principal, s.name, k.key, k.value
     FROM kv k JOIN kv_stores s ON s.id = k.store ORDER BY s.principal, s.name, k.key";

impl Backend {
    /// Writes everything the store holds to `out` as a dump, calling
    /// `progress` now and then; returns what it wrote. Reads one snapshot.
    pub async fn export(
        &self,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Counts> {
        let mut counts = Counts::default();
        writeln!(out, "{}", json!({ "caplet_store_dump": DUMP_VERSION })).map_err(io)?;
        let mut emit = |record: Record, counts: &mut Counts| -> Result<()> {
            writeln!(out, "{}", record.to_json()).map_err(io)?;
            tally(counts, &record, "exported", progress);
            Ok(())
        };
        match self {
            Backend::Sqlite(store) => {
                let mut conn = store.conn.borrow_mut();
                let tx = conn.transaction()?;
                for (sql, kind) in [
                    (SELECT_VOLUMES, 0),
                    (SELECT_NODES, 1),
                    (SELECT_STORES, 2),
                    (SELECT_KEYS, 3),
                ] {
                    let mut stmt = tx.prepare(sql)?;
                    let mut rows = stmt.query([])?;
                    while let Some(row) = rows.next()? {
                        let record = match kind {
                            0 => Record::Volume {
                                principal: row.get(0)?,
                                name: row.get(1)?,
                            },
                            1 => Record::Node {
                                principal: row.get(0)?,
                                volume: row.get(1)?,
                                path: row.get(2)?,
                                content: if row.get::<_, bool>(3)? {
                                    None
                                } else {
                                    Some(row.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default())
                                },
                            },
                            2 => Record::Store {
                                principal: row.get(0)?,
                                name: row.get(1)?,
                            },
                            _ => Record::Kv {
                                principal: row.get(0)?,
                                store: row.get(1)?,
                                key: row.get(2)?,
                                value: row.get(3)?,
                            },
                        };
                        emit(record, &mut counts)?;
                    }
                }
                tx.commit()?;
            }
            Backend::Postgres(store) => {
                let mut client = store.pool().get().await?;
                let tx = client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?;
                for (sql, kind) in [
                    (SELECT_VOLUMES, 0),
                    (SELECT_NODES, 1),
                    (SELECT_STORES, 2),
                    (SELECT_KEYS, 3),
                ] {
                    let none: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
                    let rows = tx.query_raw(sql, none).await?;
                    pin_mut!(rows);
                    while let Some(row) = rows.try_next().await? {
                        let record = match kind {
                            0 => Record::Volume {
                                principal: row.get(0),
                                name: row.get(1),
                            },
                            1 => Record::Node {
                                principal: row.get(0),
                                volume: row.get(1),
                                path: row.get(2),
                                content: if row.get::<_, bool>(3) {
                                    None
                                } else {
                                    Some(row.get::<_, Option<Vec<u8>>>(4).unwrap_or_default())
                                },
                            },
                            2 => Record::Store {
                                principal: row.get(0),
                                name: row.get(1),
                            },
                            _ => Record::Kv {
                                principal: row.get(0),
                                store: row.get(1),
                                key: row.get(2),
                                value: row.get(3),
                            },
                        };
                        emit(record, &mut counts)?;
                    }
                }
                tx.commit().await?;
            }
        }
        out.flush().map_err(io)?;
        Ok(counts)
    }

    /// Reads a dump from `input` into this store in one transaction (all
    /// or nothing), calling `progress` now and then; returns what it read.
    pub async fn import(
        &self,
        input: &mut dyn BufRead,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Counts> {
        let mut records = Vec::new();
        let mut lines = input.lines();
        let first = lines
            .next()
            .transpose()
            .map_err(io)?
            .ok_or_else(|| Error::Internal("the dump is empty".into()))?;
        let header: Value = serde_json::from_str(&first)
            .map_err(|e| Error::Internal(format!("dump line 1: {e}")))?;
        if header.get("caplet_store_dump").and_then(Value::as_u64) != Some(DUMP_VERSION) {
            return Err(Error::Internal(format!(
                "not a caplet store dump of version {DUMP_VERSION}"
            )));
        }
        for (index, line) in lines.enumerate() {
            let line = line.map_err(io)?;
            if line.is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&line)
                .map_err(|e| Error::Internal(format!("dump line {}: {e}", index + 2)))?;
            records.push(Record::from_json(index + 2, &value)?);
        }
        let mut counts = Counts::default();
        match self {
            Backend::Sqlite(store) => {
                let mut conn = store.conn.borrow_mut();
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for record in &records {
                    sqlite_import(&tx, record)?;
                    tally(&mut counts, record, "imported", progress);
                }
                tx.execute_batch(RECOUNT)?;
                tx.commit()?;
            }
            Backend::Postgres(store) => {
                let mut client = store.pool().get().await?;
                let tx = client.transaction().await?;
                for record in &records {
                    pg_import(&tx, record).await?;
                    tally(&mut counts, record, "imported", progress);
                }
                tx.batch_execute(RECOUNT).await?;
                tx.commit().await?;
            }
        }
        Ok(counts)
    }
}

/// Recounts every volume's usage from its nodes.
const RECOUNT: &str = "UPDATE volumes SET
    bytes = (SELECT coalesce(sum(size), 0) FROM nodes WHERE nodes.volume = volumes.id),
    entries = (SELECT count(*) FROM nodes WHERE nodes.volume = volumes.id)";

/// The checked parts of a node record: its normalised path and parent.
fn node_paths(path: &str) -> Result<(String, String)> {
    let path = crate::path::normalize(path)?;
    if path == "/" {
        return Err(Error::RootImmutable);
    }
    let parent = crate::path::parent(&path).unwrap_or("/").to_string();
    Ok((path, parent))
}

fn sqlite_import(tx: &rusqlite::Transaction<'_>, record: &Record) -> Result<()> {
    use crate::db::Namespace;
    match record {
        Record::Volume { principal, name } => {
            Namespace::Volumes.id(tx, principal, name)?;
        }
        Record::Node {
            principal,
            volume,
            path,
            content,
        } => {
            let id = Namespace::Volumes.id(tx, principal, volume)?;
            let (path, parent) = node_paths(path)?;
            let size = content.as_ref().map_or(0, Vec::len) as i64;
            tx.execute(
                "INSERT INTO nodes (volume, path, parent, dir, size, content)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (volume, path) DO UPDATE SET
                   dir = excluded.dir, size = excluded.size, content = excluded.content",
                rusqlite::params![id, path, parent, content.is_none(), size, content],
            )?;
        }
        Record::Store { principal, name } => {
            Namespace::KvStores.id(tx, principal, name)?;
        }
        Record::Kv {
            principal,
            store,
            key,
            value,
        } => {
            let id = Namespace::KvStores.id(tx, principal, store)?;
            tx.execute(
                "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                rusqlite::params![id, key, value],
            )?;
        }
    }
    Ok(())
}

async fn pg_id(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    principal: &str,
    name: &str,
) -> Result<i64> {
    crate::db::check_name("principal", principal)?;
    crate::db::check_name(
        if table == "volumes" {
            "volume"
        } else {
            "store"
        },
        name,
    )?;
    tx.execute(
        &format!(
            "INSERT INTO {table} (principal, name) VALUES ($1, $2)
             ON CONFLICT (principal, name) DO NOTHING"
        ),
        &[&principal, &name],
    )
    .await?;
    Ok(tx
        .query_one(
            &format!("SELECT id FROM {table} WHERE principal = $1 AND name = $2"),
            &[&principal, &name],
        )
        .await?
        .get(0))
}

async fn pg_import(tx: &deadpool_postgres::Transaction<'_>, record: &Record) -> Result<()> {
    match record {
        Record::Volume { principal, name } => {
            pg_id(tx, "volumes", principal, name).await?;
        }
        Record::Node {
            principal,
            volume,
            path,
            content,
        } => {
            let id = pg_id(tx, "volumes", principal, volume).await?;
            let (path, parent) = node_paths(path)?;
            let size = content.as_ref().map_or(0, Vec::len) as i64;
            tx.execute(
                "INSERT INTO nodes (volume, path, parent, dir, size, content)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (volume, path) DO UPDATE SET
                   dir = excluded.dir, size = excluded.size, content = excluded.content",
                &[&id, &path, &parent, &content.is_none(), &size, content],
            )
            .await?;
        }
        Record::Store { principal, name } => {
            pg_id(tx, "kv_stores", principal, name).await?;
        }
        Record::Kv {
            principal,
            store,
            key,
            value,
        } => {
            let id = pg_id(tx, "kv_stores", principal, store).await?;
            tx.execute(
                "INSERT INTO kv (store, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                &[&id, key, value],
            )
            .await?;
        }
    }
    Ok(())
}
