//! Budgeted and revocable grants, end to end: Rust capabilities granted with
//! a `Budget` to workers in a real `caplet serve`, called from JS; a
//! `Revoker` from `Worker.revoker` revokes a grant while a call through it
//! is in flight.

use crate::support;

use std::cell::Cell;
use std::rc::Rc;

use caplet_client::{Budget, Connection, InterfaceSchema, WorkerCode};
use capnp::capability::Rc as CapRc;
use support::{block_on, Server};

use crate::caps_capnp;

use caps_capnp::{chain, factory, thing};

const SCHEMA: &str = include_str!("../schemas/caps.capnp");

fn schema(interface: &str) -> InterfaceSchema {
    InterfaceSchema::source("caps.capnp", SCHEMA, format!("caps.capnp:{interface}"))
}

/// A chain whose `get` answers until `hang_from` calls have been made, then
/// never answers, and says so on `hung` (so the test revokes exactly while
/// a call is in flight).
struct HangingChain {
    calls: Rc<Cell<u32>>,
    hang_from: u32,
    hung: Rc<tokio::sync::Notify>,
}

impl chain::Server for HangingChain {
    async fn get(
        self: CapRc<Self>,
        _: chain::GetParams,
        mut results: chain::GetResults,
    ) -> Result<(), capnp::Error> {
        self.calls.set(self.calls.get() + 1);
        if self.calls.get() >= self.hang_from {
            self.hung.notify_one();
            futures::future::pending::<()>().await;
        }
        let mut out = results.get();
        out.set_value(self.calls.get());
        out.set_next(capnp_rpc::new_client(HangingChain {
            calls: self.calls.clone(),
            hang_from: self.hang_from,
            hung: self.hung.clone(),
        }));
        Ok(())
    }
}

struct Things;

impl factory::Server for Things {
    async fn make(
        self: CapRc<Self>,
        params: factory::MakeParams,
        mut results: factory::MakeResults,
    ) -> Result<(), capnp::Error> {
        let label = params.get()?.get_label()?.to_string()?;
        results.get().set_thing(capnp_rpc::new_client(Thing(label)));
        Ok(())
    }

    async fn dropped(
        self: CapRc<Self>,
        _: factory::DroppedParams,
        _: factory::DroppedResults,
    ) -> Result<(), capnp::Error> {
        Ok(())
    }
}

struct Thing(String);

impl caps_capnp::named::Server for Thing {
    async fn name(
        self: CapRc<Self>,
        _: caps_capnp::named::NameParams,
        mut results: caps_capnp::named::NameResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_name(&self.0);
        Ok(())
    }
}

impl thing::Server for Thing {
    async fn touch(
        self: CapRc<Self>,
        _: thing::TouchParams,
        mut results: thing::TouchResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_count(1);
        Ok(())
    }
}

/// Runs `run` once and parses its JSON output.
async fn invoke(worker: &caplet_client::Worker) -> serde_json::Value {
    let out = worker.invoke("run", "null").await.expect("invoke");
    serde_json::from_str(&out.output).expect("JSON output")
}

const CATCH: &str = "const fail = async (p) => { try { await p; return 'ok'; } catch (e) { return `${e.type}: ${e.message}`; } };";

#[test]
fn the_call_over_a_budget_fails_and_the_method_allowlist_holds() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let calls = Rc::new(Cell::new(0));
        let chain: chain::Client = capnp_rpc::new_client(HangingChain {
            calls: calls.clone(),
            hang_from: u32::MAX,
            hung: Rc::default(),
        });
        let things: factory::Client = capnp_rpc::new_client(Things);
        let source = format!(
            "{CATCH}
            export default {{ async run(_, env) {{
              const out = [];
              for (let i = 0; i < 3; i++) out.push(await fail(env.chain.get()));
              // Calls on a capability reached through the grant count too.
              const next = env.chain.get().next;
              out.push(await fail(next.get()));
              out.push(await fail(env.things.make({{ label: 'a' }})));
              out.push(await fail(env.things.dropped()));
              const thing = env.things.make({{ label: 'b' }}).thing;
              out.push(await fail(thing.touch()), (await thing.name()).name);
              return out;
            }} }};"
        );
        let code = WorkerCode::new("main.js", source)
            .grant_budgeted(
                "chain",
                chain,
                schema("Chain"),
                Budget {
                    calls: 4,
                    ..Budget::default()
                },
            )
            .grant_budgeted(
                "things",
                things,
                schema("Factory"),
                Budget {
                    methods: vec!["make".into()],
                    ..Budget::default()
                },
            );
        let worker = conn.load(&code).await.unwrap();
        let out = invoke(&worker).await;
        assert_eq!(out[0], "ok");
        assert_eq!(out[2], "ok");
        // The fourth call is `get` pipelined for `next`; the fifth, on
        // `next`, is one too many.
        assert_eq!(
            out[3],
            "overloaded: budget_exhausted: calls: env.chain: all 4 calls are used"
        );
        assert_eq!(
            calls.get(),
            4,
            "the call over the budget never reached the provider"
        );
        assert_eq!(out[4], "ok");
        assert_eq!(
            out[5],
            "unimplemented: method_not_allowed: dropped is not among the methods granted to env.things"
        );
        assert_eq!(out[6], "ok", "a capability reached keeps its interface");
        assert_eq!(out[7], "b");
        // The budget spans invocations, and a refused call is in the call
        // log with its kind.
        let done = worker.invoke("run", "null").await.expect("invoke");
        let outcomes: Vec<(&str, &str)> = done
            .calls
            .iter()
            .map(|c| (c.method.as_str(), c.outcome.as_str()))
            .collect();
        assert_eq!(outcomes[0], ("get", "budget_exhausted"), "{outcomes:?}");
        assert!(
            outcomes.contains(&("dropped", "method_not_allowed")),
            "{outcomes:?}"
        );
        let again = invoke(&worker).await;
        assert!(
            again[0]
                .as_str()
                .unwrap()
                .starts_with("overloaded: budget_exhausted: calls: "),
            "{again}"
        );
    });
}

#[test]
fn revoking_a_grant_fails_calls_in_flight_later_calls_and_capabilities_reached_through_it() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let calls = Rc::new(Cell::new(0));
        let hung = Rc::new(tokio::sync::Notify::new());
        let chain: chain::Client = capnp_rpc::new_client(HangingChain {
            calls: calls.clone(),
            hang_from: 2,
            hung: hung.clone(),
        });
        let source = format!(
            "{CATCH}
            let kept;
            export default {{
              async run(_, env) {{
                kept = (await env.chain.get()).next;
                const inFlight = await fail(env.chain.get());
                return [inFlight, await fail(env.chain.get()), await fail(kept.get())];
              }},
              // (`kept` itself was released when `run` ended, as every stub is.)
              async later(_, env) {{ return [await fail(env.chain.get())]; }},
            }};"
        );
        let code = WorkerCode::new("main.js", source).grant("chain", chain, schema("Chain"));
        let worker = conn.load(&code).await.unwrap();
        let revoker = worker.revoker("chain").await.unwrap();
        let running = worker.invoke("run", "null");
        let revoke = async {
            hung.notified().await;
            revoker.revoke().await.unwrap();
        };
        let (out, ()) = futures::join!(running, revoke);
        let out: serde_json::Value = serde_json::from_str(&out.unwrap().output).unwrap();
        let revoked = "disconnected: revoked: the grant env.chain was revoked";
        assert_eq!(out, serde_json::json!([revoked, revoked, revoked]));
        assert_eq!(
            calls.get(),
            2,
            "nothing reached the provider after the revocation"
        );
        let later = worker.invoke("later", "null").await.unwrap();
        let later: serde_json::Value = serde_json::from_str(&later.output).unwrap();
        assert_eq!(later, serde_json::json!([revoked]));
        revoker.revoke().await.unwrap();
        let error = worker.revoker("nope").await.err().unwrap();
        assert!(
            error
                .to_string()
                .contains("bad_request: the worker has no grant env.nope"),
            "{error}"
        );
    });
}

#[test]
fn a_cached_worker_is_not_reached_with_another_budget() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = |budget: Budget| {
            let chain: chain::Client = capnp_rpc::new_client(HangingChain {
                calls: Rc::default(),
                hang_from: u32::MAX,
                hung: Rc::default(),
            });
            WorkerCode::new("main.js", "export default {}").grant_budgeted(
                "chain",
                chain,
                schema("Chain"),
                budget,
            )
        };
        let limited = Budget {
            calls: 1,
            ..Budget::default()
        };
        conn.get("cached", &code(limited.clone())).await.unwrap();
        conn.get("cached", &code(limited)).await.unwrap();
        let error = conn
            .get("cached", &code(Budget::default()))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("id_conflict"), "{error}");
    });
}

#[test]
fn grant_options_on_the_command_line_become_a_budget() {
    let (_dir, script) = support::script(
        "kv.js",
        "export default { async run(_, env) {
           const out = [];
           for (let i = 0; i < 3; i++) {
             try { await env.kv.get({ key: 'k' }); out.push('ok'); } catch (e) { out.push(e.message); }
           }
           try { await env.kv.put({ key: 'k', value: new Uint8Array(1) }); } catch (e) { out.push(e.message); }
           return out;
         } };",
    );
    let data = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = support::caplet(&[
        "run",
        script.to_str().unwrap(),
        "--data",
        data.path().to_str().unwrap(),
        "--grant",
        "kv=kv:main,calls=2,methods=get|list",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(out[0], "ok");
    assert_eq!(out[1], "ok");
    assert_eq!(
        out[2],
        "budget_exhausted: calls: env.kv: all 2 calls are used"
    );
    assert_eq!(
        out[3],
        "method_not_allowed: put is not among the methods granted to env.kv"
    );
    let (code, _, stderr) = support::caplet(&[
        "run",
        script.to_str().unwrap(),
        "--data",
        data.path().to_str().unwrap(),
        "--grant",
        "kv=kv:main,methods=nope",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("the budget allows method \"nope\", which its interface does not have"),
        "{stderr}"
    );
}
