//! One kv store in PostgreSQL: the calls of [`crate::kv`], with the same
//! checks, paging, cursors and errors, as async calls. `put` and `delete`
//! are one statement each; `put_many` is one transaction.

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::types::ToSql;

use super::pool::{Namespace, PgStore};
use crate::answer::Budget;
use crate::error::{quote, Error, Result};
use crate::kv::{check_key, check_value, encode_cursor, ListRange, Page, MAX_PUT_MANY};

/// A handle on one kv store in PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgKv {
    store: PgStore,
    ns: Namespace,
}

const PUT: &str = "INSERT INTO kv (store, key, value) VALUES ($1, $2, $3)
                   ON CONFLICT (store, key) DO UPDATE SET value = excluded.value";

impl PgKv {
    pub(crate) fn new(store: PgStore, ns: Namespace) -> PgKv {
        PgKv { store, ns }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.ns.name
    }

    async fn client(&self) -> Result<(deadpool_postgres::Client, i64)> {
        let client = self.store.pool().get().await?;
        let id = self.ns.id(&client).await?;
        Ok((client, id))
    }

    /// The value under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let run = async {
            check_key(key)?;
            let (client, id) = self.client().await?;
            let stmt = client
                .prepare_cached("SELECT value FROM kv WHERE store = $1 AND key = $2")
                .await?;
            let rows = client.query(&stmt, &[&id, &key.as_bytes()]).await?;
            Ok(rows.first().map(|row| row.get::<_, Vec<u8>>(0)))
        };
        run.await.map_err(|e: Error| e.op("get", quote(key)))
    }

    /// Stores `value` under `key`.
    pub async fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let run = async {
            check_key(key)?;
            check_value(value)?;
            let (client, id) = self.client().await?;
            let stmt = client.prepare_cached(PUT).await?;
            client
                .execute(&stmt, &[&id, &key.as_bytes(), &value])
                .await?;
            Ok(())
        };
        run.await.map_err(|e: Error| e.op("put", quote(key)))
    }

    /// Removes `key`; says whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let run = async {
            check_key(key)?;
            let (client, id) = self.client().await?;
            let stmt = client
                .prepare_cached("DELETE FROM kv WHERE store = $1 AND key = $2")
                .await?;
            Ok(client.execute(&stmt, &[&id, &key.as_bytes()]).await? > 0)
        };
        run.await.map_err(|e: Error| e.op("delete", quote(key)))
    }

    /// One page of the entries whose key starts with `prefix`, after
    /// `cursor` (see [`crate::Kv::list`]).
    pub async fn list(
        &self,
        prefix: &str,
        cursor: &str,
        limit: u32,
        keys_only: bool,
    ) -> Result<Page> {
        let run = async {
            let ListRange { limit, after, end } = ListRange::new(prefix, cursor, limit)?;
            let mut sql = String::from(if keys_only {
                "SELECT key, ''::bytea, octet_length(key) FROM kv
                 WHERE store = $1 AND key >= $2 AND key > $3"
            } else {
                "SELECT key, value, octet_length(key) + octet_length(value) FROM kv
                 WHERE store = $1 AND key >= $2 AND key > $3"
            });
            if end.is_some() {
                sql.push_str(" AND key < $5");
            }
            sql.push_str(" ORDER BY key LIMIT $4");
            let (client, id) = self.client().await?;
            let stmt = client.prepare_cached(&sql).await?;
            let fetch = i64::from(limit) + 1;
            let prefix_bytes = prefix.as_bytes();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id, &prefix_bytes, &after, &fetch];
            if let Some(end) = &end {
                params.push(end);
            }
            let rows = client
                .query_raw(&stmt, params.iter().map(|p| *p as &dyn ToSql))
                .await?;
            pin_mut!(rows);
            let mut budget = Budget::new("page");
            let mut entries = Vec::new();
            let mut more = false;
            while let Some(row) = rows.try_next().await? {
                let size = usize::try_from(row.get::<_, i32>(2)).unwrap_or(usize::MAX);
                if entries.len() == limit as usize || (!entries.is_empty() && !budget.fits(size)) {
                    more = true;
                    break;
                }
                let _ = budget.take(size);
                let key = String::from_utf8(row.get(0)).map_err(|_| Error::InvalidKey {
                    reason: "stored key is not UTF-8".to_string(),
                })?;
                entries.push((key, row.get(1)));
            }
            let cursor = match entries.last() {
                Some((key, _)) if more => encode_cursor(key.as_bytes()),
                _ => String::new(),
            };
            Ok(Page { entries, cursor })
        };
        run.await.map_err(|e: Error| e.op("list", quote(prefix)))
    }

    /// Stores every entry in one transaction: all or none (see
    /// [`crate::Kv::put_many`]).
    pub async fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        if entries.len() > MAX_PUT_MANY {
            return Err(Error::TooManyItems {
                len: entries.len(),
                limit: MAX_PUT_MANY,
            }
            .op("putMany", format!("{} entries", entries.len())));
        }
        for (index, (key, value)) in entries.iter().enumerate() {
            check_key(key)
                .and_then(|()| check_value(value))
                .map_err(|e| Error::Item {
                    what: "putMany entry",
                    index,
                    source: Box::new(e.op("put", quote(key))),
                })?;
        }
        let run = async {
            let (mut client, id) = self.client().await?;
            let tx = client.transaction().await?;
            let stmt = tx.prepare_cached(PUT).await?;
            for (key, value) in entries {
                tx.execute(&stmt, &[&id, &key.as_bytes(), value]).await?;
            }
            tx.commit().await?;
            Ok(())
        };
        run.await
            .map_err(|e: Error| e.op("putMany", format!("{} entries", entries.len())))
    }
}
