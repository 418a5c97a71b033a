//! Timers and the clock of the HTML Standard: `setTimeout`, `setInterval`,
//! `clearTimeout`, `clearInterval` and `performance` (High Resolution
//! Time's `now()`, `timeOrigin` and `toJSON()`; its class `Performance` is
//! in `js/performance.js`).
//!
//! A timer is a host task ([`crate::tasks`]): it fires after its delay in
//! wall time, in a segment of its own, so the frozen clock moves only when
//! one fires; the time spent waiting counts toward the invocation's wall
//! time, not its CPU time. Timers still pending when the invocation ends
//! are cancelled (see `ctx.waitUntil` in `worker`). At most
//! `Limits.pendingTimers` are pending at once: setting one more trips the
//! limit. An exception a callback throws is reported (`reportError`) and
//! the invocation goes on, as HTML says; a tripped limit is not an
//! exception and still ends it.
//!
//! `performance.now()` is the engine's frozen clock ([`engine::frozen_now`])
//! from a `timeOrigin` of 0, as in Cloudflare Workers: it equals
//! `Date.now()` and stands still while JavaScript computes.
//!
//! Differences from HTML: the callback must be a function (a string would
//! need `eval`), and an interval repeats at least 1 ms apart.
//!
//! The functions reach the worker's task set through [`TimerHost`], kept
//! with the runtime by [`attach`] when the worker is built.

use std::rc::{Rc, Weak};
use std::time::Duration;

use rquickjs::function::{Opt, Rest};
use rquickjs::{Ctx, Exception, FromJs, Function, JsLifetime, Persistent, Value};

use super::js::export;
use super::LazyGlobal;
use crate::engine;
use crate::tasks::{Tasks, Timer};

pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "setTimeout",
        build: |ctx| setter(ctx, "setTimeout", false),
    },
    LazyGlobal {
        name: "setInterval",
        build: |ctx| setter(ctx, "setInterval", true),
    },
    LazyGlobal {
        name: "clearTimeout",
        build: |ctx| clearer(ctx, "clearTimeout"),
    },
    LazyGlobal {
        name: "clearInterval",
        build: |ctx| clearer(ctx, "clearInterval"),
    },
    LazyGlobal {
        name: "performance",
        build: performance,
    },
    LazyGlobal {
        name: "Performance",
        build: |ctx| export(ctx, "performance", "Performance"),
    },
];

/// What setting a timer over the limit throws (after tripping the limit).
pub type OverLimit = Rc<dyn for<'js> Fn(&Ctx<'js>) -> rquickjs::Error>;

/// The shortest interval between the firings of a `setInterval`.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The worker's side of its timers, kept with its runtime.
pub struct TimerHost {
    tasks: Weak<Tasks>,
    limit: u32,
    over: OverLimit,
}

// SAFETY: holds no JS value and no lifetime.
unsafe impl<'js> JsLifetime<'js> for TimerHost {
    type Changed<'to> = TimerHost;
}

/// Gives the timers of `ctx`'s runtime the worker's task set, its limit
/// of pending timers, and what to throw over it.
pub fn attach(
    ctx: &Ctx<'_>,
    tasks: &Rc<Tasks>,
    limit: u32,
    over: OverLimit,
) -> rquickjs::Result<()> {
    let host = TimerHost {
        tasks: Rc::downgrade(tasks),
        limit,
        over,
    };
    ctx.store_userdata(host)
        .map_err(|e| Exception::throw_internal(ctx, &e.to_string()))?;
    Ok(())
}

fn setter<'js>(ctx: &Ctx<'js>, name: &'static str, repeat: bool) -> rquickjs::Result<Value<'js>> {
    let set = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              callback: Value<'js>,
              delay: Opt<Value<'js>>,
              args: Rest<Value<'js>>|
              -> rquickjs::Result<u32> {
            set(&ctx, name, repeat, callback, delay.0, args.0)
        },
    )?
    .with_name(name)?;
    Ok(set.into_value())
}

fn clearer<'js>(ctx: &Ctx<'js>, name: &'static str) -> rquickjs::Result<Value<'js>> {
    let clear = Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: Opt<Value<'js>>| {
        let id = id.0.as_ref().and_then(Value::as_number).unwrap_or(0.0);
        let tasks = ctx
            .userdata::<TimerHost>()
            .and_then(|host| host.tasks.upgrade());
        if let (Some(tasks), true) = (tasks, id >= 1.0 && id <= f64::from(u32::MAX)) {
            tasks.clear_timer(id as u32);
        }
    })?
    .with_name(name)?;
    Ok(clear.into_value())
}

fn set<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    repeat: bool,
    callback: Value<'js>,
    delay: Option<Value<'js>>,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<u32> {
    let Some(callback) = callback.into_function() else {
        return Err(Exception::throw_type(
            ctx,
            &format!("{name}: the callback must be a function"),
        ));
    };
    let (tasks, limit, over) = {
        let host = ctx
            .userdata::<TimerHost>()
            .ok_or_else(|| Exception::throw_internal(ctx, "timers are not attached"))?;
        (host.tasks.upgrade(), host.limit, host.over.clone())
    };
    let tasks = tasks.ok_or_else(|| Exception::throw_internal(ctx, "the worker is gone"))?;
    if tasks.timers() >= limit as usize {
        return Err(over(ctx));
    }
    // WebIDL `long`, then HTML's "less than 0 becomes 0".
    let ms = match delay {
        Some(delay) => rquickjs::Coerced::<f64>::from_js(ctx, delay)?.0,
        None => 0.0,
    };
    let ms = if ms.is_finite() && ms > 0.0 && ms <= f64::from(i32::MAX) {
        ms.trunc()
    } else {
        0.0
    };
    let mut delay = Duration::from_millis(ms as u64);
    if repeat {
        delay = delay.max(MIN_INTERVAL);
    }
    let timer = Timer {
        callback: Persistent::save(ctx, callback),
        args: args.into_iter().map(|a| Persistent::save(ctx, a)).collect(),
        every: repeat.then_some(delay),
        run: fire,
    };
    Ok(tasks.set_timer(delay, timer))
}

/// Calls a timer's callback; reports what it throws, unless that is the
/// engine stopping it (a limit), which ends the invocation.
fn fire<'js>(
    ctx: &Ctx<'js>,
    callback: Function<'js>,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<()> {
    let mut call = rquickjs::function::Args::new(ctx.clone(), args.len());
    for arg in args {
        call.push_arg(arg)?;
    }
    match callback.call_arg::<Value>(call) {
        Ok(_) => Ok(()),
        Err(rquickjs::Error::Exception) => {
            let thrown = ctx.catch();
            if crate::exception::is_engine_stop(&thrown) {
                return Err(ctx.throw(thrown));
            }
            let report: Function = export(ctx, "events", "reportError")?.get()?;
            report.call::<_, ()>((thrown,))
        }
        Err(other) => Err(other),
    }
}

/// `performance` (a `Performance` of `js/performance.js`): `now()` reads
/// the frozen clock; `timeOrigin` is 0.
fn performance<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let now =
        Function::new(ctx.clone(), |ctx: Ctx<'js>| engine::frozen_now(&ctx))?.with_name("now")?;
    let make: Function = export(ctx, "performance", "makePerformance")?.get()?;
    make.call((now,))
}
