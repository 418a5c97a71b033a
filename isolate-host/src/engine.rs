//! The engine boundary: where a worker's QuickJS runtime and context are
//! configured (memory limit, stack size, CPU and wall-clock deadlines via
//! the interrupt handler, intrinsics, the frozen clock, the globals
//! removed). The isolate-host has one other runtime, the compiler's, which
//! parses sources and never runs a worker's code; `modules::Compiler::new`
//! configures it (its own memory and stack limits). Everything else asks
//! this module for an [`Isolate`] and never configures QuickJS itself, so a
//! different engine can later replace these two modules alone.
//!
//! What a worker's global scope has beyond ECMAScript: `console`, `RpcError`,
//! and the Web platform's globals of `platform::TABLES`, each built on first
//! use behind the global object's prototype (`platform::install`, run here
//! with the prelude, so a spare isolate has it too).
//!
//! What a worker's global scope lacks, on purpose: `eval` and the `Function`
//! constructors (no `Eval` intrinsic unless the worker's policy allows it),
//! `SharedArrayBuffer` and `Atomics` (removed after the context is built),
//! and anything from the host (`require`, `process`, `std`, `os` are never
//! added; `fetch` exists only when a worker is granted an http gateway
//! named `fetch`, and goes through it: see `fetch.rs`; timers are host
//! tasks: see `timers.rs`). `Date.now()`, `new Date()` and
//! `performance.now()` read a clock that stands still while JavaScript
//! computes: it is set when a segment starts, i.e. at the start of an
//! invocation, after each I/O completion and when a timer fires, so a
//! worker cannot time its own computation.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use rquickjs::context::intrinsic;
use rquickjs::{CatchResultExt, Context, Ctx, Function, Runtime, Value};

use crate::error::Error;
use crate::modules::{self, Bytecode};

/// The intrinsics a worker gets. `Eval` is left out, which removes `eval`,
/// the `Function` constructors (plain, async, generator) and the parser
/// itself from the worker; `Performance` (a clock that moves) and
/// `DOMException` are left out as ambient extras (the prelude adds a frozen
/// `performance`).
pub type WorkerIntrinsics = (
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

pub use crate::stack::{init_stack_ceiling, stack_ceiling};

/// Globals deleted from every worker's context after it is built: shared
/// memory and blocking waits have no place in a single-threaded host.
const REMOVED_GLOBALS: &[&str] = &["SharedArrayBuffer", "Atomics"];

/// Installs the frozen clock: replaces `Date` with a constructor whose
/// `Date.now()`, `new Date()` and `Date()` read `clock()` instead of the
/// system time. Compiled once per host by [`prelude`], never from a
/// client's text. (`performance.now()` reads the same clock: [`frozen_now`].)
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

thread_local! {
    static PRELUDE_BYTECODE: std::cell::OnceCell<Rc<[u8]>> = const { std::cell::OnceCell::new() };
}

/// The bytecode of the engine's prelude ([`PRELUDE`]),
/// compiled once per thread by a compiler of its own.
pub fn prelude() -> Result<Rc<[u8]>, Error> {
    if let Some(bytes) = PRELUDE_BYTECODE.with(|p| p.get().cloned()) {
        return Ok(bytes);
    }
    let compiler = modules::Compiler::new(16 << 20, 256 << 10)?;
    let name = "caplet:prelude";
    let compiled = compiler.compile(&[modules::Source {
        name: name.to_string(),
        kind: modules::Kind::Js,
        text: PRELUDE.to_string(),
    }])?;
    let bytes = compiled
        .get(name)
        .cloned()
        .ok_or_else(|| Error::Engine("the prelude did not compile".into()))?;
    PRELUDE_BYTECODE.with(|p| {
        let _ = p.set(bytes.clone());
    });
    Ok(bytes)
}

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
    /// Too many timers pending at once.
    Timers,
}

/// Counts the time one invocation spends running JavaScript, across all of
/// its segments (the stretches between awaits), and arms the interrupt
/// handler so that JS stops once the budget is spent. Time the host spends on
/// other workers between segments is not counted.
///
/// Segments are timed with the monotonic clock (a vDSO read; the thread's
/// CPU clock is a system call, and was a tenth of the host's time per
/// capability call). JS is CPU-bound inside a segment, so this is its CPU
/// time; if the host thread is preempted, it counts more, never less.
///
/// It also carries the invocation's wall-clock deadline, and limits tripped
/// outside JS (capability call counts): once anything trips, the handler
/// stops JS at its next poll, so the invocation cannot catch its way on.
#[derive(Debug, Default)]
pub struct CpuMeter {
    limit: Cell<Duration>,
    used: Cell<Duration>,
    deadline: Cell<Option<Instant>>,
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
        let now = Instant::now();
        if now >= deadline {
            self.tripped.set(Some(Trip::Cpu));
            return true;
        }
        if self.wall_deadline.get().is_some_and(|d| now >= d) {
            self.tripped.set(Some(Trip::Wall));
            return true;
        }
        false
    }

    fn measure<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.deadline.get().is_some() {
            // Nested in a measured stretch: that one counts the time.
            return f();
        }
        let start = Instant::now();
        let left = self.limit.get().saturating_sub(self.used.get());
        self.deadline.set(start.checked_add(left));
        let out = f();
        self.deadline.set(None);
        self.used.set(self.used.get() + start.elapsed());
        out
    }
}

/// A runtime and context with everything that does not depend on the
/// worker: intrinsics, removed globals, the frozen clock's prelude. Limits,
/// the interrupt handler and the module loader are set when a worker takes
/// it (QuickJS allows that after creation).
struct Prepared {
    context: Context,
    runtime: Runtime,
    clock: Rc<Cell<f64>>,
    prelude: Rc<[u8]>,
}

/// The spare isolate, prepared ahead for the next load in two steps of
/// idle time (each step is a stretch the host cannot interrupt, so a
/// message that comes meanwhile waits for one step at most, not both).
enum Spare {
    /// A runtime and a context with the worker intrinsics (about half the
    /// work).
    Bare { context: Context, runtime: Runtime },
    /// Ready to take.
    Ready(Prepared),
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<Spare>> = const { std::cell::RefCell::new(None) };
}

/// Whether the spare isolate is missing or not yet complete.
pub fn spare_pending() -> bool {
    SPARE.with(|spare| !matches!(*spare.borrow(), Some(Spare::Ready(_))))
}

/// Does the next step of preparing the spare isolate, if it needs one
/// (call when idle).
pub fn prepare_spare_step() -> Result<(), Error> {
    let taken = SPARE.with(|spare| spare.borrow_mut().take());
    let next = match taken {
        None => {
            let (context, runtime) = Prepared::bare(false)?;
            Spare::Bare { context, runtime }
        }
        Some(Spare::Bare { context, runtime }) => {
            Spare::Ready(Prepared::finish(context, runtime, false)?)
        }
        Some(ready @ Spare::Ready(_)) => ready,
    };
    SPARE.with(|spare| *spare.borrow_mut() = Some(next));
    Ok(())
}

/// Prepares the whole spare isolate now (at start-up).
pub fn prepare_spare() -> Result<(), Error> {
    while spare_pending() {
        prepare_spare_step()?;
    }
    Ok(())
}

impl Prepared {
    fn new(allow_eval: bool) -> Result<Self, Error> {
        let (context, runtime) = Self::bare(allow_eval)?;
        Self::finish(context, runtime, allow_eval)
    }

    /// The first step: a runtime and a context with the worker intrinsics.
    fn bare(allow_eval: bool) -> Result<(Context, Runtime), Error> {
        let engine = |e: rquickjs::Error| Error::Engine(e.to_string());
        let runtime = Runtime::new().map_err(engine)?;
        let context = if allow_eval {
            Context::custom::<(WorkerIntrinsics, intrinsic::Eval)>(&runtime)
        } else {
            Context::custom::<WorkerIntrinsics>(&runtime)
        }
        .map_err(engine)?;
        Ok((context, runtime))
    }

    /// The second step: removed globals, the frozen clock's prelude and the
    /// platform's lazy globals.
    fn finish(context: Context, runtime: Runtime, allow_eval: bool) -> Result<Self, Error> {
        let engine = |e: rquickjs::Error| Error::Engine(e.to_string());
        let prelude = prelude()?;
        let clock = Rc::new(Cell::new(now_ms()));
        context.with(|ctx| -> Result<(), Error> {
            let globals = ctx.globals();
            for name in REMOVED_GLOBALS {
                globals.remove(*name).map_err(engine)?;
            }
            if !allow_eval {
                // Without the intrinsic it only throws; take it away entirely.
                globals.remove("eval").map_err(engine)?;
            }
            ctx.store_userdata(FrozenClock(clock.clone()))
                .map_err(|e| Error::Engine(e.to_string()))?;
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
                .map_err(|e| Error::Engine(format!("prelude: {e}")))?;
            crate::platform::install(&ctx).map_err(|e| Error::Engine(format!("platform: {e}")))
        })?;
        Ok(Self {
            context,
            runtime,
            clock,
            prelude,
        })
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
    clock: Rc<Cell<f64>>,
    _bytecode: Bytecode,
    _prelude: Rc<[u8]>,
}

impl Isolate {
    /// Creates a runtime configured with `limits`, that loads modules only
    /// from `bytecode`. Takes the prepared spare when there is one.
    pub fn new(limits: &EngineLimits, bytecode: Bytecode) -> Result<Self, Error> {
        let spare = if limits.allow_eval {
            None
        } else {
            SPARE.with(|spare| spare.borrow_mut().take())
        };
        let Prepared {
            context,
            runtime,
            clock,
            prelude,
        } = match spare {
            Some(Spare::Ready(prepared)) => prepared,
            // Half prepared: only the second step is left to do here.
            Some(Spare::Bare { context, runtime }) => Prepared::finish(context, runtime, false)?,
            None => Prepared::new(limits.allow_eval)?,
        };
        runtime.set_memory_limit(limits.memory_bytes);
        // Never above the stack the thread really has: a JS stack check
        // that fires too late is a host crash.
        runtime.set_max_stack_size(limits.stack_bytes.min(stack_ceiling()));
        let meter = Rc::new(CpuMeter::default());
        meter.reset(limits.cpu_time, limits.wall_time);
        let handler_meter = meter.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || handler_meter.should_interrupt())));
        // Once a limit tripped, no more JavaScript runs for the tracker: the
        // engine's stop must land in the worker's code, not be dropped there.
        let tracker_meter = meter.clone();
        runtime.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx, promise, reason, handled| {
                if tracker_meter.tripped().is_none() {
                    crate::platform::track_rejection(&ctx, promise, reason, handled)
                }
            },
        )));
        modules::install_worker_loader(
            &runtime,
            &bytecode,
            &crate::platform::js::bytecode()?,
            crate::platform::native_module,
        );
        Ok(Self {
            context,
            runtime,
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

/// The frozen clock of a context, kept with its runtime.
struct FrozenClock(Rc<Cell<f64>>);

// SAFETY: holds no JS value and no lifetime.
unsafe impl<'js> rquickjs::JsLifetime<'js> for FrozenClock {
    type Changed<'to> = FrozenClock;
}

/// What `Date.now()` reads in `ctx`: the time its current segment started,
/// in milliseconds since the Unix epoch.
pub fn frozen_now(ctx: &Ctx<'_>) -> f64 {
    ctx.userdata::<FrozenClock>()
        .map_or(0.0, |clock| clock.0.get())
}

/// Milliseconds since the Unix epoch, as `Date.now()` reports them.
fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{Compiler, Kind, Source};

    fn isolate(source: &str, limits: EngineLimits) -> (Isolate, Rc<[u8]>) {
        let compiler = Compiler::new(16 << 20, 256 << 10).unwrap();
        let bytecode = compiler
            .compile(&[Source {
                name: "main.js".into(),
                kind: Kind::Js,
                text: source.into(),
            }])
            .unwrap();
        let main = bytecode["main.js"].clone();
        (Isolate::new(&limits, bytecode).unwrap(), main)
    }

    fn limits() -> EngineLimits {
        EngineLimits {
            memory_bytes: 16 << 20,
            stack_bytes: 256 << 10,
            cpu_time: Duration::from_millis(100),
            wall_time: Duration::from_secs(10),
            allow_eval: false,
        }
    }

    #[test]
    fn only_a_module_that_mentions_import_meta_gets_one_filled_in() {
        // Main imports lib.js, which the worker loader loads and, if its
        // source mentions `import.meta`, gives one.
        let load = |lib: &str| {
            let compiler = Compiler::new(16 << 20, 256 << 10).unwrap();
            let source = |name: &str, text: &str| Source {
                name: name.into(),
                kind: Kind::Js,
                text: text.into(),
            };
            let bytecode = compiler
                .compile(&[
                    source(
                        "main.js",
                        "import { url } from \"./lib.js\"; globalThis.out = url;",
                    ),
                    source("lib.js", lib),
                ])
                .unwrap();
            let main = bytecode["main.js"].clone();
            let isolate = Isolate::new(&limits(), bytecode).unwrap();
            let out = run(&isolate, &main).unwrap();
            (out, isolate.memory_used())
        };
        // Words between which a comment stands are still found.
        let (out, _) = load("export const url = import /* the URL */ . meta.url;");
        assert_eq!(out, "\"file:///lib.js\"");
        let (out, plain) = load("export const url = \"none\";");
        assert_eq!(out, "\"none\"");
        // The same code with the words in a comment: its import.meta is
        // filled in, which the plain module's never is.
        let (_, mentioned) = load("export const url = \"none\"; // import.meta");
        assert!(
            mentioned >= plain + 512,
            "plain {plain} B, mentioned {mentioned} B"
        );
    }

    /// Evaluates the main module in one segment and returns
    /// `globalThis.out` as JSON, or the error.
    fn run(isolate: &Isolate, main: &Rc<[u8]>) -> Result<String, String> {
        let (out, job_error) = isolate.segment(|ctx| -> Result<String, String> {
            let module = modules::load_bytecode(ctx, main).map_err(|e| e.to_string())?;
            module
                .eval()
                .catch(ctx)
                .map_err(|e| e.to_string())?
                .1
                .finish::<()>()
                .catch(ctx)
                .map_err(|e| e.to_string())?;
            let out: Value = ctx.globals().get("out").map_err(|e| e.to_string())?;
            Ok(ctx
                .json_stringify(out)
                .map_err(|e| e.to_string())?
                .map(|s| s.to_string().unwrap())
                .unwrap_or_default())
        });
        match job_error {
            Some(message) => Err(message),
            None => out,
        }
    }

    #[test]
    fn ambient_globals_are_gone() {
        let (isolate, main) = isolate(
            "globalThis.out = [typeof SharedArrayBuffer, typeof Atomics, typeof eval];",
            limits(),
        );
        assert_eq!(
            run(&isolate, &main).unwrap(),
            r#"["undefined","undefined","undefined"]"#
        );
    }

    #[test]
    fn eval_exists_only_when_allowed() {
        let source = "globalThis.out = eval('6 * 7') + new Function('return 1')();";
        let (isolate, main) = isolate(
            source,
            EngineLimits {
                allow_eval: true,
                ..limits()
            },
        );
        assert_eq!(run(&isolate, &main).unwrap(), "43");
        let (without, main) = self::isolate(source, limits());
        assert!(run(&without, &main).is_err());
    }

    #[test]
    fn the_clock_stands_still_within_a_segment_and_moves_between_them() {
        let (isolate, main) = isolate(
            "const a = Date.now(); const d = new Date(); const p = performance.now(); let x = 0;
             for (let i = 0; i < 3e5; i++) x += i;
             globalThis.out = [Date.now() - a, new Date() - d, Date() === new Date(a).toString(),
                               Date.prototype.constructor === Date, Date.name, Date.length,
                               performance.now() - p, p === a, performance.timeOrigin];",
            limits(),
        );
        assert_eq!(
            run(&isolate, &main).unwrap(),
            r#"[0,0,true,true,"Date",7,0,true,0]"#
        );
        // A new segment (after I/O) reads the system clock again.
        isolate.clock.set(0.0);
        let read = || {
            isolate.with(|ctx| {
                ctx.globals()
                    .get::<_, rquickjs::Object>("Date")?
                    .get::<_, Function>("now")?
                    .call::<_, f64>(())
            })
        };
        assert_eq!(read().unwrap(), 0.0);
        isolate.segment(|_| ());
        assert!(read().unwrap() >= 1.7e12);
    }

    #[test]
    fn the_meter_stops_loops_at_the_cpu_limit() {
        let (isolate, main) = isolate("for (;;) {}", limits());
        isolate
            .meter()
            .reset(Duration::from_millis(50), Duration::from_secs(10));
        let error = run(&isolate, &main).unwrap_err();
        assert!(error.contains("interrupted"), "{error}");
        assert_eq!(isolate.meter().tripped(), Some(Trip::Cpu));
        assert!(isolate.meter().used() >= Duration::from_millis(50));
    }

    #[test]
    fn the_meter_stops_loops_at_the_wall_deadline() {
        let (isolate, main) = isolate("for (;;) {}", limits());
        isolate
            .meter()
            .reset(Duration::from_secs(10), Duration::from_millis(30));
        assert!(run(&isolate, &main).is_err());
        assert_eq!(isolate.meter().tripped(), Some(Trip::Wall));
    }

    #[test]
    fn a_limit_tripped_outside_js_stops_it_at_the_next_poll() {
        let (isolate, main) = isolate("for (;;) {}", limits());
        isolate
            .meter()
            .reset(Duration::from_secs(10), Duration::from_secs(10));
        isolate.meter().trip(Trip::Subrequests);
        assert!(run(&isolate, &main).is_err());
        assert_eq!(isolate.meter().tripped(), Some(Trip::Subrequests));
    }
}
