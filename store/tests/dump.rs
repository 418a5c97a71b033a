//! `Backend::export` / `Backend::import`: a store moves SQLite → SQLite,
//! and (feature `pg-tests`) SQLite → PostgreSQL → SQLite, losing nothing.

use std::collections::BTreeSet;

use caplet_store::vfs::{Op, OpResult, Quota, Usage};
use caplet_store::{Backend, Store};

fn lines(dump: &[u8]) -> BTreeSet<String> {
    String::from_utf8(dump.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A SQLite store with volumes (one empty), files, directories and keys
/// of `principal`.
async fn filled(dir: &tempfile::TempDir, principal: &str) -> Backend {
    let backend = Backend::Sqlite(Store::open(dir.path()).unwrap());
    let v = backend
        .volume(principal, "workspace", Quota::default())
        .unwrap();
    v.batch(&[
        Op::Write {
            path: "/notes/a.txt".into(),
            content: b"hello".to_vec(),
            create_parents: true,
        },
        Op::Write {
            path: "/bin".into(),
            content: (0..=255).collect(),
            create_parents: false,
        },
        Op::Mkdir {
            path: "/empty/dir".into(),
            parents: true,
        },
    ])
    .await
    .unwrap();
    backend
        .volume(principal, "nothing-yet", Quota::default())
        .unwrap()
        .usage()
        .await
        .unwrap();
    let kv = backend.kv(principal, "cache").unwrap();
    kv.put("k/é", &[0, 1, 2, 255]).await.unwrap();
    kv.put("empty", b"").await.unwrap();
    backend
}

async fn export(backend: &Backend) -> Vec<u8> {
    let mut out = Vec::new();
    backend.export(&mut out, &mut |_| {}).await.unwrap();
    out
}

async fn check(backend: &Backend, principal: &str) {
    let v = backend
        .volume(principal, "workspace", Quota::default())
        .unwrap();
    assert_eq!(
        v.exec(&Op::Read {
            path: "/notes/a.txt".into()
        })
        .await
        .unwrap(),
        OpResult::Content(b"hello".to_vec())
    );
    assert_eq!(
        v.usage().await.unwrap(),
        Usage {
            bytes: 5 + 256,
            entries: 5
        },
        "usage is recounted"
    );
    let kv = backend.kv(principal, "cache").unwrap();
    assert_eq!(kv.get("k/é").await.unwrap(), Some(vec![0, 1, 2, 255]));
    assert_eq!(kv.get("empty").await.unwrap(), Some(vec![]));
}

#[tokio::test]
async fn sqlite_to_sqlite_keeps_everything() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = filled(&a_dir, "alice").await;
    let dump = export(&a).await;
    let b = Backend::Sqlite(Store::open(b_dir.path()).unwrap());
    let mut progress = Vec::new();
    let counts = b
        .import(&mut &dump[..], &mut |line| progress.push(line.to_string()))
        .await
        .unwrap();
    assert_eq!(
        counts.to_string(),
        "2 volumes, 5 files and directories, 1 kv stores, 2 keys"
    );
    check(&b, "alice").await;
    assert_eq!(lines(&export(&b).await), lines(&dump));
    // A damaged dump changes nothing.
    let c_dir = tempfile::tempdir().unwrap();
    let c = Backend::Sqlite(Store::open(c_dir.path()).unwrap());
    let mut broken = dump.clone();
    broken.extend_from_slice(b"{\"node\":{\"principal\":\"x\"}}\n");
    let e = c.import(&mut &broken[..], &mut |_| {}).await.unwrap_err();
    assert!(e.to_string().contains("node.volume missing"), "{e}");
    assert_eq!(export(&c).await, b"{\"caplet_store_dump\":1}\n");
}

#[cfg(feature = "pg-tests")]
#[tokio::test]
async fn sqlite_to_postgres_to_sqlite_keeps_everything() {
    let principal = format!(
        "dump-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let a_dir = tempfile::tempdir().unwrap();
    let a = filled(&a_dir, &principal).await;
    let dump = export(&a).await;
    let url = std::env::var("CAPLET_TEST_PG_URL").expect("CAPLET_TEST_PG_URL");
    let pg = Backend::Postgres(
        caplet_store::PgStore::connect(&caplet_store::PgOptions::new(url))
            .await
            .unwrap(),
    );
    pg.import(&mut &dump[..], &mut |_| {}).await.unwrap();
    check(&pg, &principal).await;
    // Back to a new SQLite store: the database may hold other tests' data
    // too, so what came from `a` must be among what comes back.
    let back_dir = tempfile::tempdir().unwrap();
    let back = Backend::Sqlite(Store::open(back_dir.path()).unwrap());
    let from_pg = export(&pg).await;
    back.import(&mut &from_pg[..], &mut |_| {}).await.unwrap();
    check(&back, &principal).await;
    let returned = lines(&export(&back).await);
    let missing: Vec<_> = lines(&dump).difference(&returned).cloned().collect();
    assert!(missing.is_empty(), "lost in the round trip: {missing:?}");
}
