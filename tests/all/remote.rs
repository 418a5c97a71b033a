//! End to end: remote access over TCP with tokens, principals, and the
//! hardening of every connection (malformed frames, call storms, idle and
//! slow connections), against real `caplet serve` processes.

use crate::support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use caplet::caplet_capnp::{broker, gatekeeper};
use caplet_client::{Connection, Error, WorkerCode};
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::AsyncReadExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::compat::TokioAsyncReadCompatExt;

use support::{block_on, caplet, script, Server, LINE_TIMEOUT};

const ALICE: &str = "alice-0123456789abcdef";
const BOB: &str = "bob-fedcba9876543210ab";
const WRONG: &str = "not-a-token-0000000000";

const COUNTER: &str = "let calls = 0; export default { run: () => ++calls }";

/// A token file for alice and bob, in its own temp dir.
fn token_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tokens");
    std::fs::write(&path, format!("# principals\nalice:{ALICE}\n\nbob:{BOB}\n"))
        .expect("write token file");
    (dir, path)
}

/// A server on a temp socket and on 127.0.0.1:<free port>, knowing alice and bob.
fn tcp_server(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let (dir, tokens) = token_file();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        tokens.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (Server::start_with(1, &args), dir)
}

/// Starts raw capnp-rpc on `stream` and returns its bootstrap capability as `T`.
fn bootstrap<S, T>(stream: S) -> T
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    T: capnp::capability::FromClientHook,
{
    let (reader, writer) = stream.compat().split();
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(reader),
        futures::io::BufWriter::new(writer),
        rpc_twoparty_capnp::Side::Client,
        Default::default(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let cap = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(rpc);
    cap
}

async fn tcp_bootstrap<T: capnp::capability::FromClientHook>(address: &str) -> T {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect over TCP");
    bootstrap(stream)
}

async fn authenticate(
    gatekeeper: &gatekeeper::Client,
    token: &str,
) -> capnp::Result<broker::Client> {
    let mut request = gatekeeper.authenticate_request();
    request.get().set_token(token);
    let response = request.send().promise.await?;
    response.get()?.get_broker()
}

/// Reads until the peer closes the connection; fails the test if that takes
/// longer than the guard. Returns how long it took.
async fn wait_for_close<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Duration {
    let start = Instant::now();
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(LINE_TIMEOUT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                // An Abort message may come first.
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the broker did not close the connection");
    start.elapsed()
}

fn refusal<T>(result: Result<T, Error>) -> (String, String) {
    match result {
        Err(Error::Refused { kind, message }) => (kind, message),
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, got success"),
    }
}

#[test]
fn tcp_with_the_right_token_loads_and_invokes() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        let conn = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let worker = conn
            .load(&WorkerCode::new("w.js", "export default (n) => n * 2"))
            .await
            .unwrap();
        assert_eq!(worker.invoke("run", "21").await.unwrap().output, "42");
    });

    // The command line, with a `name:token` file and with a bare token file.
    let (dir, file) = script("w.js", "export default (x) => ({ got: x })");
    let named = dir.path().join("named");
    std::fs::write(&named, format!("alice:{ALICE}\n")).unwrap();
    let bare = dir.path().join("bare");
    std::fs::write(&bare, format!("# mine\n{BOB}\n")).unwrap();
    let target = format!("tcp://{}", server.tcp());
    for token_file in [&named, &bare] {
        let (code, stdout, stderr) = caplet(&[
            "run",
            file.to_str().unwrap(),
            "--input",
            "7",
            "--connect",
            &target,
            "--token-file",
            token_file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, "{\"got\":7}\n");
    }
}

#[test]
fn a_wrong_token_is_unauthenticated_and_never_logged() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        let (kind, message) = match Connection::connect_tcp(server.tcp(), WRONG).await {
            Err(Error::Denied { kind, message }) => (kind, message),
            Err(other) => panic!("expected a denial, got {other:?}"),
            Ok(_) => panic!("expected a denial, got a connection"),
        };
        assert_eq!(
            (kind.as_str(), message.as_str()),
            ("unauthenticated", "invalid token")
        );
    });
    let line = server.wait_stderr("failed authentication from 127.0.0.1:");
    assert!(!line.contains(WRONG), "{line}");

    let (dir, file) = script("w.js", "export default () => 1");
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, format!("{WRONG}\n")).unwrap();
    let (code, stdout, stderr) = caplet(&[
        "run",
        file.to_str().unwrap(),
        "--connect",
        &format!("tcp://{}", server.tcp()),
        "--token-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_eq!(stderr, "error: unauthenticated: invalid token\n");

    // Without a token file, `caplet run` says which flag is missing.
    let (code, _, stderr) = caplet(&[
        "run",
        file.to_str().unwrap(),
        "--connect",
        &format!("tcp://{}", server.tcp()),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--token-file"), "{stderr}");
}

#[test]
fn serve_refuses_tcp_without_a_good_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("s.sock");
    let socket = socket.to_str().unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "serve",
            "--hosts",
            "1",
            "--socket",
            socket,
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        caplet(&args)
    };

    let (code, stdout, stderr) = serve(&[]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--token-file"), "{stderr}");

    let missing = dir.path().join("missing");
    let (code, _, stderr) = serve(&["--token-file", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read token file "),
        "{stderr}"
    );

    let bad = dir.path().join("bad");
    std::fs::write(&bad, format!("alice:{ALICE}\nbob {BOB}\n")).unwrap();
    let (code, _, stderr) = serve(&["--token-file", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 2: expected name:token"), "{stderr}");
    assert!(!stderr.contains(ALICE) && !stderr.contains(BOB), "{stderr}");
}

#[test]
fn nothing_is_reachable_before_authentication() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        // The bootstrap is a Gatekeeper: used as a Broker, it answers nothing.
        let fake: broker::Client = tcp_bootstrap(server.tcp()).await;
        let mut request = fake.load_request();
        request
            .get()
            .init_code()
            .init_modules(1)
            .get(0)
            .set_source("export default () => 1");
        let error = request.send().promise.await.err().expect("load must fail");
        assert!(
            matches!(
                error.kind,
                capnp::ErrorKind::Unimplemented | capnp::ErrorKind::Failed
            ),
            "{error:?}"
        );
        let mut request = fake.get_request();
        request.get().set_id("x");
        let error = request.send().promise.await.err().expect("get must fail");
        assert!(
            matches!(
                error.kind,
                capnp::ErrorKind::Unimplemented | capnp::ErrorKind::Failed
            ),
            "{error:?}"
        );

        // The same connection's Gatekeeper still works with a right token.
        let gatekeeper: gatekeeper::Client = capnp::capability::FromClientHook::cast_to(fake);
        let broker = authenticate(&gatekeeper, ALICE).await.unwrap();
        let mut request = broker.load_request();
        let mut module = request.get().init_code().init_modules(1).get(0);
        module.set_name("w.js");
        module.set_source("export default () => 'in'");
        let worker = request.send().promise.await.unwrap();
        let worker = worker.get().unwrap().get_worker().unwrap();
        let response = worker.invoke_request().send().promise.await.unwrap();
        let output = response
            .get()
            .unwrap()
            .get_output()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(output, "\"in\"");
    });
}

#[test]
fn repeated_wrong_tokens_are_answered_slower_and_then_the_connection_closes() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        let gatekeeper: gatekeeper::Client = tcp_bootstrap(server.tcp()).await;
        let failures = caplet_broker::auth::MAX_FAILURES_PER_CONNECTION;
        for attempt in 1..=failures {
            let start = Instant::now();
            let error = authenticate(&gatekeeper, WRONG).await.err().unwrap();
            let took = start.elapsed();
            assert_eq!(error.kind, capnp::ErrorKind::Failed, "{error:?}");
            assert!(
                error.extra.ends_with("unauthenticated: invalid token"),
                "{error:?}"
            );
            // Each answer waits at least its (growing) delay.
            let delay = caplet_broker::auth::failure_delay(attempt);
            assert!(
                took >= delay,
                "attempt {attempt} took {took:?}, less than {delay:?}"
            );
        }
        // After the last allowed failure, the broker has closed the connection.
        let error = authenticate(&gatekeeper, ALICE).await.err().unwrap();
        assert_eq!(error.kind, capnp::ErrorKind::Disconnected, "{error:?}");

        // A new connection with the right token still gets in.
        let conn = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let worker = conn
            .load(&WorkerCode::new("w.js", "export default () => 1"))
            .await
            .unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");
    });
}

#[test]
fn principals_have_their_own_get_cache() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        let code = WorkerCode::new("counter.js", COUNTER);
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let worker = alice.get("counter", &code).await.unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "2");

        // Bob's "counter" is his own: fresh module state, and even other code
        // under the same id is no conflict.
        let bob = Connection::connect_tcp(server.tcp(), BOB).await.unwrap();
        let worker = bob.get("counter", &code).await.unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");
        let other = WorkerCode::new("other.js", "export default () => 'other'");
        let worker = bob.get("other-id", &other).await.unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "\"other\"");
        let (kind, _) = refusal(bob.get("counter", &other).await);
        assert_eq!(kind, "id_conflict");
        assert!(alice.get("other-id", &code).await.is_ok());

        // The Unix socket's principal (unix:<uid>) is yet another.
        let local = Connection::connect(&server.socket).await.unwrap();
        let worker = local.get("counter", &code).await.unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");

        // Alice reconnecting gets her own worker back, state and all.
        drop(alice);
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let worker = alice.get("counter", &code).await.unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "3");
    });
}

#[test]
fn malformed_frames_close_only_their_own_connection() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        let good = Connection::connect(&server.socket).await.unwrap();
        let worker = good.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();
        let mut expected = 0;

        let mut huge_segment_count = (u32::MAX - 1).to_le_bytes().to_vec();
        huge_segment_count.extend_from_slice(&[0; 12]);
        let mut huge_segment = 0u32.to_le_bytes().to_vec();
        huge_segment.extend_from_slice(&u32::MAX.to_le_bytes());
        huge_segment.extend_from_slice(&[0; 64]);
        let mut junk_message = 0u32.to_le_bytes().to_vec();
        junk_message.extend_from_slice(&2u32.to_le_bytes());
        junk_message.extend_from_slice(&[0xff; 16]);
        let garbage = b"GET / HTTP/1.1\r\nHost: caplet\r\n\r\n".to_vec();
        let cases = [
            ("garbage", garbage),
            ("huge segment count", huge_segment_count),
            ("huge segment", huge_segment),
            ("junk message", junk_message),
        ];
        for (name, bytes) in cases {
            let mut unix = tokio::net::UnixStream::connect(&server.socket)
                .await
                .unwrap();
            unix.write_all(&bytes).await.unwrap();
            wait_for_close(&mut unix).await;

            let mut tcp = tokio::net::TcpStream::connect(server.tcp()).await.unwrap();
            tcp.write_all(&bytes).await.unwrap();
            wait_for_close(&mut tcp).await;

            // The well-behaved client is still served, on the same connection.
            expected += 1;
            let done = worker
                .invoke("run", "")
                .await
                .unwrap_or_else(|e| panic!("after {name}: {e}"));
            assert_eq!(done.output, expected.to_string(), "after {name}");
        }
    });
    assert!(server.wait_stderr(" ended: ").contains("connection from"));
}

#[test]
fn a_storm_of_calls_is_answered_overloaded_while_others_are_served() {
    const STORM: usize = 100_000;
    let (mut server, _tokens) = tcp_server(&[]);
    block_on(async {
        // Each call does a little work, so calls pile up in flight.
        let code = WorkerCode::new(
            "busy.js",
            "export default () => { let x = 0; for (let i = 0; i < 20000; i++) x += i; return x }",
        );
        let stormer = Connection::connect(&server.socket).await.unwrap();
        let worker = stormer.load(&code).await.unwrap();
        let storm = tokio::task::spawn_local(async move {
            // Every request is sent before any answer is awaited.
            let calls = (0..STORM).map(|_| worker.invoke("run", ""));
            futures::future::join_all(calls).await
        });

        let other = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let worker = other
            .load(&WorkerCode::new("o.js", "export default () => 'fine'"))
            .await
            .unwrap();
        let done = tokio::time::timeout(LINE_TIMEOUT, worker.invoke("run", ""))
            .await
            .expect("the other client was starved")
            .unwrap();
        assert_eq!(done.output, "\"fine\"");

        let results = storm.await.unwrap();
        let mut ok = 0;
        let mut overloaded = 0;
        for result in results {
            match result {
                Ok(done) => {
                    assert_eq!(done.output, "199990000");
                    ok += 1;
                }
                Err(Error::Overloaded(message)) => {
                    assert!(message.contains("calls in flight"), "{message}");
                    overloaded += 1;
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert!(ok > 0, "no call went through");
        assert!(overloaded > 0, "no call was refused");
        assert_eq!(ok + overloaded, STORM);

        // The storming client itself recovers once its calls are answered.
        let again = stormer.load(&code).await.unwrap();
        assert_eq!(again.invoke("run", "").await.unwrap().output, "199990000");
    });
    assert!(server.running(), "the broker went down");
}

#[test]
fn idle_and_slow_connections_are_closed() {
    let (server, _tokens) = tcp_server(&["--idle-timeout-secs", "1", "--frame-timeout-secs", "1"]);
    block_on(async {
        // Silent from the start, on either listener.
        let opened = Instant::now();
        let mut unix = tokio::net::UnixStream::connect(&server.socket)
            .await
            .unwrap();
        let mut tcp = tokio::net::TcpStream::connect(server.tcp()).await.unwrap();
        wait_for_close(&mut unix).await;
        wait_for_close(&mut tcp).await;
        assert!(opened.elapsed() >= Duration::from_secs(1));

        // Half a message header, then nothing.
        let mut slow = tokio::net::UnixStream::connect(&server.socket)
            .await
            .unwrap();
        slow.write_all(&[0, 0]).await.unwrap();
        assert!(wait_for_close(&mut slow).await >= Duration::from_secs(1));

        // A client that went quiet finds its connection gone; a new one works.
        let conn = Connection::connect(&server.socket).await.unwrap();
        let worker = conn
            .load(&WorkerCode::new("w.js", "export default () => 1"))
            .await
            .unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");
    });
    let line = server.wait_stderr("idle for 1 s");
    assert!(line.contains("ended"), "{line}");
    let line = server.wait_stderr("took longer than 1 s");
    assert!(line.contains("ended"), "{line}");
}

#[test]
fn a_connection_waiting_for_an_answer_is_not_idle() {
    let (server, _tokens) = tcp_server(&["--idle-timeout-secs", "1"]);
    block_on(async {
        // Four failures from this address make the next failure's answer wait
        // 1.6 s (the address's fifth), longer than the idle timeout.
        let first: gatekeeper::Client = tcp_bootstrap(server.tcp()).await;
        for _ in 0..4 {
            authenticate(&first, WRONG).await.err().unwrap();
        }
        let second: gatekeeper::Client = tcp_bootstrap(server.tcp()).await;
        let start = Instant::now();
        let error = authenticate(&second, WRONG).await.err().unwrap();
        assert!(start.elapsed() >= Duration::from_secs(1));
        // Answered, not cut off: quiet while a call is in flight is not idle.
        assert_eq!(error.kind, capnp::ErrorKind::Failed, "{error:?}");
        assert!(
            error.extra.ends_with("unauthenticated: invalid token"),
            "{error:?}"
        );
    });
}

/// One RPC message, framed.
fn rpc_frame(build: impl FnOnce(capnp_rpc::rpc_capnp::message::Builder<'_>)) -> Vec<u8> {
    let mut message = capnp::message::Builder::new_default();
    build(message.init_root());
    capnp::serialize::write_message_to_words(&message)
}

#[test]
fn a_client_that_never_reads_its_answers_is_cut_off() {
    use std::io::{Read, Write};
    let (server, _tokens) = tcp_server(&["--idle-timeout-secs", "1"]);
    // Bootstrap, then a stream of `Broker.get` calls that fail at once (an
    // empty id), each answered by an exception nobody reads.
    let mut bytes = rpc_frame(|m| m.init_bootstrap().set_question_id(0));
    for id in 1..60_000u32 {
        bytes.extend(rpc_frame(|m| {
            let mut call = m.init_call();
            call.set_question_id(id);
            call.set_interface_id(<broker::Client as capnp::traits::HasTypeId>::TYPE_ID);
            call.set_method_id(1);
            call.reborrow()
                .init_target()
                .init_promised_answer()
                .set_question_id(0);
            call.init_params()
                .init_content()
                .init_as::<broker::get_params::Builder>()
                .set_id("");
        }));
    }
    let mut stream = std::os::unix::net::UnixStream::connect(&server.socket).unwrap();
    let mut writer = stream.try_clone().unwrap();
    // The broker stops reading before all of this arrives: the write blocks
    // until the broker closes the connection, and then fails.
    let (done, writing) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(writer.write_all(&bytes).is_ok()));
    let line = server.wait_stderr("read none of its answers");
    assert!(line.contains("for 1 s"), "{line}");
    let wrote_all = writing
        .recv_timeout(LINE_TIMEOUT)
        .expect("the broker never closed the connection");
    assert!(!wrote_all, "the broker read everything");

    // The connection is closed: what was sent before the end, then EOF.
    stream.set_read_timeout(Some(LINE_TIMEOUT)).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the broker did not close the connection: {e}"),
        }
    }

    // Everyone else is still served.
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let worker = conn
            .load(&WorkerCode::new("w.js", "export default () => 1"))
            .await
            .unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");
    });
}

#[test]
fn an_unauthenticated_peer_gets_small_messages_and_few_calls() {
    let (server, _tokens) = tcp_server(&[]);
    block_on(async {
        // A segment table announcing 80 KB: closed before any of it is sent.
        let mut big = 0u32.to_le_bytes().to_vec();
        big.extend_from_slice(&10_000u32.to_le_bytes());
        let mut tcp = tokio::net::TcpStream::connect(server.tcp()).await.unwrap();
        tcp.write_all(&big).await.unwrap();
        wait_for_close(&mut tcp).await;

        // Eight attempts at once: only four may be in flight.
        let gatekeeper: gatekeeper::Client = tcp_bootstrap(server.tcp()).await;
        let attempts = (0..8).map(|_| authenticate(&gatekeeper, WRONG));
        let mut overloaded = 0;
        for result in futures::future::join_all(attempts).await {
            let error = result.err().expect("a wrong token was accepted");
            match error.kind {
                capnp::ErrorKind::Overloaded => {
                    assert!(error.extra.contains("calls in flight"), "{error:?}");
                    overloaded += 1;
                }
                _ => assert!(error.extra.contains("unauthenticated"), "{error:?}"),
            }
        }
        assert!(overloaded >= 4, "{overloaded} of 8 refused");

        // Once authenticated, the same limits do not apply: a 200 KB worker
        // loads over TCP.
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let padding = "x".repeat(200_000);
        let code = format!("const pad = '{padding}'; export default () => pad.length");
        let worker = alice.load(&WorkerCode::new("big.js", &code)).await.unwrap();
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "200000");
    });
    let line = server.wait_stderr("before authentication");
    assert!(line.contains("a message of 80000 bytes"), "{line}");
}

#[test]
fn a_peer_that_does_not_authenticate_in_time_is_closed() {
    let (server, _tokens) = tcp_server(&["--auth-timeout-secs", "1"]);
    block_on(async {
        let alice = Connection::connect_tcp(server.tcp(), ALICE).await.unwrap();
        let worker = alice.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();

        // Bootstraps, so it is not idle, and never authenticates.
        let mut lurker = tokio::net::TcpStream::connect(server.tcp()).await.unwrap();
        lurker
            .write_all(&rpc_frame(|m| m.init_bootstrap().set_question_id(0)))
            .await
            .unwrap();
        assert!(wait_for_close(&mut lurker).await >= Duration::from_millis(900));
        let line = server.wait_stderr("not authenticated within 1 s");
        assert!(line.contains("127.0.0.1"), "{line}");

        // Alice authenticated before the deadline and is still served after it.
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");
    });
}

#[test]
fn connections_beyond_the_limit_are_closed_and_their_places_come_back() {
    let (server, _tokens) = tcp_server(&["--max-connections", "1"]);
    block_on(async {
        // TCP's one place: a raw stream, answered, so it is known to be open.
        let mut second = tokio::net::TcpStream::connect(server.tcp()).await.unwrap();
        second
            .write_all(&rpc_frame(|m| m.init_bootstrap().set_question_id(0)))
            .await
            .unwrap();
        let mut answer = [0u8; 8];
        second.read_exact(&mut answer).await.unwrap();

        // A full TCP listener does not lock out the Unix socket.
        let unix = Connection::connect(&server.socket).await.unwrap();
        let held = unix.load(&WorkerCode::new("c.js", COUNTER)).await.unwrap();

        // One more connection, on either listener, is closed at once.
        let mut tcp = tokio::net::TcpStream::connect(server.tcp()).await.unwrap();
        wait_for_close(&mut tcp).await;
        let mut third = tokio::net::UnixStream::connect(&server.socket)
            .await
            .unwrap();
        wait_for_close(&mut third).await;
        let line = server.wait_stderr("refused a connection from 127.0.0.1");
        assert!(
            line.contains("1 open on this listener, the limit is 1"),
            "{line}"
        );
        let line = server.wait_stderr("refused a connection from unix:");
        assert!(line.contains("the limit is 1"), "{line}");

        // The open ones are served as before.
        assert_eq!(held.invoke("run", "").await.unwrap().output, "1");

        // Once one closes, its place is given to the next client.
        drop(second);
        let deadline = Instant::now() + LINE_TIMEOUT;
        let bob = loop {
            match Connection::connect_tcp(server.tcp(), BOB).await {
                Ok(bob) => break bob,
                Err(error) => {
                    assert!(Instant::now() < deadline, "no place came back: {error}");
                    tokio::task::yield_now().await;
                }
            }
        };
        let worker = bob
            .load(&WorkerCode::new("b.js", "export default () => 3"))
            .await;
        assert_eq!(worker.unwrap().invoke("run", "").await.unwrap().output, "3");

        // A worker keeps its connection open after the `Connection` is
        // dropped; once both are gone the place comes back.
        drop(unix);
        assert_eq!(held.invoke("run", "").await.unwrap().output, "2");
        drop(held);
        let deadline = Instant::now() + LINE_TIMEOUT;
        let (again, worker) = loop {
            let again = Connection::connect(&server.socket).await.unwrap();
            match again.load(&WorkerCode::new("a.js", COUNTER)).await {
                Ok(worker) => break (again, worker),
                Err(error) => {
                    assert!(Instant::now() < deadline, "no place came back: {error}");
                    tokio::task::yield_now().await;
                }
            }
        };
        assert_eq!(worker.invoke("run", "").await.unwrap().output, "1");

        // `close` closes a connection also for its workers.
        again.close().await;
        let error = worker.invoke("run", "").await.unwrap_err();
        assert!(error.to_string().contains("disconnected"), "{error}");
    });
}
