//! The engine boundary: the one place where a worker's QuickJS runtime and
//! context are configured (memory limit, stack size, CPU deadline via the
//! interrupt handler, intrinsics). Everything else in the isolate-host asks
//! this module for an [`Isolate`] and never configures QuickJS itself, so a
//! different engine can later replace this module alone.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rquickjs::context::intrinsic;
use rquickjs::{Context, Ctx, Runtime};

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

/// Engine limits of one worker, all concrete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    pub memory_bytes: usize,
    pub stack_bytes: usize,
    pub cpu_time: Duration,
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
#[derive(Debug, Default)]
pub struct CpuMeter {
    limit: Cell<Duration>,
    used: Cell<Duration>,
    deadline: Cell<Option<Duration>>,
    tripped: Cell<bool>,
}

impl CpuMeter {
    /// Starts a new invocation's budget.
    pub fn reset(&self, limit: Duration) {
        self.limit.set(limit);
        self.used.set(Duration::ZERO);
        self.deadline.set(None);
        self.tripped.set(false);
    }

    /// CPU time used so far by this invocation.
    pub fn used(&self) -> Duration {
        self.used.get()
    }

    /// Whether the interrupt handler stopped JS because the budget ran out.
    pub fn tripped(&self) -> bool {
        self.tripped.get()
    }

    fn should_interrupt(&self) -> bool {
        match self.deadline.get() {
            Some(deadline) if thread_cpu_time() >= deadline => {
                self.tripped.set(true);
                true
            }
            _ => false,
        }
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
/// Field order is drop order: the context goes before its runtime, and the
/// bytecode the runtime reads in place goes last.
pub struct Isolate {
    context: Context,
    runtime: Runtime,
    meter: Rc<CpuMeter>,
    _bytecode: Bytecode,
}

impl Isolate {
    /// Creates a runtime configured with `limits`, that loads modules only
    /// from `bytecode`.
    pub fn new(limits: &EngineLimits, bytecode: Bytecode) -> Result<Self, Error> {
        let runtime = Runtime::new().map_err(|e| Error::Engine(e.to_string()))?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.stack_bytes);
        let meter = Rc::new(CpuMeter::default());
        meter.reset(limits.cpu_time);
        let handler_meter = meter.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || handler_meter.should_interrupt())));
        modules::install_worker_loader(&runtime, &bytecode);
        let context = Context::custom::<WorkerIntrinsics>(&runtime)
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(Self {
            context,
            runtime,
            meter,
            _bytecode: bytecode,
        })
    }

    /// The invocation CPU meter.
    pub fn meter(&self) -> &CpuMeter {
        &self.meter
    }

    /// Runs one segment of JavaScript: `f`, then every pending promise job,
    /// all under the CPU budget. Returns `f`'s result and whether a job ended
    /// with an uncatchable error (interrupt, out of memory).
    pub fn segment<R>(&self, f: impl FnOnce(&Ctx<'_>) -> R) -> (R, Option<String>) {
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

    /// Enters the context without CPU accounting, for the host's own work
    /// (building arguments, reading results) that runs no worker code.
    pub fn with<R>(&self, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
        self.context.with(|ctx| f(&ctx))
    }

    /// Bytes currently allocated by the runtime.
    pub fn memory_used(&self) -> u64 {
        self.runtime.memory_usage().malloc_size.max(0) as u64
    }
}
