//! Capabilities in JavaScript: the stubs a worker holds, the calls it makes
//! on them, pipelined results, and JS objects served back as capabilities.
//!
//! - A *stub* is an instance of the native `Capability` class whose prototype
//!   carries one function per method of its interface (inherited methods
//!   included). The capability lives in Rust, inside the instance, so a stub
//!   cannot be forged (`Object.create(Object.getPrototypeOf(stub))` has no
//!   capability inside) and is released on `stub[Symbol.dispose]()` or when
//!   the invocation ends.
//! - A call encodes its params with the schema-driven codec, sends a dynamic
//!   capnp call, and returns a *pipelined promise*: awaitable (its `then` is
//!   the real promise's), and before it resolves, reading a capability field
//!   gives a stub for the pipelined capability, and reading a struct field
//!   gives a nested pipeline — so `a.get().b.get()` sends both calls at once.
//! - A plain JS object passed where an interface is expected is exported:
//!   calls on it run the object's methods inside the worker (see [`export`]).
//!   An export lives as long as the other side holds it; so does a typed
//!   entrypoint, which is an export of one of the main module's exports.
//! - Cap'n Proto exceptions reach JS as `RpcError` (a subclass of `Error`)
//!   with `type` set to `failed`, `overloaded`, `disconnected` or
//!   `unimplemented`.

mod export;
mod pipeline;
mod stub;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use caplet_capnp_js::codec::raw::ClientHook;
use caplet_capnp_js::codec::{self, CapReader, CapWriter, CodecError};
use caplet_capnp_js::schema::{IdMap, SchemaSet};
use rquickjs::{Ctx, Function, Object, Persistent, Value};

use crate::invocation::{Core, Held};

pub use export::Export;
pub use stub::StubCell;

/// A capability granted to the worker, visible as `env.<name>`.
#[derive(Clone)]
pub struct Binding {
    pub name: String,
    pub client: capnp::capability::Client,
    pub interface_id: u64,
}

/// Per-worker capability state. Holds JS values, so it is dropped before the
/// worker's isolate (see `worker::JsWorker`).
pub struct Caps {
    me: Weak<Caps>,
    core: Weak<Core>,
    /// Every interface the worker meets: its bindings' and its entrypoints'.
    schema: RefCell<Rc<SchemaSet>>,
    bindings: Vec<Binding>,
    /// Objects exported as capabilities, by export id. They live here, not
    /// in their `Export` (which the other side may hold past the worker's
    /// life): QuickJS must never free a runtime while a handle on one of its
    /// objects is alive.
    exported: RefCell<IdMap<Persistent<Object<'static>>>>,
    next_export: std::cell::Cell<u64>,
    /// Prototypes of stubs by interface id, and of pipelines by layout id.
    stub_protos: RefCell<IdMap<Persistent<Object<'static>>>>,
    pipeline_protos: RefCell<IdMap<Persistent<Object<'static>>>>,
    /// Captured before any worker code ran, so user code cannot swap them.
    intrinsics: RefCell<Option<Intrinsics>>,
}

#[derive(Clone)]
struct Intrinsics {
    then: Persistent<Function<'static>>,
    finally: Persistent<Function<'static>>,
    rpc_error_proto: Persistent<Object<'static>>,
}

impl Caps {
    pub fn new(core: Weak<Core>, schema: Rc<SchemaSet>, bindings: Vec<Binding>) -> Rc<Self> {
        Rc::new_cyclic(|me| Self {
            me: me.clone(),
            core,
            schema: RefCell::new(schema),
            bindings,
            exported: RefCell::default(),
            next_export: std::cell::Cell::new(0),
            stub_protos: RefCell::default(),
            pipeline_protos: RefCell::default(),
            intrinsics: RefCell::new(None),
        })
    }

    /// The binding called `name`, if the worker has one.
    pub fn binding(&self, name: &str) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.name == name)
    }

    /// The worker's schemas.
    pub fn schema(&self) -> Rc<SchemaSet> {
        self.schema.borrow().clone()
    }

    /// Adds the nodes of `more` (an entrypoint's interface) to the worker's
    /// schemas; nodes already known are kept.
    pub fn add_schema(&self, more: &SchemaSet) -> Result<(), caplet_capnp_js::schema::SchemaError> {
        let current = self.schema();
        if more.node_ids().all(|id| current.node(id).is_ok()) {
            // Nothing new (the usual case when an entrypoint is asked for
            // again): no rebuild.
            return Ok(());
        }
        let mut readers = Vec::new();
        for id in current.node_ids() {
            readers.push(current.node(id)?);
        }
        for id in more.node_ids().filter(|id| current.node(*id).is_err()) {
            readers.push(more.node(id)?);
        }
        let nodes: Vec<_> = readers.iter().map(|r| r.get()).collect::<Result<_, _>>()?;
        *self.schema.borrow_mut() = Rc::new(SchemaSet::from_nodes(nodes)?);
        Ok(())
    }

    /// Exports `object` as a capability implementing `interface_id`: calls
    /// on it run its methods in this worker.
    pub fn export<'js>(
        &self,
        ctx: &Ctx<'js>,
        object: Object<'js>,
        interface_id: u64,
    ) -> capnp::capability::Client {
        let id = self.next_export.get();
        self.next_export.set(id + 1);
        self.exported
            .borrow_mut()
            .insert(id, Persistent::save(ctx, object));
        caplet_capnp_js::dynamic::client(Export::new(self.me.clone(), id, interface_id))
    }

    /// The object behind export `id`, while it is exported.
    fn exported(&self, id: u64) -> Option<Persistent<Object<'static>>> {
        self.exported.borrow().get(&id).cloned()
    }

    /// Lets go of export `id` (its capability was released).
    fn unexport(&self, id: u64) {
        let object = self.exported.borrow_mut().remove(&id);
        drop(object);
    }

    /// Installs `RpcError` and `Symbol.dispose`, and captures the promise
    /// functions the pipelines use. Runs before any worker code.
    pub fn install(&self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        let globals = ctx.globals();
        let symbol: Object = globals.get("Symbol")?;
        if symbol.get::<_, Value>("dispose")?.is_undefined() {
            let make: Function = globals.get("Symbol")?;
            let dispose: Value = make.call(("Symbol.dispose",))?;
            symbol.prop("dispose", rquickjs::object::Property::from(dispose))?;
        }
        let promise: Object = globals.get("Promise")?;
        let promise_proto: Object = promise.get("prototype")?;
        let then: Function = promise_proto.get("then")?;
        let finally: Function = promise_proto.get("finally")?;

        let error: Object = globals.get("Error")?;
        let error_proto: Object = error.get("prototype")?;
        let rpc_error_proto = Object::new(ctx.clone())?;
        rpc_error_proto.set_prototype(Some(&error_proto))?;
        rpc_error_proto.set("name", "RpcError")?;
        let constructor = Function::new(ctx.clone(), |ctx: Ctx<'_>| -> rquickjs::Result<()> {
            Err(rquickjs::Exception::throw_type(
                &ctx,
                "RpcError is thrown by capability calls, not constructed",
            ))
        })?;
        constructor.set("prototype", rpc_error_proto.clone())?;
        rpc_error_proto.set("constructor", constructor.clone())?;
        globals.set("RpcError", constructor)?;

        *self.intrinsics.borrow_mut() = Some(Intrinsics {
            then: Persistent::save(ctx, then),
            finally: Persistent::save(ctx, finally),
            rpc_error_proto: Persistent::save(ctx, rpc_error_proto),
        });
        Ok(())
    }

    fn intrinsics(&self) -> Intrinsics {
        self.intrinsics
            .borrow()
            .clone()
            .expect("Caps::install runs when the worker is built")
    }

    /// Builds the `env` object of one invocation: a fresh stub per binding.
    pub fn env<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
        let env = Object::new(ctx.clone())?;
        for binding in &self.bindings {
            let stub = self.stub(ctx, binding.client.clone(), binding.interface_id)?;
            env.set(binding.name.as_str(), stub)?;
        }
        Ok(env)
    }

    /// Registers `held` for release when the invocation ends.
    fn hold(&self, held: Weak<dyn Held>) {
        if let Some(core) = self.core() {
            core.hold(held);
        }
    }

    /// Turns a capnp exception into an `RpcError`.
    pub fn rpc_error<'js>(
        &self,
        ctx: &Ctx<'js>,
        error: &capnp::Error,
    ) -> rquickjs::Result<Value<'js>> {
        let kind = match error.kind {
            capnp::ErrorKind::Overloaded => "overloaded",
            capnp::ErrorKind::Disconnected => "disconnected",
            capnp::ErrorKind::Unimplemented => "unimplemented",
            _ => "failed",
        };
        let (message, detail) = remote_reason(&error.extra);
        let error = rquickjs::Exception::from_message(ctx.clone(), message)?;
        let proto = self.intrinsics().rpc_error_proto.restore(ctx)?;
        error.as_object().set_prototype(Some(&proto))?;
        error.as_object().set("type", kind)?;
        if let Some(detail) = detail {
            error.as_object().set("remoteDetail", detail)?;
        }
        Ok(error.into_value())
    }

    /// The worker's invocation state, while the worker lives.
    pub fn core(&self) -> Option<Rc<Core>> {
        self.core.upgrade()
    }
}

/// The message of an exception from another vat: without the `remote
/// exception: ` prefixes each hop adds. A provider's multi-line report (a
/// Python traceback, as pycapnp sends for every exception) is reduced to its
/// final line, the exception itself; the whole text is returned as detail.
pub fn remote_reason(reason: &str) -> (&str, Option<&str>) {
    let mut text = reason;
    while let Some(rest) = text.strip_prefix("remote exception: ") {
        text = rest;
    }
    let text = text.strip_prefix("message = ").unwrap_or(text);
    if !text.contains("Traceback (most recent call last):") {
        return (text, None);
    }
    let last = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(text);
    (last.trim(), Some(text))
}

/// Encodes capabilities found in JS values: stubs pass their capability on,
/// plain objects are exported.
struct Writer<'c> {
    caps: &'c Caps,
}

impl<'js> CapWriter<'js> for Writer<'_> {
    fn write_cap(
        &mut self,
        ctx: &Ctx<'js>,
        interface_id: u64,
        value: &Value<'js>,
    ) -> Result<Box<dyn ClientHook>, CodecError> {
        let Some(object) = value.as_object() else {
            return Err(CodecError::type_error(format!(
                "expected a capability stub or an object implementing {}, got {}",
                self.interface_name(interface_id),
                codec::js_type_name(value)
            )));
        };
        if let Some(stub) = rquickjs::Class::<StubCell>::from_object(object) {
            return stub
                .borrow()
                .client()
                .map(|client| client.hook)
                .ok_or_else(|| CodecError::type_error("this capability stub was disposed"));
        }
        if value.is_function() || value.is_array() || value.is_promise() {
            return Err(CodecError::type_error(format!(
                "expected a capability stub or an object implementing {}, got {}",
                self.interface_name(interface_id),
                codec::js_type_name(value)
            )));
        }
        Ok(self.caps.export(ctx, object.clone(), interface_id).hook)
    }
}

impl Writer<'_> {
    fn interface_name(&self, id: u64) -> String {
        self.caps
            .schema()
            .interface(id)
            .map(|i| i.name.to_string())
            .unwrap_or_else(|_| format!("interface {id:#x}"))
    }
}

/// Decodes capabilities into stubs.
struct Reader<'c> {
    caps: &'c Caps,
}

impl<'js> CapReader<'js> for Reader<'_> {
    fn read_cap(
        &mut self,
        ctx: &Ctx<'js>,
        interface_id: u64,
        hook: Box<dyn ClientHook>,
    ) -> Result<Value<'js>, CodecError> {
        self.caps
            .stub(ctx, capnp::capability::Client::new(hook), interface_id)
            .map_err(CodecError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::remote_reason;

    #[test]
    fn remote_reasons_lose_their_hop_prefixes() {
        assert_eq!(
            remote_reason("remote exception: remote exception: it broke"),
            ("it broke", None)
        );
    }

    #[test]
    fn python_tracebacks_become_their_last_line() {
        let traceback = "message = Traceback (most recent call last):\n  File \"x.py\", line 48, in lookup\n    raise KeyError(sku)\nKeyError: 'unknown sku: ZZ'\n";
        let (message, detail) = remote_reason(traceback);
        assert_eq!(message, "KeyError: 'unknown sku: ZZ'");
        assert!(detail.unwrap().starts_with("Traceback"));
    }
}
