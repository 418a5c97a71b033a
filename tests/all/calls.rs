//! The call log end to end: a worker in a real `caplet serve` makes a
//! pipelined chain, a call on a capability a finished call returned, and a
//! failing call, on Rust capabilities of this process; `Worker.invoke`'s
//! `calls` hold exactly those records. And `caplet run --calls` prints the
//! log as JSON lines.

use crate::support;

use std::rc::Rc;

use caplet_client::{CallRecord, Connection, InterfaceSchema, WorkerCode};
use capnp::capability::Rc as CapRc;
use support::{block_on, Server};

use crate::caps_capnp;

use caps_capnp::{callback, chain, faulty};

const SCHEMA: &str = include_str!("../schemas/caps.capnp");

fn schema(interface: &str) -> InterfaceSchema {
    InterfaceSchema::source("caps.capnp", SCHEMA, format!("caps.capnp:{interface}"))
}

/// A chain whose first link answers only once the gate is opened, so the
/// calls pipelined on it are in flight before it returns.
struct ChainImpl {
    depth: u32,
    gate: Rc<tokio::sync::Notify>,
}

impl chain::Server for ChainImpl {
    async fn get(
        self: CapRc<Self>,
        _: chain::GetParams,
        mut results: chain::GetResults,
    ) -> Result<(), capnp::Error> {
        if self.depth == 0 {
            self.gate.notified().await;
        }
        let link = |depth| -> chain::Client {
            capnp_rpc::new_client(ChainImpl {
                depth,
                gate: self.gate.clone(),
            })
        };
        let mut out = results.get();
        out.set_value(self.depth);
        out.set_next(link(self.depth + 1));
        let mut info = out.init_info();
        info.set_holder(link(self.depth + 100));
        info.set_label(format!("info {}", self.depth));
        Ok(())
    }
}

/// Opens the gate.
struct GateImpl(Rc<tokio::sync::Notify>);

impl callback::Server for GateImpl {
    async fn on_value(
        self: CapRc<Self>,
        params: callback::OnValueParams,
        mut results: callback::OnValueResults,
    ) -> Result<(), capnp::Error> {
        self.0.notify_one();
        results.get().set_doubled(params.get()?.get_n() * 2);
        Ok(())
    }
}

struct FaultyImpl;

impl faulty::Server for FaultyImpl {
    async fn fail(
        self: CapRc<Self>,
        _: faulty::FailParams,
        _: faulty::FailResults,
    ) -> Result<(), capnp::Error> {
        Err(capnp::Error::failed("not_found: no such thing".into()))
    }
}

#[test]
fn the_call_log_records_pipelined_chains_returned_capabilities_and_failures() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.expect("connect");
        let gate = Rc::new(tokio::sync::Notify::new());
        let chain: chain::Client = capnp_rpc::new_client(ChainImpl {
            depth: 0,
            gate: gate.clone(),
        });
        let opener: callback::Client = capnp_rpc::new_client(GateImpl(gate));
        let faulty: faulty::Client = capnp_rpc::new_client(FaultyImpl);
        let code = WorkerCode::new(
            "calls.js",
            "export default { async run(input, env) {
                const first = env.chain.get();
                const second = first.next.get();
                const third = second.info.holder.get();
                await env.gate.onValue({ n: 1 });
                const last = await third;
                const got = await first;
                const later = await got.next.get();
                let failed = null;
                try { await env.faulty.fail({ kind: 'x' }); } catch (e) { failed = e.message; }
                return [last.value, later.value, failed];
            } }",
        )
        .grant("chain", chain, schema("Chain"))
        .grant("gate", opener, schema("Callback"))
        .grant("faulty", faulty, schema("Faulty"));
        let worker = conn.load(&code).await.expect("load");
        // Streamed live too (`LogSink.call`): the same records, in order.
        let streamed = Rc::new(std::cell::RefCell::new(Vec::new()));
        let into = streamed.clone();
        let done = worker
            .invoke_watching(
                "run",
                "null",
                |_| {},
                move |call| into.borrow_mut().push(call),
            )
            .await
            .expect("invoke");
        assert_eq!(done.output, r#"[101,1,"not_found: no such thing"]"#);
        assert_eq!(*streamed.borrow(), done.calls);
        assert_eq!(done.calls_dropped, 0);
        let summary: Vec<(&str, &str, &str, &str, Option<u32>)> = done
            .calls
            .iter()
            .map(|c: &CallRecord| {
                (
                    c.binding.as_str(),
                    c.interface.as_str(),
                    c.method.as_str(),
                    c.outcome.as_str(),
                    c.pipelined_on,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("chain", "Chain", "get", "ok", None),
                ("chain", "Chain", "get", "ok", Some(0)),
                ("chain", "Chain", "get", "ok", Some(1)),
                ("gate", "Callback", "onValue", "ok", None),
                // On a capability the first call returned, after it did.
                ("chain", "Chain", "get", "ok", None),
                ("faulty", "Faulty", "fail", "not_found", None),
            ]
        );
        // `get` has no params; `onValue` and `fail` have one field each.
        assert_eq!(done.calls[0].params_bytes, 0);
        assert!(done.calls[3].params_bytes > 0 && done.calls[5].params_bytes > 0);
        for (i, call) in done.calls.iter().enumerate() {
            if i > 0 {
                assert!(call.start_us >= done.calls[i - 1].start_us, "{i}: {call:?}");
            }
        }
        // The first call waited for the gate, which came after the two
        // pipelined on it.
        assert!(done.calls[0].start_us + done.calls[0].duration_us >= done.calls[3].start_us);
        assert!(done.calls[0].results_bytes > 0);
        assert_eq!(done.calls[5].results_bytes, 0);

        // A second invocation has a log of its own.
        let code = WorkerCode::new(
            "one.js",
            "export default { async run(input, env) { return (await env.gate.onValue({ n: 4 })).doubled; } }",
        )
        .grant("gate", capnp_rpc::new_client::<callback::Client, _>(GateImpl(Rc::new(tokio::sync::Notify::new()))), schema("Callback"));
        let worker = conn.load(&code).await.expect("load");
        for _ in 0..2 {
            let done = worker.invoke("run", "null").await.expect("invoke");
            assert_eq!(done.output, "8");
            assert_eq!(done.calls.len(), 1, "{:?}", done.calls);
        }
    });
}

#[test]
fn the_call_log_keeps_at_most_4096_records_and_counts_the_calls_beyond() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.expect("connect");
        let gate: callback::Client =
            capnp_rpc::new_client(GateImpl(Rc::new(tokio::sync::Notify::new())));
        let code = WorkerCode::new(
            "many.js",
            "export default { async run(n, env) {
                let sum = 0;
                for (let i = 0; i < n; i++) sum += (await env.gate.onValue({ n: 1 })).doubled;
                return sum;
            } }",
        )
        .grant("gate", gate, schema("Callback"))
        .limits(caplet_client::Limits {
            subrequests: Some(10_000),
            ..Default::default()
        });
        let worker = conn.load(&code).await.expect("load");
        let streamed = Rc::new(std::cell::Cell::new(0usize));
        let count = streamed.clone();
        let done = worker
            .invoke_watching("run", "4100", |_| {}, move |_| count.set(count.get() + 1))
            .await
            .expect("invoke");
        assert_eq!(done.output, "8200");
        assert_eq!(done.calls.len(), 4096);
        assert_eq!(done.calls_dropped, 4);
        assert!(done.calls.iter().all(|c| c.outcome == "ok"));
        // What was recorded was streamed, unless the sink fell behind (and
        // then the logs say so).
        let warned = done.logs.iter().any(|l| {
            l.text
                .ends_with("call records not streamed: the log sink was too slow")
        });
        assert!(streamed.get() == 4096 || warned, "{}", streamed.get());
    });
}

#[test]
fn caplet_run_calls_prints_the_log_as_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("w.js");
    std::fs::write(
        &worker,
        "export default { async run(input, env) {
            await env.kv.put({ key: 'a', value: new Uint8Array([1, 2, 3]) });
            const got = await env.kv.get({ key: 'a' });
            try { await env.kv.put({ key: '', value: new Uint8Array() }); } catch (e) {}
            return got.value.length;
        } }",
    )
    .expect("write the worker");
    let data = dir.path().join("data");
    let (code, stdout, stderr) = support::caplet(&[
        "run",
        worker.to_str().expect("UTF-8"),
        "--grant",
        "kv=kv:main",
        "--data",
        data.to_str().expect("UTF-8"),
        "--calls",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "3");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let methods: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["method"].as_str().unwrap_or(""),
                l["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // The store's refusal names its kind (`bad_key: put "": invalid key: empty`).
    assert_eq!(
        methods,
        [("put", "ok"), ("get", "ok"), ("put", "bad_key")],
        "{stderr}"
    );
    let keys: Vec<&str> = lines[0]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "binding",
            "duration_us",
            "interface",
            "method",
            "outcome",
            "params_bytes",
            "pipelined_on",
            "results_bytes",
            "start_us"
        ]
    );
    assert_eq!(lines[0]["binding"], "kv");
    assert_eq!(lines[0]["interface"], "Store");
    assert_eq!(lines[0]["pipelined_on"], serde_json::Value::Null);
}
