//! The built-in capabilities end to end, driven from JavaScript through real
//! broker and isolate-host processes: `fs` and `kv` on real SQLite files in
//! a temporary data directory, `http` against a real HTTP server on
//! 127.0.0.1, the global `fetch`, live log streaming, and the `caplet.toml`
//! and `--grant` errors.

use crate::support;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use caplet_client::{Builtin, Connection, Error, InterfaceSchema, Level, WorkerCode};
use capnp::capability::Rc as CapRc;
use support::{block_on, caplet_bin, Server};

use crate::caps_capnp;

/// How long a test waits for an event before failing.
const GUARD: Duration = Duration::from_secs(15);

/// The credential the broker injects; it must never reach JavaScript.
const SECRET: &str = "sk-test-5f1c0a9e7d3b42c6";

/// A temporary directory with a `caplet.toml`, and `caplet run` in it.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("caplet.toml"), config).expect("write caplet.toml");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `caplet run JS --config caplet.toml --data data ARGS…`; returns
    /// (exit code, stdout, stderr).
    fn run(&self, js: &str, args: &[&str]) -> (i32, String, String) {
        let script = self.path("worker.js");
        std::fs::write(&script, js).expect("write worker");
        let out = Command::new(caplet_bin())
            .current_dir(self.dir.path())
            .env("TEST_API_KEY", SECRET)
            .arg("run")
            .arg(&script)
            .args(["--config", "caplet.toml", "--data", "data"])
            .args(args)
            .output()
            .expect("run caplet");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Like [`Workspace::run`], expecting success; returns the JSON output.
    fn output(&self, js: &str, args: &[&str]) -> serde_json::Value {
        let (code, stdout, stderr) = self.run(js, args);
        assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout:?}"))
    }
}

// ============================================================================
// fs and kv
// ============================================================================

const FS_JS: &str = include_str!("../js/builtins_fs.js");
const FS_GRANTS: [&str; 8] = [
    "--grant",
    "fs=fs:workspace",
    "--grant",
    "kv=kv:main",
    "--grant",
    "tiny=fs:tiny",
    "--grant",
    "docs=fs:docs:ro",
];

fn fs_args<'a>(entry: &'a str, input: &'a str) -> Vec<&'a str> {
    let mut args = vec!["--entry", entry, "--input", input];
    args.extend(FS_GRANTS);
    args
}

#[test]
fn fs_batches_traversal_quotas_and_read_only_volumes() {
    let ws = Workspace::new("[fs.volumes.tiny]\nmax_bytes = 10\n");
    let out = ws.output(FS_JS, &fs_args("rules", "null"));
    assert_eq!(
        out["batch"],
        "RpcError: not_found: batch op 1: remove /missing: not found"
    );
    assert_eq!(
        out["batchTrace"],
        serde_json::json!([false, false]),
        "a failed batch leaves no trace"
    );
    assert_eq!(
        out["traversal"],
        r#"RpcError: bad_path: read "../../etc/passwd": path escapes the volume root"#
    );
    assert!(
        out["traversalWrite"]
            .as_str()
            .unwrap()
            .ends_with("path escapes the volume root"),
        "{out}"
    );
    assert_eq!(
        out["quota"],
        r#"RpcError: quota_exceeded: write /big.txt: quota exceeded: volume "tiny" allows 10 bytes"#
    );
    assert_eq!(out["quotaUsage"], 0);
    assert_eq!(
        out["readOnly"],
        r#"RpcError: read_only: write /x.txt: volume "docs" is read-only"#
    );
    assert_eq!(out["readOnlyList"], 0);
    assert!(
        ws.path("data/store.sqlite3").exists(),
        "the data lives in --data"
    );
}

#[test]
fn fs_and_kv_data_survive_a_broker_restart() {
    let ws = Workspace::new("");
    // Each `caplet run` is a broker of its own, started and stopped.
    assert_eq!(
        ws.output(FS_JS, &fs_args("write", r#"{"marker":"kept-42"}"#)),
        "written"
    );
    assert_eq!(
        ws.output(FS_JS, &fs_args("read", "null")),
        serde_json::json!({ "file": "kept-42", "kv": "kept-42" })
    );
}

#[test]
fn two_workers_appending_to_one_volume_lose_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("caplet.toml");
    std::fs::write(&config, "").expect("write caplet.toml");
    let data = dir.path().join("data");
    let server = Server::start_with(
        2,
        &[
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new("append.js", include_str!("../js/builtins_append.js"))
            .grant_builtin("fs", Builtin::fs("shared"));
        let (a, b) = futures::join!(conn.load(&code), conn.load(&code));
        let (a, b) = (a.unwrap(), b.unwrap());
        let input = r#"{"times": 40}"#;
        let (ra, rb) = futures::join!(a.invoke("run", input), b.invoke("run", input));
        let sizes = [ra.unwrap().output, rb.unwrap().output];
        assert!(sizes.contains(&"80".to_string()), "{sizes:?}");

        // The client can also hold the volume itself.
        let volume: caplet::fs_capnp::volume::Client = conn
            .builtin(&Builtin::fs_read_only("shared"))
            .await
            .unwrap();
        let mut request = volume.read_request();
        request.get().set_path("/shared.log");
        let content = request.send().promise.await.unwrap();
        assert_eq!(content.get().unwrap().get_content().unwrap(), [b'A'; 80]);
    });
}

#[test]
fn two_brokers_appending_to_one_data_directory_lose_nothing() {
    let ws = Workspace::new("");
    let script = ws.path("append.js");
    std::fs::write(&script, include_str!("../js/builtins_append.js")).unwrap();
    // Two `caplet run` processes: two brokers, one SQLite file.
    let spawn = || {
        Command::new(caplet_bin())
            .current_dir(ws.dir.path())
            .arg("run")
            .arg(&script)
            .args(["--data", "data", "--grant", "fs=fs:shared"])
            .args(["--input", r#"{"times": 40}"#])
            .output()
    };
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(spawn);
        let b = scope.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sizes = [
        String::from_utf8_lossy(&a.stdout).trim().to_string(),
        String::from_utf8_lossy(&b.stdout).trim().to_string(),
    ];
    assert!(sizes.contains(&"80".to_string()), "{sizes:?}");
}

#[test]
fn caplet_run_grants_built_ins_of_a_running_server() {
    let ws = Workspace::new("");
    let data = ws.path("served-data");
    let server = Server::start_with(1, &["--data", data.to_str().unwrap()]);
    let socket = server.socket.to_str().unwrap().to_string();
    let script = ws.path("kv.js");
    std::fs::write(
        &script,
        "export default async (input, env) => { \
           const old = await env.kv.get({ key: 'n' }); \
           await env.kv.put({ key: 'n', value: new Uint8Array([old.found ? old.value[0] + 1 : 1]) }); \
           console.log('counted'); \
           return old.found ? old.value[0] + 1 : 1; }",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    for expected in ["1", "2"] {
        let (code, stdout, stderr) = support::caplet(&[
            "run",
            script,
            "--connect",
            &socket,
            "--grant",
            "kv=kv:counter",
        ]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout.trim(), expected);
        assert_eq!(stderr, "[log] counted\n", "each line printed once");
    }
    assert!(
        data.join("store.sqlite3").exists(),
        "the server's --data holds it"
    );

    let (code, _, stderr) = support::caplet(&[
        "run",
        script,
        "--connect",
        &socket,
        "--config",
        "caplet.toml",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot be used with --connect"), "{stderr}");
}

#[test]
fn volumes_are_namespaced_by_principal_and_policies_by_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "alice:aaaaaaaaaaaaaaaaaaaaaaaa\nbob:bbbbbbbbbbbbbbbbbbbbbbbb\n",
    )
    .unwrap();
    let config = dir.path().join("caplet.toml");
    std::fs::write(&config, "[http.api]\nhosts = [\"api.example.com\"]\n").unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        1,
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            tokens.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    block_on(async {
        let alice = Connection::connect_tcp(server.tcp(), "aaaaaaaaaaaaaaaaaaaaaaaa")
            .await
            .unwrap();
        let bob = Connection::connect_tcp(server.tcp(), "bbbbbbbbbbbbbbbbbbbbbbbb")
            .await
            .unwrap();
        let code = WorkerCode::new(
            "main.js",
            "export default async (input, env) => input.write \
               ? (await env.fs.write({ path: '/mine.txt', content: new Uint8Array([1]) }), 'ok') \
               : (await env.fs.stat({ path: '/mine.txt' })).exists",
        )
        .grant_builtin("fs", Builtin::fs("workspace"));
        let as_alice = alice.load(&code).await.unwrap();
        assert_eq!(
            as_alice
                .invoke("run", r#"{"write":true}"#)
                .await
                .unwrap()
                .output,
            r#""ok""#
        );
        assert_eq!(as_alice.invoke("run", "{}").await.unwrap().output, "true");
        let as_bob = bob.load(&code).await.unwrap();
        assert_eq!(as_bob.invoke("run", "{}").await.unwrap().output, "false");

        // Only configured policies exist; names are checked.
        match bob
            .builtin::<caplet::http_capnp::gateway::Client>(&Builtin::http("anything.example"))
            .await
        {
            Err(Error::Refused { kind, message }) => {
                assert_eq!(kind, "bad_grant");
                assert_eq!(
                    message,
                    "http:anything.example: no such policy in the broker's configuration"
                );
            }
            Err(other) => panic!("unexpected {other}"),
            Ok(_) => panic!("an unconfigured policy was granted"),
        }
        bob.builtin::<caplet::http_capnp::gateway::Client>(&Builtin::http("api"))
            .await
            .unwrap();
        let bad = bob
            .builtin::<caplet::fs_capnp::volume::Client>(&Builtin::fs("../alice"))
            .await;
        assert!(
            matches!(&bad, Err(Error::Refused { kind, .. }) if kind == "bad_grant"),
            "{:?}",
            bad.err()
        );
    });
}

// ============================================================================
// http
// ============================================================================

/// A tiny HTTP/1.1 server on 127.0.0.1 (one thread, one request per
/// connection). It sends every credential it receives to `keys`.
fn http_server() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            serve_one(stream, &tx);
        }
    });
    (port, rx)
}

fn serve_one(mut stream: TcpStream, keys: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (status, extra, body) = match path.as_str() {
        "/hello" => ("200 OK", "x-test: 1\r\n".to_string(), b"hello".to_vec()),
        "/json" => (
            "200 OK",
            "content-type: application/json\r\n".to_string(),
            serde_json::json!({
                "method": method,
                "body": String::from_utf8_lossy(&body),
                "type": header("content-type"),
                "caller": header("x-caller"),
            })
            .to_string()
            .into_bytes(),
        ),
        "/redirect" => (
            "302 Found",
            "location: http://denied.example/\r\n".to_string(),
            Vec::new(),
        ),
        "/big" => ("200 OK", String::new(), vec![b'x'; 5000]),
        "/echo-key" => {
            let key = header("x-api-key");
            let _ = keys.send(key.clone());
            ("200 OK", format!("x-echo: {key}\r\n"), key.into_bytes())
        }
        _ => ("404 Not Found", String::new(), b"not found".to_vec()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

fn http_config(port: u16) -> String {
    format!(
        r#"
[secrets]
api = {{ env = "TEST_API_KEY" }}

[http.local]
hosts = ["127.0.0.1"]
ports = [{port}]
allow_ranges = ["127.0.0.1/32"]
credentials = [{{ host = "127.0.0.1", header = "X-Api-Key", value = "{{secret:api}}" }}]
limits = {{ max_response_bytes = 1000 }}

[http.open]
hosts = ["*"]
ports = [{port}]

[dns]
"private.test" = ["10.0.0.5"]
"#
    )
}

#[test]
fn fetch_goes_through_the_policy_and_never_shows_the_credential() {
    let (port, keys) = http_server();
    let ws = Workspace::new(&http_config(port));
    let input = format!(r#"{{"base":"http://127.0.0.1:{port}","port":{port}}}"#);
    let (code, stdout, stderr) = ws.run(
        include_str!("../js/builtins_fetch.js"),
        &[
            "--input",
            &input,
            "--grant",
            "fetch=http:local",
            "--grant",
            "open=http:open",
        ],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();

    assert_eq!(
        out["hello"],
        serde_json::json!({
            "status": 200, "ok": true, "text": "hello", "header": "1", "missing": null,
            "names": ["content-length", "x-test"],
        })
    );
    assert_eq!(
        out["json"],
        serde_json::json!({ "method": "POST", "body": "ping", "type": "text/plain;charset=UTF-8", "caller": "" })
    );
    assert!(out["bytes"].as_u64().unwrap() > 0);
    assert_eq!(out["notFound"], serde_json::json!([404, false]));
    let text = |key: &str| out[key].as_str().unwrap().to_string();
    assert!(
        text("deniedHost").starts_with("RpcError: denied: ")
            && text("deniedHost").contains("denied.example"),
        "{out}"
    );
    assert!(
        text("loopback").starts_with("RpcError: denied: ") && text("loopback").contains("loopback"),
        "loopback is denied by default: {out}"
    );
    assert!(
        text("loopbackName").starts_with("RpcError: denied: ")
            && text("loopbackName").contains("localhost resolves to a denied address"),
        "{out}"
    );
    assert_eq!(
        text("privateName"),
        "RpcError: denied: host private.test resolves to a denied address: address 10.0.0.5 is private",
        "a name resolving to a private address is denied"
    );
    assert!(
        text("redirect").starts_with("RpcError: denied: ")
            && text("redirect").contains("denied.example"),
        "a redirect to a denied host is refused: {out}"
    );
    assert_eq!(
        text("big"),
        "RpcError: too_large: response body exceeds 1000 bytes"
    );
    // fetch(42) parses "42" as a URL, as the standard says, and fails.
    assert_eq!(text("badArgs"), "TypeError: invalid URL \"42\"");
    assert_eq!(text("readTwice"), "TypeError: the body was already read");
    assert_eq!(text("keyBody"), "[redacted]");
    assert_eq!(text("keyHeader"), "[redacted]");
    assert!(
        stderr.contains("[log] the server saw [redacted] [redacted]"),
        "{stderr}"
    );

    // The credential reached the server, and nothing the caller saw.
    assert_eq!(
        keys.recv_timeout(GUARD).expect("the server got a key"),
        SECRET
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
}

/// Whether the server saw the client of `/slow` hang up.
type HungUp = std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>;

/// An HTTP/1.1 server on 127.0.0.1 for WHATWG fetch, a thread per
/// connection: `/echo` answers the method, headers and body as JSON,
/// `/moved` redirects to `/echo`, `/slow` never answers (it waits for the
/// client to hang up and records it), and `/hung-up` answers whether that
/// happened, waiting up to [`GUARD`] for it.
fn whatwg_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let hung_up = HungUp::default();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let hung_up = hung_up.clone();
            std::thread::spawn(move || serve_whatwg(stream, &hung_up));
        }
    });
    port
}

fn serve_whatwg(mut stream: TcpStream, hung_up: &HungUp) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = serde_json::Map::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            headers.insert(name.to_ascii_lowercase(), value.trim().into());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.as_str()?.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (status, extra, body) = match path.as_str() {
        "/slow" => {
            // Never answer; the gateway hangs up when the fetch is cancelled.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            let (flag, changed) = &**hung_up;
            *flag.lock().unwrap() = true;
            changed.notify_all();
            return;
        }
        "/hung-up" => {
            let (flag, changed) = &**hung_up;
            let seen = changed
                .wait_timeout_while(flag.lock().unwrap(), GUARD, |seen| !*seen)
                .map(|(seen, _)| *seen)
                .unwrap_or(false);
            (
                "200 OK",
                "",
                if seen {
                    b"yes".to_vec()
                } else {
                    b"no".to_vec()
                },
            )
        }
        "/moved" => ("302 Found", "location: /echo\r\n", Vec::new()),
        _ => (
            "200 OK",
            "content-type: application/json\r\nx-utf8: \u{e9}\r\n",
            serde_json::json!({
                "method": method,
                "caller": headers.get("x-caller"),
                "accept": headers.get("accept"),
                "body": String::from_utf8_lossy(&body),
            })
            .to_string()
            .into_bytes(),
        ),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

#[test]
fn fetch_is_whatwg_fetch_with_headers_streams_and_abort() {
    let port = whatwg_server();
    let config = format!(
        "[http.local]\nhosts = [\"127.0.0.1\"]\nports = [{port}]\nallow_ranges = [\"127.0.0.1/32\"]\n"
    );
    let ws = Workspace::new(&config);
    let input = format!(r#"{{"base":"http://127.0.0.1:{port}"}}"#);
    let out = ws.output(
        include_str!("../js/builtins_whatwg_fetch.js"),
        &["--input", &input, "--grant", "fetch=http:local"],
    );
    assert_eq!(
        out["echo"],
        serde_json::json!([200, "application/json", {
            "method": "POST", "caller": "e2e", "accept": "application/json",
            "body": "part one, part two, part three",
        }]),
        "Headers and a streamed request body reach the server"
    );
    assert_eq!(out["streamedBack"], "streamed back");
    assert_eq!(
        out["endlessBody"], "TypeError: fetch: the request body exceeds 33554432 bytes",
        "a request body stream that never ends is cut with a named error"
    );
    assert_eq!(
        out["endlessCancelled"], "fetch: the request body exceeds 33554432 bytes",
        "and the stream is cancelled with that error"
    );
    // A header value's UTF-8 bytes become one character each (a byte
    // string), as in browsers.
    assert_eq!(out["utf8Header"], serde_json::json!([195, 169]));
    assert_eq!(out["bodyUsed"], true);
    assert_eq!(
        out["aborted"], "AbortError: This signal is aborted.",
        "an aborted fetch rejects with the signal's reason"
    );
    assert_eq!(out["timedOut"], "TimeoutError: The operation timed out.");
    assert_eq!(out["alreadyAborted"], "no thanks");
    assert_eq!(out["redirectError"], "TypeError");
    assert_eq!(out["redirectFollow"], serde_json::json!([true, true, 200]));
    assert_eq!(
        out["redirectManual"],
        serde_json::json!([302, "/echo", false, "basic"])
    );
    // The abort reached the broker while the invocation still ran: the
    // gateway dropped the request, and the server saw its client hang up.
    assert_eq!(out["serverSawHangUp"], "yes");
}

#[test]
fn each_fetch_counts_against_the_subrequest_limit() {
    let (port, _keys) = http_server();
    let ws = Workspace::new(&format!(
        "[http.local]\nhosts = [\"127.0.0.1\"]\nports = [{port}]\nallow_ranges = [\"127.0.0.1/32\"]\n"
    ));
    let config = ws.path("caplet.toml");
    let data = ws.path("data");
    let server = Server::start_with(
        1,
        &[
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "main.js",
            "export default async ({ base }) => { \
               let n = 0; \
               for (;;) { await fetch(`${base}/hello`); console.log(`fetched ${++n}`); } }",
        )
        .grant_builtin("fetch", Builtin::http("local"))
        .limits(caplet_client::Limits {
            subrequests: Some(3),
            ..Default::default()
        });
        let worker = conn.load(&code).await.unwrap();
        let input = format!(r#"{{"base":"http://127.0.0.1:{port}"}}"#);
        match worker.invoke("run", &input).await {
            Err(Error::LimitExceeded {
                limit: caplet_client::Limit::Subrequests,
                logs,
                ..
            }) => assert_eq!(logs.len(), 3, "{logs:?}"),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn without_a_fetch_grant_there_is_no_global_fetch() {
    let ws = Workspace::new("[http.api]\nhosts = [\"api.example.com\"]\n");
    let js = "export default (input, env) => [typeof fetch, typeof env.api]";
    assert_eq!(
        ws.output(js, &["--grant", "api=http:api"]),
        serde_json::json!(["undefined", "object"])
    );
    // `caplet run` allows a bare host as an ad-hoc policy.
    assert_eq!(
        ws.output(js, &["--grant", "fetch=http:example.org"]),
        serde_json::json!(["function", "undefined"])
    );
}

// ============================================================================
// Config and grant errors
// ============================================================================

#[test]
fn bad_config_and_grant_specs_are_one_line_errors_naming_the_key() {
    let js = "export default () => 1";
    let cases: [(&str, &[&str], &str); 4] = [
        (
            "[http.api]\nhostz = [\"x\"]\n",
            &[],
            "error: caplet.toml:2: http.api.hostz: unknown field `hostz`",
        ),
        (
            "[secrets]\nk = { env = \"CAPLET_TEST_UNSET_VARIABLE\" }\n",
            &[],
            "error: caplet.toml: secrets.k: environment variable CAPLET_TEST_UNSET_VARIABLE is not set",
        ),
        ("", &["--grant", "fs=disk:x"], "bad grant spec \"disk:x\": unknown kind \"disk\""),
        (
            "",
            &["--grant", "fs=fs:a/b"],
            "error: bad_grant: fs:a/b: name \"a/b\" must be",
        ),
    ];
    // `caplet serve` reads the same file, and fails before serving.
    let ws = Workspace::new("[fs]\nmax_entries = -1\n");
    let socket = ws.path("caplet.sock");
    let config = ws.path("caplet.toml");
    let (code, _, stderr) = support::caplet(&[
        "serve",
        "--socket",
        socket.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(":2: fs.max_entries: invalid value"),
        "{stderr}"
    );

    for (config, args, expected) in cases {
        let ws = Workspace::new(config);
        let (code, stdout, stderr) = ws.run(js, args);
        assert_ne!(code, 0, "{config} {args:?}");
        assert!(stdout.is_empty());
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(first.contains(expected), "{config} {args:?}: {stderr}");
    }
}

// ============================================================================
// Live logs
// ============================================================================

/// `Named.name()` that answers only once `ready` fires.
struct Gate {
    ready: RefCell<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl caps_capnp::named::Server for Gate {
    async fn name(
        self: CapRc<Self>,
        _: caps_capnp::named::NameParams,
        mut results: caps_capnp::named::NameResults,
    ) -> Result<(), capnp::Error> {
        let ready = self.ready.borrow_mut().take();
        let ready = ready.ok_or_else(|| capnp::Error::failed("called twice".into()))?;
        match tokio::time::timeout(GUARD, ready).await {
            Ok(Ok(())) => {
                results.get().set_name("opened after the log line arrived");
                Ok(())
            }
            _ => Err(capnp::Error::failed(
                "the log line never arrived while the worker ran".into(),
            )),
        }
    }
}

#[test]
fn console_lines_stream_to_the_caller_while_the_worker_runs() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let (open, ready) = tokio::sync::oneshot::channel();
        let gate: caps_capnp::named::Client = capnp_rpc::new_client(Gate {
            ready: RefCell::new(Some(ready)),
        });
        let code = WorkerCode::new("log.js", include_str!("../js/builtins_log.js")).grant(
            "gate",
            gate,
            InterfaceSchema::source(
                "caps.capnp",
                include_str!("../schemas/caps.capnp"),
                "caps.capnp:Named",
            ),
        );
        let worker = conn.load(&code).await.unwrap();
        let open = RefCell::new(Some(open));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let lines = seen.clone();
        let done = worker
            .invoke_streaming("run", "null", move |line| {
                if line.text == "step 1" {
                    if let Some(open) = open.borrow_mut().take() {
                        let _ = open.send(());
                    }
                }
                lines.borrow_mut().push((line.level, line.text));
            })
            .await
            .unwrap();
        assert_eq!(done.output, r#""opened after the log line arrived""#);
        assert_eq!(
            *seen.borrow(),
            [
                (Level::Info, "step 1".to_string()),
                (Level::Warn, "step 2".to_string())
            ],
            "every line streamed, in order, before the answer"
        );
        assert_eq!(done.logs.len(), 2);
    });
}
