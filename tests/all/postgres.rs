//! fs and kv on PostgreSQL, end to end (feature `postgres-tests`): real
//! `caplet serve` processes sharing one real PostgreSQL, at
//! `CAPLET_TEST_PG_URL` (`.ci/run` starts a throwaway cluster with
//! `scripts/pg-test-cluster.sh`). Each test works in volumes and stores of
//! its own, so they share that database; the outage test stops and starts
//! a cluster of its own.

use crate::support;

use std::time::{Duration, Instant};

use caplet_client::{Builtin, Connection, WorkerCode};
use support::{block_on, Server};

fn pg_url() -> String {
    std::env::var("CAPLET_TEST_PG_URL")
        .expect("the postgres-tests feature needs CAPLET_TEST_PG_URL (scripts/pg-test-cluster.sh)")
}

/// A volume and store name no other test (or run) uses.
fn unique(case: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{case}-{}-{nanos}", std::process::id())
}

/// A broker on `url`, with `config` as its caplet.toml; its `--data`
/// directory must never be made.
struct Broker {
    server: Server,
    data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn broker(url: &str, config: &str) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("caplet.toml");
    std::fs::write(&toml, config).unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        1,
        &[
            "--store",
            url,
            "--config",
            toml.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    Broker {
        server,
        data,
        _dir: dir,
    }
}

fn code(name: &str) -> WorkerCode {
    WorkerCode::new("store.js", include_str!("../js/postgres_store.js"))
        .grant_builtin("fs", Builtin::fs(name))
        .grant_builtin("kv", Builtin::kv(name))
}

fn json(output: &str) -> serde_json::Value {
    serde_json::from_str(output).unwrap_or_else(|e| panic!("{e}: {output}"))
}

#[test]
fn a_worker_on_broker_a_writes_and_one_on_broker_b_reads() {
    let url = pg_url();
    let name = unique("shared");
    let a = broker(&url, "");
    let b = broker(&url, "");
    block_on(async {
        let on_a = Connection::connect(&a.server.socket).await.unwrap();
        let on_b = Connection::connect(&b.server.socket).await.unwrap();
        let writer = on_a.load(&code(&name)).await.unwrap();
        let reader = on_b.load(&code(&name)).await.unwrap();
        let out = writer
            .invoke("write", r#"{"marker": "from-a"}"#)
            .await
            .unwrap();
        assert_eq!(out.output, r#""written""#);
        let out = reader.invoke("read", "{}").await.unwrap();
        assert_eq!(
            json(&out.output),
            serde_json::json!({ "file": "from-a", "kv": "from-a" })
        );
        // And back: B overwrites, A sees it at once.
        reader
            .invoke("write", r#"{"marker": "from-b"}"#)
            .await
            .unwrap();
        let out = writer.invoke("read", "{}").await.unwrap();
        assert_eq!(
            json(&out.output),
            serde_json::json!({ "file": "from-b", "kv": "from-b" })
        );
    });
    assert!(!a.data.exists() && !b.data.exists(), "no data directory");
}

#[test]
fn concurrent_batches_from_two_brokers_never_exceed_the_quota() {
    let url = pg_url();
    let name = unique("quota");
    let config = format!("[fs.volumes.\"{name}\"]\nmax_entries = 40\n");
    let a = broker(&url, &config);
    let b = broker(&url, &config);
    block_on(async {
        let on_a = Connection::connect(&a.server.socket).await.unwrap();
        let on_b = Connection::connect(&b.server.socket).await.unwrap();
        let wa = on_a.load(&code(&name)).await.unwrap();
        let wb = on_b.load(&code(&name)).await.unwrap();
        // 2 × 10 batches of 3 files race for 40 entries.
        let (ra, rb) = futures::join!(
            wa.invoke("fill", r#"{"side": "a", "batches": 10, "size": 3}"#),
            wb.invoke("fill", r#"{"side": "b", "batches": 10, "size": 3}"#)
        );
        let (ra, rb) = (json(&ra.unwrap().output), json(&rb.unwrap().output));
        let landed = ra["landed"].as_u64().unwrap() + rb["landed"].as_u64().unwrap();
        let refused = ra["refused"].as_u64().unwrap() + rb["refused"].as_u64().unwrap();
        // Whole batches only: 13 fit (39 entries), the other 7 are refused.
        assert_eq!((landed, refused), (39, 7), "{ra} {rb}");
        let usage = json(&wa.invoke("usage", "{}").await.unwrap().output);
        assert_eq!(usage, serde_json::json!({ "entries": 39, "listed": 39 }));
    });
}

#[test]
fn killing_broker_a_mid_batch_leaves_all_or_nothing() {
    let url = pg_url();
    let name = unique("killed");
    let mut a = broker(&url, "");
    let b = broker(&url, "");
    block_on(async {
        // The test's own connection watches A's transaction.
        let (watch, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::task::spawn_local(connection);
        let on_a = Connection::connect(&a.server.socket).await.unwrap();
        let worker = on_a.load(&code(&name)).await.unwrap();
        let batch = tokio::task::spawn_local(async move {
            worker
                .invoke("big", r#"{"files": 1000, "bytes": 4096}"#)
                .await
        });
        // Once A's batch has written inside its open transaction, kill A.
        let a_pid = a.server.child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let row = watch
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = 'caplet' AND backend_xid IS NOT NULL
                       AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the batch never started writing");
            tokio::task::yield_now().await;
        }
        support::signal(a_pid, libc::SIGKILL);
        a.server.child.wait().unwrap();
        assert!(
            batch.await.unwrap().is_err(),
            "the batch cannot have answered"
        );

        let on_b = Connection::connect(&b.server.socket).await.unwrap();
        let worker = on_b.load(&code(&name)).await.unwrap();
        let usage = json(&worker.invoke("usage", "{}").await.unwrap().output);
        assert_eq!(
            usage,
            serde_json::json!({ "entries": 0, "listed": 0 }),
            "nothing of the killed batch"
        );
        // The volume still takes the whole batch afterwards.
        let out = worker
            .invoke("big", r#"{"files": 1000, "bytes": 4096}"#)
            .await
            .unwrap();
        assert_eq!(out.output, r#""done""#);
        let usage = json(&worker.invoke("usage", "{}").await.unwrap().output);
        assert_eq!(
            usage,
            serde_json::json!({ "entries": 1000, "listed": 1000 })
        );
    });
}

/// A PostgreSQL cluster of this test's own, stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
}

impl Cluster {
    fn script(args: &[&std::ffi::OsStr]) -> String {
        let out = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/pg-test-cluster.sh"
        ))
        .args(args)
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "pg-test-cluster.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn init() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let url = Self::script(&["init".as_ref(), dir.path().as_os_str(), port.as_ref()]);
        Cluster { dir, url }
    }

    fn stop(&self) {
        Self::script(&["stop".as_ref(), self.dir.path().as_os_str()]);
    }

    fn start(&self) {
        Self::script(&["start".as_ref(), self.dir.path().as_os_str()]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/pg-test-cluster.sh"
        ))
        .arg("stop")
        .arg(self.dir.path())
        .output();
    }
}

#[test]
fn stopping_postgres_fails_storage_calls_with_disconnected_until_it_is_back() {
    let cluster = Cluster::init();
    let name = unique("outage");
    let a = broker(&cluster.url, "");
    block_on(async {
        let conn = Connection::connect(&a.server.socket).await.unwrap();
        let worker = conn.load(&code(&name)).await.unwrap();
        let out = worker
            .invoke("write", r#"{"marker": "acknowledged"}"#)
            .await
            .unwrap();
        assert_eq!(out.output, r#""written""#);

        cluster.stop();
        let out = worker.invoke("kvGet", "{}").await.unwrap();
        assert!(
            out.output.contains("disconnected"),
            "a storage call fails disconnected: {}",
            out.output
        );
        let out = worker.invoke("read", "{}").await.unwrap();
        assert!(out.output.contains("disconnected"), "{}", out.output);
        // The broker serves what needs no storage.
        assert_eq!(
            worker.invoke("plain", r#"{"n": 21}"#).await.unwrap().output,
            "42"
        );

        cluster.start();
        let back = Instant::now();
        loop {
            let out = worker.invoke("read", "{}").await.unwrap();
            let value = json(&out.output);
            if value.get("error").is_none() {
                // Nothing acknowledged was lost.
                assert_eq!(
                    value,
                    serde_json::json!({ "file": "acknowledged", "kv": "acknowledged" })
                );
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "storage still failing 5 s after the database came back: {value}"
            );
            tokio::task::yield_now().await;
        }
    });
}

/// Runs `caplet ARGS` with `stdin`; returns stdout, failing on an error.
fn caplet_piped(args: &[&str], stdin: &[u8]) -> (Vec<u8>, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(support::caplet_bin())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "caplet {args:?}: {stderr}");
    (out.stdout, stderr)
}

#[test]
fn caplet_store_moves_data_sqlite_to_postgres_and_back() {
    let url = pg_url();
    let name = unique("moved");
    let dir = tempfile::tempdir().unwrap();
    let (first, back) = (dir.path().join("first"), dir.path().join("back"));
    let script = dir.path().join("store.js");
    std::fs::write(&script, include_str!("../js/postgres_store.js")).unwrap();
    let fs_grant = format!("fs=fs:{name}");
    let kv_grant = format!("kv=kv:{name}");
    let run = |data: &std::path::Path, entry: &str, input: &str| {
        let (out, _) = caplet_piped(
            &[
                "run",
                script.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--grant",
                &fs_grant,
                "--grant",
                &kv_grant,
                "--entry",
                entry,
                "--input",
                input,
            ],
            b"",
        );
        String::from_utf8(out).unwrap().trim().to_string()
    };
    assert_eq!(
        run(&first, "write", r#"{"marker": "moved"}"#),
        r#""written""#
    );

    let (dump, progress) =
        caplet_piped(&["store", "export", "--data", first.to_str().unwrap()], b"");
    assert!(
        progress.contains("exported 1 volumes, 2 files and directories, 1 kv stores, 1 keys"),
        "{progress}"
    );
    let (_, progress) = caplet_piped(&["store", "import", "--store", &url], &dump);
    assert!(progress.starts_with("imported "), "{progress}");

    // A broker on PostgreSQL serves it.
    let broker = broker(&url, "");
    block_on(async {
        let conn = Connection::connect(&broker.server.socket).await.unwrap();
        let worker = conn.load(&code(&name)).await.unwrap();
        let out = worker.invoke("read", "{}").await.unwrap();
        assert_eq!(
            json(&out.output),
            serde_json::json!({ "file": "moved", "kv": "moved" })
        );
    });

    // And back into a new SQLite store.
    let (dump, _) = caplet_piped(&["store", "export", "--store", &url], b"");
    caplet_piped(
        &["store", "import", "--data", back.to_str().unwrap()],
        &dump,
    );
    assert_eq!(
        json(&run(&back, "read", "{}")),
        serde_json::json!({ "file": "moved", "kv": "moved" })
    );
}
