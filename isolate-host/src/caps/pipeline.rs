//! Pipelined promises: what a call returns before its results arrive.
//!
//! A pipeline is awaitable (`then`, `catch` and `finally` delegate to the
//! call's real promise, through functions captured before worker code ran).
//! Reading a capability field gives a stub for the promised capability, so
//! calls on it are sent at once and travel with the first call; reading a
//! struct or group field gives a nested pipeline. Other fields exist only on
//! the awaited results.

use caplet_capnp_js::schema::{FieldKind, Layout, Type};
use capnp::any_pointer;
use rquickjs::class::{JsClass, Readable, Trace, Tracer};
use rquickjs::function::{Opt, This};
use rquickjs::object::Accessor;
use rquickjs::{Class, Ctx, Exception, Function, JsLifetime, Object, Persistent, Value};

use super::Caps;

/// The Rust data inside a pipeline object.
pub struct PipelineCell<'js> {
    pipeline: any_pointer::Pipeline,
    /// The call's promise for its whole results.
    promise: Value<'js>,
    /// Field names from the results to this pipeline (empty at the root).
    path: Vec<String>,
}

impl<'js> Trace<'js> for PipelineCell<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        self.promise.trace(tracer);
    }
}

// SAFETY: the only JS value inside is `promise`, whose lifetime is carried
// over by `Changed`.
unsafe impl<'js> JsLifetime<'js> for PipelineCell<'js> {
    type Changed<'to> = PipelineCell<'to>;
}

impl<'js> JsClass<'js> for PipelineCell<'js> {
    const NAME: &'static str = "PipelinedPromise";
    type Mutable = Readable;

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
    /// A pipeline object over `layout` (the results struct, or a struct or
    /// group within it).
    pub(super) fn pipeline<'js>(
        &self,
        ctx: &Ctx<'js>,
        pipeline: any_pointer::Pipeline,
        layout: &Layout,
        promise: Value<'js>,
        path: Vec<String>,
    ) -> rquickjs::Result<Value<'js>> {
        let proto = self.pipeline_proto(ctx, layout)?;
        let cell = PipelineCell {
            pipeline,
            promise,
            path,
        };
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
            let core = self.core.clone();
            match &field.kind {
                FieldKind::Slot {
                    ty: Type::Interface(interface_id),
                    offset,
                    ..
                } => {
                    let (interface_id, offset) = (*interface_id, *offset as u16);
                    let getter = move |ctx: Ctx<'js>, this: This<Value<'js>>| {
                        let core = core
                            .upgrade()
                            .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                        let cell = cell(&ctx, &this.0)?;
                        let hook = cell.borrow().pipeline.get_pointer_field(offset).as_cap();
                        core.caps
                            .stub(&ctx, capnp::capability::Client::new(hook), interface_id)
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
                        let core = core
                            .upgrade()
                            .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                        let cell = cell(&ctx, &this.0)?;
                        let cell = cell.borrow();
                        let schema = core.caps.schema();
                        let info = schema
                            .struct_info(struct_id)
                            .map_err(|e| Exception::throw_type(&ctx, &e.to_string()))?;
                        let mut path = cell.path.clone();
                        path.push(field_name.clone());
                        core.caps.pipeline(
                            &ctx,
                            cell.pipeline.get_pointer_field(offset),
                            &info.layout,
                            cell.promise.clone(),
                            path,
                        )
                    };
                    proto.prop(name.as_str(), Accessor::new_get(getter))?;
                }
                FieldKind::Group(group) => {
                    let group = group.clone();
                    let field_name = name.clone();
                    let getter = move |ctx: Ctx<'js>, this: This<Value<'js>>| {
                        let core = core
                            .upgrade()
                            .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
                        let cell = cell(&ctx, &this.0)?;
                        let cell = cell.borrow();
                        let mut path = cell.path.clone();
                        path.push(field_name.clone());
                        core.caps.pipeline(
                            &ctx,
                            cell.pipeline.noop(),
                            &group,
                            cell.promise.clone(),
                            path,
                        )
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
        let intrinsics = {
            let core = self.core.clone();
            move |ctx: &Ctx<'js>| -> rquickjs::Result<super::Intrinsics> {
                let core = core
                    .upgrade()
                    .ok_or_else(|| Exception::throw_internal(ctx, "the worker is gone"))?;
                Ok(core.caps.intrinsics())
            }
        };
        let lookup = intrinsics.clone();
        let then_fn = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  this: This<Value<'js>>,
                  on_ok: Opt<Value<'js>>,
                  on_err: Opt<Value<'js>>| {
                let then = lookup(&ctx)?.then;
                let settled = settled_value(&ctx, &this.0, &then)?;
                let then = then.restore(&ctx)?;
                let undefined = || Value::new_undefined(ctx.clone());
                then.call::<_, Value>((
                    This(settled),
                    on_ok.0.unwrap_or_else(undefined),
                    on_err.0.unwrap_or_else(undefined),
                ))
            },
        )?;
        let lookup = intrinsics.clone();
        let catch_fn = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, on_err: Opt<Value<'js>>| {
                let then = lookup(&ctx)?.then;
                let settled = settled_value(&ctx, &this.0, &then)?;
                let then = then.restore(&ctx)?;
                let undefined = Value::new_undefined(ctx.clone());
                then.call::<_, Value>((
                    This(settled),
                    undefined.clone(),
                    on_err.0.unwrap_or(undefined),
                ))
            },
        )?;
        let lookup = intrinsics;
        let finally_fn = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, this: This<Value<'js>>, on_done: Opt<Value<'js>>| {
                let intrinsics = lookup(&ctx)?;
                let settled = settled_value(&ctx, &this.0, &intrinsics.then)?;
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

/// The promise this pipeline settles to: the call's promise, or for a nested
/// pipeline, that promise mapped to the field at `path`.
fn settled_value<'js>(
    ctx: &Ctx<'js>,
    this: &Value<'js>,
    then: &Persistent<Function<'static>>,
) -> rquickjs::Result<Value<'js>> {
    let cell = cell(ctx, this)?;
    let cell = cell.borrow();
    if cell.path.is_empty() {
        return Ok(cell.promise.clone());
    }
    let path = cell.path.clone();
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
        .call::<_, Value>((This(cell.promise.clone()), pick))
}
