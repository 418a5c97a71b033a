//! End to end: per-principal quotas (`caplet serve --quota`, `[quotas]`),
//! from real clients against real `caplet serve` processes. A principal's
//! sub-principals count inside it; a principal over a quota is refused with
//! `overloaded` / `quota_exceeded: <name>: …` while others are served; and
//! the quota comes back as the principal lets go.

use crate::support;

use std::path::PathBuf;
use std::time::Instant;

use caplet_client::{Connection, Error, Limits, Worker, WorkerCode};

use support::{block_on, caplet, Server, LINE_TIMEOUT};

const ALICE: &str = "alice-0123456789abcdef";
const BOB: &str = "bob-fedcba9876543210ab";

const COUNTER: &str = "let calls = 0; export default { run: () => ++calls }";

/// A server on a temp socket and on 127.0.0.1:<free port>, knowing alice and
/// bob, with `extra` arguments.
fn tcp_server(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{ALICE}\nbob:{BOB}\n")).expect("write token file");
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        tokens.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (Server::start_with(1, &args), dir)
}

/// The message of a `quota_exceeded` refusal of quota `name`.
fn quota_exceeded<T>(result: Result<T, Error>, name: &str) -> String {
    match result {
        Err(Error::Overloaded(message)) => {
            assert!(
                message.contains(&format!("quota_exceeded: {name}: ")),
                "{message}"
            );
            message
        }
        Err(other) => panic!("expected quota_exceeded: {name}, got {other:?}"),
        Ok(_) => panic!("expected quota_exceeded: {name}, got success"),
    }
}

async fn count(worker: &Worker) -> String {
    worker.invoke("run", "").await.unwrap().output
}

/// Retries `attempt` until it succeeds: what a client lets go reaches the
/// broker as a message, a moment later.
async fn eventually<T, F: std::future::Future<Output = Result<T, Error>>>(
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + LINE_TIMEOUT;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => {
                assert!(Instant::now() < deadline, "never freed: {error}");
                tokio::task::yield_now().await;
            }
        }
    }
}

#[test]
fn gets_under_many_sub_principals_are_bounded_by_the_principal() {
    // Today's default of 256 cached ids per principal; 1,100 sub-principals.
    const SUBS: usize = 1_100;
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = |i: usize| WorkerCode::new("counter.js", COUNTER).principal(format!("sub{i}"));
        let first = conn.get("cached", &code(0)).await.unwrap();
        assert_eq!(count(&first).await, "1");
        drop(first);
        for i in 1..SUBS {
            let worker = conn.get("cached", &code(i)).await.unwrap();
            if i == SUBS - 1 {
                assert_eq!(count(&worker).await, "1");
            }
        }
        // The most recent ids are kept, state and all …
        let last = conn.get("cached", &code(SUBS - 1)).await.unwrap();
        assert_eq!(count(&last).await, "2");
        // … and the oldest were forgotten: counted against the principal,
        // not against each sub-principal.
        let again = conn.get("cached", &code(0)).await.unwrap();
        assert_eq!(count(&again).await, "1", "sub0's worker was kept");
    });
}

#[test]
fn a_principal_over_its_worker_quota_is_refused_while_others_are_served() {
    let (server, _dir) = tcp_server(&["--quota", "workers=3"]);
    block_on(async {
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let mut held = Vec::new();
        for i in 0..3 {
            // Sub-principals count inside alice.
            let code = WorkerCode::new("c.js", COUNTER).principal(format!("part{i}"));
            held.push(alice.load(&code).await.unwrap());
        }
        let message = quota_exceeded(
            alice.load(&WorkerCode::new("c.js", COUNTER)).await,
            "workers",
        );
        assert!(
            message.contains("\"alice\" has 3 live workers, the quota is 3"),
            "{message}"
        );
        let other = WorkerCode::new("c.js", COUNTER).principal("another");
        quota_exceeded(alice.get("id", &other).await, "workers");
        // A second connection of alice's shares her quota.
        let alice2 = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        quota_exceeded(
            alice2.load(&WorkerCode::new("c.js", COUNTER)).await,
            "workers",
        );

        // Bob, and the Unix socket's principal, are served meanwhile.
        let bob = Connection::connect_tcp(server.tcp(), BOB).await.unwrap();
        let worker = bob.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();
        assert_eq!(count(&worker).await, "1");
        let local = Connection::connect(&server.socket).await.unwrap();
        let worker = local.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();
        assert_eq!(count(&worker).await, "1");
        // Alice's held workers still answer.
        for worker in &held {
            assert_eq!(count(worker).await, "1");
        }

        // Dropping a worker gives its place back.
        held.pop();
        let code = WorkerCode::new("c.js", COUNTER);
        let worker = eventually(|| alice.load(&code)).await;
        assert_eq!(count(&worker).await, "1");
        quota_exceeded(alice.load(&code).await, "workers");

        // Closing the connection gives back every worker loaded through it.
        drop(worker);
        drop(held);
        alice.close().await;
        let mut again = Vec::new();
        for _ in 0..3 {
            again.push(eventually(|| alice2.load(&code)).await);
        }
        quota_exceeded(alice2.load(&code).await, "workers");
    });
}

#[test]
fn memory_quota_is_the_sum_of_the_memory_limits() {
    let (server, _dir) = tcp_server(&["--quota", "memory_bytes=104857600"]);
    block_on(async {
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let sized = |mb: u64| {
            WorkerCode::new("c.js", COUNTER).limits(Limits {
                memory_bytes: Some(mb << 20),
                ..Limits::default()
            })
        };
        let big = alice.load(&sized(64)).await.unwrap();
        let message = quota_exceeded(alice.load(&sized(64)).await, "memory_bytes");
        assert!(message.contains("the quota of 104857600"), "{message}");
        let message = quota_exceeded(alice.load(&sized(128)).await, "memory_bytes");
        assert!(message.contains("is above the quota"), "{message}");
        let small = alice.load(&sized(32)).await.unwrap();
        assert_eq!(count(&small).await, "1");
        // Bob has his own.
        let bob = Connection::connect_tcp(server.tcp(), BOB).await.unwrap();
        assert_eq!(count(&bob.load(&sized(64)).await.unwrap()).await, "1");
        drop(big);
        let big = sized(64);
        let again = eventually(|| alice.load(&big)).await;
        assert_eq!(count(&again).await, "1");
    });
}

#[test]
fn the_get_cache_gives_way_to_live_workers_but_never_drops_a_held_one() {
    let (server, _dir) = tcp_server(&["--quota", "workers=3", "--quota", "cached_ids=2"]);
    block_on(async {
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let code = WorkerCode::new("c.js", COUNTER);
        // "kept" stays held; "a" is let go.
        let kept = alice.get("kept", &code).await.unwrap();
        assert_eq!(count(&kept).await, "1");
        let a = alice.get("a", &code).await.unwrap();
        assert_eq!(count(&a).await, "1");
        drop(a);
        // A third id forgets "a" (the least recently used that nobody holds),
        // never "kept".
        let b = eventually(|| alice.get("b", &code)).await;
        assert_eq!(count(&b).await, "1");
        let again = alice.get("kept", &code).await.unwrap();
        assert_eq!(count(&again).await, "2", "a held worker was forgotten");
        // Both cached ids held: a third is refused, not forgotten.
        quota_exceeded(alice.get("c", &code).await, "cached_ids");

        // Cached workers count as live ones, and the cache gives way to a
        // load once nobody holds them.
        let loaded = alice.load(&code).await.unwrap();
        quota_exceeded(alice.load(&code).await, "workers");
        drop(b);
        let loaded2 = eventually(|| alice.load(&code)).await;
        assert_eq!(count(&loaded2).await, "1");
        let fresh = quota_exceeded(alice.get("b", &code).await, "workers");
        assert!(fresh.contains("has 3 live workers"), "{fresh}");
        drop(loaded);
        // "b" was forgotten: it comes back fresh.
        let b = eventually(|| alice.get("b", &code)).await;
        assert_eq!(count(&b).await, "1");
    });
}

#[test]
fn a_principal_over_its_connection_quota_is_refused_while_others_connect() {
    let (server, _dir) = tcp_server(&["--quota", "connections=2"]);
    block_on(async {
        let one = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let two = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let message = quota_exceeded(
            Connection::connect_tcp(server.tcp(), ALICE).await,
            "connections",
        );
        assert!(
            message.contains("\"alice\" has 2 connections open, the quota is 2"),
            "{message}"
        );
        // Bob connects and is served.
        let bob = Connection::connect_tcp(server.tcp(), BOB).await.unwrap();
        let worker = bob.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();
        assert_eq!(count(&worker).await, "1");
        // Alice's open connections are served as before.
        let worker = two.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();
        assert_eq!(count(&worker).await, "1");

        // The Unix socket's principal has a quota of its own.
        let local1 = Connection::connect(&server.socket).await.unwrap();
        let local2 = Connection::connect(&server.socket).await.unwrap();
        let local3 = Connection::connect(&server.socket).await.unwrap();
        quota_exceeded(
            local3.load(&WorkerCode::new("c.js", COUNTER)).await,
            "connections",
        );
        // … and the refused connection is closed (at once, or after
        // answering a call already on its way the same way).
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            match local3.load(&WorkerCode::new("c.js", COUNTER)).await {
                Err(Error::Disconnected(_)) => break,
                Err(Error::Overloaded(message)) if message.contains("quota_exceeded") => {
                    assert!(Instant::now() < deadline, "the connection stayed open");
                }
                Err(other) => panic!("expected disconnected, got {other:?}"),
                Ok(_) => panic!("a refused connection was served"),
            }
        }
        let worker = local2
            .load(&WorkerCode::new("c.js", COUNTER))
            .await
            .unwrap();
        assert_eq!(count(&worker).await, "1");
        drop((local1, local3));

        // Closing a connection gives its place back.
        one.close().await;
        let three = eventually(|| Connection::connect_tcp(server.tcp(), ALICE)).await;
        let worker = three.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();
        assert_eq!(count(&worker).await, "1");
    });
    let line = server.wait_stderr("refused a connection from unix:");
    assert!(line.contains("quota_exceeded: connections: "), "{line}");
}

#[test]
fn bad_quotas_are_one_line_errors() {
    for (arg, expected) in [
        ("workerz=1", "no quota called \"workerz\""),
        ("workers=0", "workers: a quota must be at least 1"),
        ("workers", "expected NAME=VALUE"),
        ("memory_bytes=lots", "memory_bytes: invalid digit"),
    ] {
        let (code, _, stderr) = caplet(&["serve", "--quota", arg]);
        assert_eq!(code, 2, "{arg}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: invalid value") && first.contains(expected),
            "{arg}: {stderr}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let config: PathBuf = dir.path().join("caplet.toml");
    for (text, expected) in [
        (
            "[quotas]\nworkerz = 3\n",
            "caplet.toml:2: quotas.workerz: unknown field `workerz`",
        ),
        (
            "[quotas]\nconnections = 0\n",
            "caplet.toml: quotas.connections: a quota must be at least 1",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let (code, _, stderr) = caplet(&[
            "serve",
            "--socket",
            dir.path().join("s.sock").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{stderr}"
        );
    }
}

#[test]
fn quotas_from_the_config_file_apply_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("caplet.toml");
    std::fs::write(&config, "[quotas]\nworkers = 1\nconnections = 1\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let server = Server::start_with(1, &["--config", &config, "--quota", "workers=2"]);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new("c.js", COUNTER);
        let _one = conn.load(&code).await.unwrap();
        let _two = conn.load(&code).await.unwrap();
        quota_exceeded(conn.load(&code).await, "workers");
        // `connections = 1` from the file: a second connection is refused.
        let second = Connection::connect(&server.socket).await.unwrap();
        quota_exceeded(second.load(&code).await, "connections");
    });
}
