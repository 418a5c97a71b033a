//! Capabilities in JavaScript, end to end: Rust capabilities implemented in
//! this test process are granted (with their `.capnp` source) to workers
//! running in a real `caplet serve` and its isolate-hosts, and JS calls them.

use crate::support;

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use caplet_client::{Connection, Error, InterfaceSchema, WorkerCode};
use capnp::capability::Rc as CapRc;
use futures::AsyncReadExt;
use support::{block_on, Server};
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::caps_capnp;

use caps_capnp::{callback, caller, chain, echo, factory, faulty, named, thing};

const SCHEMA: &str = include_str!("../schemas/caps.capnp");

fn schema(interface: &str) -> InterfaceSchema {
    InterfaceSchema::source("caps.capnp", SCHEMA, format!("caps.capnp:{interface}"))
}

/// How long a test waits for an event before failing.
const GUARD: Duration = Duration::from_secs(15);

// ============================================================================
// Providers
// ============================================================================

struct EchoImpl;

impl echo::Server for EchoImpl {
    async fn echo(
        self: CapRc<Self>,
        params: echo::EchoParams,
        mut results: echo::EchoResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_value(params.get()?.get_value()?)?;
        Ok(())
    }

    async fn defaults(
        self: CapRc<Self>,
        params: echo::DefaultsParams,
        mut results: echo::DefaultsResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_value(params.get()?.get_value()?)?;
        Ok(())
    }
}

struct NamedImpl(String);

impl named::Server for NamedImpl {
    async fn name(
        self: CapRc<Self>,
        _: named::NameParams,
        mut results: named::NameResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_name(&self.0);
        Ok(())
    }
}

/// Counts the Cap'n Proto `Call` messages arriving on the test's connection
/// to the broker, by reading the same bytes the RPC system reads.
#[derive(Default)]
struct Tap {
    bytes: RefCell<Vec<u8>>,
    /// Calls on a capability the test exported.
    direct: Cell<u32>,
    /// Calls on the promised result of another call: pipelined calls.
    pipelined: Cell<u32>,
    changed: tokio::sync::Notify,
}

impl Tap {
    fn feed(&self, data: &[u8]) {
        let mut bytes = self.bytes.borrow_mut();
        bytes.extend_from_slice(data);
        loop {
            let mut slice: &[u8] = &bytes;
            let before = slice.len();
            let Ok(message) =
                capnp::serialize::read_message_from_flat_slice(&mut slice, Default::default())
            else {
                break; // incomplete: wait for more bytes
            };
            let consumed = before - slice.len();
            if let Ok(capnp_rpc::rpc_capnp::message::Call(Ok(call))) = message
                .get_root::<capnp_rpc::rpc_capnp::message::Reader>()
                .and_then(|m| m.which().map_err(Into::into))
            {
                match call.get_target().ok().and_then(|t| t.which().ok()) {
                    Some(capnp_rpc::rpc_capnp::message_target::PromisedAnswer(_)) => {
                        self.pipelined.set(self.pipelined.get() + 1)
                    }
                    Some(capnp_rpc::rpc_capnp::message_target::ImportedCap(_)) => {
                        self.direct.set(self.direct.get() + 1)
                    }
                    None => {}
                }
            }
            drop(message);
            bytes.drain(..consumed);
        }
        self.changed.notify_waiters();
    }

    async fn wait_pipelined(&self, at_least: u32) -> Result<(), capnp::Error> {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if self.pipelined.get() >= at_least {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(GUARD, wait).await.map_err(|_| {
            capnp::Error::failed(format!(
                "only {} pipelined call(s) arrived before the first result was due",
                self.pipelined.get()
            ))
        })
    }
}

struct TapReader<R> {
    inner: R,
    tap: Rc<Tap>,
}

impl<R: futures::AsyncRead + Unpin> futures::AsyncRead for TapReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            self.tap.feed(&buf[..*n]);
        }
        polled
    }
}

/// Connects to the server with every incoming byte counted by `tap`.
async fn tapped_connection(server: &Server, tap: Rc<Tap>) -> Connection {
    let stream = tokio::net::UnixStream::connect(&server.socket)
        .await
        .unwrap();
    let (reader, writer) = stream.compat().split();
    Connection::from_io(TapReader { inner: reader, tap }, writer)
}

struct ChainImpl {
    depth: u32,
    /// At depth 0: how many pipelined calls must have arrived before the
    /// first result may go back.
    wait_for: u32,
    tap: Rc<Tap>,
}

impl ChainImpl {
    fn link(&self, depth: u32) -> chain::Client {
        capnp_rpc::new_client(ChainImpl {
            depth,
            wait_for: 0,
            tap: self.tap.clone(),
        })
    }
}

impl chain::Server for ChainImpl {
    async fn get(
        self: CapRc<Self>,
        _: chain::GetParams,
        mut results: chain::GetResults,
    ) -> Result<(), capnp::Error> {
        if self.depth == 0 {
            self.tap.wait_pipelined(self.wait_for).await?;
        }
        let mut out = results.get();
        out.set_value(self.depth);
        out.set_next(self.link(self.depth + 1));
        let mut info = out.init_info();
        info.set_holder(self.link(self.depth + 100));
        info.set_label(format!("info {}", self.depth));
        Ok(())
    }
}

struct CallerImpl;

impl caller::Server for CallerImpl {
    async fn call_back(
        self: CapRc<Self>,
        params: caller::CallBackParams,
        mut results: caller::CallBackResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let target: callback::Client = params.get_target()?;
        let mut request = target.on_value_request();
        request.get().set_n(params.get_n());
        let response = request.send().promise.await?;
        results.get().set_result(response.get()?.get_doubled());
        Ok(())
    }
}

/// Records which `Thing`s were dropped (released by every holder).
#[derive(Default)]
struct Drops {
    labels: RefCell<Vec<String>>,
    changed: tokio::sync::Notify,
}

impl Drops {
    async fn wait_for(&self, label: &str) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if self.labels.borrow().iter().any(|l| l == label) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(GUARD, wait).await.unwrap_or_else(|_| {
            panic!(
                "{label:?} was never released; dropped: {:?}",
                self.labels.borrow()
            )
        });
    }
}

struct ThingImpl {
    label: String,
    touches: Cell<u32>,
    drops: Rc<Drops>,
}

impl Drop for ThingImpl {
    fn drop(&mut self) {
        self.drops.labels.borrow_mut().push(self.label.clone());
        self.drops.changed.notify_waiters();
    }
}

impl named::Server for ThingImpl {
    async fn name(
        self: CapRc<Self>,
        _: named::NameParams,
        mut results: named::NameResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_name(&self.label);
        Ok(())
    }
}

impl thing::Server for ThingImpl {
    async fn touch(
        self: CapRc<Self>,
        _: thing::TouchParams,
        mut results: thing::TouchResults,
    ) -> Result<(), capnp::Error> {
        self.touches.set(self.touches.get() + 1);
        results.get().set_count(self.touches.get());
        Ok(())
    }
}

struct FactoryImpl {
    drops: Rc<Drops>,
}

impl factory::Server for FactoryImpl {
    async fn make(
        self: CapRc<Self>,
        params: factory::MakeParams,
        mut results: factory::MakeResults,
    ) -> Result<(), capnp::Error> {
        let label = params.get()?.get_label()?.to_string()?;
        let thing: thing::Client = capnp_rpc::new_client(ThingImpl {
            label,
            touches: Cell::new(0),
            drops: self.drops.clone(),
        });
        results.get().set_thing(thing);
        Ok(())
    }

    async fn dropped(
        self: CapRc<Self>,
        _: factory::DroppedParams,
        mut results: factory::DroppedResults,
    ) -> Result<(), capnp::Error> {
        let labels = self.drops.labels.borrow();
        let mut out = results.get().init_labels(labels.len() as u32);
        for (i, label) in labels.iter().enumerate() {
            out.set(i as u32, label);
        }
        Ok(())
    }
}

struct FaultyImpl;

impl faulty::Server for FaultyImpl {
    async fn fail(
        self: CapRc<Self>,
        params: faulty::FailParams,
        _: faulty::FailResults,
    ) -> Result<(), capnp::Error> {
        let kind = params.get()?.get_kind()?.to_string()?;
        Err(match kind.as_str() {
            "overloaded" => capnp::Error::overloaded("too busy".into()),
            "disconnected" => capnp::Error::disconnected("gone away".into()),
            "unimplemented" => capnp::Error::unimplemented("not here".into()),
            _ => capnp::Error::failed("it broke".into()),
        })
    }
}

/// A worker of `source` granted a `Factory` as `env.factory`, and the record
/// of the `Thing`s it makes being dropped.
fn with_factory(name: &str, source: &str) -> (WorkerCode, Rc<Drops>) {
    let drops = Rc::new(Drops::default());
    let factory: factory::Client = capnp_rpc::new_client(FactoryImpl {
        drops: drops.clone(),
    });
    let code = WorkerCode::new(name, source).grant("factory", factory, schema("Factory"));
    (code, drops)
}

/// Loads `source` with `code`'s grants and runs it once; returns its output
/// parsed as JSON.
async fn run(conn: &Connection, code: WorkerCode, input: &str) -> serde_json::Value {
    let worker = conn
        .load(&code)
        .await
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let done = worker
        .invoke("run", input)
        .await
        .unwrap_or_else(|e| panic!("invoke failed: {e:?}"));
    serde_json::from_str(&done.output).unwrap()
}

// ============================================================================
// Tests
// ============================================================================

/// Every type goes JS → Cap'n Proto → Rust echo → JS and comes back identical.
#[test]
fn every_type_round_trips_through_a_rust_capability() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let echo: echo::Client = capnp_rpc::new_client(EchoImpl);
        let code = WorkerCode::new("types.js", include_str!("../js/types.js")).grant(
            "echo",
            echo,
            schema("Echo"),
        );
        let out = run(&conn, code, "null").await;
        assert_eq!(out["mismatches"], serde_json::json!([]), "{out:#}");
        assert_eq!(
            out["checked"].as_u64().unwrap(),
            out["cases"].as_u64().unwrap()
        );
        assert!(out["cases"].as_u64().unwrap() >= 6, "{out:#}");
        // Schema defaults: an empty struct reads back every default.
        assert_eq!(out["defaults"], serde_json::json!("ok"), "{out:#}");
    });
}

/// A wrong JS type throws a TypeError (or RangeError) naming the field path.
#[test]
fn wrong_types_throw_errors_naming_the_field() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let echo: echo::Client = capnp_rpc::new_client(EchoImpl);
        let code = WorkerCode::new("errors.js", include_str!("../js/type_errors.js")).grant(
            "echo",
            echo,
            schema("Echo"),
        );
        let out = run(&conn, code, "null").await;
        let expected = [
            "RangeError: params.value.int8Field: 300 out of range for Int8",
            "RangeError: params.value.uInt32Field: expected an integer for UInt32, got 1.5",
            "TypeError: params.value.textField: expected string, got number",
            "TypeError: params.value.int64Field: expected bigint, got string",
            "TypeError: params.value.dataField: expected Uint8Array, got string",
            "TypeError: params.value.enumField: unknown enumerant \"purple\" for enum Color",
            "TypeError: params.value.shape: exactly one of none, circle, square, label, poly must be set",
            "TypeError: params.value.nope: no such field in TestAllTypes",
            "TypeError: params.value.structList[1].int8Field: expected number, got string",
            "TypeError: params.value.listList[0][1]: expected number, got string",
            "TypeError: params.value.interfaceField: expected a capability stub or an object implementing Named, got number",
            "TypeError: params.value: expected object, got string",
        ];
        let got: Vec<String> = out
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, expected);
    });
}

/// `a.get().next.get().next.get()` sends all three calls before the first
/// result returns: the provider holds its first answer until the two
/// pipelined calls have arrived on the wire.
#[test]
fn pipelined_calls_are_sent_before_the_first_result_returns() {
    let server = Server::start(1);
    block_on(async {
        let tap = Rc::new(Tap::default());
        let conn = tapped_connection(&server, tap.clone()).await;
        let chain: chain::Client = capnp_rpc::new_client(ChainImpl {
            depth: 0,
            wait_for: 2,
            tap: tap.clone(),
        });
        let code = WorkerCode::new(
            "chain.js",
            "export default { async run(input, env) {
                const last = await env.chain.get().next.get().next.get();
                return { value: last.value, label: last.info.label };
            } }",
        )
        .grant("chain", chain, schema("Chain"));
        let out = run(&conn, code, "null").await;
        assert_eq!(out, serde_json::json!({ "value": 2, "label": "info 2" }));
        assert_eq!(tap.pipelined.get(), 2, "two calls went to promised answers");
        assert_eq!(
            tap.direct.get(),
            1,
            "one call went to the granted capability"
        );
    });
}

/// A pipelined call (or any thenable) returned without `async` is awaited,
/// as `await` would: the caller gets its value, not the promise object.
#[test]
fn a_returned_thenable_is_followed_to_its_value() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        for (js, expected) in [
            (
                "export default { run: (input, env) => env.chain.get().next.get() }",
                serde_json::json!({ "value": 1 }),
            ),
            (
                "export default () => ({ then(resolve) { resolve(7) } })",
                serde_json::json!(7),
            ),
            (
                "export default () => ({ then: 'not a function', kept: true })",
                serde_json::json!({ "then": "not a function", "kept": true }),
            ),
        ] {
            let chain: chain::Client = capnp_rpc::new_client(ChainImpl {
                depth: 0,
                wait_for: 0,
                tap: Rc::new(Tap::default()),
            });
            let code = WorkerCode::new("t.js", js).grant("chain", chain, schema("Chain"));
            let out = run(&conn, code, "null").await;
            let out = match expected.get("value") {
                Some(_) => serde_json::json!({ "value": out["value"] }),
                None => out,
            };
            assert_eq!(out, expected, "{js}");
        }

        // The same for a method a worker serves as an entrypoint.
        let worker = conn
            .load(&WorkerCode::new(
                "e.js",
                "export const greeter = { name: () => ({ then(resolve) { resolve({ name: 'later' }) } }) };
                 export default {};",
            ))
            .await
            .unwrap();
        let greeter: named::Client = worker
            .entrypoint("greeter", &schema("Named"))
            .await
            .unwrap();
        let name = greeter.name_request().send().promise.await.unwrap();
        assert_eq!(
            name.get().unwrap().get_name().unwrap().to_str().unwrap(),
            "later"
        );
    });
}

/// Capabilities inside a struct field of a result are pipelined too.
#[test]
fn capabilities_inside_result_structs_are_pipelined() {
    let server = Server::start(1);
    block_on(async {
        let tap = Rc::new(Tap::default());
        let conn = tapped_connection(&server, tap.clone()).await;
        let chain: chain::Client = capnp_rpc::new_client(ChainImpl {
            depth: 0,
            wait_for: 1,
            tap: tap.clone(),
        });
        let code = WorkerCode::new(
            "struct.js",
            "export default { async run(input, env) {
                const pending = env.chain.get();
                const viaStruct = await pending.info.holder.get();
                const info = await pending.info;
                return { value: viaStruct.value, label: info.label, whole: (await pending).value };
            } }",
        )
        .grant("chain", chain, schema("Chain"));
        let out = run(&conn, code, "null").await;
        assert_eq!(
            out,
            serde_json::json!({ "value": 100, "label": "info 0", "whole": 0 })
        );
        assert_eq!(tap.pipelined.get(), 1);
    });
}

/// JS passes objects (plain and class instances) where an interface is
/// expected; the Rust capability calls them back during the invocation.
#[test]
fn rust_capabilities_call_back_into_js_objects() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let caller: caller::Client = capnp_rpc::new_client(CallerImpl);
        let code = WorkerCode::new("callbacks.js", include_str!("../js/callbacks.js")).grant(
            "caller",
            caller,
            schema("Caller"),
        );
        let out = run(&conn, code, "null").await;
        assert_eq!(out["sync"], 42);
        assert_eq!(out["async"], 12, "an async callback that itself calls out");
        assert_eq!(out["instance"], 21);
        assert_eq!(out["thrown"][0], "failed");
        assert!(
            out["thrown"][1]
                .as_str()
                .unwrap()
                .contains("Error: nope from js"),
            "{out:#}"
        );
    });
}

/// Stubs are released on `Symbol.dispose` and when the invocation ends; the
/// provider sees its server object dropped.
#[test]
fn stubs_are_released_on_dispose_and_at_invocation_end() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let (code, drops) = with_factory("lifetime.js", include_str!("../js/lifetime.js"));
        let out = run(&conn, code, "null").await;
        assert_eq!(out["touched"], 1);
        assert_eq!(
            out["name"], "kept",
            "inherited method of Thing extends Named"
        );
        assert_eq!(
            out["droppedBeforeEnd"],
            serde_json::json!(["disposed"]),
            "dispose released the stub during the invocation"
        );
        assert!(
            out["afterDispose"]
                .as_str()
                .unwrap()
                .starts_with("ReferenceError: touch(): this capability stub was disposed"),
            "{out:#}"
        );
        assert!(
            out["forged"]
                .as_str()
                .unwrap()
                .starts_with("TypeError: touch() must be called on a capability stub"),
            "{out:#}"
        );
        drops.wait_for("kept").await;
    });
}

/// An answer JS never awaited is not kept past its invocation: the
/// capability in it is released, and awaiting it later rejects.
#[test]
fn answers_never_awaited_are_released_at_invocation_end() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let (code, drops) = with_factory("unawaited.js", include_str!("../js/unawaited.js"));
        let worker = conn.load(&code).await.unwrap();
        let first = worker.invoke("run", r#""stash""#).await.unwrap();
        let first: serde_json::Value = serde_json::from_str(&first.output).unwrap();
        assert_eq!(
            first["before"],
            serde_json::json!([]),
            "held while the invocation ran"
        );
        drops.wait_for("unawaited").await;
        let later = worker.invoke("run", r#""await""#).await.unwrap();
        let later: serde_json::Value = serde_json::from_str(&later.output).unwrap();
        assert_eq!(
            later["later"],
            "ReferenceError: the results of this call were released when its invocation ended"
        );
    });
}

/// Cap'n Proto exceptions reach JS as `RpcError` with their type.
#[test]
fn capnp_exceptions_become_rpc_errors() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let faulty: faulty::Client = capnp_rpc::new_client(FaultyImpl);
        let code = WorkerCode::new(
            "faults.js",
            "export default { async run(input, env) {
                const out = [];
                for (const kind of ['failed', 'overloaded', 'disconnected', 'unimplemented']) {
                    try { await env.faulty.fail({ kind }); out.push('no error'); }
                    catch (e) { out.push([e instanceof RpcError, e instanceof Error, e.name, e.type, e.message]); }
                }
                return out;
            } }",
        )
        .grant("faulty", faulty, schema("Faulty"));
        let out = run(&conn, code, "null").await;
        assert_eq!(
            out,
            serde_json::json!([
                [true, true, "RpcError", "failed", "it broke"],
                [true, true, "RpcError", "overloaded", "too busy"],
                [true, true, "RpcError", "disconnected", "gone away"],
                [true, true, "RpcError", "unimplemented", "not here"],
            ])
        );
    });
}

/// Unusable schemas are refused at load time, naming the place.
#[test]
fn generics_anypointer_and_bad_schemas_are_refused_at_load() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let any: echo::Client = capnp_rpc::new_client(EchoImpl);
        let refusal = |result: Result<caplet_client::Worker, Error>| match result {
            Err(Error::Refused { kind, message }) => (kind, message),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("loaded"),
        };
        let js = "export default { run() {} }";

        let (kind, message) = refusal(
            conn.load(&WorkerCode::new("a.js", js).grant("x", any.clone(), schema("HasAny")))
                .await,
        );
        assert_eq!(kind, "schema_error");
        assert!(
            message.contains("AnyPointer") && message.contains("value"),
            "{message}"
        );

        let (kind, message) = refusal(
            conn.load(&WorkerCode::new("g.js", js).grant("x", any.clone(), schema("Generic")))
                .await,
        );
        assert_eq!(kind, "schema_error");
        assert!(message.to_lowercase().contains("generic"), "{message}");

        let broken = InterfaceSchema::source(
            "bad.capnp",
            "@0xd7c2a1e0b9f84c64;\ninterface X {\n  m @0 () -> (x :Nope);\n}\n",
            "bad.capnp:X",
        );
        let (kind, message) = refusal(
            conn.load(&WorkerCode::new("b.js", js).grant("x", any.clone(), broken))
                .await,
        );
        assert_eq!(kind, "schema_error");
        assert!(message.contains("bad.capnp:3"), "{message}");

        let (kind, message) = refusal(
            conn.load(&WorkerCode::new("n.js", js).grant("not-ok", any, schema("Echo")))
                .await,
        );
        assert_eq!(kind, "bad_code");
        assert!(message.contains("\"not-ok\""), "{message}");
    });
}

/// Stubs can be passed as arguments and come back in results; interfaces
/// that extend others expose the inherited methods.
#[test]
fn stubs_travel_as_arguments_and_results() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let echo: echo::Client = capnp_rpc::new_client(EchoImpl);
        let named: named::Client = capnp_rpc::new_client(NamedImpl("rusty".into()));
        let code = WorkerCode::new(
            "stubs.js",
            "export default { async run(input, env) {
                const base = { setB: 1, shape: { none: null } };
                const viaStub = await env.echo.echo({ value: { ...base, interfaceField: env.named } });
                const viaJs = await env.echo.echo({ value: { ...base, interfaceList: [{ name: () => ({ name: 'from js' }) }, env.named] } });
                const [a, b] = viaJs.value.interfaceList;
                return [
                    (await viaStub.value.interfaceField.name()).name,
                    (await a.name()).name,
                    (await b.name()).name,
                ];
            } }",
        )
        .grant("echo", echo, schema("Echo"))
        .grant("named", named, schema("Named"));
        let out = run(&conn, code, "null").await;
        assert_eq!(out, serde_json::json!(["rusty", "from js", "rusty"]));
    });
}

/// A schema can also be granted as compiled nodes (a `CodeGeneratorRequest`)
/// instead of source; nodes that lack the interface are refused.
#[test]
fn compiled_schema_nodes_are_accepted_as_well_as_source() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let request =
            include_bytes!(concat!(env!("OUT_DIR"), "/tests_schemas.request.bin")).to_vec();
        let named: named::Client = capnp_rpc::new_client(NamedImpl("compiled".into()));
        let compiled = InterfaceSchema::Compiled {
            request: request.clone(),
            interface_id: caps_capnp::named::_private::TYPE_ID,
        };
        let code = WorkerCode::new(
            "c.js",
            "export default { async run(input, env) { return (await env.named.name()).name; } }",
        )
        .grant("named", named.clone(), compiled);
        assert_eq!(run(&conn, code, "null").await, "compiled");

        let missing = InterfaceSchema::Compiled {
            request,
            interface_id: 0x8000_0000_0000_0001,
        };
        let code = WorkerCode::new("m.js", "export default {}").grant("named", named, missing);
        match conn.load(&code).await {
            Err(Error::Refused { kind, message }) => {
                assert_eq!(kind, "schema_error");
                assert!(message.contains("0x8000000000000001"), "{message}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("loaded"),
        }
    });
}

/// A worker serves one of its exports as a typed capability; Rust calls it
/// with a pipelined chain, and through it the worker reaches its own grants.
#[test]
fn workers_serve_typed_entrypoints_with_pipelining() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let named: named::Client = capnp_rpc::new_client(NamedImpl("granted".into()));
        let code = WorkerCode::new(
            "entry.js",
            "let calls = 0;
             const link = (depth) => ({
                 get: () => ({ next: link(depth + 1), value: depth, info: { holder: link(depth + 100), label: `depth ${depth}` } }),
             });
             export const chain = link(0);
             export const greeter = {
                 async name(params, env) { calls++; return { name: `hello ${(await env.named.name()).name} #${calls}` }; },
             };
             export const broken = { name() { throw new TypeError('no name here'); } };
             export const notAnObject = 5;
             export default { run: () => calls };",
        )
        .grant("named", named, schema("Named"));
        let worker = conn.load(&code).await.unwrap();

        let chain: chain::Client = worker.entrypoint("chain", &schema("Chain")).await.unwrap();
        let first = chain.get_request().send();
        let second = first.pipeline.get_next().get_request().send();
        let third = second.pipeline.get_next().get_request().send();
        let via_struct = first.pipeline.get_info().get_holder().get_request().send();
        let third = third.promise.await.unwrap();
        assert_eq!(third.get().unwrap().get_value(), 2);
        assert_eq!(
            third
                .get()
                .unwrap()
                .get_info()
                .unwrap()
                .get_label()
                .unwrap()
                .to_str()
                .unwrap(),
            "depth 2"
        );
        assert_eq!(
            via_struct.promise.await.unwrap().get().unwrap().get_value(),
            100
        );

        let greeter: named::Client = worker
            .entrypoint("greeter", &schema("Named"))
            .await
            .unwrap();
        let name = greeter.name_request().send().promise.await.unwrap();
        assert_eq!(
            name.get().unwrap().get_name().unwrap().to_str().unwrap(),
            "hello granted #1"
        );
        // Module state is shared with invocations.
        assert_eq!(worker.invoke("run", "null").await.unwrap().output, "1");

        let broken: named::Client = worker.entrypoint("broken", &schema("Named")).await.unwrap();
        let err = broken
            .name_request()
            .send()
            .promise
            .await
            .err()
            .expect("a JS exception");
        assert_eq!(err.kind, capnp::ErrorKind::Failed);
        assert!(err.extra.contains("TypeError: no name here"), "{err:?}");

        for (name, expected) in [("missing", "undefined"), ("notAnObject", "int")] {
            match worker
                .entrypoint::<named::Client>(name, &schema("Named"))
                .await
            {
                Err(Error::Refused { kind, message }) => {
                    assert_eq!(kind, "entrypoint_not_found", "{message}");
                    assert!(message.contains(expected), "{message}");
                }
                Err(other) => panic!("{other:?}"),
                Ok(_) => panic!("{name} served"),
            }
        }
    });
}

/// An entrypoint held after its worker is released answers `disconnected`;
/// the host survives (it must never free a runtime that still has objects).
#[test]
fn an_entrypoint_outliving_its_worker_is_disconnected_and_the_host_survives() {
    let server = Server::start(1);
    let host = server.host_pids();
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "e.js",
            "export const greeter = { name: () => ({ name: 'hi' }) }; export default {};",
        );
        let worker = conn.load(&code).await.unwrap();
        let greeter: named::Client = worker
            .entrypoint("greeter", &schema("Named"))
            .await
            .unwrap();
        assert_eq!(
            greeter
                .name_request()
                .send()
                .promise
                .await
                .unwrap()
                .get()
                .unwrap()
                .get_name()
                .unwrap()
                .to_str()
                .unwrap(),
            "hi"
        );
        drop(worker);
        // Round trips until the release reached the host and the worker is gone.
        let mut answered = 0;
        let err = loop {
            match greeter.name_request().send().promise.await {
                Ok(_) => answered += 1,
                Err(err) => break err,
            }
            assert!(answered < 10_000, "the worker never went away");
        };
        assert_eq!(err.kind, capnp::ErrorKind::Disconnected, "{err:?}");
        let other = conn
            .load(&WorkerCode::new("o.js", "export default () => 'alive'"))
            .await
            .unwrap();
        assert_eq!(
            other.invoke("run", "null").await.unwrap().output,
            "\"alive\""
        );
    });
    assert_eq!(server.host_pids(), host, "the isolate-host did not crash");
}

/// A worker's own exported object, come back as a stub, is called from the
/// worker, and calls out itself: its JS runs while the worker's tasks are
/// being polled, and may push new ones (this used to panic the host).
#[test]
fn a_workers_own_export_called_back_through_a_stub_can_call_out() {
    let server = Server::start(1);
    let host = server.host_pids();
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let echo: echo::Client = capnp_rpc::new_client(EchoImpl);
        let named: named::Client = capnp_rpc::new_client(NamedImpl("rusty".into()));
        let code = WorkerCode::new(
            "own.js",
            "export default { async run(input, env) {
                const mine = { async name() { return { name: 'via ' + (await env.named.name()).name }; } };
                const back = await env.echo.echo({ value: { setB: 1, shape: { none: null }, interfaceField: mine } });
                return (await back.value.interfaceField.name()).name;
            } }",
        )
        .grant("echo", echo, schema("Echo"))
        .grant("named", named, schema("Named"));
        assert_eq!(run(&conn, code, "null").await, "via rusty");
    });
    assert_eq!(server.host_pids(), host, "the isolate-host did not crash");
}

/// A `Named` whose `name()` never answers: it says when a call arrives,
/// and when the caller cancels it (its future is dropped).
#[derive(Default)]
struct Hanging {
    calls: Cell<u32>,
    cancelled: Cell<u32>,
    changed: tokio::sync::Notify,
}

impl Hanging {
    async fn wait(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if done(self) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(GUARD, wait)
            .await
            .unwrap_or_else(|_| panic!("the hanging call was never {what}"));
    }
}

struct HangingImpl(Rc<Hanging>);

/// Counts a hanging call as cancelled when its future is dropped.
struct OnCancel(Rc<Hanging>);

impl Drop for OnCancel {
    fn drop(&mut self) {
        self.0.cancelled.set(self.0.cancelled.get() + 1);
        self.0.changed.notify_waiters();
    }
}

impl named::Server for HangingImpl {
    async fn name(
        self: CapRc<Self>,
        _: named::NameParams,
        _: named::NameResults,
    ) -> Result<(), capnp::Error> {
        let _cancel = OnCancel(self.0.clone());
        self.0.calls.set(self.0.calls.get() + 1);
        self.0.changed.notify_waiters();
        std::future::pending().await
    }
}

/// A client that cancels an invocation (drops the call, so capnp-rpc sends
/// `Finish`) ends it exactly as if it had returned: the stub it kept in
/// module state is released, the call it waited on and its interval are
/// cancelled, and the worker, its module state intact, answers the next
/// invocation.
#[test]
fn a_cancelled_invocation_ends_like_any_other() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let hanging = Rc::new(Hanging::default());
        let hang: named::Client = capnp_rpc::new_client(HangingImpl(hanging.clone()));
        let named: named::Client = capnp_rpc::new_client(NamedImpl("reached".into()));
        let code = WorkerCode::new(
            "cancelled.js",
            "let kept; let runs = 0; let ticks = 0;
             export default async (input, env) => {
               runs++;
               if (input === 'keep') {
                 kept = env.named;
                 setInterval(() => ticks++, 1);
                 await env.hang.name();
                 return 'never';
               }
               const before = ticks;
               await new Promise((resolve) => setTimeout(resolve, 30));
               let called;
               try { called = `kept stub works: ${(await kept.name()).name}`; }
               catch (e) { called = e.message; }
               return `run ${runs}: ${called}; ticks since: ${ticks - before}`;
             };",
        )
        .grant("named", named, schema("Named"))
        .grant("hang", hang, schema("Named"));
        let worker = conn.load(&code).await.unwrap();
        {
            let first = worker.invoke("run", r#""keep""#);
            futures::pin_mut!(first);
            tokio::select! {
                _ = &mut first => panic!("the first invocation answered"),
                () = hanging.wait("called", |h| h.calls.get() == 1) => {}
            }
            // Dropping the call cancels it.
        }
        let second = worker.invoke("run", r#""use""#).await.unwrap();
        assert_eq!(
            second.output,
            r#""run 2: name(): this capability stub was disposed; ticks since: 0""#,
            "the kept stub was released, and the interval cancelled, when the cancelled invocation ended"
        );
        hanging.wait("cancelled", |h| h.cancelled.get() == 1).await;
        let third = worker.invoke("run", r#""use""#).await.unwrap();
        assert_eq!(
            third.output,
            r#""run 3: name(): this capability stub was disposed; ticks since: 0""#
        );
    });
}
