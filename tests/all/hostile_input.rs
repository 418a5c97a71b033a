//! Hostile field values for every public method of `Broker`, `Worker`,
//! `Gatekeeper` (caplet.capnp), `Volume` (fs.capnp), `Store` (kv.capnp) and
//! `Gateway` (http.capnp), sent as raw Cap'n Proto to a real `caplet serve`:
//! empty, oversized, malformed (invalid UTF-8, NUL bytes, unset pointers)
//! and out-of-range fields. Each must be answered with a named error, one
//! line saying what is wrong, never a panic, a dropped connection or an
//! unnamed failure; and the server keeps serving: a normal call on the same
//! connection works after every one.

use crate::support;

use std::path::Path;

use caplet::caplet_capnp::{broker, builtin_grant, gatekeeper, worker, worker_code};
use caplet::fs_capnp::volume;
use caplet::http_capnp::gateway;
use caplet::kv_capnp::store;
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::AsyncReadExt as _;
use tokio_util::compat::TokioAsyncReadCompatExt;

use support::{block_on, Server};

const TOKEN: &str = "alice-0123456789abcdef";

/// Invalid UTF-8, for `Text` fields.
const NOT_UTF8: &[u8] = b"ab\xff\xfecd";

/// Larger than any name, key, path or id the broker accepts, well below
/// the message limit.
const BIG: usize = 1 << 20;

fn big_text() -> String {
    "x".repeat(BIG)
}

/// `caplet serve` on a socket and on TCP, with a data directory, a token
/// and an http policy for `127.0.0.1:PORT` (nothing listens there).
fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{TOKEN}\n")).expect("token file");
    let config = dir.path().join("caplet.toml");
    std::fs::write(
        &config,
        "[http.local]\nhosts = [\"127.0.0.1\"]\nports = [9]\nallow_ranges = [\"127.0.0.1/32\"]\n\
         limits = { max_request_bytes = 1024, max_request_headers = 4 }\n\
         [fs]\nmax_bytes = 65536\nmax_entries = 64\n",
    )
    .expect("caplet.toml");
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
    (server, dir)
}

/// Starts raw capnp-rpc on `stream` and returns its bootstrap capability.
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

async fn unix_broker(socket: &Path) -> broker::Client {
    bootstrap(
        tokio::net::UnixStream::connect(socket)
            .await
            .expect("connect"),
    )
}

/// Asserts that `result` is a named error: of type `failed` or
/// `overloaded` (never `disconnected`: the connection must stay up), one
/// line, containing `want`, and showing no panic or internal error.
#[track_caller]
fn named<T>(case: &str, result: capnp::Result<T>, want: &str) {
    let error = match result {
        Ok(_) => panic!("{case}: expected an error containing {want:?}, got success"),
        Err(e) => e,
    };
    let text = error.extra.clone();
    assert!(
        matches!(
            error.kind,
            capnp::ErrorKind::Failed | capnp::ErrorKind::Overloaded
        ),
        "{case}: {:?}: {text}",
        error.kind
    );
    assert!(!text.contains('\n'), "{case}: not one line: {text:?}");
    for bad in ["panicked", "internal error", "unwrap", "RUST_BACKTRACE"] {
        assert!(!text.contains(bad), "{case}: {text}");
    }
    assert!(
        text.contains(want),
        "{case}: {text:?} does not contain {want:?}"
    );
}

/// A `WorkerCode` of one module `main.js` with `source`.
fn simple_code(mut code: worker_code::Builder<'_>, source: &str) {
    code.set_main_module("main.js");
    let mut module = code.reborrow().init_modules(1).get(0);
    module.set_name("main.js");
    module.set_source(source);
}

const ECHO: &str = "export default { run: (input) => input }";

async fn load(broker: &broker::Client, source: &str) -> capnp::Result<worker::Client> {
    let mut request = broker.load_request();
    simple_code(request.get().init_code(), source);
    let response = request.send().promise.await?;
    response.get()?.get_worker()
}

async fn invoke(worker: &worker::Client, input: &str) -> capnp::Result<String> {
    let mut request = worker.invoke_request();
    request.get().set_entrypoint("run");
    request.get().set_input(input);
    let response = request.send().promise.await?;
    Ok(response.get()?.get_output()?.to_string()?)
}

/// Asserts that an invocation failed with a named error: an exception as
/// [`named`] checks, or an `InvokeError` whose one-line message contains
/// `want`.
#[track_caller]
fn invoke_failed(
    case: &str,
    result: capnp::Result<capnp::capability::Response<worker::invoke_results::Owned>>,
    want: &str,
) {
    match result {
        Err(e) => named(case, Err::<(), _>(e), want),
        Ok(response) => {
            let results = response.get().expect("results");
            assert!(
                results.has_error(),
                "{case}: expected an error, got success"
            );
            let error = results.get_error().expect("error");
            let message = error.get_message().unwrap().to_string().unwrap();
            assert!(error.get_kind().is_ok(), "{case}: unknown kind");
            assert!(!message.contains('\n'), "{case}: {message:?}");
            assert!(
                message.contains(want),
                "{case}: {message:?} does not contain {want:?}"
            );
        }
    }
}

/// The server still answers a normal load and invoke.
async fn still_serving(broker: &broker::Client) {
    let worker = load(broker, ECHO).await.expect("a normal load works");
    assert_eq!(invoke(&worker, "\"ok\"").await.expect("invoke"), "\"ok\"");
}

// ============================================================================
// Gatekeeper
// ============================================================================

#[test]
fn gatekeeper_authenticate() {
    let (mut server, _dir) = server();
    block_on(async {
        let stream = tokio::net::TcpStream::connect(server.tcp())
            .await
            .expect("tcp");
        let gatekeeper: gatekeeper::Client = bootstrap(stream);
        let big = big_text();
        let cases: [(&str, &[u8]); 4] = [
            ("empty token", b""),
            ("invalid utf-8 token", NOT_UTF8),
            ("token with a nul byte", b"alice-0123\x00456789abcdef"),
            ("token with a newline", b"alice-0123456789abcdef\n"),
        ];
        for (case, token) in cases {
            let mut request = gatekeeper.authenticate_request();
            request.get().set_token(capnp::text::Reader::from(token));
            let result = request.send().promise.await.map(|_| ());
            named(case, result, "unauthenticated: invalid token");
        }
        // A token larger than a message may be before authentication: the
        // broker aborts that connection with a named reason. The reason can
        // be lost to the TCP reset that follows, so a disconnect counts too.
        let mut request = gatekeeper.authenticate_request();
        request.get().set_token(big.as_str());
        match request.send().promise.await {
            Ok(_) => panic!("oversized token: accepted"),
            Err(e) if e.kind == capnp::ErrorKind::Disconnected => {}
            Err(e) => named(
                "oversized token",
                Err::<(), _>(e),
                "before authentication; the limit is 65536",
            ),
        }
        let stream = tokio::net::TcpStream::connect(server.tcp())
            .await
            .expect("tcp");
        let gatekeeper: gatekeeper::Client = bootstrap(stream);
        // An unset token.
        let result = gatekeeper.authenticate_request().send().promise.await;
        named("unset token", result.map(|_| ()), "unauthenticated");
        // Still serving: the right token works on the same connection.
        let mut request = gatekeeper.authenticate_request();
        request.get().set_token(TOKEN);
        let response = request.send().promise.await.expect("authenticate");
        let broker = response.get().unwrap().get_broker().unwrap();
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}

// ============================================================================
// Broker
// ============================================================================

#[test]
fn broker_load_and_get() {
    let (mut server, _dir) = server();
    block_on(async {
        let broker = unix_broker(&server.socket).await;
        let big_source = format!("export default () => 1; // {}", "x".repeat(64 << 20));
        type Fill = Box<dyn Fn(worker_code::Builder<'_>)>;
        let cases: Vec<(&str, Fill, &str)> = vec![
            ("unset code", Box::new(|_| {}), "bad_code"),
            (
                "no modules",
                Box::new(|mut c: worker_code::Builder<'_>| c.set_main_module("main.js")),
                "bad_code",
            ),
            (
                "empty module name",
                Box::new(|c: worker_code::Builder<'_>| {
                    let mut m = c.init_modules(1).get(0);
                    m.set_name("");
                    m.set_source(ECHO);
                }),
                "bad_code",
            ),
            (
                "invalid utf-8 source",
                Box::new(|c: worker_code::Builder<'_>| {
                    let mut m = c.init_modules(1).get(0);
                    m.set_name("main.js");
                    m.set_source(capnp::text::Reader::from(NOT_UTF8));
                }),
                "bad_code",
            ),
            (
                "main module missing",
                Box::new(|mut c: worker_code::Builder<'_>| {
                    c.set_main_module("nope.js");
                    let mut m = c.init_modules(1).get(0);
                    m.set_name("main.js");
                    m.set_source(ECHO);
                }),
                "nope.js",
            ),
            (
                "duplicate module names",
                Box::new(|c: worker_code::Builder<'_>| {
                    let mut list = c.init_modules(2);
                    for i in 0..2 {
                        let mut m = list.reborrow().get(i);
                        m.set_name("main.js");
                        m.set_source(ECHO);
                    }
                }),
                "bad_code",
            ),
            (
                "oversized source",
                Box::new(move |c: worker_code::Builder<'_>| {
                    let mut m = c.init_modules(1).get(0);
                    m.set_name("main.js");
                    m.set_source(big_source.as_str());
                }),
                "module_too_large",
            ),
            (
                "memory limit out of range",
                Box::new(|mut c: worker_code::Builder<'_>| {
                    simple_code(c.reborrow(), ECHO);
                    c.init_limits().set_memory_bytes(u64::MAX);
                }),
                "limit_too_high: memoryBytes",
            ),
            (
                "cpu limit out of range",
                Box::new(|mut c: worker_code::Builder<'_>| {
                    simple_code(c.reborrow(), ECHO);
                    c.init_limits().set_cpu_time_ms(u32::MAX);
                }),
                "limit_too_high: cpuTimeMs",
            ),
            (
                "binding without a capability",
                Box::new(|mut c: worker_code::Builder<'_>| {
                    simple_code(c.reborrow(), ECHO);
                    c.init_env(1).get(0).set_name("thing");
                }),
                "thing",
            ),
            (
                "oversized principal",
                Box::new(|mut c: worker_code::Builder<'_>| {
                    simple_code(c.reborrow(), ECHO);
                    c.set_principal(big_text().as_str());
                }),
                "principal",
            ),
            (
                "syntax error",
                Box::new(|c: worker_code::Builder<'_>| simple_code(c, "export default {")),
                "syntax_error",
            ),
        ];
        for (case, fill, want) in &cases {
            let mut request = broker.load_request();
            fill(request.get().init_code());
            named(case, request.send().promise.await.map(|_| ()), want);
            still_serving(&broker).await;
        }
        for (case, fill, want) in &cases {
            let mut request = broker.get_request();
            request.get().set_id("hostile");
            fill(request.get().init_code());
            named(
                &format!("get: {case}"),
                request.send().promise.await.map(|_| ()),
                want,
            );
        }
        let big = big_text();
        let ids: [(&str, &[u8], &str); 3] = [
            ("empty id", b"", "id"),
            ("oversized id", big.as_bytes(), "id"),
            ("invalid utf-8 id", NOT_UTF8, "id"),
        ];
        for (case, id, want) in ids {
            let mut request = broker.get_request();
            request.get().set_id(capnp::text::Reader::from(id));
            simple_code(request.get().init_code(), ECHO);
            named(case, request.send().promise.await.map(|_| ()), want);
        }
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}

#[test]
fn broker_builtin() {
    let (mut server, _dir) = server();
    block_on(async {
        let broker = unix_broker(&server.socket).await;
        let big = big_text();
        let cases: [(&str, builtin_grant::Kind, &[u8], &str); 6] = [
            (
                "empty fs name",
                builtin_grant::Kind::Fs,
                b"",
                "bad_grant: fs:",
            ),
            (
                "oversized kv name",
                builtin_grant::Kind::Kv,
                big.as_bytes(),
                "bad_grant: kv:",
            ),
            (
                "invalid utf-8 name",
                builtin_grant::Kind::Fs,
                NOT_UTF8,
                "bad_grant: the name is not valid utf-8",
            ),
            (
                "name with a slash",
                builtin_grant::Kind::Fs,
                b"a/b",
                "bad_grant: fs:a/b",
            ),
            (
                "name with a nul byte",
                builtin_grant::Kind::Kv,
                b"a\0b",
                "bad_grant",
            ),
            (
                "unknown policy",
                builtin_grant::Kind::Http,
                b"nowhere",
                "no such policy",
            ),
        ];
        for (case, kind, name, want) in cases {
            let mut request = broker.builtin_request();
            let mut grant = request.get().init_grant();
            grant.set_kind(kind);
            grant.set_name(capnp::text::Reader::from(name));
            named(case, request.send().promise.await.map(|_| ()), want);
        }
        // An unset grant.
        let result = broker.builtin_request().send().promise.await;
        named("unset grant", result.map(|_| ()), "bad_grant");
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}

// ============================================================================
// Worker
// ============================================================================

#[test]
fn worker_invoke_and_entrypoint() {
    let (mut server, _dir) = server();
    block_on(async {
        let broker = unix_broker(&server.socket).await;
        let worker = load(&broker, ECHO).await.expect("load");
        let big = big_text();
        let huge_input = format!("\"{}\"", "x".repeat(40 << 20));
        let huger_input = format!("\"{}\"", "x".repeat(70 << 20));
        let cases: [(&str, &[u8], &[u8], &str); 8] = [
            (
                "unknown entrypoint",
                b"nope",
                b"1",
                "entrypoint \"nope\" not found",
            ),
            ("oversized entrypoint", big.as_bytes(), b"1", "entrypoint"),
            (
                "invalid utf-8 entrypoint",
                NOT_UTF8,
                b"1",
                "bad_input: the entrypoint is not valid utf-8",
            ),
            ("malformed json input", b"run", b"{not json", "input"),
            (
                "invalid utf-8 input",
                b"run",
                NOT_UTF8,
                "bad_input: the input is not valid utf-8",
            ),
            // The echo's answer is larger than the worker's heap.
            (
                "oversized input",
                b"run",
                huge_input.as_bytes(),
                "out of memory",
            ),
            (
                "input past the read limit",
                b"run",
                huger_input.as_bytes(),
                "out of memory",
            ),
            ("nul byte in entrypoint", b"r\0un", b"1", "entrypoint"),
        ];
        for (case, entrypoint, input, want) in cases {
            let mut request = worker.invoke_request();
            request
                .get()
                .set_entrypoint(capnp::text::Reader::from(entrypoint));
            request.get().set_input(capnp::text::Reader::from(input));
            invoke_failed(case, request.send().promise.await, want);
            assert_eq!(invoke(&worker, "7").await.expect("still invokes"), "7");
        }

        let cases: [(&str, &[u8], &str); 4] = [
            ("entrypoint: empty name", b"", "schema"),
            ("entrypoint: oversized name", big.as_bytes(), "schema"),
            ("entrypoint: invalid utf-8 name", NOT_UTF8, "schema"),
            ("entrypoint: unknown export", b"nope", "schema"),
        ];
        for (case, name, want) in cases {
            let mut request = worker.entrypoint_request();
            request
                .get()
                .set_export_name(capnp::text::Reader::from(name));
            named(case, request.send().promise.await.map(|_| ()), want);
        }
        let mut request = worker.entrypoint_request();
        request.get().set_export_name("default");
        {
            let mut schema = request.get().init_interface_schema().init_source();
            let mut file = schema.reborrow().init_files(1).get(0);
            file.set_name("x.capnp");
            file.set_text("@0xnot a schema;");
            schema.set_interface_name("Nope");
        }
        named(
            "entrypoint: malformed schema",
            request.send().promise.await.map(|_| ()),
            "schema_error",
        );
        assert_eq!(invoke(&worker, "8").await.expect("still invokes"), "8");
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}

// ============================================================================
// Volume and Store
// ============================================================================

async fn builtin<T: capnp::capability::FromClientHook>(
    broker: &broker::Client,
    kind: builtin_grant::Kind,
    name: &str,
) -> T {
    let mut request = broker.builtin_request();
    let mut grant = request.get().init_grant();
    grant.set_kind(kind);
    grant.set_name(name);
    let response = request.send().promise.await.expect("builtin");
    response
        .get()
        .unwrap()
        .get_cap()
        .get_as_capability()
        .expect("capability")
}

#[test]
fn volume_methods() {
    let (mut server, _dir) = server();
    block_on(async {
        let broker = unix_broker(&server.socket).await;
        let fs: volume::Client = builtin(&broker, builtin_grant::Kind::Fs, "hostile").await;
        let big = big_text();
        let deep = "a/".repeat(3000);
        let paths: [(&str, &[u8], &str); 6] = [
            ("oversized path", big.as_bytes(), "path too long"),
            ("deep path", deep.as_bytes(), "path too long"),
            ("invalid utf-8 path", NOT_UTF8, "utf-8"),
            ("nul byte in path", b"a\0b", "NUL byte"),
            (
                "path above the root",
                b"../../etc/passwd",
                "escapes the volume root",
            ),
            ("long component", &[b'n'; 300], "component too long"),
        ];
        for (case, path, want) in paths {
            let text = || capnp::text::Reader::from(path);
            let mut r = fs.read_request();
            r.get().set_path(text());
            named(
                &format!("read: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.write_request();
            r.get().set_path(text());
            r.get().set_content(b"x");
            named(
                &format!("write: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.append_request();
            r.get().set_path(text());
            named(
                &format!("append: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.list_request();
            r.get().set_path(text());
            named(
                &format!("list: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.stat_request();
            r.get().set_path(text());
            named(
                &format!("stat: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.mkdir_request();
            r.get().set_path(text());
            named(
                &format!("mkdir: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.remove_request();
            r.get().set_path(text());
            named(
                &format!("remove: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.rename_request();
            r.get().set_from(text());
            r.get().set_to("fine");
            named(
                &format!("rename: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = fs.glob_request();
            r.get().set_pattern(text());
            named(
                &format!("glob: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
        }
        // Out of range: content over the volume quota (64 KiB here).
        let mut r = fs.write_request();
        r.get().set_path("big");
        r.get().set_content(&vec![7u8; 1 << 20]);
        named(
            "write: over quota",
            r.send().promise.await.map(|_| ()),
            "quota",
        );
        let mut r = fs.append_request();
        r.get().set_path("big");
        r.get().set_content(&vec![7u8; 1 << 20]);
        named(
            "append: over quota",
            r.send().promise.await.map(|_| ()),
            "quota",
        );
        // Empty and oversized batches, and a batch with an unset op.
        let mut r = fs.batch_request();
        r.get().init_ops(100_000);
        named(
            "batch: oversized",
            r.send().promise.await.map(|_| ()),
            "batch",
        );
        let mut r = fs.batch_request();
        r.get().init_ops(1);
        named(
            "batch: unset op",
            r.send().promise.await.map(|_| ()),
            "batch op 0",
        );
        let r = fs.batch_request();
        let empty = r.send().promise.await.expect("an empty batch is fine");
        assert_eq!(empty.get().unwrap().get_results().unwrap().len(), 0);
        // Still serving: a normal write, read and usage.
        let mut r = fs.write_request();
        r.get().set_path("ok.txt");
        r.get().set_content(b"fine");
        r.send().promise.await.expect("write");
        let mut r = fs.read_request();
        r.get().set_path("ok.txt");
        let read = r.send().promise.await.expect("read");
        assert_eq!(read.get().unwrap().get_content().unwrap(), b"fine");
        let usage = fs.usage_request().send().promise.await.expect("usage");
        assert_eq!(usage.get().unwrap().get_bytes(), 4);
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}

#[test]
fn store_methods() {
    let (mut server, _dir) = server();
    block_on(async {
        let broker = unix_broker(&server.socket).await;
        let kv: store::Client = builtin(&broker, builtin_grant::Kind::Kv, "hostile").await;
        let big = big_text();
        let keys: [(&str, &[u8], &str); 4] = [
            ("empty key", b"", "key"),
            ("oversized key", big.as_bytes(), "key"),
            ("invalid utf-8 key", NOT_UTF8, "utf-8"),
            ("nul byte in key", b"a\0b", "key"),
        ];
        for (case, key, want) in keys {
            let text = || capnp::text::Reader::from(key);
            let mut r = kv.get_request();
            r.get().set_key(text());
            named(
                &format!("get: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = kv.put_request();
            r.get().set_key(text());
            r.get().set_value(b"v");
            named(
                &format!("put: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = kv.delete_request();
            r.get().set_key(text());
            named(
                &format!("delete: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
            let mut r = kv.put_many_request();
            let mut entry = r.get().init_entries(1).get(0);
            entry.set_key(text());
            entry.set_value(b"v");
            named(
                &format!("putMany: {case}"),
                r.send().promise.await.map(|_| ()),
                want,
            );
        }
        // Oversized value.
        let mut r = kv.put_request();
        r.get().set_key("k");
        r.get().set_value(&vec![1u8; 40 << 20]);
        named(
            "put: oversized value",
            r.send().promise.await.map(|_| ()),
            "value",
        );
        // list: oversized prefix and cursor, malformed cursor.
        for (case, prefix, cursor, want) in [
            ("list: oversized prefix", big.as_bytes(), &b""[..], "prefix"),
            ("list: oversized cursor", &b""[..], big.as_bytes(), "cursor"),
            ("list: invalid utf-8 prefix", NOT_UTF8, &b""[..], "utf-8"),
        ] {
            let mut r = kv.list_request();
            r.get().set_prefix(capnp::text::Reader::from(prefix));
            r.get().set_cursor(capnp::text::Reader::from(cursor));
            named(case, r.send().promise.await.map(|_| ()), want);
        }
        // Out of range limits are clamped, not errors: 0 and u32::MAX.
        for limit in [0, u32::MAX] {
            let mut r = kv.list_request();
            r.get().set_limit(limit);
            r.send().promise.await.expect("list with an extreme limit");
        }
        // Oversized and empty putMany.
        let mut r = kv.put_many_request();
        r.get().init_entries(200_000);
        named(
            "putMany: oversized",
            r.send().promise.await.map(|_| ()),
            "putMany",
        );
        kv.put_many_request()
            .send()
            .promise
            .await
            .expect("an empty putMany is fine");
        // Still serving.
        let mut r = kv.put_request();
        r.get().set_key("k");
        r.get().set_value(b"v");
        r.send().promise.await.expect("put");
        let mut r = kv.get_request();
        r.get().set_key("k");
        let got = r.send().promise.await.expect("get");
        assert_eq!(got.get().unwrap().get_value().unwrap(), b"v");
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}

// ============================================================================
// Gateway
// ============================================================================

#[test]
fn gateway_fetch() {
    let (mut server, _dir) = server();
    block_on(async {
        let broker = unix_broker(&server.socket).await;
        let http: gateway::Client = builtin(&broker, builtin_grant::Kind::Http, "local").await;
        let big = big_text();
        let url_big = format!("http://127.0.0.1:9/{big}");
        let cases: [(&str, &[u8], &[u8], &str); 8] = [
            ("empty url", b"", b"GET", "bad_request"),
            ("malformed url", b"http://[::1", b"GET", "bad_request"),
            ("invalid utf-8 url", NOT_UTF8, b"GET", "bad_request"),
            ("oversized url", url_big.as_bytes(), b"GET", "bad_request"),
            (
                "invalid method",
                b"http://127.0.0.1:9/",
                b"G E T",
                "bad_request",
            ),
            (
                "nul in url",
                b"http://127.0.0.1:9/a\0b",
                b"GET",
                "bad_request",
            ),
            ("denied host", b"http://example.com/", b"GET", "denied"),
            ("denied port", b"http://127.0.0.1:22/", b"GET", "denied"),
        ];
        for (case, url, method, want) in cases {
            let mut r = http.fetch_request();
            let mut request = r.get().init_request();
            request.set_url(capnp::text::Reader::from(url));
            request.set_method(capnp::text::Reader::from(method));
            named(case, r.send().promise.await.map(|_| ()), want);
        }
        // Unset request, oversized body and headers.
        named(
            "unset request",
            http.fetch_request().send().promise.await.map(|_| ()),
            "bad_request",
        );
        let mut r = http.fetch_request();
        let mut request = r.get().init_request();
        request.set_url("http://127.0.0.1:9/");
        request.set_method("POST");
        request.set_body(&vec![0u8; 1 << 20]);
        named(
            "oversized body",
            r.send().promise.await.map(|_| ()),
            "too_large",
        );
        let mut r = http.fetch_request();
        let mut request = r.get().init_request();
        request.set_url("http://127.0.0.1:9/");
        request.reborrow().init_headers(10_000);
        named(
            "too many headers",
            r.send().promise.await.map(|_| ()),
            "too_large",
        );
        let mut r = http.fetch_request();
        let mut request = r.get().init_request();
        request.set_url("http://127.0.0.1:9/");
        let mut header = request.reborrow().init_headers(1).get(0);
        header.set_name(capnp::text::Reader::from(NOT_UTF8));
        header.set_value("v");
        named(
            "invalid utf-8 header name",
            r.send().promise.await.map(|_| ()),
            "bad_request",
        );
        // Still serving: a well-formed fetch gets its usual answer (nothing
        // listens on port 9: connect_failed).
        let mut r = http.fetch_request();
        r.get().init_request().set_url("http://127.0.0.1:9/");
        named(
            "normal fetch",
            r.send().promise.await.map(|_| ()),
            "connect_failed",
        );
        still_serving(&broker).await;
    });
    assert!(server.running(), "caplet serve exited");
}
