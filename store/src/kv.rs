//! The key/value store: one namespace of keys per (principal, store name).
//!
//! Keys are UTF-8 text kept as bytes, so they sort and page in byte order.
//! Listing pages through a prefix with an opaque cursor (the hex of the last
//! key returned): a cursor stays valid across writes because each page just
//! continues after the last key seen. `put_many` writes in one transaction.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::error::{quote, Error, Result};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most entries in one `put_many`.
pub const MAX_PUT_MANY: usize = 1000;
/// Page size when `limit` is 0.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// Largest page.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Keys and values (empty values with `keys_only`), in key order.
    pub entries: Vec<(String, Vec<u8>)>,
    /// Where the next page starts; empty when there are no more entries.
    pub cursor: String,
}

/// A handle on one kv store. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Kv {
    conn: Rc<RefCell<Connection>>,
    id: i64,
    name: String,
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// Checks a key: 1–[`MAX_KEY_BYTES`] bytes, no NUL.
pub fn check_key(key: &str) -> Result<()> {
    let reason = if key.is_empty() {
        "empty".to_string()
    } else if key.len() > MAX_KEY_BYTES {
        format!("{} bytes, limit {MAX_KEY_BYTES}", key.len())
    } else if key.contains('\0') {
        "contains a NUL byte".to_string()
    } else {
        return Ok(());
    };
    Err(Error::InvalidKey { reason })
}

fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// The smallest byte string greater than every string starting with
/// `prefix`, or `None` when there is none (empty or all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn encode_cursor(key: &[u8]) -> String {
    key.iter()
        .fold(String::with_capacity(key.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn decode_cursor(cursor: &str) -> Option<Vec<u8>> {
    if cursor.len() % 2 != 0 || cursor.len() > MAX_KEY_BYTES * 2 {
        return None;
    }
    (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Kv {
    /// Opens the store (principal, name), creating it empty when new.
    pub(crate) fn open(conn: Rc<RefCell<Connection>>, principal: &str, name: &str) -> Result<Kv> {
        crate::db::check_name("principal", principal)?;
        crate::db::check_name("store", name)?;
        let id = {
            let c = conn.borrow();
            c.execute(
                "INSERT INTO kv_stores (principal, name) VALUES (?1, ?2)
                 ON CONFLICT (principal, name) DO NOTHING",
                params![principal, name],
            )?;
            c.query_row(
                "SELECT id FROM kv_stores WHERE principal = ?1 AND name = ?2",
                params![principal, name],
                |row| row.get(0),
            )?
        };
        Ok(Kv {
            conn,
            id,
            name: name.to_string(),
        })
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let run = || -> Result<Option<Vec<u8>>> {
            check_key(key)?;
            Ok(self
                .conn
                .borrow()
                .query_row(
                    "SELECT value FROM kv WHERE store = ?1 AND key = ?2",
                    params![self.id, key.as_bytes()],
                    |row| row.get(0),
                )
                .optional()?)
        };
        run().map_err(|e| e.op("get", quote(key)))
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let run = || -> Result<()> {
            check_key(key)?;
            check_value(value)?;
            put_one(&self.conn.borrow(), self.id, key, value)
        };
        run().map_err(|e| e.op("put", quote(key)))
    }

    /// Removes `key`; says whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool> {
        let run = || -> Result<bool> {
            check_key(key)?;
            let n = self.conn.borrow().execute(
                "DELETE FROM kv WHERE store = ?1 AND key = ?2",
                params![self.id, key.as_bytes()],
            )?;
            Ok(n > 0)
        };
        run().map_err(|e| e.op("delete", quote(key)))
    }

    /// One page of the entries whose key starts with `prefix`, after
    /// `cursor` (empty: from the start). `limit` 0 means
    /// [`DEFAULT_LIST_LIMIT`]; larger than [`MAX_LIST_LIMIT`] is clamped.
    pub fn list(&self, prefix: &str, cursor: &str, limit: u32, keys_only: bool) -> Result<Page> {
        let run = || -> Result<Page> {
            if prefix.len() > MAX_KEY_BYTES {
                return Err(Error::InvalidKey {
                    reason: format!("prefix of {} bytes, limit {MAX_KEY_BYTES}", prefix.len()),
                });
            }
            let limit = match limit {
                0 => DEFAULT_LIST_LIMIT,
                n => n.min(MAX_LIST_LIMIT),
            };
            let after = if cursor.is_empty() {
                None
            } else {
                match decode_cursor(cursor) {
                    Some(key) if key.starts_with(prefix.as_bytes()) => Some(key),
                    _ => return Err(Error::InvalidCursor),
                }
            };
            let end = prefix_end(prefix.as_bytes());
            let mut sql = String::from(if keys_only {
                "SELECT key, x'' FROM kv WHERE store = ?1 AND key >= ?2 AND key > ?3"
            } else {
                "SELECT key, value FROM kv WHERE store = ?1 AND key >= ?2 AND key > ?3"
            });
            if end.is_some() {
                sql.push_str(" AND key < ?5");
            }
            sql.push_str(" ORDER BY key LIMIT ?4");
            let conn = self.conn.borrow();
            let mut stmt = conn.prepare(&sql)?;
            let after = after.unwrap_or_default();
            let fetch = i64::from(limit) + 1;
            let map = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(Vec<u8>, Vec<u8>)> {
                Ok((row.get(0)?, row.get(1)?))
            };
            let rows: Vec<(Vec<u8>, Vec<u8>)> = match &end {
                Some(end) => stmt
                    .query_map(params![self.id, prefix.as_bytes(), after, fetch, end], map)?
                    .collect::<rusqlite::Result<_>>()?,
                None => stmt
                    .query_map(params![self.id, prefix.as_bytes(), after, fetch], map)?
                    .collect::<rusqlite::Result<_>>()?,
            };
            let more = rows.len() > limit as usize;
            let mut entries = Vec::with_capacity(rows.len().min(limit as usize));
            for (key, value) in rows.into_iter().take(limit as usize) {
                let key = String::from_utf8(key).map_err(|_| Error::InvalidKey {
                    reason: "stored key is not UTF-8".to_string(),
                })?;
                entries.push((key, value));
            }
            let cursor = match entries.last() {
                Some((key, _)) if more => encode_cursor(key.as_bytes()),
                _ => String::new(),
            };
            Ok(Page { entries, cursor })
        };
        run().map_err(|e| e.op("list", quote(prefix)))
    }

    /// Stores every entry in one transaction: all or none. A failure is
    /// [`Error::Item`] naming the index of the bad entry. A key given twice
    /// keeps its last value.
    pub fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
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
        let run = || -> Result<()> {
            let mut conn = self.conn.borrow_mut();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (key, value) in entries {
                put_one(&tx, self.id, key, value)?;
            }
            tx.commit()?;
            Ok(())
        };
        run().map_err(|e| e.op("putMany", format!("{} entries", entries.len())))
    }
}

fn put_one(conn: &Connection, store: i64, key: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO kv (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
        params![store, key.as_bytes(), value],
    )?;
    Ok(())
}
