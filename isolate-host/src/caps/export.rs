//! JS objects served as capabilities: exported objects passed where an
//! interface was expected, and typed entrypoints (the main module's exports).
//!
//! A call on an export runs the object's method in the worker with
//! `(params, env)`, in one of two ways:
//! - *inside the running invocation*, when one is running (a callback from a
//!   capability the invocation is waiting on);
//! - *as its own invocation* (the *driver*), when the worker is idle.
//!
//! Which one, and the protocol between them, is `invocation`'s
//! (`Core::call_into`).
//!
//! A thrown exception answers the call with a `failed` Cap'n Proto exception;
//! a tripped limit poisons the worker. An export lives as long as the other
//! side holds it.

use std::rc::{Rc, Weak};

use caplet_capnp_js::codec;
use caplet_capnp_js::dynamic::DynServer;
use caplet_capnp_js::schema::SchemaSet;
use capnp::capability::{Params, Promise, Results};
use capnp::{any_pointer, Error};
use rquickjs::function::This;
use rquickjs::{CatchResultExt, Ctx, Object, Persistent, Value};

use super::{Caps, Reader, Writer};
use crate::error::InvokeFailure;
use crate::invocation as worker;

/// A JS object exported as a capability. The object itself stays in the
/// worker's `Caps` (see `Caps::export`); this holds its id.
pub struct Export {
    caps: Weak<Caps>,
    id: u64,
    interface_id: u64,
}

impl Drop for Export {
    fn drop(&mut self) {
        if let Some(caps) = self.caps.upgrade() {
            caps.unexport(self.id);
        }
    }
}

impl Export {
    pub(super) fn new(caps: Weak<Caps>, id: u64, interface_id: u64) -> Rc<Self> {
        Rc::new(Self {
            caps,
            id,
            interface_id,
        })
    }

    async fn serve(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> Result<(), Error> {
        let gone = || Error::disconnected("the worker that served this object is gone".into());
        let caps = self.caps.upgrade().ok_or_else(gone)?;
        let core = caps.core().filter(|core| core.usable()).ok_or_else(gone)?;
        let schema = caps.schema();
        let interface = schema
            .interface(self.interface_id)
            .map_err(|e| Error::failed(e.to_string()))?;
        let method = interface
            .method_by_id(interface_id, method_id)
            .ok_or_else(|| {
                Error::unimplemented(format!(
                    "{} has no method {method_id} of interface {interface_id:#x}",
                    interface.name
                ))
            })?
            .clone();
        let caps = &*caps;
        let call = |ctx: &Ctx<'_>| -> Result<Persistent<Value<'static>>, InvokeFailure> {
            let object = caps
                .exported(self.id)
                .ok_or_else(|| worker::internal("the exported object is gone"))?
                .restore(ctx)
                .map_err(worker::internal)?;
            let function: Value = object.get(&*method.name).map_err(worker::internal)?;
            let Some(function) = function.as_function() else {
                return Err(InvokeFailure::new(
                    caplet::caplet_capnp::invoke_error::Kind::EntrypointNotFound,
                    format!(
                        "the object served as {} has no method {}",
                        interface.name, method.name
                    ),
                ));
            };
            let reader = params.get().map_err(worker::internal)?;
            let args = codec::read_params(
                ctx,
                &schema,
                method.interface_id,
                method.ordinal,
                reader,
                &mut Reader { caps },
            )
            .map_err(worker::internal)?;
            let env = caps.env(ctx).map_err(worker::internal)?;
            let returned: Value = function
                .call((This(object), args, env))
                .catch(ctx)
                .map_err(|e| core.failure(ctx, e))?;
            let returned = worker::adopt_thenable(ctx, returned)
                .catch(ctx)
                .map_err(|e| core.failure(ctx, e))?;
            Ok(Persistent::save(ctx, returned))
        };
        let reply =
            replier(|ctx, value| write_results(ctx, &schema, &method, value, &mut results, caps));

        core.call_into(call, reply).await.map_err(to_capnp)
    }
}

/// Pins a reply closure to the higher-ranked signature `Core::drive` takes.
fn replier<R, F>(f: F) -> F
where
    F: for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> Result<R, InvokeFailure>,
{
    f
}

/// Encodes a method's return value as its results (`undefined` and `null`
/// are the empty results).
fn write_results<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    method: &caplet_capnp_js::schema::MethodInfo,
    value: Value<'js>,
    results: &mut Results<any_pointer::Owned>,
    caps: &Caps,
) -> Result<(), InvokeFailure> {
    let value = if value.is_undefined() || value.is_null() {
        Object::new(ctx.clone())
            .map_err(worker::internal)?
            .into_value()
    } else {
        value
    };
    codec::write_results(
        ctx,
        schema,
        method.interface_id,
        method.ordinal,
        &value,
        results.get(),
        &mut Writer { caps },
    )
    .map_err(|e| {
        InvokeFailure::new(
            caplet::caplet_capnp::invoke_error::Kind::Exception,
            e.to_string(),
        )
    })?;
    // Results too large for one message would end the host's connection
    // (every worker's calls): this call fails instead, and they are freed.
    results
        .get()
        .into_reader()
        .target_size()
        .and_then(|size| {
            caplet::check_payload(
                size,
                &format!("the results of {}.{}", method.interface_name, method.name),
            )
        })
        .map_err(|e| {
            InvokeFailure::new(caplet::caplet_capnp::invoke_error::Kind::Exception, e.extra)
        })
}

/// How a failed call on an export answers the caller.
fn to_capnp(failure: InvokeFailure) -> Error {
    use caplet::caplet_capnp::invoke_error::Kind;
    match failure.kind {
        Kind::Exception => Error::failed(failure.message),
        Kind::EntrypointNotFound => Error::unimplemented(failure.message),
        _ => Error::failed(failure.to_string()),
    }
}

impl DynServer for Export {
    fn dispatch(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> Promise<(), Error> {
        Promise::from_future(self.serve(interface_id, method_id, params, results))
    }
}
