//! A loaded worker: its isolate, its default export, and the invocation loop
//! that runs an entrypoint to completion under the worker's limits.
//!
//! Limits end an invocation with an error naming them: CPU time and the
//! wall-clock deadline through the engine's interrupt handler (and the
//! deadline also while waiting on tasks), memory and stack through QuickJS's
//! own checks, capability call counts here. A worker whose invocation tripped
//! a limit is *poisoned* ([`Outcome::poisoned`]): its runtime may hold
//! half-updated state, so the server throws it away and builds it again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet::caplet_capnp::invoke_error::Kind;
use caplet_capnp_js::schema::SchemaSet;
use rquickjs::function::This;
use rquickjs::promise::PromiseState;
use rquickjs::{CatchResultExt, CaughtError, Ctx, Function, Object, Persistent, Promise, Value};

use crate::caps::{Binding, Caps};
use crate::console::{self, LogLine, LogSink};
use crate::engine::{EngineLimits, Isolate, Trip};
use crate::error::{Error, InvokeFailure};
use crate::exception;
use crate::modules::{self, Bytecode};
use crate::tasks::Tasks;

/// Everything a worker needs besides its code, all limits concrete.
#[derive(Debug, Clone, Copy)]
pub struct WorkerLimits {
    pub engine: EngineLimits,
    pub output_bytes: usize,
    pub log_bytes: usize,
    /// Capability calls per invocation.
    pub subrequests: u32,
    /// Capability calls waiting at once.
    pub calls_in_flight: u32,
}

/// Resource use of one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub wall_time: Duration,
    pub cpu_time: Duration,
    pub peak_memory_bytes: u64,
}

/// The result of one invocation.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<String, InvokeFailure>,
    pub logs: Vec<LogLine>,
    pub stats: Stats,
}

/// Whether an error kind is a tripped limit (which poisons the runtime).
pub fn is_limit(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::CpuLimitExceeded
            | Kind::MemoryLimitExceeded
            | Kind::WallTimeExceeded
            | Kind::StackOverflow
            | Kind::SubrequestLimitExceeded
            | Kind::CallsInFlightExceeded
    )
}

/// Peak memory is sampled every this many segments of an invocation, and at
/// its end (`Stats.peakMemoryBytes`). Each sample walks the whole heap
/// (`JS_ComputeMemoryUsage`): at every 16th segment it was 3% of the host's
/// CPU per capability call, and two samples were 4% of a cold invocation.
/// The memory limit itself is enforced by QuickJS on every allocation.
const PEAK_SAMPLE_EVERY: u32 = 64;

/// Everything of a loaded worker that stubs, pipelines and exports reach
/// (through `Weak` references, so no cycle runs through JS).
///
/// Field order is drop order: every JS value (capability state, the default
/// export, pending tasks holding promise functions) goes before the isolate.
pub struct Core {
    pub caps: Caps,
    default_export: RefCell<Option<Persistent<Value<'static>>>>,
    /// The main module's exports, for typed entrypoints.
    namespace: RefCell<Option<Persistent<Object<'static>>>>,
    pub tasks: Tasks,
    logs: Rc<RefCell<LogSink>>,
    limits: WorkerLimits,
    /// Capability calls made by the current invocation, and still waiting.
    calls: Cell<u32>,
    in_flight: Cell<u32>,
    /// Signalled after every segment, and when a driver finishes, for calls
    /// on exports waiting on a promise.
    pub progress: tokio::sync::Notify,
    /// Calls on exports waiting inside the running invocation.
    pub inside_calls: Cell<u32>,
    /// Held by whoever runs the invocation loop (the *driver*): an
    /// invocation, or a call on an export that arrived while the worker was
    /// idle. Other calls on exports run inside the driver's invocation.
    pub driver: tokio::sync::Mutex<()>,
    /// Set when a limit tripped in a call on an export: the runtime must be
    /// rebuilt before the next invocation.
    pub poisoned: Cell<bool>,
    pub isolate: Isolate,
}

/// A compiled, evaluated worker.
pub struct JsWorker {
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
        let isolate = Isolate::new(&limits.engine, bytecode)?;
        let logs = Rc::new(RefCell::new(LogSink::default()));
        logs.borrow_mut().reset(limits.log_bytes);
        let core = Rc::new_cyclic(|me| Core {
            caps: Caps::new(me.clone(), schema, bindings),
            default_export: RefCell::new(None),
            namespace: RefCell::new(None),
            tasks: Tasks::default(),
            logs,
            limits,
            calls: Cell::new(0),
            in_flight: Cell::new(0),
            progress: tokio::sync::Notify::new(),
            inside_calls: Cell::new(0),
            driver: tokio::sync::Mutex::new(()),
            poisoned: Cell::new(false),
            isolate,
        });
        let isolate = &core.isolate;

        let (evaluated, job_error) = isolate.segment(|ctx| -> Result<_, Error> {
            console::attach(ctx, core.logs.clone()).map_err(|e| Error::Engine(e.to_string()))?;
            core.caps
                .install(ctx)
                .map_err(|e| Error::Engine(e.to_string()))?;
            crate::fetch::install(ctx, &core).map_err(|e| Error::Engine(e.to_string()))?;
            let declared = modules::load_bytecode(ctx, &main_bytes).catch(ctx);
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
        let default_export = isolate.with(|ctx| -> Result<_, Error> {
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
        *core.default_export.borrow_mut() = Some(default_export.0);
        *core.namespace.borrow_mut() = Some(default_export.1);
        core.end();
        Ok(Self { core })
    }

    /// Runs `entrypoint` with `input` (JSON text) to completion. Invocations of
    /// one worker must not overlap; the caller serialises them.
    pub async fn invoke(&self, entrypoint: &str, input: &str) -> Outcome {
        let _driving = self.core.driver.lock().await;
        let outcome = self.core.invoke(entrypoint, input).await;
        self.core.progress.notify_waiters();
        outcome
    }

    /// Whether a limit tripped, so the runtime must be rebuilt.
    pub fn poisoned(&self) -> bool {
        self.core.poisoned.get()
    }

    /// Serves the main module's export `name` as a capability implementing
    /// `interface_id` of `schema`.
    pub fn entrypoint(
        &self,
        name: &str,
        schema: &SchemaSet,
        interface_id: u64,
    ) -> Result<capnp::capability::Client, InvokeFailure> {
        self.core.caps.add_schema(schema).map_err(internal)?;
        self.core.isolate.with(|ctx| {
            let not_found = |why: &str| {
                InvokeFailure::new(
                    Kind::EntrypointNotFound,
                    format!("entrypoint {name:?}: {why}"),
                )
            };
            let namespace = self
                .core
                .namespace
                .borrow()
                .clone()
                .ok_or_else(|| not_found("no module"))?;
            let namespace = namespace.restore(ctx).map_err(internal)?;
            let export: Value = namespace.get(name).map_err(internal)?;
            match export.as_object() {
                Some(object) if !export.is_function() && !export.is_array() => {
                    Ok(self.core.caps.export(ctx, object.clone(), interface_id))
                }
                _ => Err(not_found(&format!(
                    "the main module has no export {name:?} that is an object ({} found)",
                    export.type_name()
                ))),
            }
        })
    }

    /// Streams the console lines of the next invocations to `stream` as
    /// well; returns the previous stream.
    pub fn stream_logs(
        &self,
        stream: Option<crate::log_stream::LogStream>,
    ) -> Option<crate::log_stream::LogStream> {
        self.core.logs.borrow_mut().set_stream(stream)
    }
}

impl Core {
    /// Starts an invocation's budgets (CPU, wall clock, calls, logs).
    fn begin(&self) {
        self.isolate
            .meter()
            .reset(self.limits.engine.cpu_time, self.limits.engine.wall_time);
        self.calls.set(0);
        self.in_flight.set(0);
        self.logs.borrow_mut().reset(self.limits.log_bytes);
    }

    /// Ends an invocation: pending tasks are dropped and every stub it held
    /// is released — unless calls on exports are still waiting inside it:
    /// one of them takes over as driver and ends it later.
    fn end(&self) {
        if self.inside_calls.get() > 0 {
            return;
        }
        self.tasks.clear();
        self.in_flight.set(0);
        self.caps.end_invocation();
    }

    /// Records the outcome of an invocation: a tripped limit poisons the
    /// runtime, which then never runs JS again.
    fn settled_with<T>(&self, result: &Result<T, InvokeFailure>) {
        if result.as_ref().is_err_and(|f| is_limit(f.kind)) {
            self.poisoned.set(true);
        }
    }

    async fn invoke(&self, entrypoint: &str, input: &str) -> Outcome {
        let started = Instant::now();
        self.begin();
        let mut peak = 0;
        let result = if self.usable() {
            self.run(entrypoint, input, &mut peak).await
        } else {
            Err(poisoned())
        };
        self.settled_with(&result);
        self.end();
        Outcome {
            result,
            logs: self.logs.borrow_mut().take(),
            stats: Stats {
                wall_time: started.elapsed(),
                cpu_time: self.isolate.meter().used(),
                peak_memory_bytes: peak.max(self.isolate.memory_used()),
            },
        }
    }

    async fn run(
        &self,
        entrypoint: &str,
        input: &str,
        peak: &mut u64,
    ) -> Result<String, InvokeFailure> {
        let (started, job_error) = self
            .isolate
            .segment(|ctx| self.start(ctx, entrypoint, input));
        self.progress.notify_waiters();
        let returned = self.check(started, job_error)?;
        let settled = self.settle(&returned, peak).await?;
        let output = self
            .isolate
            .with(|ctx| self.finish(ctx, settled.restore(ctx).map_err(internal)?));
        // Serialising the result may have run the worker's code (`toJSON`)
        // into a limit.
        self.within_limits()?;
        output
    }

    /// The value of `returned` once it is not a pending promise (`None` while
    /// it is), or its rejection as a failure.
    pub fn poll_settled(
        &self,
        returned: &Persistent<Value<'static>>,
    ) -> Result<Option<Persistent<Value<'static>>>, InvokeFailure> {
        self.isolate.with(|ctx| {
            let value = returned.clone().restore(ctx).map_err(internal)?;
            let Some(promise) = value.as_promise() else {
                return Ok(Some(returned.clone()));
            };
            match promise.state() {
                PromiseState::Pending => Ok(None),
                PromiseState::Resolved => {
                    let value: Value = promise
                        .result()
                        .and_then(Result::ok)
                        .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
                    Ok(Some(Persistent::save(ctx, value)))
                }
                PromiseState::Rejected => Err(rejection(ctx, promise)),
            }
        })
    }

    /// Runs tasks until `returned` is not a pending promise; gives its value,
    /// or the rejection as a failure. The completions of the tasks that
    /// finished together run in one segment.
    async fn settle(
        &self,
        returned: &Persistent<Value<'static>>,
        peak: &mut u64,
    ) -> Result<Persistent<Value<'static>>, InvokeFailure> {
        let mut segments: u32 = 0;
        // One timer for the whole invocation, not one per wait.
        let deadline = self.isolate.meter().wall_deadline();
        let mut wall = std::pin::pin!(async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        });
        loop {
            let state = self.poll_settled(returned);
            // Describing a rejection may have run the worker's code
            // (`toString`) into a limit.
            self.within_limits()?;
            if let Some(value) = state? {
                return Ok(value);
            }
            if self.tasks.is_empty() {
                return Err(InvokeFailure::new(
                    Kind::NeverSettled,
                    "the returned promise never settles: nothing it waits on is pending",
                ));
            }
            let completions = tokio::select! {
                biased;
                completions = self.tasks.next() => completions,
                () = &mut wall => {
                    return Err(self.limit_failure(Trip::Wall));
                }
            };
            if completions.is_empty() {
                continue;
            }
            let (done, job_error) = self.isolate.segment(|ctx| {
                completions.into_iter().try_for_each(|completion| {
                    completion(ctx).catch(ctx).map_err(|e| self.failure(ctx, e))
                })
            });
            self.progress.notify_waiters();
            // Measuring the heap walks all of it: sample every
            // PEAK_SAMPLE_EVERY-th segment, not after each capability call.
            segments += 1;
            if segments % PEAK_SAMPLE_EVERY == 0 {
                *peak = (*peak).max(self.isolate.memory_used());
            }
            self.check(done, job_error)?;
        }
    }

    /// Runs one call on an exported object as its own invocation, as the
    /// driver (the caller holds `driver`): `call` runs the method in the
    /// first segment, then tasks run until its promise settles; `reply`
    /// encodes the settled value. A tripped limit poisons the worker.
    pub async fn drive<R>(
        &self,
        call: impl FnOnce(&Ctx<'_>) -> Result<Persistent<Value<'static>>, InvokeFailure>,
        reply: impl for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> Result<R, InvokeFailure>,
    ) -> Result<R, InvokeFailure> {
        if !self.usable() {
            return Err(poisoned());
        }
        self.begin();
        let mut peak = 0;
        let result = async {
            let (started, job_error) = self.isolate.segment(call);
            self.progress.notify_waiters();
            let returned = self.check(started, job_error)?;
            let settled = self.settle(&returned, &mut peak).await?;
            let reply = self
                .isolate
                .with(|ctx| reply(ctx, settled.restore(ctx).map_err(internal)?));
            self.within_limits().and(reply)
        }
        .await;
        self.settled_with(&result);
        self.end();
        self.progress.notify_waiters();
        result
    }

    /// Whether JS can run here at all (the worker was not poisoned).
    pub fn usable(&self) -> bool {
        !self.poisoned.get()
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
        let default = self
            .default_export
            .borrow()
            .clone()
            .ok_or_else(|| internal("the worker has no default export"))?;
        let default: Value = default.restore(ctx).map_err(internal)?;
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
                .map_err(|e| self.failure(ctx, e))?;
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
        let context = Object::new(ctx.clone()).map_err(internal)?;
        let returned: Value = function
            .call((This(this), input, env, context))
            .catch(ctx)
            .map_err(|e| self.failure(ctx, e))?;
        let returned = adopt_thenable(ctx, returned)
            .catch(ctx)
            .map_err(|e| self.failure(ctx, e))?;
        Ok(Persistent::save(ctx, returned))
    }

    /// Turns the result of a segment into an error if JS failed in it.
    pub fn check<T>(
        &self,
        result: Result<T, InvokeFailure>,
        job_error: Option<String>,
    ) -> Result<T, InvokeFailure> {
        self.within_limits()?;
        let value = result?;
        match job_error {
            Some(message) => Err(classify(message, String::new())),
            None => Ok(value),
        }
    }

    /// The failure for the limit the meter recorded, if one tripped: the
    /// worker's own code (`toJSON`, `toString`, getters) can run into a
    /// limit wherever the host touches its values.
    fn within_limits(&self) -> Result<(), InvokeFailure> {
        match self.isolate.meter().tripped() {
            Some(trip) => Err(self.limit_failure(trip)),
            None => Ok(()),
        }
    }

    /// The error for a limit the meter recorded.
    pub fn limit_failure(&self, trip: Trip) -> InvokeFailure {
        let l = &self.limits;
        match trip {
            Trip::Cpu => InvokeFailure::new(
                Kind::CpuLimitExceeded,
                format!(
                    "the invocation used more than {} ms of CPU time",
                    l.engine.cpu_time.as_millis()
                ),
            ),
            Trip::Wall => InvokeFailure::new(
                Kind::WallTimeExceeded,
                format!(
                    "the invocation took longer than {} ms",
                    l.engine.wall_time.as_millis()
                ),
            ),
            Trip::Subrequests => InvokeFailure::new(
                Kind::SubrequestLimitExceeded,
                format!(
                    "the invocation made more than {} capability calls",
                    l.subrequests
                ),
            ),
            Trip::CallsInFlight => InvokeFailure::new(
                Kind::CallsInFlightExceeded,
                format!(
                    "the invocation had more than {} capability calls in flight",
                    l.calls_in_flight
                ),
            ),
        }
    }

    /// Counts a capability call JS is about to send. Over a limit, the meter
    /// trips (ending the invocation at the next interrupt poll) and the
    /// limit's error is thrown into JS.
    pub fn start_call(&self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        let over = if self.calls.get() >= self.limits.subrequests {
            Some(Trip::Subrequests)
        } else if self.in_flight.get() >= self.limits.calls_in_flight {
            Some(Trip::CallsInFlight)
        } else {
            None
        };
        if let Some(trip) = over {
            self.isolate.meter().trip(trip);
            return Err(rquickjs::Exception::throw_internal(
                ctx,
                &self.limit_failure(trip).to_string(),
            ));
        }
        self.calls.set(self.calls.get() + 1);
        self.in_flight.set(self.in_flight.get() + 1);
        Ok(())
    }

    /// Counts a capability call whose result arrived.
    pub fn end_call(&self) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
    }

    /// Describes an exception caught while running the worker.
    pub fn failure<'js>(&self, ctx: &Ctx<'js>, error: CaughtError<'js>) -> InvokeFailure {
        if let Some(trip) = self.isolate.meter().tripped() {
            return self.limit_failure(trip);
        }
        match error {
            CaughtError::Exception(ex) => {
                let thrown = exception::describe(ctx, ex.as_value());
                classify(thrown.message, thrown.stack)
            }
            CaughtError::Value(value) => {
                let thrown = exception::describe(ctx, &value);
                classify(thrown.message, thrown.stack)
            }
            CaughtError::Error(error) => internal(error),
        }
    }

    /// Serialises the result to JSON within the output limit.
    fn finish<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> Result<String, InvokeFailure> {
        if value.is_undefined() {
            return Ok("null".into());
        }
        let kind = value.type_name();
        let json = ctx
            .json_stringify(value)
            .catch(ctx)
            .map_err(|e| {
                let message = match e {
                    CaughtError::Exception(ex) => ex.message().unwrap_or_default(),
                    other => other.to_string(),
                };
                InvokeFailure::new(
                    Kind::OutputNotSerializable,
                    format!("the return value is not JSON-serializable: {message}"),
                )
            })?
            .ok_or_else(|| {
                InvokeFailure::new(
                    Kind::OutputNotSerializable,
                    format!("the return value is not JSON-serializable: a {kind} has no JSON form"),
                )
            })?;
        let json = json.to_string().map_err(internal)?;
        if json.len() > self.limits.output_bytes {
            return Err(InvokeFailure::new(
                Kind::OutputTooLarge,
                format!(
                    "the output is {} bytes, over the limit of {}",
                    json.len(),
                    self.limits.output_bytes
                ),
            ));
        }
        Ok(json)
    }
}

/// Sorts an uncaught JS error into its kind: engine limits show up as
/// particular errors.
fn classify(message: String, stack: String) -> InvokeFailure {
    let kind = if message.contains("out of memory") {
        Kind::MemoryLimitExceeded
    } else if message.contains("stack overflow")
        || message.contains("Maximum call stack size exceeded")
    {
        Kind::StackOverflow
    } else {
        Kind::Exception
    };
    InvokeFailure {
        kind,
        message,
        stack,
    }
}

/// What JS returned, with a non-promise object turned into a promise the way
/// `await` would: a thenable (a pipelined capability call returned without
/// `async`, or any object with a `then` method) is followed to its value;
/// any other object resolves to itself.
pub fn adopt_thenable<'js>(ctx: &Ctx<'js>, returned: Value<'js>) -> rquickjs::Result<Value<'js>> {
    if !returned.is_object() || returned.is_promise() {
        return Ok(returned);
    }
    let (promise, resolve, _reject) = ctx.promise()?;
    resolve.call::<_, ()>((returned,))?;
    Ok(promise.into_value())
}

/// Describes the reason of a rejected promise.
fn rejection<'js>(ctx: &Ctx<'js>, promise: &Promise<'js>) -> InvokeFailure {
    match promise.result::<Value>() {
        Some(Err(rquickjs::Error::Exception)) => {
            let thrown = exception::describe(ctx, &ctx.catch());
            classify(thrown.message, thrown.stack)
        }
        Some(Err(other)) => internal(other),
        _ => internal("a rejected promise has no reason"),
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

/// The failure of a call on a runtime a tripped limit poisoned.
fn poisoned() -> InvokeFailure {
    InvokeFailure::new(
        Kind::Internal,
        "the worker's runtime was stopped by a limit and is being rebuilt",
    )
}

pub fn internal(error: impl std::fmt::Display) -> InvokeFailure {
    InvokeFailure::new(Kind::Internal, format!("internal: {error}"))
}
