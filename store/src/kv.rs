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

use crate::answer::Budget;
use crate::error::{quote, Error, Result};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most entries in one `put_many`.
pub const MAX_PUT_MANY: usize = 1000;
/// Page size when `limit` is 0.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// Largest page, in entries; a page also ends before the entry that would
/// take it over [`crate::MAX_ANSWER_BYTES`] of keys and values.
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

pub(crate) fn check_value(value: &[u8]) -> Result<()> {
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

pub(crate) fn encode_cursor(key: &[u8]) -> String {
    key.iter()
        .fold(String::with_capacity(key.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn decode_cursor(cursor: &str) -> Option<Vec<u8>> {
    if !cursor.len().is_multiple_of(2)
        || cursor.len() > MAX_KEY_BYTES * 2
        || !cursor.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What one `list` call reads: at most `limit` keys after `after` and
/// before `end`, checked and resolved from the call's arguments.
pub(crate) struct ListRange {
    /// Entries in the page: `limit` 0 is [`DEFAULT_LIST_LIMIT`], more than
    /// [`MAX_LIST_LIMIT`] is clamped.
    pub(crate) limit: u32,
    /// The page starts after this key (the cursor's); empty from the start.
    pub(crate) after: Vec<u8>,
    /// The page ends before this key ([`prefix_end`] of the prefix).
    pub(crate) end: Option<Vec<u8>>,
}

impl ListRange {
    pub(crate) fn new(prefix: &str, cursor: &str, limit: u32) -> Result<ListRange> {
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
            Vec::new()
        } else {
            match decode_cursor(cursor) {
                Some(key) if key.starts_with(prefix.as_bytes()) => key,
                _ => return Err(Error::InvalidCursor),
            }
        };
        Ok(ListRange {
            limit,
            after,
            end: prefix_end(prefix.as_bytes()),
        })
    }
}

impl Kv {
    /// Opens the store (principal, name), creating it empty when new.
    pub(crate) fn open(conn: Rc<RefCell<Connection>>, principal: &str, name: &str) -> Result<Kv> {
        let id = crate::db::Namespace::KvStores.id(&conn.borrow(), principal, name)?;
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
    /// The page also ends before the entry that would take it over
    /// [`crate::MAX_ANSWER_BYTES`] (a page always holds one entry, if any is
    /// left: one entry is far smaller).
    pub fn list(&self, prefix: &str, cursor: &str, limit: u32, keys_only: bool) -> Result<Page> {
        let run = || -> Result<Page> {
            let ListRange { limit, after, end } = ListRange::new(prefix, cursor, limit)?;
            let mut sql = String::from(if keys_only {
                "SELECT key, x'', length(key) FROM kv WHERE store = ?1 AND key >= ?2 AND key > ?3"
            } else {
                "SELECT key, value, length(key) + length(value) FROM kv
                 WHERE store = ?1 AND key >= ?2 AND key > ?3"
            });
            if end.is_some() {
                sql.push_str(" AND key < ?5");
            }
            sql.push_str(" ORDER BY key LIMIT ?4");
            let conn = self.conn.borrow();
            let mut stmt = conn.prepare(&sql)?;
            let fetch = i64::from(limit) + 1;
            let mut rows = match &end {
                Some(end) => stmt.query(params![self.id, prefix.as_bytes(), after, fetch, end])?,
                None => stmt.query(params![self.id, prefix.as_bytes(), after, fetch])?,
            };
            // Rows are read one at a time, so a page past the byte budget is
            // never read whole: of the row that does not fit, only its size
            // (which SQLite knows without loading the value) is read.
            let mut budget = Budget::new("page");
            let mut entries = Vec::new();
            let mut more = false;
            while let Some(row) = rows.next()? {
                let size = usize::try_from(row.get::<_, i64>(2)?).unwrap_or(usize::MAX);
                if entries.len() == limit as usize || (!entries.is_empty() && !budget.fits(size)) {
                    more = true;
                    break;
                }
                // The first entry always fits: a key and a value are far
                // smaller than the budget.
                let _ = budget.take(size);
                let key = String::from_utf8(row.get(0)?).map_err(|_| Error::InvalidKey {
                    reason: "stored key is not UTF-8".to_string(),
                })?;
                entries.push((key, row.get(1)?));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn store(dir: &tempfile::TempDir) -> Kv {
        Store::open(dir.path())
            .unwrap()
            .kv("alice", "cache")
            .unwrap()
    }

    #[test]
    fn get_put_delete() {
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        assert_eq!(kv.get("a").unwrap(), None);
        kv.put("a", b"1").unwrap();
        kv.put("a", b"2").unwrap();
        kv.put("empty", b"").unwrap();
        assert_eq!(kv.get("a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(kv.get("empty").unwrap(), Some(vec![]));
        assert!(kv.delete("a").unwrap());
        assert!(!kv.delete("a").unwrap());
        assert_eq!(kv.get("a").unwrap(), None);
    }

    #[test]
    fn limits_are_enforced_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        assert_eq!(
            kv.put("", b"").unwrap_err().to_string(),
            r#"put "": invalid key: empty"#
        );
        assert_eq!(
            kv.get("a\0").unwrap_err().to_string(),
            r#"get "a\0": invalid key: contains a NUL byte"#
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(kv
            .put(&long, b"")
            .unwrap_err()
            .to_string()
            .ends_with("invalid key: 1025 bytes, limit 1024"));
        kv.put(&"k".repeat(MAX_KEY_BYTES), b"").unwrap();
        assert_eq!(
            kv.put("user:1", &vec![0; MAX_VALUE_BYTES + 1])
                .unwrap_err()
                .to_string(),
            r#"put "user:1": value too large: 1048577 bytes, limit 1048576"#
        );
        kv.put("user:1", &vec![0; MAX_VALUE_BYTES]).unwrap();
    }

    #[test]
    fn list_pages_through_a_prefix_with_a_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        let mut expected = Vec::new();
        let mut batch = Vec::new();
        for i in 0..2500 {
            let key = format!("user:{i:05}");
            expected.push(key.clone());
            batch.push((key, i.to_string().into_bytes()));
            if batch.len() == MAX_PUT_MANY {
                kv.put_many(&batch).unwrap();
                batch.clear();
            }
        }
        kv.put_many(&batch).unwrap();
        for other in ["user", "user;", "usea:1", "zzz", "tmp:1"] {
            kv.put(other, b"x").unwrap();
        }

        let mut seen = Vec::new();
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let page = kv.list("user:", &cursor, 300, false).unwrap();
            pages += 1;
            for (key, value) in &page.entries {
                let i: usize = key["user:".len()..].parse().unwrap();
                assert_eq!(value, i.to_string().as_bytes());
            }
            seen.extend(page.entries.into_iter().map(|(k, _)| k));
            if page.cursor.is_empty() {
                break;
            }
            // A write between pages does not disturb the paging.
            kv.put("user:", b"before every cursor").unwrap();
            cursor = page.cursor;
        }
        assert_eq!(pages, 9);
        assert_eq!(seen.len(), 2500);
        assert_eq!(seen, expected);

        // The default page is 100, the largest 1000; keys only leaves values empty.
        let page = kv.list("user:", "", 0, true).unwrap();
        assert_eq!(page.entries.len(), 100);
        assert!(page.entries.iter().all(|(_, v)| v.is_empty()));
        assert_eq!(page.entries[0].0, "user:");
        assert_eq!(kv.list("", "", 5000, true).unwrap().entries.len(), 1000);
        // Exactly one page: no cursor.
        assert_eq!(
            kv.list("tmp:", "", 1, false).unwrap(),
            Page {
                entries: vec![("tmp:1".into(), b"x".to_vec())],
                cursor: String::new()
            }
        );
    }

    #[test]
    fn pages_are_bounded_by_size_as_well_as_count() {
        use crate::answer::{ITEM_OVERHEAD, MAX_ANSWER_BYTES};
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        let value = vec![7u8; MAX_VALUE_BYTES];
        let total: usize = 85;
        for k in 0..total {
            kv.put(&format!("k{k:02}"), &value).unwrap();
        }
        let per_entry = (3 + MAX_VALUE_BYTES) as u64 + ITEM_OVERHEAD;
        let fit = (MAX_ANSWER_BYTES / per_entry) as usize;
        let (mut seen, mut cursor, mut pages) = (Vec::new(), String::new(), 0);
        loop {
            let page = kv.list("", &cursor, MAX_LIST_LIMIT, false).unwrap();
            pages += 1;
            let bytes: usize = page.entries.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(bytes as u64 <= MAX_ANSWER_BYTES, "page of {bytes} bytes");
            assert!(page.entries.len() <= fit);
            seen.extend(page.entries.into_iter().map(|(k, v)| {
                assert_eq!(v, value);
                k
            }));
            if page.cursor.is_empty() {
                break;
            }
            cursor = page.cursor;
        }
        assert_eq!(pages, total.div_ceil(fit));
        let expected: Vec<String> = (0..total).map(|k| format!("k{k:02}")).collect();
        assert_eq!(seen, expected, "every entry once, in order");
        // Keys only: the values cost nothing, one page holds them all.
        let page = kv.list("", "", MAX_LIST_LIMIT, true).unwrap();
        assert_eq!((page.entries.len(), page.cursor.as_str()), (total, ""));
    }

    #[test]
    fn cursors_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        kv.put_many(&[
            ("a:1".into(), vec![]),
            ("a:2".into(), vec![]),
            ("b:1".into(), vec![]),
        ])
        .unwrap();
        let page = kv.list("a:", "", 1, true).unwrap();
        assert!(!page.cursor.is_empty());
        for bad in ["zz", "6", page.cursor.as_str()] {
            assert_eq!(
                kv.list("b:", bad, 1, true).unwrap_err().to_string(),
                r#"list "b:": invalid cursor"#
            );
        }
        assert_eq!(
            kv.list("a:", &page.cursor, 1, true).unwrap().entries[0].0,
            "a:2"
        );
    }

    #[test]
    fn put_many_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        kv.put("keep", b"old").unwrap();
        let entries = vec![
            ("keep".to_string(), b"new".to_vec()),
            ("fresh".to_string(), b"1".to_vec()),
            ("big".to_string(), vec![0; MAX_VALUE_BYTES + 1]),
        ];
        assert_eq!(
            kv.put_many(&entries).unwrap_err().to_string(),
            r#"putMany entry 2: put "big": value too large: 1048577 bytes, limit 1048576"#
        );
        assert_eq!(kv.get("keep").unwrap(), Some(b"old".to_vec()));
        assert_eq!(kv.get("fresh").unwrap(), None);

        kv.put_many(&[
            ("keep".to_string(), b"new".to_vec()),
            ("dup".to_string(), b"first".to_vec()),
            ("dup".to_string(), b"last".to_vec()),
        ])
        .unwrap();
        assert_eq!(kv.get("keep").unwrap(), Some(b"new".to_vec()));
        assert_eq!(kv.get("dup").unwrap(), Some(b"last".to_vec()));

        let too_many = vec![("k".to_string(), vec![]); MAX_PUT_MANY + 1];
        assert_eq!(
            kv.put_many(&too_many).unwrap_err().to_string(),
            "putMany 1001 entries: too many items: 1001, limit 1000"
        );
    }

    #[test]
    fn put_many_rolls_back_when_the_database_refuses_mid_way() {
        let dir = tempfile::tempdir().unwrap();
        let kv = store(&dir);
        // Make the third insert fail inside SQLite, after two have run.
        kv.conn
            .borrow()
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = CAST('c' AS BLOB)
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let entries: Vec<(String, Vec<u8>)> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| (k.to_string(), b"v".to_vec()))
            .collect();
        let err = kv.put_many(&entries).unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        assert_eq!(kv.list("", "", 0, true).unwrap().entries, vec![]);
    }

    #[test]
    fn stores_are_isolated_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.kv("alice", "cache").unwrap().put("k", b"alice").unwrap();
            s.kv("bob", "cache").unwrap().put("k", b"bob").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(
            s.kv("alice", "cache").unwrap().get("k").unwrap(),
            Some(b"alice".to_vec())
        );
        assert_eq!(
            s.kv("bob", "cache").unwrap().get("k").unwrap(),
            Some(b"bob".to_vec())
        );
        assert_eq!(s.kv("alice", "other").unwrap().get("k").unwrap(), None);
        assert_eq!(
            s.kv("alice", "other")
                .unwrap()
                .list("", "", 0, true)
                .unwrap()
                .entries,
            vec![]
        );
    }

    #[test]
    fn prefix_end_and_cursor_encoding() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
        assert_eq!(encode_cursor("é:".as_bytes()), "c3a93a");
        assert_eq!(decode_cursor("c3a93a"), Some("é:".as_bytes().to_vec()));
        assert_eq!(decode_cursor("c3a"), None);
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("+1"), None);
    }
}
