//! One invocation of a worker, as a value, and everything it is bounded by.
//!
//! [`Core`] is a loaded worker's invocation state: its isolate, its tasks
//! and timers, the budgets of the running invocation (CPU and wall time via
//! the engine's meter, capability calls, calls in flight, timers, log
//! bytes), what it holds on the other side ([`Held`]), and the *driver*
//! protocol for calls into the worker. An invocation starts as a
//! `Running` value and ends when that value is dropped — when it returned,
//! and just as well when its future was dropped because the caller
//! cancelled it: its tasks and timers are dropped and everything it held
//! is released, so module state is kept and the worker answers the next
//! call.
//!
//! Limits end an invocation with an error naming them: CPU time and the
//! wall-clock deadline through the engine's interrupt handler (and the
//! deadline also while waiting on tasks), memory and stack through QuickJS's
//! own checks, capability calls and timers here. A worker whose invocation
//! tripped a limit is *poisoned* ([`Core::usable`]): its runtime may hold
//! half-updated state, so the server throws it away and builds it again.
//!
//! Calls into the worker (on an object JS passed out as a capability, or a
//! typed entrypoint) run through [`Core::call_into`]: inside the running
//! invocation when there is one (the call's method runs in its own
//! CPU-metered segment, and if it returns a promise, the call waits while
//! the invocation loop runs tasks and jobs, signalled after each segment),
//! or as an invocation of its own (the call becomes the *driver*) when the
//! worker is idle; a waiting call whose invocation ended first takes over
//! the same way.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use std::rc::Weak;

use caplet::caplet_capnp::invoke_error::Kind;
use rquickjs::promise::PromiseState;
use rquickjs::{CatchResultExt, CaughtError, Ctx, Function, Object, Persistent, Promise, Value};

use crate::console::{LogLine, LogSink, LogStream};
use crate::engine::{EngineLimits, Isolate, Trip};
use crate::error::InvokeFailure;
use crate::exception;
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
    /// Timers pending at once.
    pub pending_timers: u32,
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
            | Kind::TimerLimitExceeded
    )
}

/// Peak memory is sampled every this many segments of an invocation, and at
/// its end (`Stats.peakMemoryBytes`). Each sample walks the whole heap
/// (`JS_ComputeMemoryUsage`): at every 16th segment it was 3% of the host's
/// CPU per capability call, and two samples were 4% of a cold invocation.
/// The memory limit itself is enforced by QuickJS on every allocation.
const PEAK_SAMPLE_EVERY: u32 = 64;

/// Something an invocation holds on the other side (a stub, a call's
/// pipeline or answer), let go when it ends.
pub trait Held {
    fn release(&self);
}

/// A loaded worker's isolate and the state of its invocations, reached by
/// stubs, pipelines and exports through `Weak` references (so no cycle runs
/// through JS).
///
/// Field order is drop order: every JS value (pending tasks holding promise
/// functions, `waitUntil` promises) goes before the isolate.
pub struct Core {
    tasks: Rc<Tasks>,
    /// The promises the running invocation passed to `ctx.waitUntil`.
    wait_until: Rc<RefCell<Vec<Persistent<Value<'static>>>>>,
    logs: Rc<RefCell<LogSink>>,
    limits: WorkerLimits,
    /// Capability calls made by the current invocation, and still waiting.
    calls: Cell<u32>,
    in_flight: Cell<u32>,
    /// What the current invocation holds on the other side: its stubs, its
    /// calls' pipelines and answers.
    held: RefCell<Vec<Weak<dyn Held>>>,
    /// Signalled after every segment, and when a driver finishes, for calls
    /// on exports waiting on a promise.
    progress: tokio::sync::Notify,
    /// Calls on exports waiting inside the running invocation.
    inside_calls: Cell<u32>,
    /// Held by whoever runs the invocation loop (the *driver*): an
    /// invocation, or a call on an export that arrived while the worker was
    /// idle. Other calls on exports run inside the driver's invocation.
    driver: tokio::sync::Mutex<()>,
    /// Set when a limit tripped: the runtime must be rebuilt before the
    /// next invocation.
    poisoned: Cell<bool>,
    isolate: Isolate,
}

/// The invocation running on a worker, as a value: made when it starts
/// (its budgets reset), and ended in `Drop`: its tasks are dropped, every
/// stub, pipeline and answer it held released, its log stream let go, and
/// calls on exports waiting for it woken. So an invocation whose future is
/// dropped (the caller cancelled it, and capnp-rpc dropped the call) ends
/// exactly like one that returned: module state stays, and the worker
/// answers the next call.
struct Running<'c> {
    core: &'c Core,
    started: Instant,
    /// The highest heap size sampled so far.
    peak: u64,
}

impl<'c> Running<'c> {
    fn begin(core: &'c Core) -> Self {
        core.begin();
        Self {
            core,
            started: Instant::now(),
            peak: 0,
        }
    }

    /// Resource use so far.
    fn stats(&self) -> Stats {
        Stats {
            wall_time: self.started.elapsed(),
            cpu_time: self.core.isolate.meter().used(),
            peak_memory_bytes: self.peak.max(self.core.isolate.memory_used()),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.core.end();
        self.core.logs.borrow_mut().set_stream(None);
        self.core.progress.notify_waiters();
    }
}

/// A call on an export waiting inside the running invocation, counted in
/// `Core::inside_calls` while it lives. While one waits, an invocation that
/// ends keeps its tasks and stubs so the call can take over as driver; the
/// last one to go, with no driver left, ends the invocation itself.
struct Inside<'c> {
    core: &'c Core,
}

impl<'c> Inside<'c> {
    fn enter(core: &'c Core) -> Self {
        core.inside_calls.set(core.inside_calls.get() + 1);
        Self { core }
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        let core = self.core;
        core.inside_calls.set(core.inside_calls.get() - 1);
        if core.inside_calls.get() == 0 {
            if let Ok(_idle) = core.driver.try_lock() {
                // The invocation it waited in ended while it waited.
                core.end();
            }
        }
    }
}

impl Core {
    /// The state of a worker whose runtime is `isolate`.
    pub fn new(isolate: Isolate, limits: WorkerLimits) -> Self {
        let logs = Rc::new(RefCell::new(LogSink::default()));
        logs.borrow_mut().reset(limits.log_bytes);
        Self {
            tasks: Rc::default(),
            wait_until: Rc::default(),
            logs,
            limits,
            calls: Cell::new(0),
            in_flight: Cell::new(0),
            held: RefCell::new(Vec::new()),
            progress: tokio::sync::Notify::new(),
            inside_calls: Cell::new(0),
            driver: tokio::sync::Mutex::new(()),
            poisoned: Cell::new(false),
            isolate,
        }
    }

    /// The worker's runtime and context.
    pub fn isolate(&self) -> &Isolate {
        &self.isolate
    }

    /// The host operations and timers the invocation waits on.
    pub fn tasks(&self) -> &Rc<Tasks> {
        &self.tasks
    }

    /// Where `console` writes.
    pub fn logs(&self) -> &Rc<RefCell<LogSink>> {
        &self.logs
    }

    /// Registers `held` for release when the invocation ends.
    pub fn hold(&self, held: Weak<dyn Held>) {
        let mut all = self.held.borrow_mut();
        if all.len() == all.capacity() {
            // Keep the list to what is still alive (amortised).
            all.retain(|held| held.strong_count() > 0);
        }
        all.push(held);
    }

    /// Ends the stretch of JS that evaluated the main module, like an
    /// invocation: what it held is released.
    pub fn end_evaluation(&self) {
        self.end();
    }

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
        self.wait_until.borrow_mut().clear();
        self.in_flight.set(0);
        // Releases everything the invocation held: stubs, pipelines, and
        // answers it never awaited (with the capabilities in them).
        for held in self.held.take() {
            if let Some(held) = held.upgrade() {
                held.release();
            }
        }
    }

    /// Records the outcome of an invocation: a tripped limit poisons the
    /// runtime, which then never runs JS again.
    fn settled_with<T>(&self, result: &Result<T, InvokeFailure>) {
        if result.as_ref().is_err_and(|f| is_limit(f.kind)) {
            self.poisoned.set(true);
        }
    }

    /// Runs one invocation to completion: `call` starts it in the first
    /// segment (calls the entrypoint), tasks run until the promise it
    /// returned settles, the value is serialised within the output limit,
    /// and tasks run on until the promises passed to `ctx.waitUntil`
    /// settle. Console lines also go to `stream`, given back to be flushed.
    /// Invocations of one worker run one after another (and after a call
    /// driving it). Dropping the future (the caller cancelled) ends the
    /// invocation exactly as returning does.
    pub async fn invoke(
        &self,
        call: impl FnOnce(&Ctx<'_>) -> Result<Persistent<Value<'static>>, InvokeFailure>,
        stream: Option<LogStream>,
    ) -> (Outcome, Option<LogStream>) {
        let _driving = self.driver.lock().await;
        let mut running = Running::begin(self);
        self.logs.borrow_mut().set_stream(stream);
        let result = if self.usable() {
            self.run(call, &mut running.peak).await
        } else {
            Err(poisoned())
        };
        self.settled_with(&result);
        let stream = self.logs.borrow_mut().set_stream(None);
        let logs = self.logs.borrow_mut().take();
        let stats = running.stats();
        drop(running);
        (
            Outcome {
                result,
                logs,
                stats,
            },
            stream,
        )
    }

    async fn run(
        &self,
        call: impl FnOnce(&Ctx<'_>) -> Result<Persistent<Value<'static>>, InvokeFailure>,
        peak: &mut u64,
    ) -> Result<String, InvokeFailure> {
        let (started, job_error) = self.isolate.segment(call);
        self.progress.notify_waiters();
        let returned = self.check(started, job_error);
        let result = match &returned {
            Ok(returned) => self.complete(returned, peak).await,
            Err(failure) => Err(failure.clone()),
        };
        if result.as_ref().is_err_and(|f| is_limit(f.kind)) {
            return result;
        }
        self.report_rejections(returned.ok());
        // Reporting ran the worker's code (a reason's toString, a replaced
        // console) under the same limits.
        self.within_limits()?;
        result
    }

    /// The rest of [`Self::run`] once the entrypoint returned: waits for its
    /// promise, serialises the value, waits for `ctx.waitUntil`.
    async fn complete(
        &self,
        returned: &Persistent<Value<'static>>,
        peak: &mut u64,
    ) -> Result<String, InvokeFailure> {
        let settled = self.settle(returned, peak).await?;
        let output = self
            .isolate
            .with(|ctx| self.finish(ctx, settled.restore(ctx).map_err(internal)?));
        // Serialising the result may have run the worker's code (`toJSON`)
        // into a limit.
        self.within_limits()?;
        let output = output?;
        self.wait_until(peak).await?;
        Ok(output)
    }

    /// Logs `Uncaught (in promise) …` for each promise the invocation
    /// rejected with no handler, except the ones the host waits on (the
    /// entrypoint's result and the `ctx.waitUntil` promises), as Workers do.
    fn report_rejections(&self, returned: Option<Persistent<Value<'static>>>) {
        let kept: Vec<_> = self.wait_until.borrow().iter().cloned().collect();
        let (reported, _) = self.isolate.segment(|ctx| {
            let awaited = returned
                .into_iter()
                .chain(kept)
                .filter_map(|promise| promise.restore(ctx).ok())
                .collect();
            crate::platform::report_rejections(ctx, awaited)
        });
        if reported.is_err() {
            self.isolate.with(|ctx| drop(ctx.catch()));
        }
    }

    /// The value of `returned` once it is not a pending promise (`None` while
    /// it is), or its rejection as a failure.
    fn poll_settled(
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
    /// or the rejection as a failure.
    async fn settle(
        &self,
        returned: &Persistent<Value<'static>>,
        peak: &mut u64,
    ) -> Result<Persistent<Value<'static>>, InvokeFailure> {
        self.run_until(|| self.poll_settled(returned), peak)
            .await?
            .ok_or_else(|| {
                InvokeFailure::new(
                    Kind::NeverSettled,
                    "the returned promise never settles: nothing it waits on is pending",
                )
            })
    }

    /// Runs tasks until `done` gives a value (`None` once no task is left to
    /// run). The completions of the tasks that finished together run in one
    /// segment; a timer runs in a segment of its own.
    async fn run_until<T>(
        &self,
        mut done: impl FnMut() -> Result<Option<T>, InvokeFailure>,
        peak: &mut u64,
    ) -> Result<Option<T>, InvokeFailure> {
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
            let state = done();
            // Describing a rejection may have run the worker's code
            // (`toString`) into a limit.
            self.within_limits()?;
            if let Some(value) = state? {
                return Ok(Some(value));
            }
            if self.tasks.is_empty() {
                return Ok(None);
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
            if segments.is_multiple_of(PEAK_SAMPLE_EVERY) {
                *peak = (*peak).max(self.isolate.memory_used());
            }
            self.check(done, job_error)?;
        }
    }

    /// Runs one call on an exported object as its own invocation, as the
    /// driver (the caller holds `driver`): `call` runs the method in the
    /// first segment, then tasks run until its promise settles; `reply`
    /// encodes the settled value. A tripped limit poisons the worker.
    async fn drive<R>(
        &self,
        call: impl FnOnce(&Ctx<'_>) -> Result<Persistent<Value<'static>>, InvokeFailure>,
        reply: impl for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> Result<R, InvokeFailure>,
    ) -> Result<R, InvokeFailure> {
        if !self.usable() {
            return Err(poisoned());
        }
        let mut running = Running::begin(self);
        let result = async {
            let (started, job_error) = self.isolate.segment(call);
            self.progress.notify_waiters();
            let returned = self.check(started, job_error)?;
            let settled = self.settle(&returned, &mut running.peak).await?;
            let reply = self
                .isolate
                .with(|ctx| reply(ctx, settled.restore(ctx).map_err(internal)?));
            self.within_limits().and(reply)
        }
        .await;
        self.settled_with(&result);
        drop(running);
        result
    }

    /// Whether JS can run here at all (the worker was not poisoned).
    pub fn usable(&self) -> bool {
        !self.poisoned.get()
    }

    /// The `ctx` argument of an entrypoint: `waitUntil(promise)` keeps the
    /// invocation open, after its own promise settled, until `promise`
    /// settles too (within the wall-clock limit); its timers and calls go
    /// on meanwhile.
    pub fn context<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
        let context = Object::new(ctx.clone())?;
        let kept = Rc::downgrade(&self.wait_until);
        let wait_until = Function::new(ctx.clone(), move |ctx: Ctx<'js>, promise: Value<'js>| {
            if let Some(kept) = kept.upgrade() {
                kept.borrow_mut().push(Persistent::save(&ctx, promise));
            }
        })?
        .with_name("waitUntil")?;
        context.set("waitUntil", wait_until)?;
        Ok(context)
    }

    /// Runs tasks until every promise passed to `ctx.waitUntil` has settled
    /// (however it settled), or nothing is left that could settle them.
    async fn wait_until(&self, peak: &mut u64) -> Result<(), InvokeFailure> {
        let all_settled = || {
            self.isolate.with(|ctx| {
                self.wait_until.borrow().iter().all(|kept| {
                    kept.clone().restore(ctx).is_ok_and(|value| {
                        value
                            .as_promise()
                            .is_none_or(|p| p.state() != PromiseState::Pending)
                    })
                })
            })
        };
        self.run_until(|| Ok(all_settled().then_some(())), peak)
            .await
            .map(drop)
    }

    /// Turns the result of a segment into an error if JS failed in it.
    fn check<T>(
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
            Trip::Timers => InvokeFailure::new(
                Kind::TimerLimitExceeded,
                format!(
                    "the invocation had more than {} timers pending",
                    l.pending_timers
                ),
            ),
        }
    }

    /// Trips `trip` (JS stops at its next poll) and gives its error to
    /// throw into JS.
    pub fn trip(&self, ctx: &Ctx<'_>, trip: Trip) -> rquickjs::Error {
        self.isolate.meter().trip(trip);
        rquickjs::Exception::throw_internal(ctx, &self.limit_failure(trip).to_string())
    }

    /// Runs a call into the worker (a method of an exported object):
    /// `call` runs the method, `reply` encodes its settled value. It runs
    /// inside the running invocation if there is one, else as an
    /// invocation of its own (the driver).
    pub async fn call_into<R>(
        &self,
        call: impl FnOnce(&Ctx<'_>) -> Result<Persistent<Value<'static>>, InvokeFailure>,
        reply: impl for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> Result<R, InvokeFailure>,
    ) -> Result<R, InvokeFailure> {
        match self.driver.try_lock() {
            Ok(_driving) => self.drive(call, reply).await,
            Err(_) => self.inside(call, reply).await,
        }
    }

    /// Runs a call inside the invocation already running, taking over as
    /// driver if that invocation ends before this call settles.
    async fn inside<R>(
        &self,
        call: impl FnOnce(&Ctx<'_>) -> Result<Persistent<Value<'static>>, InvokeFailure>,
        reply: impl for<'js> FnOnce(&Ctx<'js>, Value<'js>) -> Result<R, InvokeFailure>,
    ) -> Result<R, InvokeFailure> {
        // While this call waits, the invocation keeps its tasks and stubs
        // when it ends (`Core::end`), so this call can take over as driver.
        let inside = Inside::enter(self);
        let (returned, job_error) = self.isolate.segment(call);
        self.progress.notify_waiters();
        let returned = self.check(returned, job_error)?;
        loop {
            let progressed = self.progress.notified();
            if !self.usable() {
                return Err(internal("the worker was stopped by a limit"));
            }
            if let Some(value) = self.poll_settled(&returned)? {
                return self
                    .isolate
                    .with(|ctx| reply(ctx, value.restore(ctx).map_err(internal)?));
            }
            if let Ok(_driving) = self.driver.try_lock() {
                // The invocation it ran in ended first: carry on as driver.
                drop(inside);
                return self.drive(|_| Ok(returned), reply).await;
            }
            progressed.await;
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
            return Err(self.trip(ctx, trip));
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
        if let Some((class, instead)) = platform_object(ctx, &value) {
            return Err(InvokeFailure::new(
                Kind::OutputNotSerializable,
                format!("the return value is not JSON-serializable: a {class} has no JSON form; return {instead}"),
            ));
        }
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

/// The platform objects whose JSON is an empty `{}` (what a worker written
/// for Cloudflare Workers returns), and what to return instead.
const NO_JSON_FORM: &[(&str, &str)] = &[
    (
        "Response",
        "`await response.json()` or `await response.text()`",
    ),
    (
        "Request",
        "`await request.json()` or `await request.text()`",
    ),
    ("Headers", "`Object.fromEntries(headers)`"),
    ("Blob", "`await blob.text()`"),
    ("File", "`await file.text()`"),
    ("FormData", "`Object.fromEntries(formData)`"),
    ("ReadableStream", "`await new Response(stream).text()`"),
    ("WritableStream", "the data written to it"),
    ("TransformStream", "the data it transformed"),
];

/// Which of [`NO_JSON_FORM`] `value` is, by its `Symbol.toStringTag`.
fn platform_object<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
) -> Option<(&'static str, &'static str)> {
    let object = value.as_object()?;
    let tag = (|| {
        let symbol: rquickjs::Symbol = ctx
            .globals()
            .get::<_, Object>("Symbol")?
            .get("toStringTag")?;
        object.get::<_, Value>(symbol)
    })()
    .catch(ctx)
    .ok()?;
    let tag = tag.as_string()?.to_string().ok()?;
    NO_JSON_FORM
        .iter()
        .find(|(class, _)| *class == tag)
        .copied()
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
pub fn rejection<'js>(ctx: &Ctx<'js>, promise: &Promise<'js>) -> InvokeFailure {
    match promise.result::<Value>() {
        Some(Err(rquickjs::Error::Exception)) => {
            let thrown = exception::describe(ctx, &ctx.catch());
            classify(thrown.message, thrown.stack)
        }
        Some(Err(other)) => internal(other),
        _ => internal("a rejected promise has no reason"),
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
