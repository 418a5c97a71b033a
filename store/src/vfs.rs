//! The virtual file system: one volume of files and directories in SQLite.
//!
//! A [`Vfs`] is a handle on one volume, identified by (principal, volume
//! name), with the quota of its grant. Every operation is an [`Op`]; each
//! runs in its own transaction, and [`Vfs::batch`] runs many in one, so a
//! failing op rolls back the whole batch. Mutations take the write lock up
//! front (`BEGIN IMMEDIATE`); usage counters (bytes, entries) live in the
//! `volumes` row and change in the same transaction as the data, so they
//! are exact and quota checks cannot race.
//!
//! Parent directories must exist for `write` (unless `create_parents`),
//! `append`, `mkdir` (unless `parents`) and the destination of `rename`.
//! The root `/` is implicit: always there, never stored, never changed.

use std::cell::RefCell;
use std::rc::Rc;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::answer::Budget;
use crate::error::{quote, Error, Result};
use crate::path;

/// Largest file, in bytes (16 MiB): well under SQLite's 1 GB blob limit and
/// capnp's default message limits, and it fits a JavaScript number.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most ops in one batch.
pub const MAX_BATCH_OPS: usize = 1000;
/// Most entries one glob may return.
pub const MAX_GLOB_MATCHES: usize = 10_000;

/// The matches of one glob over a volume, for both backends: the range of
/// paths that can match, and the matches, bounded by [`MAX_GLOB_MATCHES`]
/// and [`crate::MAX_ANSWER_BYTES`]. The backends differ only in how they
/// read the candidates (in path order).
pub(crate) struct GlobMatches<'p> {
    /// The components of the normalised pattern.
    parts: Vec<&'p str>,
    out: Vec<Entry>,
    budget: Budget,
}

impl<'p> GlobMatches<'p> {
    /// For `pattern`, already normalised ([`path::normalize`]).
    pub(crate) fn new(pattern: &'p str) -> Self {
        GlobMatches {
            parts: path::components(pattern),
            out: Vec::new(),
            budget: Budget::new("glob matches"),
        }
    }

    /// The pattern's literal prefix and the range of paths under it: only
    /// entries there can match.
    pub(crate) fn candidates(&self) -> (String, String, String) {
        let literal = self
            .parts
            .iter()
            .take_while(|c| !path::has_wildcard(c) && **c != "**")
            .fold("/".to_string(), |dir, c| path::join(&dir, c));
        let (lo, hi) = path::descendants_range(&literal);
        (literal, lo, hi)
    }

    /// Keeps `entry` if it matches; fails past the bounds.
    pub(crate) fn offer(&mut self, entry: Entry) -> Result<()> {
        if path::glob_match(&self.parts, &path::components(&entry.path)) {
            if self.out.len() == MAX_GLOB_MATCHES {
                return Err(Error::TooManyMatches {
                    limit: MAX_GLOB_MATCHES,
                });
            }
            self.budget.take(entry.answer_bytes())?;
            self.out.push(entry);
        }
        Ok(())
    }

    /// The matches, in the order offered.
    pub(crate) fn into_entries(self) -> Vec<Entry> {
        self.out
    }
}

/// The limits of one volume grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Total bytes of file content.
    pub max_bytes: u64,
    /// Files plus directories (the root is not counted).
    pub max_entries: u64,
}

impl Default for Quota {
    /// 64 MiB and 10 000 entries.
    fn default() -> Self {
        Quota {
            max_bytes: 64 << 20,
            max_entries: 10_000,
        }
    }
}

/// What a volume currently holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Total bytes of file content.
    pub bytes: u64,
    /// Files plus directories (the root is not counted).
    pub entries: u64,
}

/// File or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
}

/// What `list`, `stat` and `glob` report about one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Normalised absolute path.
    pub path: String,
    /// Last component of the path; empty for the root.
    pub name: String,
    /// File or directory.
    pub kind: Kind,
    /// Content size in bytes (0 for a directory).
    pub size: u64,
}

/// One file system operation; the same set as the `Volume` schema methods
/// and `FsOp`. Paths are raw input, normalised when the op runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Whole content of a file.
    Read {
        /// The file.
        path: String,
    },
    /// Create or replace a file.
    Write {
        /// The file.
        path: String,
        /// The new content.
        content: Vec<u8>,
        /// Create missing parent directories.
        create_parents: bool,
    },
    /// Append to a file, creating it when missing.
    Append {
        /// The file.
        path: String,
        /// Bytes to append.
        content: Vec<u8>,
    },
    /// Direct children of a directory.
    List {
        /// The directory.
        path: String,
    },
    /// What is at a path, if anything.
    Stat {
        /// The path.
        path: String,
    },
    /// Create a directory.
    Mkdir {
        /// The directory.
        path: String,
        /// Create missing ancestors; an existing directory is fine.
        parents: bool,
    },
    /// Remove a file or directory.
    Remove {
        /// The path.
        path: String,
        /// Remove a non-empty directory with everything under it.
        recursive: bool,
    },
    /// Move a file or directory.
    Rename {
        /// Source path.
        from: String,
        /// Destination path.
        to: String,
    },
}

impl Op {
    /// The op's name, as in the schema.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::Append { .. } => "append",
            Op::List { .. } => "list",
            Op::Stat { .. } => "stat",
            Op::Mkdir { .. } => "mkdir",
            Op::Remove { .. } => "remove",
            Op::Rename { .. } => "rename",
        }
    }

    /// The path the op is about (`from` for a rename), as given.
    pub fn path(&self) -> &str {
        match self {
            Op::Read { path }
            | Op::Write { path, .. }
            | Op::Append { path, .. }
            | Op::List { path }
            | Op::Stat { path }
            | Op::Mkdir { path, .. }
            | Op::Remove { path, .. } => path,
            Op::Rename { from, .. } => from,
        }
    }

    /// What the op's answer is called in a `too_large` error.
    pub(crate) fn answer(&self) -> &'static str {
        match self {
            Op::List { .. } => "listing",
            _ => "result",
        }
    }

    /// Whether the op may change the volume.
    pub fn is_mutation(&self) -> bool {
        !matches!(self, Op::Read { .. } | Op::List { .. } | Op::Stat { .. })
    }

    /// How the op is named in errors: its normalised path when valid, else
    /// the input quoted.
    pub fn target(&self) -> String {
        path::normalize(self.path()).unwrap_or_else(|_| quote(self.path()))
    }

    /// The error a read-only grant answers for this op.
    pub fn read_only_error(&self, volume: &str) -> Error {
        Error::ReadOnly {
            volume: volume.to_string(),
        }
        .op(self.name(), self.target())
    }
}

impl Entry {
    /// The bytes it adds to an answer (see [`crate::answer`]).
    pub(crate) fn answer_bytes(&self) -> usize {
        self.path.len() + self.name.len()
    }
}

/// The result of one [`Op`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// No result (`write`, `mkdir`, `remove`, `rename`; `stat` of nothing).
    None,
    /// `read`: the content.
    Content(Vec<u8>),
    /// `append`: the new size.
    Size(u64),
    /// `stat`: the entry.
    Entry(Entry),
    /// `list`: the children, sorted by name.
    Entries(Vec<Entry>),
}

/// A handle on one volume. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Vfs {
    conn: Rc<RefCell<Connection>>,
    id: i64,
    name: String,
    quota: Quota,
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vfs")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("quota", &self.quota)
            .finish()
    }
}

impl Vfs {
    /// Opens the volume (principal, name), creating it empty when new.
    pub(crate) fn open(
        conn: Rc<RefCell<Connection>>,
        principal: &str,
        name: &str,
        quota: Quota,
    ) -> Result<Vfs> {
        let id = crate::db::Namespace::Volumes.id(&conn.borrow(), principal, name)?;
        Ok(Vfs {
            conn,
            id,
            name: name.to_string(),
            quota,
        })
    }

    /// The volume's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The quota of this grant.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Runs one op in its own transaction.
    pub fn exec(&self, op: &Op) -> Result<OpResult> {
        let mut conn = self.conn.borrow_mut();
        let tx = begin(&mut conn, op.is_mutation()).map_err(|e| e.op(op.name(), op.target()))?;
        let result = self
            .on(&tx)
            .apply(op, &mut Budget::new(op.answer()))
            .map_err(|e| e.op(op.name(), op.target()))?;
        tx.commit()
            .map_err(|e| Error::from(e).op(op.name(), op.target()))?;
        Ok(result)
    }

    /// Runs `ops` in order in one transaction: all take effect or none.
    /// A failure is [`Error::Item`] naming the index of the failing op; so
    /// is a read or listing that takes the results over
    /// [`crate::MAX_ANSWER_BYTES`] (`too_large`).
    pub fn batch(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        if ops.len() > MAX_BATCH_OPS {
            return Err(Error::TooManyItems {
                len: ops.len(),
                limit: MAX_BATCH_OPS,
            }
            .op("batch", format!("{} ops", ops.len())));
        }
        let mut conn = self.conn.borrow_mut();
        let tx = begin(&mut conn, ops.iter().any(Op::is_mutation))
            .map_err(|e| e.op("batch", format!("{} ops", ops.len())))?;
        let volume = self.on(&tx);
        let mut budget = Budget::new("batch results");
        let mut results = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let result = volume.apply(op, &mut budget).map_err(|e| Error::Item {
                what: "batch op",
                index,
                source: Box::new(e.op(op.name(), op.target())),
            })?;
            results.push(result);
        }
        // Dropping `tx` on any error above rolls the batch back.
        tx.commit()
            .map_err(|e| Error::from(e).op("batch", format!("{} ops", ops.len())))?;
        Ok(results)
    }

    /// The whole content of a file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>> {
        match self.exec(&Op::Read { path: path.into() })? {
            OpResult::Content(c) => Ok(c),
            other => unreachable_result("read", other),
        }
    }

    /// Creates or replaces a file.
    pub fn write(&self, path: &str, content: &[u8], create_parents: bool) -> Result<()> {
        self.exec(&Op::Write {
            path: path.into(),
            content: content.to_vec(),
            create_parents,
        })
        .map(drop)
    }

    /// Appends to a file (created when missing); returns its new size.
    pub fn append(&self, path: &str, content: &[u8]) -> Result<u64> {
        match self.exec(&Op::Append {
            path: path.into(),
            content: content.to_vec(),
        })? {
            OpResult::Size(s) => Ok(s),
            other => unreachable_result("append", other),
        }
    }

    /// Direct children of a directory, sorted by name.
    pub fn list(&self, path: &str) -> Result<Vec<Entry>> {
        match self.exec(&Op::List { path: path.into() })? {
            OpResult::Entries(e) => Ok(e),
            other => unreachable_result("list", other),
        }
    }

    /// What is at `path`, if anything.
    pub fn stat(&self, path: &str) -> Result<Option<Entry>> {
        match self.exec(&Op::Stat { path: path.into() })? {
            OpResult::Entry(e) => Ok(Some(e)),
            OpResult::None => Ok(None),
            other => unreachable_result("stat", other),
        }
    }

    /// Creates a directory (`parents`: like `mkdir -p`).
    pub fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        self.exec(&Op::Mkdir {
            path: path.into(),
            parents,
        })
        .map(drop)
    }

    /// Removes a file or directory.
    pub fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        self.exec(&Op::Remove {
            path: path.into(),
            recursive,
        })
        .map(drop)
    }

    /// Moves a file or directory.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.exec(&Op::Rename {
            from: from.into(),
            to: to.into(),
        })
        .map(drop)
    }

    /// Every entry (the root excepted) whose path matches `pattern`, sorted
    /// by path; see [`path::glob_match`]. At most [`MAX_GLOB_MATCHES`]
    /// entries and [`crate::MAX_ANSWER_BYTES`].
    pub fn glob(&self, pattern: &str) -> Result<Vec<Entry>> {
        let conn = self.conn.borrow();
        let pat = path::normalize(pattern).map_err(|e| e.op("glob", quote(pattern)))?;
        let mut matches = GlobMatches::new(&pat);
        let (literal, lo, hi) = matches.candidates();
        let run = || -> Result<Vec<Entry>> {
            let mut stmt = conn.prepare(
                "SELECT path, dir, size FROM nodes
                 WHERE volume = ?1 AND (path = ?2 OR (path >= ?3 AND path < ?4))
                 ORDER BY path",
            )?;
            let rows = stmt.query_map(params![self.id, literal, lo, hi], row_to_entry)?;
            for row in rows {
                matches.offer(row?)?;
            }
            Ok(matches.into_entries())
        };
        run().map_err(|e| e.op("glob", pat.clone()))
    }

    /// What the volume holds now.
    pub fn usage(&self) -> Result<Usage> {
        let conn = self.conn.borrow();
        Ok(self.on(&conn).usage()?)
    }

    fn on<'c>(&self, conn: &'c Connection) -> Volume<'c, '_> {
        Volume { conn, vfs: self }
    }
}

fn begin(conn: &mut Connection, write: bool) -> Result<Transaction<'_>> {
    let behavior = if write {
        TransactionBehavior::Immediate
    } else {
        TransactionBehavior::Deferred
    };
    Ok(conn.transaction_with_behavior(behavior)?)
}

/// `file too large` past [`MAX_FILE_BYTES`].
pub(crate) fn check_size(size: u64) -> Result<()> {
    if size > MAX_FILE_BYTES {
        return Err(Error::FileTooLarge {
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(())
}

pub(crate) fn unreachable_result<T>(op: &'static str, got: OpResult) -> Result<T> {
    Err(Error::Internal(format!("{op} returned {got:?}")))
}

fn row_to_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let path: String = row.get(0)?;
    let dir: bool = row.get(1)?;
    let size: i64 = row.get(2)?;
    Ok(Entry {
        name: path::name(&path).to_string(),
        path,
        kind: if dir { Kind::Directory } else { Kind::File },
        size: size as u64,
    })
}

/// What is stored at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Dir,
    File { size: u64 },
}

/// One volume seen through one connection or transaction.
struct Volume<'c, 'v> {
    conn: &'c Connection,
    vfs: &'v Vfs,
}

impl Volume<'_, '_> {
    /// Runs `op`, counting what it answers against `budget`.
    fn apply(&self, op: &Op, budget: &mut Budget) -> Result<OpResult> {
        let result = match op {
            Op::Read { path } => self
                .read(&path::normalize(path)?, budget)
                .map(OpResult::Content),
            Op::Write {
                path,
                content,
                create_parents,
            } => self
                .write(&path::normalize(path)?, content, *create_parents)
                .map(|()| OpResult::None),
            Op::Append { path, content } => self
                .append(&path::normalize(path)?, content)
                .map(OpResult::Size),
            Op::List { path } => self
                .list(&path::normalize(path)?, budget)
                .map(OpResult::Entries),
            Op::Stat { path } => match self.stat(&path::normalize(path)?)? {
                Some(entry) => budget
                    .take(entry.answer_bytes())
                    .map(|()| OpResult::Entry(entry)),
                None => Ok(OpResult::None),
            },
            Op::Mkdir { path, parents } => self
                .mkdir(&path::normalize(path)?, *parents)
                .map(|()| OpResult::None),
            Op::Remove { path, recursive } => self
                .remove(&path::normalize(path)?, *recursive)
                .map(|()| OpResult::None),
            Op::Rename { from, to } => self
                .rename(&path::normalize(from)?, &path::normalize(to)?)
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

    fn node(&self, path: &str) -> Result<Option<Node>> {
        if path == "/" {
            return Ok(Some(Node::Dir));
        }
        let row: Option<(bool, i64)> = self
            .conn
            .query_row(
                "SELECT dir, size FROM nodes WHERE volume = ?1 AND path = ?2",
                params![self.vfs.id, path],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(dir, size)| {
            if dir {
                Node::Dir
            } else {
                Node::File { size: size as u64 }
            }
        }))
    }

    fn usage(&self) -> rusqlite::Result<Usage> {
        self.conn.query_row(
            "SELECT bytes, entries FROM volumes WHERE id = ?1",
            params![self.vfs.id],
            |row| {
                Ok(Usage {
                    bytes: row.get::<_, i64>(0)? as u64,
                    entries: row.get::<_, i64>(1)? as u64,
                })
            },
        )
    }

    /// Adds to the usage counters, failing if a growth passes the quota.
    fn charge(&self, bytes: i64, entries: i64) -> Result<()> {
        let usage = self.usage()?;
        let quota = self.vfs.quota;
        if bytes > 0 && usage.bytes.saturating_add(bytes as u64) > quota.max_bytes {
            return Err(Error::QuotaBytes {
                volume: self.vfs.name.clone(),
                limit: quota.max_bytes,
            });
        }
        if entries > 0 && usage.entries.saturating_add(entries as u64) > quota.max_entries {
            return Err(Error::QuotaEntries {
                volume: self.vfs.name.clone(),
                limit: quota.max_entries,
            });
        }
        self.conn.execute(
            "UPDATE volumes SET bytes = bytes + ?2, entries = entries + ?3 WHERE id = ?1",
            params![self.vfs.id, bytes, entries],
        )?;
        Ok(())
    }

    /// Makes sure the parent of `path` is a directory, creating missing
    /// ancestors when `create` is set.
    fn parent_dir(&self, path: &str, create: bool) -> Result<()> {
        let Some(parent) = path::parent(path) else {
            return Ok(());
        };
        match self.node(parent)? {
            Some(Node::Dir) => Ok(()),
            Some(Node::File { .. }) => Err(Error::ParentNotADirectory {
                parent: parent.to_string(),
            }),
            None if create => self.mkdir_all(parent),
            None => Err(Error::ParentMissing {
                parent: parent.to_string(),
            }),
        }
    }

    fn mkdir_all(&self, path: &str) -> Result<()> {
        let mut dir = "/".to_string();
        for part in path::components(path) {
            dir = path::join(&dir, part);
            match self.node(&dir)? {
                Some(Node::Dir) => {}
                Some(Node::File { .. }) => {
                    return Err(Error::ParentNotADirectory { parent: dir });
                }
                None => self.insert_dir(&dir)?,
            }
        }
        Ok(())
    }

    fn insert_dir(&self, path: &str) -> Result<()> {
        self.charge(0, 1)?;
        self.conn.execute(
            "INSERT INTO nodes (volume, path, parent, dir, size, content)
             VALUES (?1, ?2, ?3, 1, 0, NULL)",
            params![self.vfs.id, path, path::parent(path).unwrap_or("/")],
        )?;
        Ok(())
    }

    fn content(&self, path: &str) -> Result<Vec<u8>> {
        Ok(self.conn.query_row(
            "SELECT content FROM nodes WHERE volume = ?1 AND path = ?2",
            params![self.vfs.id, path],
            |row| row.get(0),
        )?)
    }

    /// A file's content, counted against `budget` before it is read.
    fn read(&self, path: &str, budget: &mut Budget) -> Result<Vec<u8>> {
        match self.node(path)? {
            None => Err(Error::NotFound),
            Some(Node::Dir) => Err(Error::IsADirectory),
            Some(Node::File { size }) => {
                budget.take(usize::try_from(size).unwrap_or(usize::MAX))?;
                self.content(path)
            }
        }
    }

    fn write(&self, path: &str, content: &[u8], create_parents: bool) -> Result<()> {
        let size = content.len() as u64;
        check_size(size)?;
        match self.node(path)? {
            Some(Node::Dir) => Err(Error::IsADirectory),
            Some(Node::File { size: old }) => {
                self.charge(size as i64 - old as i64, 0)?;
                self.conn.execute(
                    "UPDATE nodes SET content = ?3, size = ?4 WHERE volume = ?1 AND path = ?2",
                    params![self.vfs.id, path, content, size as i64],
                )?;
                Ok(())
            }
            None => {
                self.parent_dir(path, create_parents)?;
                self.insert_file(path, content)
            }
        }
    }

    fn insert_file(&self, path: &str, content: &[u8]) -> Result<()> {
        self.charge(content.len() as i64, 1)?;
        self.conn.execute(
            "INSERT INTO nodes (volume, path, parent, dir, size, content)
             VALUES (?1, ?2, ?3, 0, ?4, ?5)",
            params![
                self.vfs.id,
                path,
                path::parent(path).unwrap_or("/"),
                content.len() as i64,
                content
            ],
        )?;
        Ok(())
    }

    fn append(&self, path: &str, content: &[u8]) -> Result<u64> {
        match self.node(path)? {
            Some(Node::Dir) => Err(Error::IsADirectory),
            Some(Node::File { size }) => {
                let new_size = size + content.len() as u64;
                check_size(new_size)?;
                self.charge(content.len() as i64, 0)?;
                let mut data = self.content(path)?;
                data.extend_from_slice(content);
                self.conn.execute(
                    "UPDATE nodes SET content = ?3, size = ?4 WHERE volume = ?1 AND path = ?2",
                    params![self.vfs.id, path, data, new_size as i64],
                )?;
                Ok(new_size)
            }
            None => {
                check_size(content.len() as u64)?;
                self.parent_dir(path, false)?;
                self.insert_file(path, content)?;
                Ok(content.len() as u64)
            }
        }
    }

    /// A directory's children, each counted against `budget` as it is read.
    fn list(&self, path: &str, budget: &mut Budget) -> Result<Vec<Entry>> {
        match self.node(path)? {
            None => return Err(Error::NotFound),
            Some(Node::File { .. }) => return Err(Error::NotADirectory),
            Some(Node::Dir) => {}
        }
        budget.take(0)?;
        let mut stmt = self.conn.prepare(
            "SELECT path, dir, size FROM nodes WHERE volume = ?1 AND parent = ?2 ORDER BY path",
        )?;
        let mut entries = Vec::new();
        for row in stmt.query_map(params![self.vfs.id, path], row_to_entry)? {
            let entry = row?;
            budget.take(entry.answer_bytes())?;
            entries.push(entry);
        }
        Ok(entries)
    }

    fn stat(&self, path: &str) -> Result<Option<Entry>> {
        Ok(self.node(path)?.map(|node| Entry {
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

    fn mkdir(&self, path: &str, parents: bool) -> Result<()> {
        match self.node(path)? {
            Some(Node::Dir) if parents => Ok(()),
            Some(_) => Err(Error::AlreadyExists),
            None if parents => self.mkdir_all(path),
            None => {
                self.parent_dir(path, false)?;
                self.insert_dir(path)
            }
        }
    }

    fn remove(&self, path: &str, recursive: bool) -> Result<()> {
        if path == "/" {
            return Err(Error::RootImmutable);
        }
        match self.node(path)? {
            None => Err(Error::NotFound),
            Some(Node::File { size }) => {
                self.delete(path)?;
                self.charge(-(size as i64), -1)
            }
            Some(Node::Dir) => {
                let (lo, hi) = path::descendants_range(path);
                let (count, bytes): (i64, i64) = self.conn.query_row(
                    "SELECT count(*), coalesce(sum(size), 0) FROM nodes
                     WHERE volume = ?1 AND path >= ?2 AND path < ?3",
                    params![self.vfs.id, lo, hi],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                if count > 0 && !recursive {
                    return Err(Error::NotEmpty);
                }
                self.conn.execute(
                    "DELETE FROM nodes WHERE volume = ?1 AND path >= ?2 AND path < ?3",
                    params![self.vfs.id, lo, hi],
                )?;
                self.delete(path)?;
                self.charge(-bytes, -(count + 1))
            }
        }
    }

    fn delete(&self, path: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM nodes WHERE volume = ?1 AND path = ?2",
            params![self.vfs.id, path],
        )?;
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        if from == "/" || to == "/" {
            return Err(Error::RootImmutable);
        }
        let Some(node) = self.node(from)? else {
            return Err(Error::NotFound);
        };
        if from == to {
            return Ok(());
        }
        if node == Node::Dir && to.starts_with(from) && to.as_bytes().get(from.len()) == Some(&b'/')
        {
            return Err(Error::IntoItself);
        }
        self.parent_dir(to, false)?;
        match (node, self.node(to)?) {
            (_, None) => {}
            (Node::File { .. }, Some(Node::File { size })) => {
                self.delete(to)?;
                self.charge(-(size as i64), -1)?;
            }
            (_, Some(_)) => {
                return Err(Error::DestinationExists { to: to.to_string() });
            }
        }
        let mut moves = vec![(from.to_string(), to.to_string())];
        if node == Node::Dir {
            let (lo, hi) = path::descendants_range(from);
            let mut stmt = self
                .conn
                .prepare("SELECT path FROM nodes WHERE volume = ?1 AND path >= ?2 AND path < ?3")?;
            let rows =
                stmt.query_map(params![self.vfs.id, lo, hi], |row| row.get::<_, String>(0))?;
            for old in rows {
                let old = old?;
                let new = format!("{to}{}", &old[from.len()..]);
                if new.len() > path::MAX_PATH_BYTES {
                    return Err(Error::PathTooLong { len: new.len() });
                }
                moves.push((old, new));
            }
        }
        let mut stmt = self
            .conn
            .prepare("UPDATE nodes SET path = ?3, parent = ?4 WHERE volume = ?1 AND path = ?2")?;
        for (old, new) in &moves {
            let parent = path::parent(new).unwrap_or("/");
            stmt.execute(params![self.vfs.id, old, new, parent])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    const BIG: Quota = Quota {
        max_bytes: 1 << 30,
        max_entries: 1 << 20,
    };

    fn volume(dir: &tempfile::TempDir) -> Vfs {
        Store::open(dir.path())
            .unwrap()
            .vfs("alice", "workspace", BIG)
            .unwrap()
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn answers_are_bounded_by_size() {
        use crate::answer::MAX_ANSWER_BYTES;
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        let file = vec![7u8; 10 << 20];
        v.write("/big", &file, false).unwrap();
        let read = || Op::Read {
            path: "/big".into(),
        };
        // Three reads of 10 MiB fit in one answer; a fourth is refused
        // before its content is read, and the batch changes nothing.
        let results = v.batch(&[read(), read(), read()]).unwrap();
        assert_eq!(results.len(), 3);
        let ops = [
            Op::Write {
                path: "/new".into(),
                content: b"x".to_vec(),
                create_parents: false,
            },
            read(),
            read(),
            read(),
            read(),
        ];
        assert_eq!(
            v.batch(&ops).unwrap_err().to_string(),
            format!(
                "batch op 4: read /big: the batch results would be over {MAX_ANSWER_BYTES} bytes"
            )
        );
        assert_eq!(v.stat("/new").unwrap(), None);
        // A thousand reads fail just the same, without reading them all.
        let many: Vec<Op> = (0..MAX_BATCH_OPS).map(|_| read()).collect();
        assert!(matches!(
            v.batch(&many).unwrap_err().cause(),
            Error::TooLarge { .. }
        ));

        // Listings and globs are counted entry by entry: 8000 entries of
        // over 4 KiB of path and name pass the bound.
        let mut deep = String::new();
        for _ in 0..15 {
            deep.push('/');
            deep.push_str(&"d".repeat(255));
        }
        v.mkdir(&deep, true).unwrap();
        let names: Vec<String> = (0..8000).map(|i| format!("{i:0>255}")).collect();
        for chunk in names.chunks(MAX_BATCH_OPS) {
            let ops: Vec<Op> = chunk
                .iter()
                .map(|name| Op::Write {
                    path: format!("{deep}/{name}"),
                    content: Vec::new(),
                    create_parents: false,
                })
                .collect();
            v.batch(&ops).unwrap();
        }
        let listing = v
            .list(&deep)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            listing.ends_with(&format!(
                "the listing would be over {MAX_ANSWER_BYTES} bytes"
            )),
            "{listing}"
        );
        let glob = v
            .glob("/**")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            glob.ends_with(&format!(
                "the glob matches would be over {MAX_ANSWER_BYTES} bytes"
            )),
            "{glob}"
        );
        // A smaller answer is whole.
        assert_eq!(v.glob("/*").unwrap().len(), 2);
    }

    #[test]
    fn files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        v.mkdir("/notes", false).unwrap();
        v.write("/notes/a.txt", b"hello", false).unwrap();
        assert_eq!(v.read("notes/./a.txt").unwrap(), b"hello");
        assert_eq!(v.append("/notes/a.txt", b" world").unwrap(), 11);
        assert_eq!(v.append("/notes/b.txt", b"b").unwrap(), 1);
        assert_eq!(v.read("/notes/a.txt").unwrap(), b"hello world");
        v.write("/notes/a.txt", b"short", false).unwrap();
        assert_eq!(v.read("/notes/a.txt").unwrap(), b"short");

        let list = v.list("/notes").unwrap();
        assert_eq!(paths(&list), ["/notes/a.txt", "/notes/b.txt"]);
        assert_eq!(list[0].name, "a.txt");
        assert_eq!(list[0].kind, Kind::File);
        assert_eq!(list[0].size, 5);
        assert_eq!(paths(&v.list("/").unwrap()), ["/notes"]);

        let stat = v.stat("/notes").unwrap().unwrap();
        assert_eq!((stat.kind, stat.size), (Kind::Directory, 0));
        assert_eq!(v.stat("/").unwrap().unwrap().kind, Kind::Directory);
        assert_eq!(v.stat("/nope").unwrap(), None);
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 6,
                entries: 3
            }
        );
    }

    #[test]
    fn errors_name_the_op_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        v.write("/f", b"x", false).unwrap();
        v.mkdir("/d", false).unwrap();
        v.write("/d/x", b"x", false).unwrap();
        let msg = |r: Result<()>| r.unwrap_err().to_string();
        assert_eq!(
            v.read("/missing.txt").unwrap_err().to_string(),
            "read /missing.txt: not found"
        );
        assert_eq!(
            v.read("/d").unwrap_err().to_string(),
            "read /d: is a directory"
        );
        assert_eq!(
            msg(v.write("/a/b.txt", b"", false)),
            "write /a/b.txt: parent directory /a does not exist"
        );
        assert_eq!(
            msg(v.write("/f/b.txt", b"", false)),
            "write /f/b.txt: parent /f is not a directory"
        );
        assert_eq!(msg(v.write("/d", b"", false)), "write /d: is a directory");
        assert_eq!(msg(v.write("/", b"", false)), "write /: is a directory");
        assert_eq!(msg(v.mkdir("/d", false)), "mkdir /d: already exists");
        assert_eq!(msg(v.mkdir("/f", true)), "mkdir /f: already exists");
        assert_eq!(msg(v.remove("/d", false)), "remove /d: directory not empty");
        assert_eq!(
            msg(v.remove("/", true)),
            "remove /: the root directory cannot be changed"
        );
        assert_eq!(msg(v.remove("/zz", true)), "remove /zz: not found");
        assert_eq!(
            v.list("/f").unwrap_err().to_string(),
            "list /f: not a directory"
        );
        assert_eq!(
            msg(v.rename("/d", "/d/e")),
            "rename /d: cannot move a directory into itself"
        );
        assert_eq!(
            msg(v.rename("/f", "/f/g")),
            "rename /f: parent /f is not a directory"
        );
        assert_eq!(
            msg(v.rename("/f", "/d")),
            "rename /f: destination /d already exists"
        );
        let big = vec![0u8; MAX_FILE_BYTES as usize + 1];
        assert_eq!(
            msg(v.write("/big", &big, false)),
            "write /big: file too large: 16777217 bytes, limit 16777216"
        );
    }

    #[test]
    fn parents_are_created_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        v.write("/a/b/c.txt", b"c", true).unwrap();
        assert_eq!(v.stat("/a/b").unwrap().unwrap().kind, Kind::Directory);
        v.mkdir("/x/y/z", true).unwrap();
        v.mkdir("/x/y/z", true).unwrap();
        assert_eq!(paths(&v.list("/x/y").unwrap()), ["/x/y/z"]);
        assert_eq!(v.usage().unwrap().entries, 6);
    }

    #[test]
    fn remove_recursive_and_rename_move_whole_trees() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        v.write("/src/a/1.txt", b"1", true).unwrap();
        v.write("/src/a/2.txt", b"22", true).unwrap();
        v.write("/src-sibling", b"s", false).unwrap();
        v.mkdir("/dst", false).unwrap();
        v.rename("/src", "/dst/moved").unwrap();
        assert_eq!(v.stat("/src").unwrap(), None);
        assert_eq!(v.read("/dst/moved/a/2.txt").unwrap(), b"22");
        assert_eq!(
            paths(&v.list("/dst/moved/a").unwrap()),
            ["/dst/moved/a/1.txt", "/dst/moved/a/2.txt"]
        );
        assert_eq!(v.read("/src-sibling").unwrap(), b"s");

        // A file replaces a file, and the quota counts only the survivor.
        v.write("/old", b"old!", false).unwrap();
        v.rename("/src-sibling", "/old").unwrap();
        assert_eq!(v.read("/old").unwrap(), b"s");
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 4,
                entries: 6
            }
        );

        v.remove("/dst", true).unwrap();
        assert_eq!(paths(&v.list("/").unwrap()), ["/old"]);
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 1,
                entries: 1
            }
        );
    }

    #[test]
    fn glob_matches_wildcards() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        for p in ["/a.txt", "/b.md", "/d/c.txt", "/d/e/f.txt", "/d/e/g.md"] {
            v.write(p, b"", true).unwrap();
        }
        assert_eq!(paths(&v.glob("/*.txt").unwrap()), ["/a.txt"]);
        assert_eq!(
            paths(&v.glob("**/*.txt").unwrap()),
            ["/a.txt", "/d/c.txt", "/d/e/f.txt"]
        );
        assert_eq!(
            paths(&v.glob("/d/**").unwrap()),
            ["/d", "/d/c.txt", "/d/e", "/d/e/f.txt", "/d/e/g.md"]
        );
        assert_eq!(paths(&v.glob("/d/?/*.md").unwrap()), ["/d/e/g.md"]);
        assert_eq!(paths(&v.glob("/d/c.txt").unwrap()), ["/d/c.txt"]);
        assert_eq!(
            v.glob("/../*").unwrap_err().to_string(),
            r#"glob "/../*": path escapes the volume root"#
        );
    }

    #[test]
    fn traversal_nul_and_long_names_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        let err = |r: Result<()>| r.unwrap_err().to_string();
        assert_eq!(
            err(v.write("../etc/passwd", b"x", true)),
            r#"write "../etc/passwd": path escapes the volume root"#
        );
        assert_eq!(
            err(v.write("/a/../../b", b"x", true)),
            r#"write "/a/../../b": path escapes the volume root"#
        );
        assert_eq!(
            err(v.write("/a\0b", b"x", true)),
            r#"write "/a\0b": path contains a NUL byte"#
        );
        let long_name = format!("/{}", "n".repeat(256));
        assert!(err(v.write(&long_name, b"x", true))
            .ends_with("path component too long: 256 bytes, limit 255"));
        let long_path = "/abcdefgh".repeat(500);
        let e = err(v.write(&long_path, b"x", true));
        assert!(e.ends_with("path too long: 4500 bytes, limit 4096"), "{e}");
        assert!(e.len() < 200, "the message quotes a shortened path: {e}");
        assert_eq!(
            err(v.rename("/../x", "/y")),
            r#"rename "/../x": path escapes the volume root"#
        );
        // Nothing was written anywhere.
        assert_eq!(v.list("/").unwrap(), vec![]);
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 0,
                entries: 0
            }
        );
        // `..` inside the volume is fine.
        v.write("/a/../b", b"ok", true).unwrap();
        assert_eq!(v.read("/b").unwrap(), b"ok");
    }

    #[test]
    fn quotas_on_bytes_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let quota = Quota {
            max_bytes: 10,
            max_entries: 3,
        };
        let v = store.vfs("alice", "workspace", quota).unwrap();
        v.write("/a", b"12345678", false).unwrap();
        assert_eq!(
            v.write("/b", b"123", false).unwrap_err().to_string(),
            r#"write /b: quota exceeded: volume "workspace" allows 10 bytes"#
        );
        assert_eq!(
            v.append("/a", b"123").unwrap_err().to_string(),
            r#"append /a: quota exceeded: volume "workspace" allows 10 bytes"#
        );
        // Replacing a file only charges the difference.
        v.write("/a", b"1234567890", false).unwrap();
        v.write("/a", b"1", false).unwrap();
        v.mkdir("/d", false).unwrap();
        v.write("/d/x", b"", false).unwrap();
        assert_eq!(
            v.mkdir("/e", false).unwrap_err().to_string(),
            r#"mkdir /e: quota exceeded: volume "workspace" allows 3 entries"#
        );
        // A failing `create_parents` write leaves none of its directories.
        v.remove("/d/x", false).unwrap();
        assert!(v.write("/d/y/z/w", b"", true).is_err());
        assert_eq!(v.stat("/d/y").unwrap(), None);
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 1,
                entries: 2
            }
        );
        // Freed space is usable again; the grant's quota applies, not a stored one.
        v.remove("/d", true).unwrap();
        v.write("/c", b"123456789", false).unwrap();
        let roomier = store
            .vfs(
                "alice",
                "workspace",
                Quota {
                    max_bytes: 100,
                    max_entries: 100,
                },
            )
            .unwrap();
        roomier.write("/more", b"0123456789", false).unwrap();
        assert_eq!(
            roomier.usage().unwrap(),
            Usage {
                bytes: 20,
                entries: 3
            }
        );
    }

    #[test]
    fn a_failing_batch_leaves_no_trace_and_names_the_op() {
        let dir = tempfile::tempdir().unwrap();
        let v = volume(&dir);
        v.write("/keep.txt", b"before", false).unwrap();
        let ops = [
            Op::Write {
                path: "/keep.txt".into(),
                content: b"after".to_vec(),
                create_parents: false,
            },
            Op::Mkdir {
                path: "/new".into(),
                parents: false,
            },
            Op::Remove {
                path: "/missing".into(),
                recursive: false,
            },
            Op::Write {
                path: "/new/x".into(),
                content: b"x".to_vec(),
                create_parents: false,
            },
        ];
        let err = v.batch(&ops).unwrap_err();
        assert_eq!(err.to_string(), "batch op 2: remove /missing: not found");
        assert!(matches!(err, Error::Item { index: 2, .. }));
        assert_eq!(v.read("/keep.txt").unwrap(), b"before");
        assert_eq!(v.stat("/new").unwrap(), None);
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 6,
                entries: 1
            }
        );

        // The same batch without the bad op applies, in order.
        let ok = [
            ops[0].clone(),
            ops[1].clone(),
            ops[3].clone(),
            Op::Read {
                path: "/new/x".into(),
            },
            Op::Stat {
                path: "/nothing".into(),
            },
            Op::Append {
                path: "/keep.txt".into(),
                content: b"!".to_vec(),
            },
            Op::List { path: "/".into() },
        ];
        let results = v.batch(&ok).unwrap();
        assert_eq!(results[0], OpResult::None);
        assert_eq!(results[3], OpResult::Content(b"x".to_vec()));
        assert_eq!(results[4], OpResult::None);
        assert_eq!(results[5], OpResult::Size(6));
        let OpResult::Entries(root) = &results[6] else {
            panic!("list returned {:?}", results[6]);
        };
        assert_eq!(paths(root), ["/keep.txt", "/new"]);
    }

    #[test]
    fn a_batch_over_quota_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v = store
            .vfs(
                "p",
                "small",
                Quota {
                    max_bytes: 4,
                    max_entries: 10,
                },
            )
            .unwrap();
        let ops: Vec<Op> = (0..3)
            .map(|i| Op::Write {
                path: format!("/f{i}"),
                content: b"xx".to_vec(),
                create_parents: false,
            })
            .collect();
        assert_eq!(
            v.batch(&ops).unwrap_err().to_string(),
            r#"batch op 2: write /f2: quota exceeded: volume "small" allows 4 bytes"#
        );
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 0,
                entries: 0
            }
        );
        assert_eq!(v.list("/").unwrap(), vec![]);
        let too_many = vec![Op::Stat { path: "/".into() }; MAX_BATCH_OPS + 1];
        assert_eq!(
            v.batch(&too_many).unwrap_err().to_string(),
            "batch 1001 ops: too many items: 1001, limit 1000"
        );
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let v = volume(&dir);
            v.write("/notes/todo.txt", b"buy milk", true).unwrap();
            v.batch(&[
                Op::Write {
                    path: "/b1".into(),
                    content: b"1".to_vec(),
                    create_parents: false,
                },
                Op::Rename {
                    from: "/b1".into(),
                    to: "/b2".into(),
                },
            ])
            .unwrap();
        }
        let v = volume(&dir);
        assert_eq!(v.read("/notes/todo.txt").unwrap(), b"buy milk");
        assert_eq!(v.read("/b2").unwrap(), b"1");
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes: 9,
                entries: 3
            }
        );
    }

    #[test]
    fn principals_and_volumes_are_isolated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let alice = store.vfs("alice", "workspace", BIG).unwrap();
        let bob = store.vfs("bob", "workspace", BIG).unwrap();
        let alice_other = store.vfs("alice", "other", BIG).unwrap();
        alice.write("/secret", b"a", false).unwrap();
        assert_eq!(bob.stat("/secret").unwrap(), None);
        assert_eq!(alice_other.stat("/secret").unwrap(), None);
        assert_eq!(bob.glob("/**").unwrap(), vec![]);
        bob.write("/secret", b"b", false).unwrap();
        assert_eq!(alice.read("/secret").unwrap(), b"a");
        assert!(store.vfs("", "workspace", BIG).is_err());
        assert!(store.vfs("alice", "", BIG).is_err());
    }

    #[test]
    fn read_only_error_names_the_op() {
        let op = Op::Remove {
            path: "docs//x".into(),
            recursive: true,
        };
        assert_eq!(
            op.read_only_error("docs").to_string(),
            r#"remove /docs/x: volume "docs" is read-only"#
        );
        assert!(!Op::Read { path: "/".into() }.is_mutation());
        assert!(Op::Append {
            path: "/".into(),
            content: vec![]
        }
        .is_mutation());
    }

    #[test]
    fn a_second_connection_sees_committed_writes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = volume(&dir);
        let b = volume(&dir);
        assert_eq!(b.stat("/x").unwrap(), None);
        a.write("/x", b"1", false).unwrap();
        assert_eq!(b.read("/x").unwrap(), b"1");
        b.batch(&[
            Op::Remove {
                path: "/x".into(),
                recursive: false,
            },
            Op::Mkdir {
                path: "/x".into(),
                parents: false,
            },
        ])
        .unwrap();
        assert_eq!(a.stat("/x").unwrap().unwrap().kind, Kind::Directory);
        assert_eq!(a.usage().unwrap(), b.usage().unwrap());
    }

    #[test]
    fn two_connections_writing_at_once_lose_nothing() {
        const WRITES: usize = 100;
        let dir = tempfile::tempdir().unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let path = dir.path().to_path_buf();
                let start = start.clone();
                std::thread::spawn(move || -> Result<()> {
                    start.wait();
                    // Both open (and maybe create) the database at once too.
                    let store = Store::open(&path).map_err(|e| e.op("open", "store"))?;
                    let v = store
                        .vfs("alice", "shared", BIG)
                        .map_err(|e| e.op("open", "volume"))?;
                    v.mkdir("/own", true)?;
                    for i in 0..WRITES {
                        v.append("/log", format!("{t}").as_bytes())?;
                        v.write(&format!("/own/{t}-{i}"), b"xy", false)?;
                        if i % 10 == 0 {
                            v.batch(&[
                                Op::Append {
                                    path: "/log".into(),
                                    content: b"b".to_vec(),
                                },
                                Op::Write {
                                    path: format!("/own/batch-{t}-{i}"),
                                    content: b"z".to_vec(),
                                    create_parents: false,
                                },
                            ])?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap().unwrap();
        }
        let v = Store::open(dir.path())
            .unwrap()
            .vfs("alice", "shared", BIG)
            .unwrap();
        let log = v.read("/log").unwrap();
        let batches = WRITES / 10;
        assert_eq!(log.len(), 2 * (WRITES + batches));
        assert_eq!(log.iter().filter(|b| **b == b'0').count(), WRITES);
        assert_eq!(log.iter().filter(|b| **b == b'1').count(), WRITES);
        let own = v.list("/own").unwrap();
        assert_eq!(own.len(), 2 * (WRITES + batches));
        // The counters match the data exactly.
        let bytes: u64 = own.iter().map(|e| e.size).sum::<u64>() + log.len() as u64;
        assert_eq!(
            v.usage().unwrap(),
            Usage {
                bytes,
                entries: own.len() as u64 + 2
            }
        );
    }
}
