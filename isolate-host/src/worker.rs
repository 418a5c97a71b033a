//! A loaded worker: its capabilities, its main module's exports, and its
//! invocations (run by `invocation::Core`). Loading builds the worker's
//! isolate from bytecode, installs what its global scope has beyond the
//! engine's (console, capabilities, `fetch`, the timers' host), and
//! evaluates the main module; an invocation finds the entrypoint and calls
//! it with `(input, env, ctx)`.

use std::rc::Rc;

use caplet::caplet_capnp::invoke_error::Kind;
use caplet_capnp_js::schema::SchemaSet;
use rquickjs::function::This;
use rquickjs::promise::PromiseState;
use rquickjs::{CatchResultExt, CaughtError, Ctx, Function, Object, Persistent, Value};

use crate::caps::{Binding, Caps};
use crate::console::{self, LogStream};
use crate::engine::{Isolate, Trip};
use crate::error::{Error, InvokeFailure};
use crate::exception;
use crate::invocation::{adopt_thenable, internal, rejection, Core, Outcome, WorkerLimits};
use crate::modules::{self, Bytecode};

/// A compiled, evaluated worker.
///
/// Field order is drop order: every JS value (capability state, the default
/// export, the namespace) goes before the isolate (in `core`).
pub struct JsWorker {
    caps: Rc<Caps>,
    default_export: Persistent<Value<'static>>,
    /// The main module's exports, for typed entrypoints.
    namespace: Persistent<Object<'static>>,
    core: Rc<Core>,
}

impl JsWorker {
    /// Builds the worker's isolate from compiled modules and evaluates the main
    /// module (including any top-level await it does).
    pub async fn load(
        bytecode: Bytecode,
        main: &str,
        limits: WorkerLimits,
        schema: Rc<SchemaSet>,
        bindings: Vec<Binding>,
    ) -> Result<Self, Error> {
        let main_bytes = bytecode.get(main).cloned().ok_or_else(|| {
            Error::BadCode(format!("main module {main:?} is not among the modules"))
        })?;
        let modules = bytecode.clone();
        let isolate = Isolate::new(&limits.engine, bytecode)?;
        let core = Rc::new(Core::new(isolate, limits));
        let caps = Caps::new(Rc::downgrade(&core), schema, bindings);
        let isolate = core.isolate();

        let (evaluated, job_error) = isolate.segment(|ctx| -> Result<_, Error> {
            console::attach(ctx, core.logs().clone()).map_err(|e| Error::Engine(e.to_string()))?;
            caps.install(ctx)
                .map_err(|e| Error::Engine(e.to_string()))?;
            crate::fetch::install(ctx, &caps).map_err(|e| Error::Engine(e.to_string()))?;
            let me = Rc::downgrade(&core);
            let over: crate::platform::timers::OverLimit = Rc::new(move |ctx| match me.upgrade() {
                Some(core) => core.trip(ctx, Trip::Timers),
                None => rquickjs::Exception::throw_internal(ctx, "the worker is gone"),
            });
            crate::platform::timers::attach(ctx, core.tasks(), limits.pending_timers, over)
                .map_err(|e| Error::Engine(e.to_string()))?;
            let declared = modules::load_bytecode(ctx, &main_bytes)
                .and_then(|module| {
                    if modules.uses_import_meta(main) {
                        modules::set_import_meta(ctx, &module, main, &modules, true)?;
                    }
                    Ok(module)
                })
                .catch(ctx);
            let declared = declared.map_err(|e| evaluation_error(ctx, e))?;
            let (module, promise) = declared
                .eval()
                .catch(ctx)
                .map_err(|e| evaluation_error(ctx, e))?;
            Ok((
                Persistent::save(
                    ctx,
                    module
                        .namespace()
                        .map_err(|e| Error::Engine(e.to_string()))?,
                ),
                Persistent::save(ctx, promise),
            ))
        });
        if let Some(trip) = isolate.meter().tripped() {
            return Err(Error::Evaluation(core.limit_failure(trip).to_string()));
        }
        let (namespace, promise) = evaluated?;
        if let Some(message) = job_error {
            return Err(Error::Evaluation(message));
        }
        // Top-level await must have settled: a worker's module has no I/O yet.
        let (default_export, namespace) = isolate.with(|ctx| -> Result<_, Error> {
            let promise = promise
                .clone()
                .restore(ctx)
                .map_err(|e| Error::Engine(e.to_string()))?;
            match promise.state() {
                PromiseState::Resolved => {}
                PromiseState::Rejected => {
                    return Err(Error::Evaluation(rejection(ctx, &promise).message));
                }
                PromiseState::Pending => {
                    return Err(Error::Evaluation(
                        "top-level await never settled".to_string(),
                    ))
                }
            }
            let namespace = namespace
                .clone()
                .restore(ctx)
                .map_err(|e| Error::Engine(e.to_string()))?;
            let default: Value = namespace
                .get("default")
                .map_err(|e| Error::Engine(e.to_string()))?;
            Ok((
                Persistent::save(ctx, default),
                Persistent::save(ctx, namespace),
            ))
        })?;
        drop(promise);
        core.end_evaluation();
        Ok(Self {
            caps,
            default_export,
            namespace,
            core,
        })
    }

    /// Runs `entrypoint` with `input` (JSON text) to completion, streaming
    /// its console lines to `stream` as well; gives the stream back to be
    /// flushed (see `Core::invoke`).
    pub async fn invoke(
        &self,
        entrypoint: &str,
        input: &str,
        stream: Option<LogStream>,
    ) -> (Outcome, Option<LogStream>) {
        self.core
            .invoke(|ctx| self.start(ctx, entrypoint, input), stream)
            .await
    }

    /// Whether a limit tripped, so the runtime must be rebuilt.
    pub fn poisoned(&self) -> bool {
        !self.core.usable()
    }

    /// Serves the main module's export `name` as a capability implementing
    /// `interface_id` of `schema`.
    pub fn entrypoint(
        &self,
        name: &str,
        schema: &SchemaSet,
        interface_id: u64,
    ) -> Result<capnp::capability::Client, InvokeFailure> {
        self.caps.add_schema(schema).map_err(internal)?;
        self.core.isolate().with(|ctx| {
            let not_found = |why: &str| {
                InvokeFailure::new(
                    Kind::EntrypointNotFound,
                    format!("entrypoint {name:?}: {why}"),
                )
            };
            let namespace = self.namespace.clone().restore(ctx).map_err(internal)?;
            let export: Value = namespace.get(name).map_err(internal)?;
            match export.as_object() {
                Some(object) if !export.is_function() && !export.is_array() => {
                    Ok(self.caps.export(ctx, object.clone(), interface_id))
                }
                _ => Err(not_found(&format!(
                    "the main module has no export {name:?} that is an object ({} found)",
                    export.type_name()
                ))),
            }
        })
    }

    /// Parses the input, finds the entrypoint and calls it.
    fn start<'js>(
        &self,
        ctx: &Ctx<'js>,
        entrypoint: &str,
        input: &str,
    ) -> Result<Persistent<Value<'static>>, InvokeFailure> {
        let input = if input.trim().is_empty() {
            Value::new_null(ctx.clone())
        } else {
            ctx.json_parse(input).catch(ctx).map_err(|e| {
                let message = match e {
                    CaughtError::Exception(ex) => ex.message().unwrap_or_default(),
                    other => other.to_string(),
                };
                InvokeFailure::new(
                    Kind::BadInput,
                    format!("input is not valid JSON: {message}"),
                )
            })?
        };
        let default: Value = self.default_export.clone().restore(ctx).map_err(internal)?;
        let name = if entrypoint.is_empty() {
            "run"
        } else {
            entrypoint
        };
        let not_found = || {
            InvokeFailure::new(
                Kind::EntrypointNotFound,
                format!("entrypoint {name:?} not found: the main module's default export has no such method"),
            )
        };
        let (function, this): (Function, Value) = if let Some(function) = default.as_function() {
            if name != "run" {
                return Err(not_found());
            }
            (function.clone(), Value::new_undefined(ctx.clone()))
        } else if let Some(object) = default.as_object() {
            let method: Value = object
                .get(name)
                .catch(ctx)
                .map_err(|e| self.core.failure(ctx, e))?;
            let Some(function) = method.as_function() else {
                return Err(not_found());
            };
            (function.clone(), default.clone())
        } else {
            return Err(InvokeFailure::new(
                Kind::EntrypointNotFound,
                "the main module has no default export object or function",
            ));
        };
        let env = self.caps.env(ctx).map_err(internal)?;
        let context = self.core.context(ctx).map_err(internal)?;
        let returned: Value = function
            .call((This(this), input, env, context))
            .catch(ctx)
            .map_err(|e| self.core.failure(ctx, e))?;
        let returned = adopt_thenable(ctx, returned)
            .catch(ctx)
            .map_err(|e| self.core.failure(ctx, e))?;
        Ok(Persistent::save(ctx, returned))
    }
}

fn evaluation_error<'js>(ctx: &Ctx<'js>, error: CaughtError<'js>) -> Error {
    match error {
        CaughtError::Exception(ex) => {
            let thrown = exception::describe(ctx, ex.as_value());
            Error::Evaluation(
                format!(
                    "{} {}",
                    thrown.message,
                    exception::first_location(&thrown.stack)
                        .map(|l| format!("at {l}"))
                        .unwrap_or_default()
                )
                .trim()
                .to_string(),
            )
        }
        CaughtError::Value(value) => Error::Evaluation(exception::describe(ctx, &value).message),
        CaughtError::Error(error) => Error::Engine(error.to_string()),
    }
}
