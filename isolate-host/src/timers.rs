//! The worker's timers: `setTimeout`, `setInterval`, `clearTimeout` and
//! `clearInterval`, as the HTML standard defines them, on the host's task
//! set ([`crate::tasks`]). A timer fires after its delay in wall time, in a
//! segment of its own, so the frozen clock moves only when one fires; the
//! time spent waiting counts toward the invocation's wall time, not its CPU
//! time. Timers still pending when the invocation ends are cancelled (see
//! `ctx.waitUntil` in `worker`). At most `Limits.pendingTimers` are pending
//! at once: setting one more trips the limit.
//!
//! Differences from HTML: the callback must be a function (a string would
//! need `eval`), and an interval repeats at least 1 ms apart.

use std::rc::{Rc, Weak};
use std::time::Duration;

use rquickjs::function::{Opt, Rest};
use rquickjs::{Ctx, Exception, FromJs, Function, Persistent, Value};

use crate::tasks::{Tasks, Timer};

/// What setting a timer over the limit throws (after tripping the limit).
pub type OverLimit = Rc<dyn for<'js> Fn(&Ctx<'js>) -> rquickjs::Error>;

/// The shortest interval between the firings of a `setInterval`.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Installs the four timer functions on the global object.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    tasks: &Rc<Tasks>,
    limit: u32,
    over: OverLimit,
) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    for (name, repeat) in [("setTimeout", false), ("setInterval", true)] {
        let tasks = Rc::downgrade(tasks);
        let over = over.clone();
        let set = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  callback: Value<'js>,
                  delay: Opt<Value<'js>>,
                  args: Rest<Value<'js>>|
                  -> rquickjs::Result<u32> {
                set(
                    &ctx, &tasks, limit, &over, name, repeat, callback, delay.0, args.0,
                )
            },
        )?
        .with_name(name)?;
        globals.set(name, set)?;
    }
    for name in ["clearTimeout", "clearInterval"] {
        let tasks = Rc::downgrade(tasks);
        let clear = Function::new(ctx.clone(), move |id: Opt<Value<'js>>| {
            let id = id.0.as_ref().and_then(Value::as_number).unwrap_or(0.0);
            if let (Some(tasks), true) = (tasks.upgrade(), id >= 1.0 && id <= f64::from(u32::MAX)) {
                tasks.clear_timer(id as u32);
            }
        })?
        .with_name(name)?;
        globals.set(name, clear)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn set<'js>(
    ctx: &Ctx<'js>,
    tasks: &Weak<Tasks>,
    limit: u32,
    over: &OverLimit,
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
    let tasks = tasks
        .upgrade()
        .ok_or_else(|| Exception::throw_internal(ctx, "the worker is gone"))?;
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
    };
    Ok(tasks.set_timer(delay, timer))
}
