//! End to end through the client library: a real `caplet serve` process, its
//! isolate-host processes, and QuickJS, over the Unix socket.

use crate::support;

use caplet_client::{Connection, Error, InvokeErrorKind, Level, WorkerCode};
use support::{block_on, Server};

fn refused(result: Result<caplet_client::Worker, Error>) -> (String, String) {
    match result {
        Err(Error::Refused { kind, message }) => (kind, message),
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(_) => panic!("expected a refusal, got a worker"),
    }
}

fn invoke_error(
    result: Result<caplet_client::Invocation, Error>,
) -> (InvokeErrorKind, String, String) {
    match result {
        Err(Error::Exception { message, stack, .. }) => {
            (InvokeErrorKind::Exception, message, stack)
        }
        Err(Error::Invocation { kind, message, .. }) => (kind, message, String::new()),
        other => panic!("expected an invocation error, got {other:?}"),
    }
}

#[test]
fn output_and_logs_come_back() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "main.js",
            r#"export default {
                async run(input) {
                    console.log("hello", input.name, 42, { a: 1 });
                    console.warn("careful");
                    console.error(new TypeError("bad"));
                    console.debug([1, 2]);
                    return { doubled: input.n * 2 };
                }
            }"#,
        );
        let worker = conn.load(&code).await.unwrap();
        let done = worker
            .invoke("run", r#"{"name":"ada","n":21}"#)
            .await
            .unwrap();
        assert_eq!(done.output, r#"{"doubled":42}"#);
        let logs: Vec<(Level, &str)> = done
            .logs
            .iter()
            .map(|l| (l.level, l.text.as_str()))
            .collect();
        assert_eq!(
            logs,
            vec![
                (Level::Info, r#"hello ada 42 {"a":1}"#),
                (Level::Warn, "careful"),
                (Level::Error, "TypeError: bad"),
                (Level::Debug, "[1,2]"),
            ]
        );
        assert!(done.stats.wall_time > std::time::Duration::ZERO);
        assert!(done.stats.peak_memory_bytes > 0);
    });
}

#[test]
fn a_default_export_function_is_the_run_entrypoint() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "f.js",
            "export default async (input, env, ctx) => [typeof env, typeof ctx, input]",
        );
        let worker = conn.load(&code).await.unwrap();
        assert_eq!(
            worker.invoke("", "7").await.unwrap().output,
            r#"["object","object",7]"#
        );
        assert_eq!(
            worker.invoke("run", "").await.unwrap().output,
            r#"["object","object",null]"#
        );
        let (kind, message, _) = invoke_error(worker.invoke("other", "1").await);
        assert_eq!(kind, InvokeErrorKind::EntrypointNotFound);
        assert!(message.contains("\"other\""), "{message}");
    });
}

#[test]
fn modules_import_each_other_and_json() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "main.js",
            r#"import { twice } from "./lib/math.js";
               import data from "./data.json";
               export default { run() { return twice(data.n); } }"#,
        )
        .module(
            "lib/math.js",
            "import { one } from '../one.js'; export const twice = (n) => n * 2 + one - 1;",
        )
        .module("one.js", "export const one = 1;")
        .module("data.json", r#"{"n": 21}"#);
        let worker = conn.load(&code).await.unwrap();
        assert_eq!(worker.invoke("run", "null").await.unwrap().output, "42");

        let outside = WorkerCode::new("main.js", "import fs from 'fs'; export default {}");
        let (kind, message) = refused(conn.load(&outside).await);
        assert_eq!(kind, "module_not_found");
        // A Node built-in that would grant authority says what to grant.
        assert!(
            message.contains("node:fs is not available in a worker; grant an fs volume"),
            "{message}"
        );
    });
}

#[test]
fn load_errors_name_their_cause() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let (kind, message) = refused(
            conn.load(&WorkerCode::new(
                "bad.js",
                "export default {\n  run() { return 1 +; }\n}",
            ))
            .await,
        );
        assert_eq!(kind, "syntax_error");
        assert!(message.starts_with("bad.js:2:"), "{message}");

        let mut huge = WorkerCode::new("big.js", "export default {}");
        huge.limits.module_bytes = Some(10);
        let (kind, message) = refused(conn.load(&huge).await);
        assert_eq!(kind, "module_too_large");
        assert!(message.contains("over the limit of 10"), "{message}");

        let mut greedy = WorkerCode::new("m.js", "export default {}");
        greedy.limits.cpu_time_ms = Some(u32::MAX);
        let (kind, message) = refused(conn.load(&greedy).await);
        assert_eq!(kind, "limit_too_high");
        assert!(message.starts_with("cpuTimeMs"), "{message}");

        let (kind, _) = refused(conn.load(&WorkerCode::default()).await);
        assert_eq!(kind, "bad_code");

        let mut no_main = WorkerCode::new("a.js", "export default {}");
        no_main.main_module = Some("b.js".into());
        let (kind, message) = refused(conn.load(&no_main).await);
        assert_eq!(kind, "bad_code");
        assert!(message.contains("\"b.js\""), "{message}");

        let (kind, message) = refused(
            conn.load(&WorkerCode::new("x.js", "throw new Error('at load')"))
                .await,
        );
        assert_eq!(kind, "module_evaluation_failed");
        assert!(message.contains("Error: at load"), "{message}");
    });
}

#[test]
fn invocation_errors_name_their_cause() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "w.js",
            r#"function inner() { throw new RangeError("boom"); }
               export default {
                 thrower() { console.log("before"); inner(); },
                 rejecter: async () => { await null; throw "plain string"; },
                 func: () => () => 1,
                 big: () => 10n,
                 cyclic() { const a = {}; a.a = a; return a; },
                 stuck: () => new Promise(() => {}),
                 nothing() {},
               }"#,
        );
        let worker = conn.load(&code).await.unwrap();

        match worker.invoke("thrower", "null").await {
            Err(Error::Exception {
                message,
                stack,
                logs,
                ..
            }) => {
                assert_eq!(message, "RangeError: boom");
                assert!(stack.contains("inner (w.js:1:"), "{stack}");
                assert_eq!(logs.len(), 1, "logs survive a failure");
            }
            other => panic!("{other:?}"),
        }
        let (kind, message, _) = invoke_error(worker.invoke("rejecter", "null").await);
        assert_eq!(
            (kind, message.as_str()),
            (InvokeErrorKind::Exception, "Uncaught plain string")
        );
        for entry in ["func", "big", "cyclic"] {
            let (kind, message, _) = invoke_error(worker.invoke(entry, "null").await);
            assert_eq!(
                kind,
                InvokeErrorKind::OutputNotSerializable,
                "{entry}: {message}"
            );
        }
        let (kind, _, _) = invoke_error(worker.invoke("stuck", "null").await);
        assert_eq!(kind, InvokeErrorKind::NeverSettled);
        let (kind, message, _) = invoke_error(worker.invoke("nothing", "{oops").await);
        assert_eq!(kind, InvokeErrorKind::BadInput);
        assert!(message.starts_with("input is not valid JSON"), "{message}");
        assert_eq!(
            worker.invoke("nothing", "null").await.unwrap().output,
            "null"
        );
    });
}

#[test]
fn get_reuses_a_worker_and_load_makes_a_fresh_one() {
    let server = Server::start(2);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let counter = WorkerCode::new("count.js", "let n = 0; export default { run: () => ++n }");

        let a = conn.get("counter", &counter).await.unwrap();
        let b = conn.get("counter", &counter).await.unwrap();
        assert_eq!(a.invoke("run", "null").await.unwrap().output, "1");
        assert_eq!(
            b.invoke("run", "null").await.unwrap().output,
            "2",
            "get shares module state"
        );

        // The cache is the broker's: a second connection finds the same worker.
        let other = Connection::connect(&server.socket).await.unwrap();
        let c = other.get("counter", &counter).await.unwrap();
        assert_eq!(c.invoke("run", "null").await.unwrap().output, "3");

        let x = conn.load(&counter).await.unwrap();
        let y = conn.load(&counter).await.unwrap();
        assert_eq!(x.invoke("run", "null").await.unwrap().output, "1");
        assert_eq!(
            y.invoke("run", "null").await.unwrap().output,
            "1",
            "load is always fresh"
        );

        let changed = WorkerCode::new("count.js", "export default { run: () => 'other' }");
        let (kind, message) = refused(conn.get("counter", &changed).await);
        assert_eq!(kind, "id_conflict");
        assert!(message.contains("\"counter\""), "{message}");
    });
}

#[test]
fn the_embedded_broker_runs_workers_without_a_server() {
    block_on(async {
        let mut config =
            caplet_broker::Config::new(caplet_broker::HostCommand::caplet(support::caplet_bin()));
        config.hosts = 1;
        let conn = Connection::embedded(config);
        let worker = conn
            .load(&WorkerCode::new(
                "e.js",
                "export default { run: (i) => i.map((x) => x + 1) }",
            ))
            .await
            .unwrap();
        assert_eq!(worker.invoke("run", "[1,2]").await.unwrap().output, "[2,3]");
        conn.close().await;
    });
}

#[test]
fn run_loads_and_invokes_in_one_round_trip() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let done = conn
            .run(
                &WorkerCode::new("r.js", "export default (x) => x * 2"),
                "run",
                "21",
            )
            .await
            .unwrap();
        assert_eq!(done.output, "42");
        // A load failure is what the caller sees, not the pipelined invoke's.
        match conn
            .run(&WorkerCode::new("bad.js", "export default (;"), "run", "1")
            .await
        {
            Err(Error::Refused { kind, message }) => {
                assert_eq!(kind, "syntax_error");
                assert!(message.starts_with("bad.js:1:"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // A worker that throws still reports its exception.
        let (kind, message, _) = invoke_error(
            conn.run(
                &WorkerCode::new("t.js", "export default () => { throw new Error('x') }"),
                "run",
                "",
            )
            .await,
        );
        assert_eq!(
            (kind, message.as_str()),
            (InvokeErrorKind::Exception, "Error: x")
        );
    });
}
