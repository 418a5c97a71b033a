//! The engine boundary: the one place where a worker's QuickJS runtime and
//! context are configured (memory limit, stack size, CPU and wall-clock
//! deadlines via the interrupt handler, intrinsics, the frozen clock, the
//! globals removed). Everything else in the isolate-host asks this module for
//! an [`Isolate`] and never configures QuickJS itself, so a different engine
//! can later replace this module alone.
//!
//! What a worker's global scope lacks, on purpose: `eval` and the `Function`
//! constructors (no `Eval` intrinsic unless the worker's policy allows it),
//! `performance`, `SharedArrayBuffer` and `Atomics` (removed after the context
//! is built), and anything from the host (`fetch`, timers, `require`,
//! `process`, `std`, `os` are never added). `Date.now()` and `new Date()` read
//! a clock that stands still while JavaScript computes: it is set when a
//! segment starts, i.e. at the start of an invocation and after each I/O
//! completion, so a worker cannot time its own computation.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use rquickjs::context::intrinsic;
use rquickjs::{CatchResultExt, Context, Ctx, Function, Runtime, Value};

use crate::error::Error;
use crate::modules::{self, Bytecode};

/// The intrinsics a worker gets. `Eval` is left out, which removes `eval`,
/// the `Function` constructors (plain, async, generator) and the parser
/// itself from the worker; `Performance` and `DOMException` are left out as
/// ambient extras.
type WorkerIntrinsics = (
    intrinsic::Date,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

/// Globals deleted from every worker's context after it is built: shared
/// memory and blocking waits have no place in a single-threaded host.
const REMOVED_GLOBALS: &[&str] = &["SharedArrayBuffer", "Atomics", "performance"];

/// Installs the frozen clock: replaces `Date` with a constructor whose
/// `Date.now()`, `new Date()` and `Date()` read `clock()` instead of the
/// system time. Compiled once per host by [`modules::prelude`], never from a
/// client's text.
pub const PRELUDE: &str = r#"
export default function install(clock) {
  const RealDate = globalThis.Date;
  const proto = RealDate.prototype;
  const construct = Reflect.construct;
  const define = Object.defineProperty;
  function Date(...args) {
    if (new.target === undefined) return new RealDate(clock()).toString();
    return construct(RealDate, args.length === 0 ? [clock()] : args, new.target);
  }
  define(Date, "length", { value: 7 });
  define(Date, "prototype", { value: proto, writable: false, enumerable: false, configurable: false });
  const method = (name, f) => define(Date, name, { value: f, writable: true, enumerable: false, configurable: true });
  method("now", function now() { return clock(); });
  method("parse", RealDate.parse);
  method("UTC", RealDate.UTC);
  define(proto, "constructor", { value: Date, writable: true, enumerable: false, configurable: true });
  define(globalThis, "Date", { value: Date, writable: true, enumerable: false, configurable: true });
}
"#;

/// Engine limits and policy of one worker, all concrete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    pub memory_bytes: usize,
    pub stack_bytes: usize,
    pub cpu_time: Duration,
    /// Wall-clock time one invocation may take.
    pub wall_time: Duration,
    /// Whether `eval` and the `Function` constructors exist (the `Eval`
    /// intrinsic). Off unless the worker's policy allows it.
    pub allow_eval: bool,
}

/// The limit that stopped an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trip {
    /// The CPU budget ran out (interrupt handler).
    Cpu,
    /// The wall-clock deadline passed (interrupt handler, or while waiting).
    Wall,
    /// Too many capability calls in this invocation.
    Subrequests,
    /// Too many capability calls waiting at once.
    CallsInFlight,
}

/// CPU time of the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is
    // always supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Counts the CPU time one invocation spends inside JavaScript, across all of
/// its segments (the stretches between awaits), and arms the interrupt
/// handler so that JS stops once the budget is spent. Time the host spends on
/// other workers between segments is not counted.
///
/// It also carries the invocation's wall-clock deadline, and limits tripped
/// outside JS (capability call counts): once anything trips, the handler
/// stops JS at its next poll, so the invocation cannot catch its way on.
#[derive(Debug, Default)]
pub struct CpuMeter {
    limit: Cell<Duration>,
    used: Cell<Duration>,
    deadline: Cell<Option<Duration>>,
    wall_deadline: Cell<Option<Instant>>,
    tripped: Cell<Option<Trip>>,
}

impl CpuMeter {
    /// Starts a new invocation's budget: `limit` of CPU time, and a wall
    /// clock deadline `wall` from now.
    pub fn reset(&self, limit: Duration, wall: Duration) {
        self.limit.set(limit);
        self.used.set(Duration::ZERO);
        self.deadline.set(None);
        self.wall_deadline.set(Instant::now().checked_add(wall));
        self.tripped.set(None);
    }

    /// CPU time used so far by this invocation.
    pub fn used(&self) -> Duration {
        self.used.get()
    }

    /// The wall-clock deadline of the current invocation.
    pub fn wall_deadline(&self) -> Option<Instant> {
        self.wall_deadline.get()
    }

    /// Which limit stopped JS, if any.
    pub fn tripped(&self) -> Option<Trip> {
        self.tripped.get()
    }

    /// Records a limit tripped outside JS; JS stops at the next poll.
    pub fn trip(&self, trip: Trip) {
        if self.tripped.get().is_none() {
            self.tripped.set(Some(trip));
        }
    }

    fn should_interrupt(&self) -> bool {
        if self.tripped.get().is_some() {
            return true;
        }
        let Some(deadline) = self.deadline.get() else {
            return false;
        };
        if thread_cpu_time() >= deadline {
            self.tripped.set(Some(Trip::Cpu));
            return true;
        }
        if self
            .wall_deadline
            .get()
            .is_some_and(|d| Instant::now() >= d)
        {
            self.tripped.set(Some(Trip::Wall));
            return true;
        }
        false
    }

    fn measure<R>(&self, f: impl FnOnce() -> R) -> R {
        let start = thread_cpu_time();
        let left = self.limit.get().saturating_sub(self.used.get());
        self.deadline.set(Some(start + left));
        let out = f();
        self.deadline.set(None);
        self.used
            .set(self.used.get() + thread_cpu_time().saturating_sub(start));
        out
    }
}

/// One worker's JavaScript runtime and context.
///
/// The context goes before its runtime (see `drop`), and the bytecode the
/// runtime reads in place goes last.
pub struct Isolate {
    /// Taken in `drop`, before the runtime.
    context: ManuallyDrop<Context>,
    /// Dropped in `drop` after the context, or leaked.
    runtime: ManuallyDrop<Runtime>,
    meter: Rc<CpuMeter>,
    clock: Rc<Cell<f64>>,
    _bytecode: Bytecode,
    _prelude: Rc<[u8]>,
}

impl Isolate {
    /// Creates a runtime configured with `limits`, that loads modules only
    /// from `bytecode`.
    pub fn new(limits: &EngineLimits, bytecode: Bytecode) -> Result<Self, Error> {
        let engine = |e: rquickjs::Error| Error::Engine(e.to_string());
        let prelude = modules::prelude()?;
        let runtime = Runtime::new().map_err(engine)?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.stack_bytes);
        let meter = Rc::new(CpuMeter::default());
        meter.reset(limits.cpu_time, limits.wall_time);
        let handler_meter = meter.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || handler_meter.should_interrupt())));
        modules::install_worker_loader(&runtime, &bytecode);
        let context = if limits.allow_eval {
            Context::custom::<(WorkerIntrinsics, intrinsic::Eval)>(&runtime)
        } else {
            Context::custom::<WorkerIntrinsics>(&runtime)
        }
        .map_err(engine)?;
        let clock = Rc::new(Cell::new(now_ms()));
        context.with(|ctx| -> Result<(), Error> {
            let globals = ctx.globals();
            for name in REMOVED_GLOBALS {
                globals.remove(*name).map_err(engine)?;
            }
            if !limits.allow_eval {
                // Without the intrinsic it only throws; take it away entirely.
                globals.remove("eval").map_err(engine)?;
            }
            let read = clock.clone();
            let clock_fn = Function::new(ctx.clone(), move || read.get()).map_err(engine)?;
            let install = || -> rquickjs::Result<()> {
                let (module, _) = modules::load_bytecode(&ctx, &prelude)?.eval()?;
                let install: Function = module.namespace()?.get("default")?;
                install.call::<_, Value>((clock_fn,))?;
                Ok(())
            };
            install()
                .catch(&ctx)
                .map_err(|e| Error::Engine(format!("prelude: {e}")))
        })?;
        Ok(Self {
            context: ManuallyDrop::new(context),
            runtime: ManuallyDrop::new(runtime),
            meter,
            clock,
            _bytecode: bytecode,
            _prelude: prelude,
        })
    }

    /// The invocation CPU meter.
    pub fn meter(&self) -> &CpuMeter {
        &self.meter
    }

    /// Runs one segment of JavaScript: `f`, then every pending promise job,
    /// all under the CPU budget. Returns `f`'s result and whether a job ended
    /// with an uncatchable error (interrupt, out of memory).
    ///
    /// The frozen clock moves to the current time as the segment starts and
    /// stands still until the next one.
    pub fn segment<R>(&self, f: impl FnOnce(&Ctx<'_>) -> R) -> (R, Option<String>) {
        self.clock.set(now_ms());
        self.meter.measure(|| {
            let out = self.context.with(|ctx| f(&ctx));
            let mut job_error = None;
            loop {
                match self.runtime.execute_pending_job() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(failed) => {
                        let message = failed
                            .0
                            .with(|ctx| crate::exception::describe(&ctx, &ctx.catch()).message);
                        job_error = Some(message);
                        break;
                    }
                }
            }
            (out, job_error)
        })
    }

    /// Enters the context for the host's own work (reading results, turning
    /// them into JSON, describing errors) without running pending jobs or
    /// moving the clock. Still under the CPU budget: that work can call the
    /// worker's code (`toJSON`, getters, `toString`).
    pub fn with<R>(&self, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
        self.meter.measure(|| self.context.with(|ctx| f(&ctx)))
    }

    /// Bytes currently allocated by the runtime.
    pub fn memory_used(&self) -> u64 {
        self.runtime.memory_usage().malloc_size.max(0) as u64
    }
}

impl Drop for Isolate {
    /// Frees the context, then the runtime — unless objects outlive the
    /// context. QuickJS aborts the whole process when a runtime is freed with
    /// objects still alive (held from Rust through a cycle the collector
    /// cannot see), and a worker must never take its host down: such a
    /// runtime is leaked instead (its memory is bounded by the worker's
    /// memory limit) and the leak is logged.
    fn drop(&mut self) {
        // SAFETY: `context` is never used again; this is its only drop.
        unsafe { ManuallyDrop::drop(&mut self.context) };
        self.runtime.run_gc();
        let left = self.runtime.memory_usage().obj_count;
        if left > 0 {
            eprintln!(
                "isolate-host {}: {left} objects outlived a worker's context; leaking its runtime",
                std::process::id()
            );
            // The leaked runtime may point into these buffers: keep them too.
            std::mem::forget(self._bytecode.clone());
            std::mem::forget(self._prelude.clone());
            return;
        }
        // SAFETY: `runtime` is never used again; this is its only drop.
        unsafe { ManuallyDrop::drop(&mut self.runtime) };
    }
}

/// Milliseconds since the Unix epoch, as `Date.now()` reports them.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}
