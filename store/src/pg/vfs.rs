//! One volume in PostgreSQL: the operations of [`crate::vfs`], with the
//! same checks, answers and errors, as async calls.
//!
//! A mutating call (or a batch holding one) first locks its volume's row
//! (`FOR UPDATE`), reads the usage counters there, keeps them while the
//! ops run (the quota is checked against them, as on SQLite) and writes
//! them back before it commits. Two brokers writing to one volume thus
//! queue on that row: one's batch sees everything the other committed,
//! and neither can pass the quota. Any failure drops the transaction,
//! which rolls it back whole.

use std::cell::Cell;

use deadpool_postgres::{Client, Transaction};
use futures::{pin_mut, TryStreamExt};
use tokio_postgres::types::ToSql;
use tokio_postgres::IsolationLevel;

use super::pool::{Namespace, PgStore};
use crate::answer::Budget;
use crate::error::{quote, Error, Result};
use crate::path;
use crate::vfs::{
    check_size, unreachable_result, Entry, GlobMatches, Kind, Node, Op, OpResult, Quota, Usage,
    MAX_BATCH_OPS,
};

/// A handle on one volume in PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgVfs {
    store: PgStore,
    ns: Namespace,
    quota: Quota,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

fn slice_iter<'a>(params: Params<'a>) -> impl ExactSizeIterator<Item = &'a dyn ToSql> + 'a {
    params.iter().map(|p| *p as _)
}

/// Starts the transaction of one call: a write locks the volume's row and
/// reads its usage; a read is one read-only snapshot.
async fn begin(client: &mut Client, id: i64, write: bool) -> Result<(Transaction<'_>, Usage)> {
    if write {
        let tx = client.transaction().await?;
        let stmt = tx
            .prepare_cached("SELECT bytes, entries FROM volumes WHERE id = $1 FOR UPDATE")
            .await?;
        let row = tx.query_one(&stmt, &[&id]).await?;
        let usage = Usage {
            bytes: row.get::<_, i64>(0) as u64,
            entries: row.get::<_, i64>(1) as u64,
        };
        Ok((tx, usage))
    } else {
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        Ok((
            tx,
            Usage {
                bytes: 0,
                entries: 0,
            },
        ))
    }
}

impl PgVfs {
    pub(crate) fn new(store: PgStore, ns: Namespace, quota: Quota) -> PgVfs {
        PgVfs { store, ns, quota }
    }

    /// The volume's name.
    pub fn name(&self) -> &str {
        &self.ns.name
    }

    /// The quota of this grant.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// A pooled connection and the volume's id.
    async fn client(&self) -> Result<(Client, i64)> {
        let client = self.store.pool().get().await?;
        let id = self.ns.id(&client).await?;
        Ok((client, id))
    }

    /// Runs one op in its own transaction.
    pub async fn exec(&self, op: &Op) -> Result<OpResult> {
        let ctx = |e: Error| e.op(op.name(), op.target());
        let (mut client, id) = self.client().await.map_err(ctx)?;
        let (tx, usage) = begin(&mut client, id, op.is_mutation())
            .await
            .map_err(ctx)?;
        let volume = Volume::new(&tx, id, self, usage);
        let result = volume
            .apply(op, &mut Budget::new(op.answer()))
            .await
            .map_err(ctx)?;
        volume.finish().await.map_err(ctx)?;
        tx.commit().await.map_err(|e| ctx(e.into()))?;
        Ok(result)
    }

    /// Runs `ops` in order in one transaction: all take effect or none
    /// (see [`crate::Vfs::batch`]).
    pub async fn batch(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        let ctx = |e: Error| e.op("batch", format!("{} ops", ops.len()));
        if ops.len() > MAX_BATCH_OPS {
            return Err(ctx(Error::TooManyItems {
                len: ops.len(),
                limit: MAX_BATCH_OPS,
            }));
        }
        let (mut client, id) = self.client().await.map_err(ctx)?;
        let (tx, usage) = begin(&mut client, id, ops.iter().any(Op::is_mutation))
            .await
            .map_err(ctx)?;
        let volume = Volume::new(&tx, id, self, usage);
        let mut budget = Budget::new("batch results");
        let mut results = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let result = volume
                .apply(op, &mut budget)
                .await
                .map_err(|e| Error::Item {
                    what: "batch op",
                    index,
                    source: Box::new(e.op(op.name(), op.target())),
                })?;
            results.push(result);
        }
        // Dropping `tx` on any error above rolls the batch back.
        volume.finish().await.map_err(ctx)?;
        tx.commit().await.map_err(|e| ctx(e.into()))?;
        Ok(results)
    }

    /// The whole content of a file.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>> {
        match self.exec(&Op::Read { path: path.into() }).await? {
            OpResult::Content(c) => Ok(c),
            other => unreachable_result("read", other),
        }
    }

    /// Every entry (the root excepted) whose path matches `pattern`, sorted
    /// by path (see [`crate::Vfs::glob`]).
    pub async fn glob(&self, pattern: &str) -> Result<Vec<Entry>> {
        let pat = path::normalize(pattern).map_err(|e| e.op("glob", quote(pattern)))?;
        let mut matches = GlobMatches::new(&pat);
        let (literal, lo, hi) = matches.candidates();
        let run = async {
            let (mut client, id) = self.client().await?;
            let (tx, _) = begin(&mut client, id, false).await?;
            let stmt = tx
                .prepare_cached(
                    "SELECT path, dir, size FROM nodes
                     WHERE volume = $1 AND (path = $2 OR (path >= $3 AND path < $4))
                     ORDER BY path",
                )
                .await?;
            let rows = tx
                .query_raw(&stmt, slice_iter(&[&id, &literal, &lo, &hi]))
                .await?;
            pin_mut!(rows);
            while let Some(row) = rows.try_next().await? {
                matches.offer(row_to_entry(&row))?;
            }
            Ok::<_, Error>(matches.into_entries())
        };
        run.await.map_err(|e| e.op("glob", pat.clone()))
    }

    /// What the volume holds now.
    pub async fn usage(&self) -> Result<Usage> {
        let (client, id) = self.client().await?;
        let row = client
            .query_one("SELECT bytes, entries FROM volumes WHERE id = $1", &[&id])
            .await?;
        Ok(Usage {
            bytes: row.get::<_, i64>(0) as u64,
            entries: row.get::<_, i64>(1) as u64,
        })
    }
}

fn row_to_entry(row: &tokio_postgres::Row) -> Entry {
    let path: String = row.get(0);
    let dir: bool = row.get(1);
    let size: i64 = row.get(2);
    Entry {
        name: path::name(&path).to_string(),
        path,
        kind: if dir { Kind::Directory } else { Kind::File },
        size: size as u64,
    }
}

/// One volume seen through one transaction, with its usage as the
/// transaction has it (written back by [`Volume::finish`]).
struct Volume<'t, 'v> {
    tx: &'t Transaction<'t>,
    id: i64,
    vfs: &'v PgVfs,
    usage: Cell<Usage>,
    changed: Cell<bool>,
}

impl<'t, 'v> Volume<'t, 'v> {
    fn new(tx: &'t Transaction<'t>, id: i64, vfs: &'v PgVfs, usage: Usage) -> Self {
        Volume {
            tx,
            id,
            vfs,
            usage: Cell::new(usage),
            changed: Cell::new(false),
        }
    }

    async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64> {
        let stmt = self.tx.prepare_cached(sql).await?;
        Ok(self.tx.execute(&stmt, params).await?)
    }

    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<tokio_postgres::Row>> {
        let stmt = self.tx.prepare_cached(sql).await?;
        Ok(self.tx.query(&stmt, params).await?)
    }

    /// Writes the usage counters back, when an op changed them.
    async fn finish(&self) -> Result<()> {
        if self.changed.get() {
            let usage = self.usage.get();
            self.execute(
                "UPDATE volumes SET bytes = $2, entries = $3 WHERE id = $1",
                &[&self.id, &(usage.bytes as i64), &(usage.entries as i64)],
            )
            .await?;
        }
        Ok(())
    }

    /// Runs `op`, counting what it answers against `budget`.
    async fn apply(&self, op: &Op, budget: &mut Budget) -> Result<OpResult> {
        let result = match op {
            Op::Read { path } => self
                .read(&path::normalize(path)?, budget)
                .await
                .map(OpResult::Content),
            Op::Write {
                path,
                content,
                create_parents,
            } => self
                .write(&path::normalize(path)?, content, *create_parents)
                .await
                .map(|()| OpResult::None),
            Op::Append { path, content } => self
                .append(&path::normalize(path)?, content)
                .await
                .map(OpResult::Size),
            Op::List { path } => self
                .list(&path::normalize(path)?, budget)
                .await
                .map(OpResult::Entries),
            Op::Stat { path } => match self.stat(&path::normalize(path)?).await? {
                Some(entry) => budget
                    .take(entry.answer_bytes())
                    .map(|()| OpResult::Entry(entry)),
                None => Ok(OpResult::None),
            },
            Op::Mkdir { path, parents } => self
                .mkdir(&path::normalize(path)?, *parents)
                .await
                .map(|()| OpResult::None),
            Op::Remove { path, recursive } => self
                .remove(&path::normalize(path)?, *recursive)
                .await
                .map(|()| OpResult::None),
            Op::Rename { from, to } => self
                .rename(&path::normalize(from)?, &path::normalize(to)?)
                .await
                .map(|()| OpResult::None),
        }?;
        if !matches!(
            result,
            OpResult::Content(_) | OpResult::Entry(_) | OpResult::Entries(_)
        ) {
            budget.take(0)?;
        }
        Ok(result)
    }

    async fn node(&self, path: &str) -> Result<Option<Node>> {
        if path == "/" {
            return Ok(Some(Node::Dir));
        }
        let rows = self
            .query(
                "SELECT dir, size FROM nodes WHERE volume = $1 AND path = $2",
                &[&self.id, &path],
            )
            .await?;
        Ok(rows.first().map(|row| {
            if row.get::<_, bool>(0) {
                Node::Dir
            } else {
                Node::File {
                    size: row.get::<_, i64>(1) as u64,
                }
            }
        }))
    }

    /// Adds to the usage counters, failing if a growth passes the quota.
    fn charge(&self, bytes: i64, entries: i64) -> Result<()> {
        let usage = self.usage.get();
        let quota = self.vfs.quota;
        if bytes > 0 && usage.bytes.saturating_add(bytes as u64) > quota.max_bytes {
            return Err(Error::QuotaBytes {
                volume: self.vfs.name().to_string(),
                limit: quota.max_bytes,
            });
        }
        if entries > 0 && usage.entries.saturating_add(entries as u64) > quota.max_entries {
            return Err(Error::QuotaEntries {
                volume: self.vfs.name().to_string(),
                limit: quota.max_entries,
            });
        }
        self.usage.set(Usage {
            bytes: usage.bytes.saturating_add_signed(bytes),
            entries: usage.entries.saturating_add_signed(entries),
        });
        self.changed.set(true);
        Ok(())
    }

    /// Makes sure the parent of `path` is a directory, creating missing
    /// ancestors when `create` is set.
    async fn parent_dir(&self, path: &str, create: bool) -> Result<()> {
        let Some(parent) = path::parent(path) else {
            return Ok(());
        };
        match self.node(parent).await? {
            Some(Node::Dir) => Ok(()),
            Some(Node::File { .. }) => Err(Error::ParentNotADirectory {
                parent: parent.to_string(),
            }),
            None if create => self.mkdir_all(parent).await,
            None => Err(Error::ParentMissing {
                parent: parent.to_string(),
            }),
        }
    }

    async fn mkdir_all(&self, path: &str) -> Result<()> {
        let mut dir = "/".to_string();
        for part in path::components(path) {
            dir = path::join(&dir, part);
            match self.node(&dir).await? {
                Some(Node::Dir) => {}
                Some(Node::File { .. }) => {
                    return Err(Error::ParentNotADirectory { parent: dir });
                }
                None => self.insert_dir(&dir).await?,
            }
        }
        Ok(())
    }

    async fn insert_dir(&self, path: &str) -> Result<()> {
        self.charge(0, 1)?;
        self.execute(
            "INSERT INTO nodes (volume, path, parent, dir, size, content)
             VALUES ($1, $2, $3, TRUE, 0, NULL)",
            &[&self.id, &path, &path::parent(path).unwrap_or("/")],
        )
        .await?;
        Ok(())
    }

    async fn content(&self, path: &str) -> Result<Vec<u8>> {
        let rows = self
            .query(
                "SELECT content FROM nodes WHERE volume = $1 AND path = $2",
                &[&self.id, &path],
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default()),
            None => Err(Error::Internal(format!("{path} vanished while read"))),
        }
    }

    /// A file's content, counted against `budget` before it is read.
    async fn read(&self, path: &str, budget: &mut Budget) -> Result<Vec<u8>> {
        match self.node(path).await? {
            None => Err(Error::NotFound),
            Some(Node::Dir) => Err(Error::IsADirectory),
            Some(Node::File { size }) => {
                budget.take(usize::try_from(size).unwrap_or(usize::MAX))?;
                self.content(path).await
            }
        }
    }

    async fn write(&self, path: &str, content: &[u8], create_parents: bool) -> Result<()> {
        let size = content.len() as u64;
        check_size(size)?;
        match self.node(path).await? {
            Some(Node::Dir) => Err(Error::IsADirectory),
            Some(Node::File { size: old }) => {
                self.charge(size as i64 - old as i64, 0)?;
                self.execute(
                    "UPDATE nodes SET content = $3, size = $4 WHERE volume = $1 AND path = $2",
                    &[&self.id, &path, &content, &(size as i64)],
                )
                .await?;
                Ok(())
            }
            None => {
                self.parent_dir(path, create_parents).await?;
                self.insert_file(path, content).await
            }
        }
    }

    async fn insert_file(&self, path: &str, content: &[u8]) -> Result<()> {
        self.charge(content.len() as i64, 1)?;
        self.execute(
            "INSERT INTO nodes (volume, path, parent, dir, size, content)
             VALUES ($1, $2, $3, FALSE, $4, $5)",
            &[
                &self.id,
                &path,
                &path::parent(path).unwrap_or("/"),
                &(content.len() as i64),
                &content,
            ],
        )
        .await?;
        Ok(())
    }

    async fn append(&self, path: &str, content: &[u8]) -> Result<u64> {
        match self.node(path).await? {
            Some(Node::Dir) => Err(Error::IsADirectory),
            Some(Node::File { size }) => {
                let new_size = size + content.len() as u64;
                check_size(new_size)?;
                self.charge(content.len() as i64, 0)?;
                // Appended in place: the old content never travels.
                self.execute(
                    "UPDATE nodes SET content = coalesce(content, ''::bytea) || $3, size = $4
                     WHERE volume = $1 AND path = $2",
                    &[&self.id, &path, &content, &(new_size as i64)],
                )
                .await?;
                Ok(new_size)
            }
            None => {
                check_size(content.len() as u64)?;
                self.parent_dir(path, false).await?;
                self.insert_file(path, content).await?;
                Ok(content.len() as u64)
            }
        }
    }

    /// A directory's children, each counted against `budget` as it is read.
    async fn list(&self, path: &str, budget: &mut Budget) -> Result<Vec<Entry>> {
        match self.node(path).await? {
            None => return Err(Error::NotFound),
            Some(Node::File { .. }) => return Err(Error::NotADirectory),
            Some(Node::Dir) => {}
        }
        budget.take(0)?;
        let stmt = self
            .tx
            .prepare_cached(
                "SELECT path, dir, size FROM nodes WHERE volume = $1 AND parent = $2 ORDER BY path",
            )
            .await?;
        let rows = self
            .tx
            .query_raw(&stmt, slice_iter(&[&self.id, &path]))
            .await?;
        pin_mut!(rows);
        let mut entries = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let entry = row_to_entry(&row);
            budget.take(entry.answer_bytes())?;
            entries.push(entry);
        }
        Ok(entries)
    }

    async fn stat(&self, path: &str) -> Result<Option<Entry>> {
        Ok(self.node(path).await?.map(|node| Entry {
            path: path.to_string(),
            name: path::name(path).to_string(),
            kind: match node {
                Node::Dir => Kind::Directory,
                Node::File { .. } => Kind::File,
            },
            size: match node {
                Node::Dir => 0,
                Node::File { size } => size,
            },
        }))
    }

    async fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        match self.node(path).await? {
            Some(Node::Dir) if parents => Ok(()),
            Some(_) => Err(Error::AlreadyExists),
            None if parents => self.mkdir_all(path).await,
            None => {
                self.parent_dir(path, false).await?;
                self.insert_dir(path).await
            }
        }
    }

    async fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        if path == "/" {
            return Err(Error::RootImmutable);
        }
        match self.node(path).await? {
            None => Err(Error::NotFound),
            Some(Node::File { size }) => {
                self.delete(path).await?;
                self.charge(-(size as i64), -1)
            }
            Some(Node::Dir) => {
                let (lo, hi) = path::descendants_range(path);
                let rows = self
                    .query(
                        "SELECT count(*), coalesce(sum(size), 0)::BIGINT FROM nodes
                         WHERE volume = $1 AND path >= $2 AND path < $3",
                        &[&self.id, &lo, &hi],
                    )
                    .await?;
                let (count, bytes): (i64, i64) = match rows.first() {
                    Some(row) => (row.get(0), row.get(1)),
                    None => (0, 0),
                };
                if count > 0 && !recursive {
                    return Err(Error::NotEmpty);
                }
                self.execute(
                    "DELETE FROM nodes WHERE volume = $1 AND path >= $2 AND path < $3",
                    &[&self.id, &lo, &hi],
                )
                .await?;
                self.delete(path).await?;
                self.charge(-bytes, -(count + 1))
            }
        }
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.execute(
            "DELETE FROM nodes WHERE volume = $1 AND path = $2",
            &[&self.id, &path],
        )
        .await?;
        Ok(())
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        if from == "/" || to == "/" {
            return Err(Error::RootImmutable);
        }
        let Some(node) = self.node(from).await? else {
            return Err(Error::NotFound);
        };
        if from == to {
            return Ok(());
        }
        if node == Node::Dir && to.starts_with(from) && to.as_bytes().get(from.len()) == Some(&b'/')
        {
            return Err(Error::IntoItself);
        }
        self.parent_dir(to, false).await?;
        match (node, self.node(to).await?) {
            (_, None) => {}
            (Node::File { .. }, Some(Node::File { size })) => {
                self.delete(to).await?;
                self.charge(-(size as i64), -1)?;
            }
            (_, Some(_)) => {
                return Err(Error::DestinationExists { to: to.to_string() });
            }
        }
        let mut moves = vec![(from.to_string(), to.to_string())];
        if node == Node::Dir {
            let (lo, hi) = path::descendants_range(from);
            let rows = self
                .query(
                    "SELECT path FROM nodes WHERE volume = $1 AND path >= $2 AND path < $3",
                    &[&self.id, &lo, &hi],
                )
                .await?;
            for row in rows {
                let old: String = row.get(0);
                let new = format!("{to}{}", &old[from.len()..]);
                if new.len() > path::MAX_PATH_BYTES {
                    return Err(Error::PathTooLong { len: new.len() });
                }
                moves.push((old, new));
            }
        }
        for (old, new) in &moves {
            let parent = path::parent(new).unwrap_or("/");
            self.execute(
                "UPDATE nodes SET path = $3, parent = $4 WHERE volume = $1 AND path = $2",
                &[&self.id, old, new, &parent],
            )
            .await?;
        }
        Ok(())
    }
}
