//! Stubs: unforgeable JS handles on capabilities, and the calls made on them.

use std::cell::RefCell;
use std::rc::Rc;

use caplet_capnp_js::codec;
use caplet_capnp_js::schema::MethodInfo;
use capnp::any_pointer;
use capnp::capability::RemotePromise;
use rquickjs::class::{JsClass, Readable, Trace, Tracer};
use rquickjs::function::{Opt, This};
use rquickjs::{Class, Ctx, Exception, Function, JsLifetime, Object, Persistent, Value};

use super::pipeline::{Answer, TOOL_CALL};
use super::{Caps, Writer};
use crate::invocation::Held;
use crate::tasks::Completion;

/// The capability inside a stub. Emptied on dispose and at invocation end.
pub struct Slot {
    client: RefCell<Option<capnp::capability::Client>>,
}

impl Held for Slot {
    /// Drops the capability (the provider sees the release).
    fn release(&self) {
        self.client.borrow_mut().take();
    }
}

/// The Rust data inside a `Capability` instance.
pub struct StubCell {
    slot: Rc<Slot>,
}

impl StubCell {
    /// The capability, unless the stub was disposed.
    pub fn client(&self) -> Option<capnp::capability::Client> {
        self.slot.client.borrow().clone()
    }
}

impl<'js> Trace<'js> for StubCell {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

// SAFETY: `StubCell` holds no JS values, so it is valid for any JS lifetime.
unsafe impl<'js> JsLifetime<'js> for StubCell {
    type Changed<'to> = StubCell;
}

impl<'js> JsClass<'js> for StubCell {
    const NAME: &'static str = "Capability";
    type Mutable = Readable;

    fn constructor(_ctx: &Ctx<'js>) -> rquickjs::Result<Option<rquickjs::Constructor<'js>>> {
        Ok(None)
    }
}

impl Caps {
    /// A new stub for `client`, registered for release at invocation end.
    pub fn stub<'js>(
        &self,
        ctx: &Ctx<'js>,
        client: capnp::capability::Client,
        interface_id: u64,
    ) -> rquickjs::Result<Value<'js>> {
        let proto = self.stub_proto(ctx, interface_id)?;
        let slot = Rc::new(Slot {
            client: RefCell::new(Some(client)),
        });
        let held: Rc<dyn Held> = slot.clone();
        self.hold(Rc::downgrade(&held));
        Ok(Class::instance_proto(StubCell { slot }, proto)?.into_value())
    }

    /// The prototype of stubs of one interface: a function per method, and
    /// `Symbol.dispose`.
    fn stub_proto<'js>(&self, ctx: &Ctx<'js>, interface_id: u64) -> rquickjs::Result<Object<'js>> {
        if let Some(proto) = self.stub_protos.borrow().get(&interface_id) {
            return proto.clone().restore(ctx);
        }
        let schema = self.schema();
        let interface = schema
            .interface(interface_id)
            .map_err(|e| Exception::throw_type(ctx, &e.to_string()))?;
        let proto = Object::new(ctx.clone())?;
        for method in &interface.methods {
            let method = method.clone();
            let caps = self.me.clone();
            let name = method.name.to_string();
            let function = Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>,
                      this: This<Value<'js>>,
                      params: Opt<Value<'js>>|
                      -> rquickjs::Result<Value<'js>> {
                    let caps = caps
                        .upgrade()
                        .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                    caps.call(&ctx, &this.0, &method, params.0)
                },
            )?
            .with_name(&name)?;
            proto.set(name.as_str(), function)?;
        }
        let dispose = Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, this: This<Value<'js>>| -> rquickjs::Result<()> {
                let stub = this
                    .0
                    .as_object()
                    .and_then(Class::<StubCell>::from_object)
                    .ok_or_else(|| Exception::throw_type(&ctx, "not a capability stub"))?;
                stub.borrow().slot.release();
                Ok(())
            },
        )?;
        let symbol: Object = ctx.globals().get("Symbol")?;
        let dispose_key: rquickjs::Symbol = symbol.get("dispose")?;
        proto.set(dispose_key, dispose)?;
        self.stub_protos
            .borrow_mut()
            .insert(interface_id, Persistent::save(ctx, proto.clone()));
        Ok(proto)
    }

    /// `stub.method(params)`: encodes the params, sends the call, and returns
    /// a pipelined promise for its results.
    fn call<'js>(
        &self,
        ctx: &Ctx<'js>,
        this: &Value<'js>,
        method: &MethodInfo,
        params: Option<Value<'js>>,
    ) -> rquickjs::Result<Value<'js>> {
        let stub = this
            .as_object()
            .and_then(Class::<StubCell>::from_object)
            .ok_or_else(|| {
                Exception::throw_type(
                    ctx,
                    &format!("{}() must be called on a capability stub", method.name),
                )
            })?;
        let client = stub.borrow().client().ok_or_else(|| {
            Exception::throw_reference(
                ctx,
                &format!("{}(): this capability stub was disposed", method.name),
            )
        })?;
        let params = match params {
            Some(params) => params,
            None => Object::new(ctx.clone())?.into_value(),
        };
        let tool = method.param_struct == TOOL_CALL;
        let params = if tool {
            tool_call(ctx, &method.name, params)?
        } else {
            params
        };
        let core_rc = self
            .core()
            .ok_or_else(|| Exception::throw_internal(ctx, "the worker is gone"))?;
        let mut request = client.new_call::<any_pointer::Owned, any_pointer::Owned>(
            method.interface_id,
            method.ordinal,
            None,
        );
        codec::write_params(
            ctx,
            &self.schema(),
            method.interface_id,
            method.ordinal,
            &params,
            request.get(),
            &mut Writer { caps: self },
        )
        .map_err(|e| e.throw(ctx))?;
        // Params too large for one message would end the host's connection
        // (every worker's calls): this call throws instead, as `failed`.
        let size = request.get().into_reader().target_size();
        if let Err(error) = size.and_then(|size| {
            caplet::check_payload(
                size,
                &format!("the params of {}.{}", method.interface_name, method.name),
            )
        }) {
            return Err(ctx.throw(self.rpc_error(ctx, &error)?));
        }
        core_rc.start_call(ctx)?;
        let RemotePromise { promise, pipeline } = request.send();

        let answer = Rc::new(Answer::new(method.interface_id, method.ordinal, tool));
        let core = self.core.clone();
        let caps = self.me.clone();
        let arriving = answer.clone();
        core_rc.tasks().push(async move {
            let response = promise.await;
            if let Some(core) = core.upgrade() {
                core.end_call();
            }
            let completion: Completion = Box::new(move |ctx: &Ctx<'_>| -> rquickjs::Result<()> {
                match caps.upgrade() {
                    Some(caps) => arriving.arrive(ctx, &caps, response),
                    None => Ok(()),
                }
            });
            completion
        });
        let schema = self.schema();
        let results = schema
            .struct_info(method.result_struct)
            .map_err(|e| Exception::throw_type(ctx, &e.to_string()))?;
        self.call_pipeline(ctx, pipeline, &results.layout, answer)
    }
}

/// The params of a tool of an upstream MCP server (`mcp.capnp`): the
/// arguments object as JSON text, `{ arguments }`.
fn tool_call<'js>(ctx: &Ctx<'js>, tool: &str, args: Value<'js>) -> rquickjs::Result<Value<'js>> {
    if !args.is_object() || args.is_array() || args.is_function() {
        return Err(Exception::throw_type(
            ctx,
            &format!("{tool}(): the arguments must be an object"),
        ));
    }
    let text = ctx
        .json_stringify(args)?
        .ok_or_else(|| {
            Exception::throw_type(ctx, &format!("{tool}(): the arguments are not JSON"))
        })?
        .to_string()?;
    let params = Object::new(ctx.clone())?;
    params.set("arguments", text)?;
    Ok(params.into_value())
}
