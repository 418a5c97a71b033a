//! The fs and kv conformance suite: every case runs on SQLite and, with the
//! `pg-tests` feature, on PostgreSQL (`CAPLET_TEST_PG_URL`, a database the
//! suite may write to), through the same [`Backend`] calls the capnp
//! servers use, so the two backends cannot drift apart. Each case works in
//! a principal of its own, so runs share one database safely.

use std::sync::atomic::{AtomicUsize, Ordering};

use caplet_store::vfs::{Kind, Op, OpResult, Quota, Usage, MAX_BATCH_OPS};
use caplet_store::{Backend, Error, KvHandle, Store, VolumeHandle};

const BIG: Quota = Quota {
    max_bytes: 1 << 30,
    max_entries: 1 << 20,
};

/// The backends under test, each with what keeps it alive.
async fn backends() -> Vec<(&'static str, Backend, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![(
        "sqlite",
        Backend::Sqlite(Store::open(dir.path()).unwrap()),
        Some(dir),
    )];
    if cfg!(feature = "pg-tests") {
        let url = std::env::var("CAPLET_TEST_PG_URL")
            .expect("the pg-tests feature needs CAPLET_TEST_PG_URL (scripts/pg-test-cluster.sh)");
        let store = caplet_store::PgStore::connect(&caplet_store::PgOptions::new(url))
            .await
            .unwrap();
        out.push(("postgres", Backend::Postgres(store), None));
    }
    out
}

/// A principal no other case (or run) uses.
fn principal(case: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{case}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `case` on every backend, naming the backend when it fails.
macro_rules! on_every_backend {
    ($name:ident, |$backend:ident, $who:ident| $body:block) => {
        #[tokio::test]
        async fn $name() {
            for (label, $backend, _keep) in backends().await {
                let $who = principal(stringify!($name));
                let run = async { $body };
                let result: Result<(), Error> = run.await;
                if let Err(e) = result {
                    panic!("{label}: {e}");
                }
            }
        }
    };
}

async fn read(v: &VolumeHandle, path: &str) -> Result<Vec<u8>, Error> {
    match v.exec(&Op::Read { path: path.into() }).await? {
        OpResult::Content(c) => Ok(c),
        other => panic!("read answered {other:?}"),
    }
}

async fn write(v: &VolumeHandle, path: &str, content: &[u8], parents: bool) -> Result<(), Error> {
    v.exec(&Op::Write {
        path: path.into(),
        content: content.to_vec(),
        create_parents: parents,
    })
    .await
    .map(drop)
}

async fn list(v: &VolumeHandle, path: &str) -> Result<Vec<String>, Error> {
    match v.exec(&Op::List { path: path.into() }).await? {
        OpResult::Entries(es) => Ok(es.into_iter().map(|e| e.path).collect()),
        other => panic!("list answered {other:?}"),
    }
}

async fn stat(v: &VolumeHandle, path: &str) -> Result<Option<(Kind, u64)>, Error> {
    match v.exec(&Op::Stat { path: path.into() }).await? {
        OpResult::Entry(e) => Ok(Some((e.kind, e.size))),
        OpResult::None => Ok(None),
        other => panic!("stat answered {other:?}"),
    }
}

fn op_err(r: Result<OpResult, Error>) -> String {
    match r {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

on_every_backend!(files_and_directories, |backend, who| {
    let v = backend.volume(&who, "workspace", BIG)?;
    v.exec(&Op::Mkdir {
        path: "/notes".into(),
        parents: false,
    })
    .await?;
    write(&v, "/notes/a.txt", b"hello", false).await?;
    assert_eq!(read(&v, "notes/./a.txt").await?, b"hello");
    let append = |path: &str, content: &[u8]| Op::Append {
        path: path.into(),
        content: content.to_vec(),
    };
    assert_eq!(
        v.exec(&append("/notes/a.txt", b" world")).await?,
        OpResult::Size(11)
    );
    assert_eq!(
        v.exec(&append("/notes/b.txt", b"b")).await?,
        OpResult::Size(1)
    );
    assert_eq!(read(&v, "/notes/a.txt").await?, b"hello world");
    write(&v, "/notes/a.txt", b"short", false).await?;
    assert_eq!(read(&v, "/notes/a.txt").await?, b"short");
    assert_eq!(list(&v, "/notes").await?, ["/notes/a.txt", "/notes/b.txt"]);
    assert_eq!(list(&v, "/").await?, ["/notes"]);
    assert_eq!(stat(&v, "/notes").await?, Some((Kind::Directory, 0)));
    assert_eq!(stat(&v, "/notes/a.txt").await?, Some((Kind::File, 5)));
    assert_eq!(stat(&v, "/").await?, Some((Kind::Directory, 0)));
    assert_eq!(stat(&v, "/nope").await?, None);
    // Bytes order paths, as in SQLite: "é" after "z", "B" before "a".
    for name in ["/notes/z", "/notes/é", "/notes/B"] {
        write(&v, name, b"", false).await?;
    }
    assert_eq!(
        list(&v, "/notes").await?,
        [
            "/notes/B",
            "/notes/a.txt",
            "/notes/b.txt",
            "/notes/z",
            "/notes/é"
        ]
    );
    assert_eq!(
        v.usage().await?,
        Usage {
            bytes: 6,
            entries: 6
        }
    );
    Ok(())
});

on_every_backend!(errors_have_the_same_kinds_and_messages, |backend, who| {
    let v = backend.volume(&who, "workspace", BIG)?;
    write(&v, "/f", b"x", false).await?;
    write(&v, "/d/x", b"x", true).await?;
    let cases: Vec<(Op, &str, &str)> = vec![
        (
            Op::Read {
                path: "/missing".into(),
            },
            "not_found",
            "read /missing: not found",
        ),
        (
            Op::Read { path: "/d".into() },
            "is_a_directory",
            "read /d: is a directory",
        ),
        (
            Op::List { path: "/f".into() },
            "not_a_directory",
            "list /f: not a directory",
        ),
        (
            Op::Mkdir {
                path: "/f".into(),
                parents: false,
            },
            "exists",
            "mkdir /f: already exists",
        ),
        (
            Op::Remove {
                path: "/d".into(),
                recursive: false,
            },
            "not_empty",
            "remove /d: directory not empty",
        ),
        (
            Op::Write {
                path: "/f/x".into(),
                content: vec![],
                create_parents: false,
            },
            "not_a_directory",
            "write /f/x: parent /f is not a directory",
        ),
        (
            Op::Write {
                path: "/no/x".into(),
                content: vec![],
                create_parents: false,
            },
            "not_found",
            "write /no/x: parent directory /no does not exist",
        ),
        (
            Op::Rename {
                from: "/d".into(),
                to: "/d/sub".into(),
            },
            "bad_path",
            "rename /d: cannot move a directory into itself",
        ),
        (
            Op::Rename {
                from: "/d".into(),
                to: "/f".into(),
            },
            "exists",
            "rename /d: destination /f already exists",
        ),
        (
            Op::Remove {
                path: "/".into(),
                recursive: true,
            },
            "bad_path",
            "remove /: the root directory cannot be changed",
        ),
        (
            Op::Write {
                path: "../etc/passwd".into(),
                content: vec![],
                create_parents: true,
            },
            "bad_path",
            r#"write "../etc/passwd": path escapes the volume root"#,
        ),
        (
            Op::Write {
                path: "/big".into(),
                content: vec![0; (16 << 20) + 1],
                create_parents: false,
            },
            "too_large",
            "write /big: file too large: 16777217 bytes, limit 16777216",
        ),
    ];
    for (op, kind, message) in cases {
        let e = v.exec(&op).await.unwrap_err();
        assert_eq!((e.kind(), e.to_string().as_str()), (kind, message));
    }
    // Nothing changed.
    assert_eq!(
        v.usage().await?,
        Usage {
            bytes: 2,
            entries: 3
        }
    );
    Ok(())
});

on_every_backend!(quotas_on_bytes_and_entries, |backend, who| {
    let quota = Quota {
        max_bytes: 10,
        max_entries: 3,
    };
    let v = backend.volume(&who, "workspace", quota)?;
    write(&v, "/a", b"12345678", false).await?;
    assert_eq!(
        write(&v, "/b", b"123", false)
            .await
            .unwrap_err()
            .to_string(),
        r#"write /b: quota exceeded: volume "workspace" allows 10 bytes"#
    );
    assert_eq!(
        op_err(
            v.exec(&Op::Append {
                path: "/a".into(),
                content: b"123".to_vec()
            })
            .await
        ),
        r#"append /a: quota exceeded: volume "workspace" allows 10 bytes"#
    );
    write(&v, "/a", b"1234567890", false).await?;
    write(&v, "/a", b"1", false).await?;
    v.exec(&Op::Mkdir {
        path: "/d".into(),
        parents: false,
    })
    .await?;
    write(&v, "/d/x", b"", false).await?;
    let e = v
        .exec(&Op::Mkdir {
            path: "/e".into(),
            parents: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "quota_exceeded");
    assert_eq!(
        e.to_string(),
        r#"mkdir /e: quota exceeded: volume "workspace" allows 3 entries"#
    );
    // A failing `create_parents` write leaves none of its directories.
    v.exec(&Op::Remove {
        path: "/d/x".into(),
        recursive: false,
    })
    .await?;
    assert!(write(&v, "/d/y/z/w", b"", true).await.is_err());
    assert_eq!(stat(&v, "/d/y").await?, None);
    assert_eq!(
        v.usage().await?,
        Usage {
            bytes: 1,
            entries: 2
        }
    );
    // The grant's quota applies, not a stored one.
    let roomier = backend.volume(
        &who,
        "workspace",
        Quota {
            max_bytes: 100,
            max_entries: 100,
        },
    )?;
    write(&roomier, "/more", b"0123456789", false).await?;
    assert_eq!(
        roomier.usage().await?,
        Usage {
            bytes: 11,
            entries: 3
        }
    );
    Ok(())
});

on_every_backend!(a_failing_batch_leaves_no_trace, |backend, who| {
    let v = backend.volume(&who, "workspace", BIG)?;
    write(&v, "/keep.txt", b"before", false).await?;
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
    ];
    let err = v.batch(&ops).await.unwrap_err();
    assert_eq!(err.to_string(), "batch op 2: remove /missing: not found");
    assert_eq!(err.kind(), "not_found");
    assert_eq!(read(&v, "/keep.txt").await?, b"before");
    assert_eq!(stat(&v, "/new").await?, None);
    assert_eq!(
        v.usage().await?,
        Usage {
            bytes: 6,
            entries: 1
        }
    );
    let results = v
        .batch(&[
            ops[0].clone(),
            ops[1].clone(),
            Op::Write {
                path: "/new/x".into(),
                content: b"x".to_vec(),
                create_parents: false,
            },
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
        ])
        .await?;
    assert_eq!(results[3], OpResult::Content(b"x".to_vec()));
    assert_eq!(results[4], OpResult::None);
    assert_eq!(results[5], OpResult::Size(6));

    // Over quota mid-batch: nothing of it stays.
    let small = backend.volume(
        &who,
        "small",
        Quota {
            max_bytes: 4,
            max_entries: 10,
        },
    )?;
    let writes: Vec<Op> = (0..3)
        .map(|i| Op::Write {
            path: format!("/f{i}"),
            content: b"xx".to_vec(),
            create_parents: false,
        })
        .collect();
    assert_eq!(
        small.batch(&writes).await.unwrap_err().to_string(),
        r#"batch op 2: write /f2: quota exceeded: volume "small" allows 4 bytes"#
    );
    assert_eq!(list(&small, "/").await?, Vec::<String>::new());
    let too_many = vec![Op::Stat { path: "/".into() }; MAX_BATCH_OPS + 1];
    assert_eq!(
        small.batch(&too_many).await.unwrap_err().to_string(),
        "batch 1001 ops: too many items: 1001, limit 1000"
    );
    Ok(())
});

on_every_backend!(rename_remove_and_glob_whole_trees, |backend, who| {
    let v = backend.volume(&who, "workspace", BIG)?;
    write(&v, "/src/a/1.txt", b"1", true).await?;
    write(&v, "/src/a/2.txt", b"22", true).await?;
    write(&v, "/src-sibling", b"s", false).await?;
    v.exec(&Op::Mkdir {
        path: "/dst".into(),
        parents: false,
    })
    .await?;
    v.exec(&Op::Rename {
        from: "/src".into(),
        to: "/dst/moved".into(),
    })
    .await?;
    assert_eq!(stat(&v, "/src").await?, None);
    assert_eq!(read(&v, "/dst/moved/a/2.txt").await?, b"22");
    assert_eq!(read(&v, "/src-sibling").await?, b"s");
    let globbed: Vec<String> = v
        .glob("**/*.txt")
        .await?
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(globbed, ["/dst/moved/a/1.txt", "/dst/moved/a/2.txt"]);
    assert_eq!(v.glob("/d*/?oved").await?.len(), 1);
    assert_eq!(
        v.glob("/../*").await.unwrap_err().to_string(),
        r#"glob "/../*": path escapes the volume root"#
    );
    // A file replaces a file, and the quota counts only the survivor.
    write(&v, "/old", b"old!", false).await?;
    v.exec(&Op::Rename {
        from: "/src-sibling".into(),
        to: "/old".into(),
    })
    .await?;
    assert_eq!(read(&v, "/old").await?, b"s");
    v.exec(&Op::Remove {
        path: "/dst".into(),
        recursive: true,
    })
    .await?;
    assert_eq!(list(&v, "/").await?, ["/old"]);
    assert_eq!(
        v.usage().await?,
        Usage {
            bytes: 1,
            entries: 1
        }
    );
    Ok(())
});

on_every_backend!(principals_and_volumes_are_isolated, |backend, who| {
    let bob = format!("{who}-bob");
    let alice = backend.volume(&who, "workspace", BIG)?;
    let other = backend.volume(&bob, "workspace", BIG)?;
    write(&alice, "/secret", b"a", false).await?;
    assert_eq!(stat(&other, "/secret").await?, None);
    assert!(other.glob("/**").await?.is_empty());
    let kv = backend.kv(&who, "cache")?;
    kv.put("k", b"alice").await?;
    assert_eq!(backend.kv(&bob, "cache")?.get("k").await?, None);
    assert_eq!(backend.kv(&who, "other")?.get("k").await?, None);
    assert_eq!(
        backend
            .volume("", "workspace", BIG)
            .unwrap_err()
            .to_string(),
        r#"invalid principal name "": empty"#
    );
    Ok(())
});

async fn page_keys(kv: &KvHandle, prefix: &str, cursor: &str, limit: u32) -> (Vec<String>, String) {
    let page = kv.list(prefix, cursor, limit, true).await.unwrap();
    (
        page.entries.into_iter().map(|(k, _)| k).collect(),
        page.cursor,
    )
}

on_every_backend!(kv_get_put_delete_and_limits, |backend, who| {
    let kv = backend.kv(&who, "cache")?;
    assert_eq!(kv.get("a").await?, None);
    kv.put("a", b"1").await?;
    kv.put("a", b"2").await?;
    kv.put("empty", b"").await?;
    assert_eq!(kv.get("a").await?, Some(b"2".to_vec()));
    assert_eq!(kv.get("empty").await?, Some(vec![]));
    assert!(kv.delete("a").await?);
    assert!(!kv.delete("a").await?);
    let e = kv.put("", b"").await.unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string().as_str()),
        ("bad_key", r#"put "": invalid key: empty"#)
    );
    let e = kv.put("v", &vec![0; (1 << 20) + 1]).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string().as_str()),
        (
            "too_large",
            r#"put "v": value too large: 1048577 bytes, limit 1048576"#
        )
    );
    kv.put("v", &vec![0; 1 << 20]).await?;
    let e = kv.list("a:", "zz", 1, true).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string().as_str()),
        ("bad_cursor", r#"list "a:": invalid cursor"#)
    );
    Ok(())
});

on_every_backend!(kv_lists_in_byte_order_with_cursors, |backend, who| {
    let kv = backend.kv(&who, "cache")?;
    let mut entries: Vec<(String, Vec<u8>)> = (0..250)
        .map(|i| (format!("user:{i:04}"), i.to_string().into_bytes()))
        .collect();
    for other in [
        "user", "user;", "usea:1", "zzz", "user:é", "user:Z", "\u{7f}",
    ] {
        entries.push((other.to_string(), b"x".to_vec()));
    }
    kv.put_many(&entries).await?;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (keys, next) = page_keys(&kv, "user:", &cursor, 60).await;
        pages += 1;
        seen.extend(keys);
        if next.is_empty() {
            break;
        }
        cursor = next;
    }
    assert_eq!(pages, 5);
    let mut expected: Vec<String> = (0..250).map(|i| format!("user:{i:04}")).collect();
    expected.insert(250, "user:Z".into());
    expected.push("user:é".into());
    assert_eq!(seen, expected);
    let page = kv.list("user:000", "", 0, false).await?;
    assert_eq!(page.entries.len(), 10);
    assert_eq!(page.entries[3], ("user:0003".to_string(), b"3".to_vec()));
    let (all, _) = page_keys(&kv, "", "", 1000).await;
    assert_eq!(all.len(), 257);
    assert_eq!(all.last().map(String::as_str), Some("\u{7f}"), "bytewise");
    Ok(())
});

on_every_backend!(kv_put_many_is_all_or_nothing, |backend, who| {
    let kv = backend.kv(&who, "cache")?;
    kv.put("keep", b"old").await?;
    let entries = vec![
        ("keep".to_string(), b"new".to_vec()),
        ("fresh".to_string(), b"1".to_vec()),
        ("big".to_string(), vec![0; (1 << 20) + 1]),
    ];
    assert_eq!(
        kv.put_many(&entries).await.unwrap_err().to_string(),
        r#"putMany entry 2: put "big": value too large: 1048577 bytes, limit 1048576"#
    );
    assert_eq!(kv.get("keep").await?, Some(b"old".to_vec()));
    assert_eq!(kv.get("fresh").await?, None);
    kv.put_many(&[
        ("dup".to_string(), b"first".to_vec()),
        ("dup".to_string(), b"last".to_vec()),
    ])
    .await?;
    assert_eq!(kv.get("dup").await?, Some(b"last".to_vec()));
    let too_many = vec![("k".to_string(), vec![]); 1001];
    assert_eq!(
        kv.put_many(&too_many).await.unwrap_err().to_string(),
        "putMany 1001 entries: too many items: 1001, limit 1000"
    );
    Ok(())
});

on_every_backend!(
    two_handles_writing_at_once_never_pass_the_quota,
    |backend, who| {
        // Two handles (on PostgreSQL: two brokers' worth of connections) race
        // batches against one quota of 50 entries; exactly 50 land.
        let quota = Quota {
            max_bytes: 1 << 20,
            max_entries: 50,
        };
        let a = backend.volume(&who, "shared", quota)?;
        let b = backend.volume(&who, "shared", quota)?;
        let batch = |v: VolumeHandle, side: &'static str| async move {
            let mut landed = 0;
            for i in 0..20 {
                let ops: Vec<Op> = (0..3)
                    .map(|j| Op::Write {
                        path: format!("/{side}-{i}-{j}"),
                        content: b"x".to_vec(),
                        create_parents: false,
                    })
                    .collect();
                match v.batch(&ops).await {
                    Ok(_) => landed += 3,
                    Err(e) => assert_eq!(e.kind(), "quota_exceeded", "{e}"),
                }
            }
            landed
        };
        let (la, lb) = futures::join!(batch(a.clone(), "a"), batch(b, "b"));
        let usage = a.usage().await?;
        assert_eq!(usage.entries, (la + lb) as u64);
        assert!(usage.entries <= 50 && usage.entries >= 48, "{usage:?}");
        assert_eq!(list(&a, "/").await?.len() as u64, usage.entries);
        Ok(())
    }
);
