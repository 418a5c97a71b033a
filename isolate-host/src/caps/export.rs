//! JS objects served as capabilities: the other side calls back into the
//! worker while the invocation runs.
//!
//! A call runs the object's method in a CPU-metered segment of the worker.
//! If the method returns a promise, the call waits for it to settle: the
//! invocation loop keeps running tasks and jobs meanwhile, and signals
//! `Core::progress` after every segment. A thrown exception answers the call
//! with a `failed` Cap'n Proto exception. Exports are revoked when the
//! invocation that made them ends; later calls fail with `disconnected`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use caplet_capnp_js::codec;
use caplet_capnp_js::dynamic::DynServer;
use capnp::capability::{Params, Promise, Results};
use capnp::{any_pointer, Error};
use rquickjs::function::This;
use rquickjs::promise::PromiseState;
use rquickjs::{CatchResultExt, Ctx, Object, Persistent, Value};

use super::{Reader, Writer};
use crate::exception;
use crate::worker::Core;

/// A JS object exported as a capability.
pub struct Export {
    core: Weak<Core>,
    object: RefCell<Option<Persistent<Object<'static>>>>,
    interface_id: u64,
}

impl Export {
    pub(super) fn new<'js>(
        core: Weak<Core>,
        ctx: &Ctx<'js>,
        object: Object<'js>,
        interface_id: u64,
    ) -> Rc<Self> {
        Rc::new(Self {
            core,
            object: RefCell::new(Some(Persistent::save(ctx, object))),
            interface_id,
        })
    }

    /// Ends the export: the JS object is let go; calls fail from now on.
    pub fn revoke(&self) {
        self.object.borrow_mut().take();
    }

    async fn serve(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> Result<(), Error> {
        let gone =
            || Error::disconnected("the invocation that passed this object has ended".into());
        let core = self.core.upgrade().ok_or_else(gone)?;
        let object = self.object.borrow().clone().ok_or_else(gone)?;
        let caps = &core.caps;
        let schema = caps.schema.clone();
        let interface = schema
            .interface(self.interface_id)
            .map_err(|e| Error::failed(e.to_string()))?;
        let method = interface
            .methods
            .iter()
            .find(|m| m.interface_id == interface_id && m.ordinal == method_id)
            .ok_or_else(|| {
                Error::unimplemented(format!(
                    "{} has no method {method_id} of interface {interface_id:#x}",
                    interface.name
                ))
            })?
            .clone();

        // Run the method.
        let (returned, job_error) =
            core.isolate
                .segment(|ctx| -> Result<Persistent<Value<'static>>, Error> {
                    let object = object.clone().restore(ctx).map_err(js_internal)?;
                    let function: Value = object.get(&*method.name).map_err(js_internal)?;
                    let Some(function) = function.as_function() else {
                        return Err(Error::unimplemented(format!(
                            "the object passed as {} has no method {}",
                            interface.name, method.name
                        )));
                    };
                    let reader = params.get()?;
                    let args = codec::read_params(
                        ctx,
                        &schema,
                        method.interface_id,
                        method.ordinal,
                        reader,
                        &mut Reader { caps },
                    )
                    .map_err(|e| Error::failed(e.to_string()))?;
                    let returned: Value = function
                        .call((This(object), args))
                        .catch(ctx)
                        .map_err(|e| thrown(ctx, e))?;
                    Ok(Persistent::save(ctx, returned))
                });
        core.progress.notify_waiters();
        if let Some(message) = job_error {
            return Err(Error::failed(message));
        }
        if core.isolate.meter().tripped() {
            return Err(Error::failed(
                "cpu_limit_exceeded: the worker ran out of CPU time".into(),
            ));
        }
        let returned = returned?;

        // Wait for a returned promise to settle.
        loop {
            let progressed = core.progress.notified();
            let pending = core.isolate.with(|ctx| {
                returned
                    .clone()
                    .restore(ctx)
                    .ok()
                    .and_then(|v| v.as_promise().map(|p| p.state() == PromiseState::Pending))
                    .unwrap_or(false)
            });
            if !pending {
                break;
            }
            if self.object.borrow().is_none() {
                return Err(gone());
            }
            progressed.await;
        }

        // Encode the results.
        core.isolate.with(|ctx| -> Result<(), Error> {
            let value = returned.clone().restore(ctx).map_err(js_internal)?;
            let value = match value.as_promise() {
                Some(promise) => match promise.result::<Value>() {
                    Some(Ok(value)) => value,
                    Some(Err(rquickjs::Error::Exception)) => {
                        let caught = ctx.catch();
                        return Err(Error::failed(exception::describe(ctx, &caught).message));
                    }
                    Some(Err(other)) => return Err(js_internal(other)),
                    None => {
                        return Err(Error::failed("the method's promise did not settle".into()))
                    }
                },
                None => value,
            };
            let value = if value.is_undefined() || value.is_null() {
                Object::new(ctx.clone()).map_err(js_internal)?.into_value()
            } else {
                value
            };
            codec::write_results(
                ctx,
                &schema,
                method.interface_id,
                method.ordinal,
                &value,
                results.get(),
                &mut Writer { caps },
            )
            .map_err(|e| Error::failed(e.to_string()))
        })
    }
}

fn js_internal(error: impl std::fmt::Display) -> Error {
    Error::failed(format!("internal: {error}"))
}

fn thrown<'js>(ctx: &Ctx<'js>, error: rquickjs::CaughtError<'js>) -> Error {
    match error {
        rquickjs::CaughtError::Exception(ex) => {
            Error::failed(exception::describe(ctx, ex.as_value()).message)
        }
        rquickjs::CaughtError::Value(value) => {
            Error::failed(exception::describe(ctx, &value).message)
        }
        rquickjs::CaughtError::Error(error) => js_internal(error),
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
