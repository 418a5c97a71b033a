//! End to end: every answer stays under the message limit, and one worker's
//! call never ends an isolate-host or another worker's call; a log sink that
//! never answers costs a bounded, temporary amount of memory. Against real
//! `caplet serve` processes, real SQLite files and real processes' RSS.

use crate::support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet::caplet_capnp::{broker, log_line, log_sink};
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::AsyncReadExt as _;
use tokio_util::compat::TokioAsyncReadCompatExt;

use caplet_client::{Builtin, Connection, InterfaceSchema, Limits, WorkerCode};
use capnp::capability::Rc as CapRc;
use support::{block_on, Server};

use crate::caps_capnp;

/// How long a test waits for an event before failing.
const GUARD: Duration = Duration::from_secs(20);

/// The resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib << 10
}

/// Waits (polling /proc, at most [`GUARD`]) until the broker's RSS is at
/// most `limit`; returns the RSS seen last.
async fn rss_falls_to(server: &Server, limit: u64) -> u64 {
    let deadline = Instant::now() + GUARD;
    loop {
        let now = rss(server.child.id());
        if now <= limit || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `Named.name()` that answers once `open` fires: an invocation in flight
/// on the host for as long as the test wants.
struct Gate {
    open: RefCell<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl caps_capnp::named::Server for Gate {
    async fn name(
        self: CapRc<Self>,
        _: caps_capnp::named::NameParams,
        mut results: caps_capnp::named::NameResults,
    ) -> Result<(), capnp::Error> {
        let open = self.open.borrow_mut().take();
        let open = open.ok_or_else(|| capnp::Error::failed("called twice".into()))?;
        match tokio::time::timeout(GUARD, open).await {
            Ok(Ok(())) => {
                results.get().set_name("the neighbour finished");
                Ok(())
            }
            _ => Err(capnp::Error::failed("the gate never opened".into())),
        }
    }
}

/// A worker whose invocation waits on a [`Gate`]; returns the gate's key.
fn neighbour() -> (WorkerCode, tokio::sync::oneshot::Sender<()>) {
    let (open, gate) = tokio::sync::oneshot::channel();
    let gate: caps_capnp::named::Client = capnp_rpc::new_client(Gate {
        open: RefCell::new(Some(gate)),
    });
    let code = WorkerCode::new(
        "neighbour.js",
        "export default async (input, env) => (await env.gate.name()).name;",
    )
    .grant(
        "gate",
        gate,
        InterfaceSchema::source(
            "caps.capnp",
            include_str!("../schemas/caps.capnp"),
            "caps.capnp:Named",
        ),
    );
    (code, open)
}

/// Runs `attack` while a neighbour's invocation is in flight on the same
/// (only) host, then checks that the neighbour still finishes and that the
/// host is the same process.
async fn beside_a_neighbour<F, T>(server: &Server, conn: &Connection, attack: F) -> T
where
    F: std::future::Future<Output = T>,
{
    let hosts = server.host_pids();
    assert_eq!(hosts.len(), 1);
    let (code, open) = neighbour();
    let worker = conn.load(&code).await.expect("load the neighbour");
    let waiting = tokio::task::spawn_local(async move { worker.invoke("run", "null").await });
    let result = attack.await;
    let _ = open.send(());
    let done = tokio::time::timeout(GUARD, waiting)
        .await
        .expect("the neighbour never finished")
        .expect("the neighbour's task")
        .expect("the neighbour's call failed");
    assert_eq!(done.output, r#""the neighbour finished""#);
    assert_eq!(server.host_pids(), hosts, "the isolate-host was replaced");
    result
}

fn data_dir_server(hosts: u16) -> (Server, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(hosts, &["--data", data.path().to_str().unwrap()]);
    (server, data)
}

/// Issue 14's reproduction with the real limits: 85 values of 1 MiB listed
/// in one `kv.list` made an 85 MiB answer, which ended the host (and the
/// neighbour's call) and left the broker 200 MB larger.
#[test]
fn a_kv_listing_over_the_message_limit_comes_in_pages_and_harms_no_one() {
    let (server, _data) = data_dir_server(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let fill = WorkerCode::new(
            "fill.js",
            "export default { async run(i, env) { const v = new Uint8Array(1 << 20).fill(7);
               for (let k = 0; k < 85; k++) await env.kv.put({ key: 'k' + String(k).padStart(2, '0'), value: v });
               return (await env.kv.list({ prefix: '', cursor: '', limit: 10, keysOnly: true })).entries.length; } };",
        )
        .grant_builtin("kv", Builtin::kv("amp"));
        let filled = conn.run(&fill, "run", "null").await.unwrap();
        assert_eq!(filled.output, "10");
        let before = rss(server.child.id());

        let list = WorkerCode::new(
            "list.js",
            "export default { async run(i, env) {
               const first = await env.kv.list({ prefix: '', cursor: '', limit: 1000 });
               let cursor = first.cursor, seen = first.entries.length, pages = 1;
               while (cursor) {
                 const page = await env.kv.list({ prefix: '', cursor, limit: 1000 });
                 seen += page.entries.length; cursor = page.cursor; pages++;
               }
               return { first: first.entries.length, seen, pages }; } };",
        )
        .grant_builtin("kv", Builtin::kv("amp"));
        let listed = beside_a_neighbour(&server, &conn, conn.run(&list, "run", "null")).await;
        let listed: serde_json::Value =
            serde_json::from_str(&listed.expect("the listing failed").output).unwrap();
        // A page holds at most 32 MiB (kv.capnp), so 31 values of 1 MiB.
        assert_eq!(listed["first"], 31, "{listed}");
        assert_eq!(listed["seen"], 85, "{listed}");
        assert_eq!(listed["pages"], 3, "{listed}");

        // Its memory is given back.
        let after = rss_falls_to(&server, before + (16 << 20)).await;
        assert!(
            after <= before + (16 << 20),
            "broker RSS {} MiB before, {} MiB after",
            before >> 20,
            after >> 20
        );
    });
}

/// Issue 14: `fs.batch` with 12 reads of a 16 MiB file built a 192 MiB
/// answer. It now fails with `too_large` before reading past the bound.
#[test]
fn an_fs_batch_reading_past_the_bound_fails_too_large_and_harms_no_one() {
    let (server, _data) = data_dir_server(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let write = WorkerCode::new(
            "write.js",
            "export default async (i, env) => {
               await env.fs.write({ path: '/big', content: new Uint8Array(16 << 20).fill(7) });
               return (await env.fs.stat({ path: '/big' })).entry.size; };",
        )
        .grant_builtin("fs", Builtin::fs("amp"));
        let written = conn.run(&write, "run", "null").await.unwrap();
        assert_eq!(written.output, (16 << 20).to_string());
        let before = rss(server.child.id());

        let batch = WorkerCode::new(
            "batch.js",
            "export default async (i, env) => {
               const ops = Array.from({ length: i.reads }, () => ({ read: { path: '/big' } }));
               try { return (await env.fs.batch({ ops })).results.length; }
               catch (e) { return `${e.type}: ${e.message}`; } };",
        )
        .grant_builtin("fs", Builtin::fs("amp"));
        let worker = conn.load(&batch).await.unwrap();
        let refused = beside_a_neighbour(&server, &conn, worker.invoke("run", r#"{"reads":12}"#))
            .await
            .expect("the batch's invocation failed");
        assert_eq!(
            refused.output,
            r#""failed: too_large: batch op 1: read /big: the batch results would be over 33554432 bytes""#
        );
        // Within the bound, a batch reads as before.
        let read = worker.invoke("run", r#"{"reads":1}"#).await.unwrap();
        assert_eq!(read.output, "1");

        let after = rss_falls_to(&server, before + (16 << 20)).await;
        assert!(
            after <= before + (16 << 20),
            "broker RSS {} MiB before, {} MiB after",
            before >> 20,
            after >> 20
        );
    });
}

/// The isolate-host checks what it sends. The codec keeps the words of a
/// payload under 64 MiB, but every capability in it also takes an entry in
/// the message's capability table: 4 million of them made a 96 MiB message,
/// and the broker, refusing it, ended the host's connection and every
/// worker's calls with it. It now fails its one call.
#[test]
fn a_worker_cannot_answer_more_than_one_message_holds() {
    let (server, _data) = data_dir_server(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let (code, open) = neighbour();
        let _ = open.send(());
        let code = WorkerCode {
            modules: Vec::new(),
            ..code
        }
        .module(
            "echo.js",
            "export const echo = {
               echo({ value }, env) { return { value: { unsetA: null, shape: { circle: 0 }, interfaceList: Array(value.int32Field).fill(env.gate) } }; } };
             export default () => 'ready';",
        )
        .limits(Limits {
            memory_bytes: Some(512 << 20),
            ..Limits::default()
        });
        let worker = conn.load(&code).await.unwrap();
        let schema = InterfaceSchema::source(
            "caps.capnp",
            include_str!("../schemas/caps.capnp"),
            "caps.capnp:Echo",
        );
        let echo: caps_capnp::echo::Client = worker.entrypoint("echo", &schema).await.unwrap();
        let make = |caps: i32| {
            let mut request = echo.echo_request();
            request.get().init_value().set_int32_field(caps);
            request.send().promise
        };
        let Err(error) = beside_a_neighbour(&server, &conn, make(4_000_000)).await else {
            panic!("a 96 MiB answer was sent");
        };
        assert!(
            error
                .extra
                .contains("too_large: the results of Echo.echo is "),
            "{error}"
        );
        let small = make(3).await.expect("an answer of 3 capabilities");
        let value = small.get().unwrap().get_value().unwrap();
        assert_eq!(value.get_interface_list().unwrap().len(), 3);
    });
}

/// Issue 14: an http policy whose `max_response_bytes` is over what one
/// answer can carry is refused when the configuration is read.
#[test]
fn a_response_limit_over_the_message_limit_is_refused_at_config_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("caplet.toml");
    std::fs::write(
        &config,
        "[http.big]\nhosts = [\"example.com\"]\nlimits = { max_response_bytes = 104857600 }\n",
    )
    .unwrap();
    let (script_dir, script) = support::script("one.js", "export default () => 1");
    let (code, stdout, stderr) = support::caplet(&[
        "run",
        script.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--data",
        dir.path().join("data").to_str().unwrap(),
    ]);
    drop(script_dir);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "http.big: bad_config: limits.max_response_bytes = 104857600 is over 67108864"
        ),
        "{stderr}"
    );
}

// ============================================================================
// A log sink that never answers
// ============================================================================

/// A `LogSink` that never answers; counts the lines it got and the writes
/// it still holds (capnp-rpc drops a held write when its caller lets go).
#[derive(Clone, Default)]
struct Silent {
    received: Rc<Cell<usize>>,
    held: Rc<Cell<usize>>,
}

struct Held(Rc<Cell<usize>>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl log_sink::Server for Silent {
    async fn write(
        self: CapRc<Self>,
        _: log_sink::WriteParams,
        _: log_sink::WriteResults,
    ) -> Result<(), capnp::Error> {
        self.received.set(self.received.get() + 1);
        self.held.set(self.held.get() + 1);
        let _held = Held(self.held.clone());
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// A raw RPC connection to `server`'s socket, for what the client library
/// does not expose (a `LogSink` of the test's own).
async fn raw_broker(server: &Server) -> broker::Client {
    let stream = tokio::net::UnixStream::connect(&server.socket)
        .await
        .expect("connect");
    let (reader, writer) = stream.compat().split();
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(reader),
        futures::io::BufWriter::new(writer),
        rpc_twoparty_capnp::Side::Client,
        Default::default(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let broker = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(rpc);
    broker
}

const LOUD: &str = "export default () => { for (let i = 0; i < 3000; i++) console.log('line ' + i); return 'done'; };";

/// Issue 14: a sink that never answers, passed to invocations logging
/// 20,000 lines on one connection after another, grew the broker by about
/// 3.5 MiB per invocation, kept after the connections closed (here 3,000
/// lines, enough and faster). Now at most
/// `MAX_OUTSTANDING_WRITES` (1024) writes wait for the sink, the rest are
/// dropped and counted, and the broker lets go of the waiting ones when the
/// invocation ends.
#[test]
fn a_log_sink_that_never_answers_costs_a_bounded_and_temporary_amount() {
    let server = Server::start(1);
    block_on(async {
        let mut warm = 0;
        for round in 0..4 {
            let broker = raw_broker(&server).await;
            let mut load = broker.load_request();
            let mut code = load.get().init_code();
            // Sending 3,000 lines takes more than a second in a debug build.
            code.reborrow().init_limits().set_cpu_time_ms(60_000);
            let mut module = code.init_modules(1).get(0);
            module.set_name("loud.js");
            module.set_source(LOUD);
            let worker = load.send().pipeline.get_worker();
            let sink = Silent::default();
            let mut invoke = worker.invoke_request();
            invoke
                .get()
                .set_log_sink(capnp_rpc::new_client(sink.clone()));
            let response = tokio::time::timeout(GUARD, invoke.send().promise)
                .await
                .expect("the invocation never answered")
                .expect("the invocation failed");
            let results = response.get().unwrap();
            if results.has_error() {
                panic!(
                    "the invocation failed: {:?}",
                    results.get_error().unwrap().get_message().unwrap()
                );
            }
            assert_eq!(results.get_output().unwrap(), r#""done""#);
            let logs = results.get_logs().unwrap();
            // The broker forwarded the first 1024 and dropped the rest.
            let last = logs.get(logs.len() - 1);
            assert_eq!(last.get_level().unwrap(), log_line::Level::Warn);
            assert_eq!(
                last.get_text().unwrap(),
                "1976 log lines dropped: the log sink was too slow"
            );
            assert_eq!(logs.get(0).get_text().unwrap(), "line 0");
            // Once the invocation has ended the broker holds none of them:
            // it let go of each (capnp-rpc told this side, which dropped it).
            let deadline = Instant::now() + GUARD;
            while sink.held.get() > 0 && Instant::now() < deadline {
                tokio::task::yield_now().await;
            }
            assert_eq!(sink.held.get(), 0, "writes still held after the invocation");
            assert_eq!(sink.received.get(), 1024);
            if round == 1 {
                warm = rss(server.child.id());
            }
        }
        // Nothing accumulates from one invocation to the next.
        let after = rss_falls_to(&server, warm + (8 << 20)).await;
        assert!(
            after <= warm + (8 << 20),
            "broker RSS {} MiB after two invocations, {} MiB after four",
            warm >> 20,
            after >> 20
        );
    });
}
