//! The capnp servers: `fs.capnp`'s `Volume` and `kv.capnp`'s `Store`.
//!
//! Each method reads its params into plain Rust values, runs the storage
//! call on its [`VolumeHandle`] or [`KvHandle`] (at once on SQLite, where
//! no borrow of the connection outlives the call; awaiting its queries on
//! PostgreSQL), and fills its results. Errors cross into capnp exactly
//! once, through `From<Error> for capnp::Error`: a one-line `failed`
//! (`overloaded` when the database stayed locked, `disconnected` when it
//! cannot be reached).
//!
//! A read-only [`FsVolumeServer`] refuses every mutating method, and every
//! batch holding a mutating op, before touching the database, with
//! `<op> <path>: volume "<name>" is read-only`.

use caplet::fs_capnp::{entry, fs_op, volume};
use caplet::kv_capnp::store;
use capnp::capability::Rc;

use crate::backend::{KvHandle, VolumeHandle};
use crate::error::Error;
use crate::vfs::{Entry, Kind, Op, OpResult};

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
    builder.set_size(size32(e.size));
}

fn fill_entries(mut list: capnp::struct_list::Builder<'_, entry::Owned>, entries: &[Entry]) {
    for (i, e) in entries.iter().enumerate() {
        fill_entry(list.reborrow().get(i as u32), e);
    }
}

fn size32(size: u64) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// Serves `fs.capnp`'s `Volume` on one volume, on either backend.
pub struct FsVolumeServer {
    vfs: VolumeHandle,
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
    pub fn new(vfs: VolumeHandle, read_only: bool) -> FsVolumeServer {
        FsVolumeServer { vfs, read_only }
    }

    /// Runs one op, after the read-only check.
    async fn exec(&self, op: Op) -> Result<OpResult, capnp::Error> {
        if self.read_only && op.is_mutation() {
            return Err(op.read_only_error(self.vfs.name()).into());
        }
        Ok(self.vfs.exec(&op).await?)
    }

    async fn run_batch(
        &self,
        params: volume::BatchParams,
        mut results: volume::BatchResults,
    ) -> Reply {
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
        let outcomes = self.vfs.batch(&ops).await?;
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
    async fn read(
        self: Rc<Self>,
        params: volume::ReadParams,
        mut results: volume::ReadResults,
    ) -> Reply {
        let path = text(params.get()?.get_path())?;
        if let OpResult::Content(c) = self.exec(Op::Read { path }).await? {
            results.get().set_content(&c);
        }
        Ok(())
    }

    async fn write(self: Rc<Self>, params: volume::WriteParams, _: volume::WriteResults) -> Reply {
        let p = params.get()?;
        self.exec(Op::Write {
            path: text(p.get_path())?,
            content: p.get_content()?.to_vec(),
            create_parents: p.get_create_parents(),
        })
        .await?;
        Ok(())
    }

    async fn append(
        self: Rc<Self>,
        params: volume::AppendParams,
        mut results: volume::AppendResults,
    ) -> Reply {
        let p = params.get()?;
        let op = Op::Append {
            path: text(p.get_path())?,
            content: p.get_content()?.to_vec(),
        };
        if let OpResult::Size(s) = self.exec(op).await? {
            results.get().set_size(size32(s));
        }
        Ok(())
    }

    async fn list(
        self: Rc<Self>,
        params: volume::ListParams,
        mut results: volume::ListResults,
    ) -> Reply {
        let path = text(params.get()?.get_path())?;
        if let OpResult::Entries(es) = self.exec(Op::List { path }).await? {
            fill_entries(results.get().init_entries(es.len() as u32), &es);
        }
        Ok(())
    }

    async fn stat(
        self: Rc<Self>,
        params: volume::StatParams,
        mut results: volume::StatResults,
    ) -> Reply {
        let path = text(params.get()?.get_path())?;
        let mut r = results.get();
        if let OpResult::Entry(e) = self.exec(Op::Stat { path }).await? {
            r.set_exists(true);
            fill_entry(r.init_entry(), &e);
        }
        Ok(())
    }

    async fn mkdir(self: Rc<Self>, params: volume::MkdirParams, _: volume::MkdirResults) -> Reply {
        let p = params.get()?;
        self.exec(Op::Mkdir {
            path: text(p.get_path())?,
            parents: p.get_parents(),
        })
        .await?;
        Ok(())
    }

    async fn remove(
        self: Rc<Self>,
        params: volume::RemoveParams,
        _: volume::RemoveResults,
    ) -> Reply {
        let p = params.get()?;
        self.exec(Op::Remove {
            path: text(p.get_path())?,
            recursive: p.get_recursive(),
        })
        .await?;
        Ok(())
    }

    async fn rename(
        self: Rc<Self>,
        params: volume::RenameParams,
        _: volume::RenameResults,
    ) -> Reply {
        let p = params.get()?;
        self.exec(Op::Rename {
            from: text(p.get_from())?,
            to: text(p.get_to())?,
        })
        .await?;
        Ok(())
    }

    async fn glob(
        self: Rc<Self>,
        params: volume::GlobParams,
        mut results: volume::GlobResults,
    ) -> Reply {
        let pattern = text(params.get()?.get_pattern())?;
        let es = self.vfs.glob(&pattern).await?;
        fill_entries(results.get().init_entries(es.len() as u32), &es);
        Ok(())
    }

    async fn batch(
        self: Rc<Self>,
        params: volume::BatchParams,
        results: volume::BatchResults,
    ) -> Reply {
        self.run_batch(params, results).await
    }

    async fn usage(
        self: Rc<Self>,
        _: volume::UsageParams,
        mut results: volume::UsageResults,
    ) -> Reply {
        let usage = self.vfs.usage().await.map_err(|e| e.op("usage", "/"))?;
        let quota = self.vfs.quota();
        let mut r = results.get();
        r.set_bytes(usage.bytes);
        r.set_entries(size32(usage.entries));
        r.set_max_bytes(quota.max_bytes);
        r.set_max_entries(size32(quota.max_entries));
        Ok(())
    }
}

/// Serves `kv.capnp`'s `Store` on one kv store, on either backend.
pub struct KvStoreServer {
    kv: KvHandle,
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
    pub fn new(kv: KvHandle) -> KvStoreServer {
        KvStoreServer { kv }
    }
}

impl store::Server for KvStoreServer {
    async fn get(
        self: Rc<Self>,
        params: store::GetParams,
        mut results: store::GetResults,
    ) -> Reply {
        let key = text(params.get()?.get_key())?;
        if let Some(value) = self.kv.get(&key).await? {
            let mut r = results.get();
            r.set_found(true);
            r.set_value(&value);
        }
        Ok(())
    }

    async fn put(self: Rc<Self>, params: store::PutParams, _: store::PutResults) -> Reply {
        let p = params.get()?;
        self.kv.put(&text(p.get_key())?, p.get_value()?).await?;
        Ok(())
    }

    async fn delete(
        self: Rc<Self>,
        params: store::DeleteParams,
        mut results: store::DeleteResults,
    ) -> Reply {
        let key = text(params.get()?.get_key())?;
        let existed = self.kv.delete(&key).await?;
        results.get().set_existed(existed);
        Ok(())
    }

    async fn list(
        self: Rc<Self>,
        params: store::ListParams,
        mut results: store::ListResults,
    ) -> Reply {
        let p = params.get()?;
        let page = self
            .kv
            .list(
                &text(p.get_prefix())?,
                &text(p.get_cursor())?,
                p.get_limit(),
                p.get_keys_only(),
            )
            .await?;
        let mut r = results.get();
        r.set_cursor(page.cursor.as_str());
        let mut list = r.init_entries(page.entries.len() as u32);
        for (i, (key, value)) in page.entries.iter().enumerate() {
            let mut e = list.reborrow().get(i as u32);
            e.set_key(key.as_str());
            e.set_value(value);
        }
        Ok(())
    }

    async fn put_many(
        self: Rc<Self>,
        params: store::PutManyParams,
        _: store::PutManyResults,
    ) -> Reply {
        let list = params.get()?.get_entries()?;
        let mut entries = Vec::with_capacity(list.len() as usize);
        for e in list.iter() {
            entries.push((text(e.get_key())?, e.get_value()?.to_vec()));
        }
        self.kv.put_many(&entries).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use capnp_rpc::rpc_twoparty_capnp::Side;
    use capnp_rpc::{twoparty, RpcSystem};
    use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

    use super::*;
    use crate::{Quota, Store};
    use caplet::fs_capnp::fs_result;

    /// Runs `test` on a current-thread runtime inside a `LocalSet`, as the
    /// broker does.
    fn run<F: Future<Output = anyhow::Result<()>>>(test: F) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, test).unwrap();
    }

    /// Serves `bootstrap` over a real two-party connection on a Unix socket
    /// pair and returns the capability as the other end sees it.
    fn connect<C: capnp::capability::FromClientHook>(bootstrap: capnp::capability::Client) -> C {
        let (server_end, client_end) = tokio::net::UnixStream::pair().unwrap();
        let (r, w) = server_end.into_split();
        let network = twoparty::VatNetwork::new(
            r.compat(),
            w.compat_write(),
            Side::Server,
            Default::default(),
        );
        tokio::task::spawn_local(RpcSystem::new(Box::new(network), Some(bootstrap)));
        let (r, w) = client_end.into_split();
        let network = twoparty::VatNetwork::new(
            r.compat(),
            w.compat_write(),
            Side::Client,
            Default::default(),
        );
        let mut rpc = RpcSystem::new(Box::new(network), None);
        let cap = rpc.bootstrap(Side::Server);
        tokio::task::spawn_local(rpc);
        cap
    }

    /// Runs `test` twice: on local capabilities, then over a connection.
    fn local_and_remote<F, Fut>(test: F)
    where
        F: Fn(bool) -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        run(test(false));
        run(test(true));
    }

    fn volume(store: &Store, name: &str, read_only: bool, remote: bool) -> volume::Client {
        let local = store
            .volume_client("alice", name, read_only, Quota::default())
            .unwrap();
        if remote {
            connect(local.client)
        } else {
            local
        }
    }

    async fn write(v: &volume::Client, path: &str, content: &[u8]) -> capnp::Result<()> {
        let mut req = v.write_request();
        req.get().set_path(path);
        req.get().set_content(content);
        req.get().set_create_parents(true);
        req.send().promise.await?;
        Ok(())
    }

    async fn read(v: &volume::Client, path: &str) -> capnp::Result<Vec<u8>> {
        let mut req = v.read_request();
        req.get().set_path(path);
        let reply = req.send().promise.await?;
        Ok(reply.get()?.get_content()?.to_vec())
    }

    async fn list(v: &volume::Client, path: &str) -> capnp::Result<Vec<String>> {
        let mut req = v.list_request();
        req.get().set_path(path);
        let reply = req.send().promise.await?;
        let mut out = Vec::new();
        for e in reply.get()?.get_entries()?.iter() {
            out.push(text(e.get_path())?);
        }
        Ok(out)
    }

    /// The failure's message, checking it is a `failed` exception
    /// (capnp-rpc prefixes one that came over the wire with `remote exception`).
    fn failure<T>(result: capnp::Result<T>) -> String {
        let Err(err) = result else {
            panic!("the call succeeded");
        };
        assert_eq!(err.kind, capnp::ErrorKind::Failed, "{err}");
        let message = err.extra.strip_prefix("remote exception: ");
        message.unwrap_or(&err.extra).to_string()
    }

    #[test]
    fn volume_locally_and_over_a_real_connection() {
        local_and_remote(|remote| async move {
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path())?;
            let v = volume(&store, "workspace", false, remote);

            write(&v, "/notes/a.txt", b"hello").await?;
            assert_eq!(read(&v, "notes//a.txt").await?, b"hello");

            let mut req = v.append_request();
            req.get().set_path("/notes/a.txt");
            req.get().set_content(b"!");
            assert_eq!(req.send().promise.await?.get()?.get_size(), 6);

            let mut req = v.mkdir_request();
            req.get().set_path("/notes/sub");
            req.send().promise.await?;
            assert_eq!(list(&v, "/notes").await?, ["/notes/a.txt", "/notes/sub"]);

            let mut req = v.stat_request();
            req.get().set_path("/notes/a.txt");
            let reply = req.send().promise.await?;
            let stat = reply.get()?;
            assert!(stat.get_exists());
            let e = stat.get_entry()?;
            assert_eq!(text(e.get_name())?, "a.txt");
            assert_eq!(e.get_kind()?, entry::Kind::File);
            assert_eq!(e.get_size(), 6);
            let mut req = v.stat_request();
            req.get().set_path("/nothing");
            assert!(!req.send().promise.await?.get()?.get_exists());

            let mut req = v.rename_request();
            req.get().set_from("/notes/a.txt");
            req.get().set_to("/notes/sub/b.txt");
            req.send().promise.await?;

            let mut req = v.glob_request();
            req.get().set_pattern("/**/*.txt");
            let reply = req.send().promise.await?;
            let found: Vec<String> = reply
                .get()?
                .get_entries()?
                .iter()
                .map(|e| text(e.get_path()))
                .collect::<capnp::Result<_>>()?;
            assert_eq!(found, ["/notes/sub/b.txt"]);

            let mut req = v.remove_request();
            req.get().set_path("/notes");
            assert_eq!(
                failure(req.send().promise.await),
                "not_empty: remove /notes: directory not empty"
            );
            let mut req = v.remove_request();
            req.get().set_path("/notes");
            req.get().set_recursive(true);
            req.send().promise.await?;
            assert_eq!(list(&v, "/").await?, Vec::<String>::new());

            assert_eq!(
                failure(read(&v, "../etc/passwd").await),
                r#"bad_path: read "../etc/passwd": path escapes the volume root"#
            );
            assert_eq!(
                failure(read(&v, "/missing").await),
                "not_found: read /missing: not found"
            );

            write(&v, "/u", b"1234").await?;
            let reply = v.usage_request().send().promise.await?;
            let usage = reply.get()?;
            assert_eq!((usage.get_bytes(), usage.get_entries()), (4, 1));
            assert_eq!(usage.get_max_bytes(), Quota::default().max_bytes);
            Ok(())
        });
    }

    #[test]
    fn batch_is_atomic_locally_and_over_a_real_connection() {
        local_and_remote(|remote| async move {
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path())?;
            let v = volume(&store, "workspace", false, remote);
            write(&v, "/keep", b"before").await?;

            // write, remove of a missing file (fails), mkdir: nothing applies.
            let mut req = v.batch_request();
            {
                let mut ops = req.get().init_ops(3);
                let mut w = ops.reborrow().get(0).init_write();
                w.set_path("/keep");
                w.set_content(b"after");
                ops.reborrow().get(1).init_remove().set_path("/missing");
                ops.reborrow().get(2).init_mkdir().set_path("/dir");
            }
            assert_eq!(
                failure(req.send().promise.await),
                "not_found: batch op 1: remove /missing: not found"
            );
            assert_eq!(read(&v, "/keep").await?, b"before");
            assert_eq!(list(&v, "/").await?, ["/keep"]);

            let mut req = v.batch_request();
            {
                let mut ops = req.get().init_ops(6);
                let mut w = ops.reborrow().get(0).init_write();
                w.set_path("/keep");
                w.set_content(b"after");
                ops.reborrow().get(1).init_mkdir().set_path("/dir");
                let mut a = ops.reborrow().get(2).init_append();
                a.set_path("/dir/log");
                a.set_content(b"abc");
                ops.reborrow().get(3).init_read().set_path("/keep");
                ops.reborrow().get(4).init_stat().set_path("/dir/log");
                ops.reborrow().get(5).init_list().set_path("/");
            }
            let reply = req.send().promise.await?;
            let results = reply.get()?.get_results()?;
            assert_eq!(results.len(), 6);
            assert!(matches!(results.get(0).which()?, fs_result::None(())));
            assert!(matches!(results.get(2).which()?, fs_result::Size(3)));
            let fs_result::Content(c) = results.get(3).which()? else {
                panic!("read gave no content");
            };
            assert_eq!(c?, b"after");
            let fs_result::Entry(e) = results.get(4).which()? else {
                panic!("stat gave no entry");
            };
            assert_eq!(e?.get_size(), 3);
            let fs_result::Entries(es) = results.get(5).which()? else {
                panic!("list gave no entries");
            };
            assert_eq!(es?.len(), 2);
            assert_eq!(read(&v, "/dir/log").await?, b"abc");
            Ok(())
        });
    }

    #[test]
    fn read_only_volume_rejects_every_mutation() {
        local_and_remote(|remote| async move {
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path())?;
            write(&volume(&store, "docs", false, remote), "/readme", b"hi").await?;
            let v = volume(&store, "docs", true, remote);

            assert_eq!(read(&v, "/readme").await?, b"hi");
            assert_eq!(list(&v, "/").await?, ["/readme"]);
            assert_eq!(
                failure(write(&v, "/readme", b"bye").await),
                r#"read_only: write /readme: volume "docs" is read-only"#
            );
            let mut req = v.append_request();
            req.get().set_path("/log");
            assert_eq!(
                failure(req.send().promise.await),
                r#"read_only: append /log: volume "docs" is read-only"#
            );
            let mut req = v.mkdir_request();
            req.get().set_path("/d");
            assert_eq!(
                failure(req.send().promise.await),
                r#"read_only: mkdir /d: volume "docs" is read-only"#
            );
            let mut req = v.remove_request();
            req.get().set_path("/readme");
            assert_eq!(
                failure(req.send().promise.await),
                r#"read_only: remove /readme: volume "docs" is read-only"#
            );
            let mut req = v.rename_request();
            req.get().set_from("/readme");
            req.get().set_to("/other");
            assert_eq!(
                failure(req.send().promise.await),
                r#"read_only: rename /readme: volume "docs" is read-only"#
            );

            let mut req = v.batch_request();
            {
                let mut ops = req.get().init_ops(2);
                ops.reborrow().get(0).init_read().set_path("/readme");
                ops.reborrow().get(1).init_remove().set_path("/readme");
            }
            assert_eq!(
                failure(req.send().promise.await),
                r#"read_only: batch op 1: remove /readme: volume "docs" is read-only"#
            );
            let mut req = v.batch_request();
            req.get().init_ops(1).get(0).init_read().set_path("/readme");
            assert_eq!(req.send().promise.await?.get()?.get_results()?.len(), 1);

            assert_eq!(read(&v, "/readme").await?, b"hi");
            assert_eq!(list(&v, "/").await?, ["/readme"]);
            Ok(())
        });
    }

    #[test]
    fn kv_locally_and_over_a_real_connection() {
        local_and_remote(|remote| async move {
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path())?;
            let local = store.kv_client("alice", "cache")?;
            let kv: store::Client = if remote { connect(local.client) } else { local };

            let mut req = kv.put_request();
            req.get().set_key("greeting");
            req.get().set_value(b"hello");
            req.send().promise.await?;

            let mut req = kv.get_request();
            req.get().set_key("greeting");
            let reply = req.send().promise.await?;
            assert!(reply.get()?.get_found());
            assert_eq!(reply.get()?.get_value()?, b"hello");

            let mut req = kv.get_request();
            req.get().set_key("nothing");
            assert!(!req.send().promise.await?.get()?.get_found());

            let mut req = kv.put_many_request();
            {
                let mut entries = req.get().init_entries(250);
                for i in 0..250u32 {
                    let mut e = entries.reborrow().get(i);
                    e.set_key(format!("item:{i:03}").as_str());
                    e.set_value(&i.to_be_bytes());
                }
            }
            req.send().promise.await?;

            let mut keys = Vec::new();
            let mut cursor = String::new();
            loop {
                let mut req = kv.list_request();
                req.get().set_prefix("item:");
                req.get().set_cursor(cursor.as_str());
                req.get().set_limit(100);
                let reply = req.send().promise.await?;
                let page = reply.get()?;
                for e in page.get_entries()?.iter() {
                    let key = text(e.get_key())?;
                    let i: u32 = key["item:".len()..].parse()?;
                    assert_eq!(e.get_value()?, i.to_be_bytes());
                    keys.push(key);
                }
                cursor = text(page.get_cursor())?;
                if cursor.is_empty() {
                    break;
                }
            }
            assert_eq!(keys.len(), 250);
            assert!(keys.windows(2).all(|w| w[0] < w[1]));

            let mut req = kv.put_many_request();
            {
                let mut entries = req.get().init_entries(2);
                entries.reborrow().get(0).set_key("fresh");
                entries.reborrow().get(1).set_key("");
            }
            assert_eq!(
                failure(req.send().promise.await),
                r#"bad_key: putMany entry 1: put "": invalid key: empty"#
            );
            let mut req = kv.get_request();
            req.get().set_key("fresh");
            assert!(!req.send().promise.await?.get()?.get_found());

            let mut req = kv.delete_request();
            req.get().set_key("greeting");
            assert!(req.send().promise.await?.get()?.get_existed());
            let mut req = kv.delete_request();
            req.get().set_key("greeting");
            assert!(!req.send().promise.await?.get()?.get_existed());
            Ok(())
        });
    }
}
