//! The capnp servers: `fs.capnp`'s `Volume` and `kv.capnp`'s `Store`.
//!
//! Each method reads its params into plain Rust values, runs the storage
//! call synchronously (no borrow of the connection outlives it, and nothing
//! here awaits), and fills its results. Errors cross into capnp exactly
//! once, through `From<Error> for capnp::Error`: a one-line `failed`.
//!
//! A read-only [`FsVolumeServer`] refuses every mutating method, and every
//! batch holding a mutating op, before touching the database, with
//! `<op> <path>: volume "<name>" is read-only`.

use std::future::{ready, Future};

use caplet::fs_capnp::{entry, fs_op, volume};
use caplet::kv_capnp::store;
use capnp::capability::Rc;

use crate::error::Error;
use crate::kv::Kv;
use crate::vfs::{Entry, Kind, Op, OpResult, Vfs};

type Reply = Result<(), capnp::Error>;

fn text(reader: capnp::Result<capnp::text::Reader<'_>>) -> capnp::Result<String> {
    Ok(reader?.to_str()?.to_string())
}

fn fill_entry(mut builder: entry::Builder<'_>, e: &Entry) {
    builder.set_path(e.path.as_str());
    builder.set_name(e.name.as_str());
    builder.set_kind(match e.kind {
        Kind::File => entry::Kind::File,
        Kind::Directory => entry::Kind::Directory,
    });
    // Files are at most 16 MiB (`vfs::MAX_FILE_BYTES`), so this never clamps.
    builder.set_size(u32::try_from(e.size).unwrap_or(u32::MAX));
}

fn fill_entries(mut list: capnp::struct_list::Builder<'_, entry::Owned>, entries: &[Entry]) {
    for (i, e) in entries.iter().enumerate() {
        fill_entry(list.reborrow().get(i as u32), e);
    }
}

fn size32(size: u64) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// Serves `fs.capnp`'s `Volume` on one [`Vfs`].
pub struct FsVolumeServer {
    vfs: Vfs,
    read_only: bool,
}

impl std::fmt::Debug for FsVolumeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsVolumeServer")
            .field("vfs", &self.vfs)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl FsVolumeServer {
    /// Serves `vfs`; with `read_only`, every mutation is refused.
    pub fn new(vfs: Vfs, read_only: bool) -> FsVolumeServer {
        FsVolumeServer { vfs, read_only }
    }

    /// Runs one op, after the read-only check.
    fn exec(&self, op: Op) -> Result<OpResult, capnp::Error> {
        if self.read_only && op.is_mutation() {
            return Err(op.read_only_error(self.vfs.name()).into());
        }
        Ok(self.vfs.exec(&op)?)
    }

    fn run_batch(&self, params: volume::BatchParams, mut results: volume::BatchResults) -> Reply {
        let ops_reader = params.get()?.get_ops()?;
        let mut ops = Vec::with_capacity(ops_reader.len() as usize);
        for op in ops_reader.iter() {
            ops.push(read_op(op)?);
        }
        if self.read_only {
            if let Some((index, op)) = ops.iter().enumerate().find(|(_, op)| op.is_mutation()) {
                return Err(Error::Item {
                    what: "batch op",
                    index,
                    source: Box::new(op.read_only_error(self.vfs.name())),
                }
                .into());
            }
        }
        let outcomes = self.vfs.batch(&ops)?;
        let mut list = results.get().init_results(outcomes.len() as u32);
        for (i, outcome) in outcomes.iter().enumerate() {
            let mut r = list.reborrow().get(i as u32);
            match outcome {
                OpResult::None => r.set_none(()),
                OpResult::Content(c) => r.set_content(c),
                OpResult::Size(s) => r.set_size(size32(*s)),
                OpResult::Entry(e) => fill_entry(r.init_entry(), e),
                OpResult::Entries(es) => fill_entries(r.init_entries(es.len() as u32), es),
            }
        }
        Ok(())
    }
}

/// Reads one `FsOp` into an [`Op`].
fn read_op(op: fs_op::Reader<'_>) -> capnp::Result<Op> {
    Ok(match op.which()? {
        fs_op::Read(p) => Op::Read {
            path: text(p?.get_path())?,
        },
        fs_op::Write(w) => Op::Write {
            path: text(w.get_path())?,
            content: w.get_content()?.to_vec(),
            create_parents: w.get_create_parents(),
        },
        fs_op::Append(a) => Op::Append {
            path: text(a.get_path())?,
            content: a.get_content()?.to_vec(),
        },
        fs_op::Stat(p) => Op::Stat {
            path: text(p?.get_path())?,
        },
        fs_op::Mkdir(m) => Op::Mkdir {
            path: text(m.get_path())?,
            parents: m.get_parents(),
        },
        fs_op::Remove(r) => Op::Remove {
            path: text(r.get_path())?,
            recursive: r.get_recursive(),
        },
        fs_op::Rename(r) => Op::Rename {
            from: text(r.get_from())?,
            to: text(r.get_to())?,
        },
        fs_op::List(p) => Op::List {
            path: text(p?.get_path())?,
        },
    })
}

impl volume::Server for FsVolumeServer {
    fn read(
        self: Rc<Self>,
        params: volume::ReadParams,
        mut results: volume::ReadResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let path = text(params.get()?.get_path())?;
            if let OpResult::Content(c) = self.exec(Op::Read { path })? {
                results.get().set_content(&c);
            }
            Ok(())
        })())
    }

    fn write(
        self: Rc<Self>,
        params: volume::WriteParams,
        _: volume::WriteResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            self.exec(Op::Write {
                path: text(p.get_path())?,
                content: p.get_content()?.to_vec(),
                create_parents: p.get_create_parents(),
            })?;
            Ok(())
        })())
    }

    fn append(
        self: Rc<Self>,
        params: volume::AppendParams,
        mut results: volume::AppendResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            let op = Op::Append {
                path: text(p.get_path())?,
                content: p.get_content()?.to_vec(),
            };
            if let OpResult::Size(s) = self.exec(op)? {
                results.get().set_size(size32(s));
            }
            Ok(())
        })())
    }

    fn list(
        self: Rc<Self>,
        params: volume::ListParams,
        mut results: volume::ListResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let path = text(params.get()?.get_path())?;
            if let OpResult::Entries(es) = self.exec(Op::List { path })? {
                fill_entries(results.get().init_entries(es.len() as u32), &es);
            }
            Ok(())
        })())
    }

    fn stat(
        self: Rc<Self>,
        params: volume::StatParams,
        mut results: volume::StatResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let path = text(params.get()?.get_path())?;
            let mut r = results.get();
            if let OpResult::Entry(e) = self.exec(Op::Stat { path })? {
                r.set_exists(true);
                fill_entry(r.init_entry(), &e);
            }
            Ok(())
        })())
    }

    fn mkdir(
        self: Rc<Self>,
        params: volume::MkdirParams,
        _: volume::MkdirResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            self.exec(Op::Mkdir {
                path: text(p.get_path())?,
                parents: p.get_parents(),
            })?;
            Ok(())
        })())
    }

    fn remove(
        self: Rc<Self>,
        params: volume::RemoveParams,
        _: volume::RemoveResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            self.exec(Op::Remove {
                path: text(p.get_path())?,
                recursive: p.get_recursive(),
            })?;
            Ok(())
        })())
    }

    fn rename(
        self: Rc<Self>,
        params: volume::RenameParams,
        _: volume::RenameResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            self.exec(Op::Rename {
                from: text(p.get_from())?,
                to: text(p.get_to())?,
            })?;
            Ok(())
        })())
    }

    fn glob(
        self: Rc<Self>,
        params: volume::GlobParams,
        mut results: volume::GlobResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let pattern = text(params.get()?.get_pattern())?;
            let es = self.vfs.glob(&pattern)?;
            fill_entries(results.get().init_entries(es.len() as u32), &es);
            Ok(())
        })())
    }

    fn batch(
        self: Rc<Self>,
        params: volume::BatchParams,
        results: volume::BatchResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready(self.run_batch(params, results))
    }

    fn usage(
        self: Rc<Self>,
        _: volume::UsageParams,
        mut results: volume::UsageResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let usage = self.vfs.usage().map_err(|e| e.op("usage", "/"))?;
            let quota = self.vfs.quota();
            let mut r = results.get();
            r.set_bytes(usage.bytes);
            r.set_entries(size32(usage.entries));
            r.set_max_bytes(quota.max_bytes);
            r.set_max_entries(size32(quota.max_entries));
            Ok(())
        })())
    }
}

/// Serves `kv.capnp`'s `Store` on one [`Kv`].
pub struct KvStoreServer {
    kv: Kv,
}

impl std::fmt::Debug for KvStoreServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStoreServer")
            .field("kv", &self.kv)
            .finish()
    }
}

impl KvStoreServer {
    /// Serves `kv`.
    pub fn new(kv: Kv) -> KvStoreServer {
        KvStoreServer { kv }
    }
}

impl store::Server for KvStoreServer {
    fn get(
        self: Rc<Self>,
        params: store::GetParams,
        mut results: store::GetResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let key = text(params.get()?.get_key())?;
            if let Some(value) = self.kv.get(&key)? {
                let mut r = results.get();
                r.set_found(true);
                r.set_value(&value);
            }
            Ok(())
        })())
    }

    fn put(
        self: Rc<Self>,
        params: store::PutParams,
        _: store::PutResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            self.kv.put(&text(p.get_key())?, p.get_value()?)?;
            Ok(())
        })())
    }

    fn delete(
        self: Rc<Self>,
        params: store::DeleteParams,
        mut results: store::DeleteResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let key = text(params.get()?.get_key())?;
            let existed = self.kv.delete(&key)?;
            results.get().set_existed(existed);
            Ok(())
        })())
    }

    fn list(
        self: Rc<Self>,
        params: store::ListParams,
        mut results: store::ListResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let p = params.get()?;
            let page = self.kv.list(
                &text(p.get_prefix())?,
                &text(p.get_cursor())?,
                p.get_limit(),
                p.get_keys_only(),
            )?;
            let mut r = results.get();
            r.set_cursor(page.cursor.as_str());
            let mut list = r.init_entries(page.entries.len() as u32);
            for (i, (key, value)) in page.entries.iter().enumerate() {
                let mut e = list.reborrow().get(i as u32);
                e.set_key(key.as_str());
                e.set_value(value);
            }
            Ok(())
        })())
    }

    fn put_many(
        self: Rc<Self>,
        params: store::PutManyParams,
        _: store::PutManyResults,
    ) -> impl Future<Output = Reply> + 'static {
        ready((|| {
            let list = params.get()?.get_entries()?;
            let mut entries = Vec::with_capacity(list.len() as usize);
            for e in list.iter() {
                entries.push((text(e.get_key())?, e.get_value()?.to_vec()));
            }
            self.kv.put_many(&entries)?;
            Ok(())
        })())
    }
}
