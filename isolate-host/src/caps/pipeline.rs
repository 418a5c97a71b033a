//! Pipelined promises: what a call returns before its results arrive.
//!
//! A pipeline is awaitable (`then`, `catch` and `finally` delegate to the
//! call's real promise, through functions captured before worker code ran).
//! Reading a capability field gives a stub for the promised capability, so
//! calls on it are sent at once and travel with the first call; reading a
//! struct or group field gives a nested pipeline. Other fields exist only on
//! the awaited results.
//!
//! The real promise is made, and the results decoded, only when JS first
//! awaits the pipeline (or one nested in it): until then nothing can observe
//! them. The links of a pipelined chain are never awaited, so their answers
//! are never turned into JS values.

use std::cell::RefCell;

use caplet_capnp_js::codec;
use caplet_capnp_js::schema::{FieldKind, Layout, Type};
use capnp::any_pointer;
use capnp::capability::Response;
use rquickjs::class::{JsClass, Trace, Tracer, Writable};
use rquickjs::function::{Opt, This};
use rquickjs::object::Accessor;
use rquickjs::{Class, Ctx, Exception, Function, JsLifetime, Object, Persistent, Value};

use super::{Caps, Reader};
use crate::invocation::Held;

type Answered = Result<Response<any_pointer::Owned>, capnp::Error>;

/// The params struct of every tool of an upstream MCP server
/// (`mcp.capnp`): its calls send and answer JSON text, which JS never sees.
pub const TOOL_CALL: u64 =
    <caplet::mcp_capnp::tool_call::Builder<'_> as capnp::traits::HasTypeId>::TYPE_ID;

/// A call's answer, from the call until JS awaits it.
pub struct Answer {
    interface_id: u64,
    ordinal: u16,
    /// A tool call: the result is `ToolResult.json`, parsed, and a
    /// `type_error` rejects with a `TypeError`.
    tool: bool,
    state: RefCell<AnswerState>,
}

enum AnswerState {
    /// Neither arrived nor awaited.
    Waiting,
    /// Arrived before JS awaited it.
    Arrived(Answered),
    /// Awaited before it arrived: what settles the call's promise.
    Awaited {
        resolve: Persistent<Function<'static>>,
        reject: Persistent<Function<'static>>,
    },
    /// Settled, or let go at the end of its invocation.
    Gone,
}

impl Answer {
    pub fn new(interface_id: u64, ordinal: u16, tool: bool) -> Self {
        Self {
            interface_id,
            ordinal,
            tool,
            state: RefCell::new(AnswerState::Waiting),
        }
    }

    /// The answer came: settles the promise if JS awaits it, else keeps it.
    pub fn arrive(&self, ctx: &Ctx<'_>, caps: &Caps, answered: Answered) -> rquickjs::Result<()> {
        let state = std::mem::replace(&mut *self.state.borrow_mut(), AnswerState::Gone);
        match state {
            AnswerState::Waiting => {
                *self.state.borrow_mut() = AnswerState::Arrived(answered);
                Ok(())
            }
            AnswerState::Awaited { resolve, reject } => self.settle(
                ctx,
                caps,
                answered,
                &resolve.restore(ctx)?,
                &reject.restore(ctx)?,
            ),
            AnswerState::Arrived(_) | AnswerState::Gone => Ok(()),
        }
    }

    /// JS awaits the call: settles the promise now if the answer is here,
    /// else once it comes.
    fn awaited<'js>(
        &self,
        ctx: &Ctx<'js>,
        caps: &Caps,
        resolve: Function<'js>,
        reject: Function<'js>,
    ) -> rquickjs::Result<()> {
        let state = std::mem::replace(&mut *self.state.borrow_mut(), AnswerState::Gone);
        match state {
            AnswerState::Waiting => {
                *self.state.borrow_mut() = AnswerState::Awaited {
                    resolve: Persistent::save(ctx, resolve),
                    reject: Persistent::save(ctx, reject),
                };
                Ok(())
            }
            AnswerState::Arrived(answered) => self.settle(ctx, caps, answered, &resolve, &reject),
            AnswerState::Awaited { .. } | AnswerState::Gone => {
                reject.call::<_, ()>((released(ctx)?,))
            }
        }
    }

    fn settle<'js>(
        &self,
        ctx: &Ctx<'js>,
        caps: &Caps,
        answered: Answered,
        resolve: &Function<'js>,
        reject: &Function<'js>,
    ) -> rquickjs::Result<()> {
        let decoded = answered.and_then(|response| {
            let results = response.get()?;
            Ok(codec::read_results(
                ctx,
                &caps.schema(),
                self.interface_id,
                self.ordinal,
                results,
                &mut Reader { caps },
            ))
        });
        let decoded = decoded.map(|r| r.map(Object::into_value));
        match decoded {
            Ok(Ok(value)) if self.tool => match tool_result(ctx, value) {
                Ok(value) => resolve.call::<_, ()>((value,)),
                Err(_) => {
                    let thrown = ctx.catch();
                    reject.call::<_, ()>((thrown,))
                }
            },
            Ok(Ok(value)) => resolve.call::<_, ()>((value,)),
            Err(rpc_error) if self.tool && tool_type_error(&rpc_error).is_some() => {
                let message = tool_type_error(&rpc_error).unwrap_or_default();
                let _ = Exception::throw_type(ctx, message);
                let thrown = ctx.catch();
                reject.call::<_, ()>((thrown,))
            }
            Ok(Err(codec_error)) => {
                let _ = codec_error.throw(ctx);
                let thrown = ctx.catch();
                reject.call::<_, ()>((thrown,))
            }
            Err(rpc_error) => {
                let error = caps.rpc_error(ctx, &rpc_error)?;
                reject.call::<_, ()>((error,))
            }
        }
    }
}

/// The value of a tool's `ToolResult`: its JSON, parsed.
fn tool_result<'js>(ctx: &Ctx<'js>, results: Value<'js>) -> rquickjs::Result<Value<'js>> {
    let json: String = match results.as_object() {
        Some(results) => results.get("json")?,
        None => String::new(),
    };
    ctx.json_parse(json)
}

/// The message of a tool call refused for its arguments (`type_error: …`),
/// which JS gets as a `TypeError`.
fn tool_type_error(error: &capnp::Error) -> Option<&str> {
    let (reason, _) = super::remote_reason(&error.extra);
    reason.strip_prefix("type_error: ")
}

impl Held for Answer {
    /// Lets go of the answer (its invocation ended): the capabilities in it
    /// are released.
    fn release(&self) {
        *self.state.borrow_mut() = AnswerState::Gone;
    }
}

/// A call's pipeline, or one nested in it: what pipelined calls are sent on.
/// Emptied when the invocation ends (it holds the answer once it arrives).
struct Pipe(RefCell<Option<any_pointer::Pipeline>>);

impl Held for Pipe {
    fn release(&self) {
        self.0.borrow_mut().take();
    }
}

impl Pipe {
    /// The pipeline, unless its invocation ended.
    fn get<'js>(
        &self,
        ctx: &Ctx<'js>,
    ) -> rquickjs::Result<std::cell::Ref<'_, any_pointer::Pipeline>> {
        std::cell::Ref::filter_map(self.0.borrow(), Option::as_ref).map_err(|_| {
            Exception::throw_reference(
                ctx,
                "this pipelined promise was released when its invocation ended",
            )
        })
    }
}

/// The error a call's promise rejects with when it is first awaited after
/// its invocation ended.
fn released<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let message = "the results of this call were released when its invocation ended";
    let error = Exception::from_message(ctx.clone(), message)?;
    let reference_error: Object = ctx.globals().get("ReferenceError")?;
    let proto: Object = reference_error.get("prototype")?;
    error.as_object().set_prototype(Some(&proto))?;
    Ok(error.into_value())
}

/// Where a pipeline's promise comes from.
enum Origin<'js> {
    /// The call's own pipeline: its answer until JS awaits it, then the
    /// call's promise. (Once awaited, the answer lives only in the call's
    /// task: a JS value reached from here through an untraced `Persistent`
    /// would keep cycles alive past the runtime.)
    Call {
        answer: Option<std::rc::Rc<Answer>>,
        promise: Option<Value<'js>>,
    },
    /// A struct or group within: the call's pipeline object and the field
    /// names from its results to here.
    Field { call: Value<'js>, path: Vec<String> },
}

/// The Rust data inside a pipeline object.
pub struct PipelineCell<'js> {
    pipe: std::rc::Rc<Pipe>,
    origin: Origin<'js>,
}

impl<'js> Trace<'js> for PipelineCell<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        match &self.origin {
            Origin::Call { promise, .. } => promise.trace(tracer),
            Origin::Field { call, .. } => call.trace(tracer),
        }
    }
}

// SAFETY: the JS values inside (`promise`, `call`) have their lifetime
// carried over by `Changed`.
unsafe impl<'js> JsLifetime<'js> for PipelineCell<'js> {
    type Changed<'to> = PipelineCell<'to>;
}

impl<'js> JsClass<'js> for PipelineCell<'js> {
    const NAME: &'static str = "PipelinedPromise";
    type Mutable = Writable;

    fn constructor(_ctx: &Ctx<'js>) -> rquickjs::Result<Option<rquickjs::Constructor<'js>>> {
        Ok(None)
    }
}

fn cell<'js>(ctx: &Ctx<'js>, this: &Value<'js>) -> rquickjs::Result<Class<'js, PipelineCell<'js>>> {
    this.as_object()
        .and_then(Class::<PipelineCell>::from_object)
        .ok_or_else(|| Exception::throw_type(ctx, "not a pipelined promise"))
}

impl Caps {
    /// The pipeline object of a call whose results have `layout`.
    pub(super) fn call_pipeline<'js>(
        &self,
        ctx: &Ctx<'js>,
        pipeline: any_pointer::Pipeline,
        layout: &Layout,
        answer: std::rc::Rc<Answer>,
    ) -> rquickjs::Result<Value<'js>> {
        let held: std::rc::Rc<dyn Held> = answer.clone();
        self.hold(std::rc::Rc::downgrade(&held));
        let origin = Origin::Call {
            answer: Some(answer),
            promise: None,
        };
        self.pipeline(ctx, pipeline, layout, origin)
    }

    /// A pipeline object over `layout` (the results struct, or a struct or
    /// group within it).
    fn pipeline<'js>(
        &self,
        ctx: &Ctx<'js>,
        pipeline: any_pointer::Pipeline,
        layout: &Layout,
        origin: Origin<'js>,
    ) -> rquickjs::Result<Value<'js>> {
        let proto = self.pipeline_proto(ctx, layout)?;
        let pipe = std::rc::Rc::new(Pipe(RefCell::new(Some(pipeline))));
        let held: std::rc::Rc<dyn Held> = pipe.clone();
        self.hold(std::rc::Rc::downgrade(&held));
        let cell = PipelineCell { pipe, origin };
        Ok(Class::instance_proto(cell, proto)?.into_value())
    }

    fn pipeline_proto<'js>(
        &self,
        ctx: &Ctx<'js>,
        layout: &Layout,
    ) -> rquickjs::Result<Object<'js>> {
        if let Some(proto) = self.pipeline_protos.borrow().get(&layout.id) {
            return proto.clone().restore(ctx);
        }
        let proto = Object::new(ctx.clone())?;
        for field in &layout.fields {
            let name = field.name.to_string();
            let caps = self.me.clone();
            match &field.kind {
                FieldKind::Slot {
                    ty: Type::Interface(interface_id),
                    offset,
                    ..
                } => {
                    let (interface_id, offset) = (*interface_id, *offset as u16);
                    let getter = move |ctx: Ctx<'js>, this: This<Value<'js>>| {
                        let caps = caps
                            .upgrade()
                            .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                        let cell = cell(&ctx, &this.0)?;
                        let hook = cell
                            .borrow()
                            .pipe
                            .get(&ctx)?
                            .get_pointer_field(offset)
                            .as_cap();
                        caps.stub(&ctx, capnp::capability::Client::new(hook), interface_id)
                    };
                    proto.prop(name.as_str(), Accessor::new_get(getter))?;
                }
                FieldKind::Slot {
                    ty: Type::Struct(struct_id),
                    offset,
                    ..
                } => {
                    let (struct_id, offset) = (*struct_id, *offset as u16);
                    let field_name = name.clone();
                    let getter = move |ctx: Ctx<'js>, this: This<Value<'js>>| {
                        let caps = caps
                            .upgrade()
                            .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                        let schema = caps.schema();
                        let info = schema
                            .struct_info(struct_id)
                            .map_err(|e| Exception::throw_type(&ctx, &e.to_string()))?;
                        let cell = cell(&ctx, &this.0)?;
                        let cell = cell.borrow();
                        let pipeline = cell.pipe.get(&ctx)?.get_pointer_field(offset);
                        let origin = cell.field(&this.0, &field_name);
                        caps.pipeline(&ctx, pipeline, &info.layout, origin)
                    };
                    proto.prop(name.as_str(), Accessor::new_get(getter))?;
                }
                FieldKind::Group(group) => {
                    let group = group.clone();
                    let field_name = name.clone();
                    let getter = move |ctx: Ctx<'js>, this: This<Value<'js>>| {
                        let caps = caps
                            .upgrade()
                            .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                        let cell = cell(&ctx, &this.0)?;
                        let cell = cell.borrow();
                        let pipeline = cell.pipe.get(&ctx)?.noop();
                        let origin = cell.field(&this.0, &field_name);
                        caps.pipeline(&ctx, pipeline, &group, origin)
                    };
                    proto.prop(name.as_str(), Accessor::new_get(getter))?;
                }
                // Plain values exist only once the results arrive.
                FieldKind::Slot { .. } => {}
            }
        }

        // The closures look the promise functions up on each call instead of
        // capturing them: a JS value captured by a Rust closure is a root the
        // collector cannot see, and would keep a cycle through a pending
        // pipeline alive past the runtime (QuickJS then aborts the host).
        let settled = {
            let caps = self.me.clone();
            move |ctx: &Ctx<'js>,
                  this: &Value<'js>|
                  -> rquickjs::Result<(Value<'js>, super::Intrinsics)> {
                let caps = caps
                    .upgrade()
                    .ok_or_else(|| Exception::throw_internal(ctx, "the worker is gone"))?;
                let intrinsics = caps.intrinsics();
                let settled = settled_value(ctx, &caps, this, &intrinsics.then)?;
                Ok((settled, intrinsics))
            }
        };
        let lookup = settled.clone();
        let then_fn = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  this: This<Value<'js>>,
                  on_ok: Opt<Value<'js>>,
                  on_err: Opt<Value<'js>>| {
                let (settled, intrinsics) = lookup(&ctx, &this.0)?;
                let then = intrinsics.then;
                let then = then.restore(&ctx)?;
                let undefined = || Value::new_undefined(ctx.clone());
                then.call::<_, Value>((
                    This(settled),
                    on_ok.0.unwrap_or_else(undefined),
                    on_err.0.unwrap_or_else(undefined),
                ))
            },
        )?;
        let lookup = settled.clone();
        let catch_fn = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, on_err: Opt<Value<'js>>| {
                let (settled, intrinsics) = lookup(&ctx, &this.0)?;
                let then = intrinsics.then;
                let then = then.restore(&ctx)?;
                let undefined = Value::new_undefined(ctx.clone());
                then.call::<_, Value>((
                    This(settled),
                    undefined.clone(),
                    on_err.0.unwrap_or(undefined),
                ))
            },
        )?;
        let lookup = settled;
        let finally_fn = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, on_done: Opt<Value<'js>>| {
                let (settled, intrinsics) = lookup(&ctx, &this.0)?;
                let finally = intrinsics.finally.restore(&ctx)?;
                finally.call::<_, Value>((
                    This(settled),
                    on_done
                        .0
                        .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
                ))
            },
        )?;
        proto.set("then", then_fn)?;
        proto.set("catch", catch_fn)?;
        proto.set("finally", finally_fn)?;
        self.pipeline_protos
            .borrow_mut()
            .insert(layout.id, Persistent::save(ctx, proto.clone()));
        Ok(proto)
    }
}

impl<'js> PipelineCell<'js> {
    /// The origin of a pipeline nested in this one (`this`) at `name`.
    fn field(&self, this: &Value<'js>, name: &str) -> Origin<'js> {
        match &self.origin {
            Origin::Call { .. } => Origin::Field {
                call: this.clone(),
                path: vec![name.to_string()],
            },
            Origin::Field { call, path } => {
                let mut path = path.clone();
                path.push(name.to_string());
                Origin::Field {
                    call: call.clone(),
                    path,
                }
            }
        }
    }
}

/// The promise this pipeline settles to: the call's promise, or for a nested
/// pipeline, that promise mapped to the field at its path.
fn settled_value<'js>(
    ctx: &Ctx<'js>,
    caps: &Caps,
    this: &Value<'js>,
    then: &Persistent<Function<'static>>,
) -> rquickjs::Result<Value<'js>> {
    let nested = match &cell(ctx, this)?.borrow().origin {
        Origin::Call { .. } => None,
        Origin::Field { call, path } => Some((call.clone(), path.clone())),
    };
    let Some((call, path)) = nested else {
        return call_promise(ctx, caps, this);
    };
    let promise = call_promise(ctx, caps, &call)?;
    let pick = Function::new(ctx.clone(), move |ctx: Ctx<'js>, results: Value<'js>| {
        let mut value = results;
        for name in &path {
            let object = value.as_object().ok_or_else(|| {
                Exception::throw_type(&ctx, &format!("results have no field {name}"))
            })?;
            value = object.get(name.as_str())?;
        }
        rquickjs::Result::Ok(value)
    })?;
    then.clone()
        .restore(ctx)?
        .call::<_, Value>((This(promise), pick))
}

/// The promise of the call whose pipeline is `call`, made when first asked
/// for.
fn call_promise<'js>(
    ctx: &Ctx<'js>,
    caps: &Caps,
    call: &Value<'js>,
) -> rquickjs::Result<Value<'js>> {
    let cell = cell(ctx, call)?;
    let mut cell = cell.borrow_mut();
    let Origin::Call { answer, promise } = &mut cell.origin else {
        return Err(Exception::throw_internal(ctx, "not a call's pipeline"));
    };
    if let Some(promise) = promise {
        return Ok(promise.clone());
    }
    let (js_promise, resolve, reject) = ctx.promise()?;
    *promise = Some(js_promise.clone().into_value());
    let answer = answer.take();
    drop(cell);
    match answer {
        Some(answer) => answer.awaited(ctx, caps, resolve, reject)?,
        None => reject.call::<_, ()>((released(ctx)?,))?,
    }
    Ok(js_promise.into_value())
}
