//! Host operations an invocation is waiting on (capability calls, mostly).
//!
//! JavaScript never blocks: a call that needs the outside world starts a Rust
//! future and hands JS a promise. When the future finishes, its completion
//! runs inside the worker's context (resolving or rejecting that promise) in
//! a new CPU-metered segment. An invocation whose promise is still pending
//! when no task is left can never settle.
//!
//! Timers (`setTimeout`, `setInterval`) are tasks too: each fires after its
//! delay in wall time, alone in its segment (so the frozen clock moves when
//! it fires, and the promise jobs it queues run before the next timer), in
//! the order of their deadlines, and of their creation for equal deadlines.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use rquickjs::{Ctx, Function, Persistent, Value};
use tokio::time::{Instant, Sleep};

/// What to do in the worker's context once a task's future is done.
pub type Completion = Box<dyn for<'js> FnOnce(&Ctx<'js>) -> rquickjs::Result<()>>;

type Task = Pin<Box<dyn Future<Output = Completion>>>;

/// The outstanding tasks of one worker.
///
/// Polling a task can run JavaScript (a worker's own export, called back
/// through a stub, is dispatched inside that poll), and that JavaScript may
/// push tasks. So new tasks go to `incoming`, and the set being polled is
/// taken out of its cell while it is polled (leaving `None`, not a new empty
/// set: that would cost two allocations per poll): no borrow is held across
/// a poll.
#[derive(Default)]
pub struct Tasks {
    pending: RefCell<Option<FuturesUnordered<Task>>>,
    incoming: RefCell<Vec<Task>>,
    /// Whoever waits in [`Tasks::next`]: a push wakes it.
    waiter: RefCell<Option<Waker>>,
    timers: RefCell<Timers>,
    /// Sleeps until the earliest timer's deadline.
    alarm: RefCell<Option<Pin<Box<Sleep>>>>,
    next_timer: Cell<u32>,
}

/// A timer's callback, with the arguments it is called with.
pub struct Timer {
    pub callback: Persistent<Function<'static>>,
    pub args: Vec<Persistent<Value<'static>>>,
    /// `Some` for `setInterval`: fires again this long after each firing.
    pub every: Option<Duration>,
    /// Calls the callback with the arguments when the timer fires.
    pub run: for<'js> fn(&Ctx<'js>, Function<'js>, Vec<Value<'js>>) -> rquickjs::Result<()>,
}

/// The pending timers, by id and by deadline (then id, which grows: equal
/// deadlines fire in the order they were set).
#[derive(Default)]
struct Timers {
    by_id: HashMap<u32, (Instant, Timer)>,
    by_deadline: BTreeSet<(Instant, u32)>,
}

impl Tasks {
    /// Starts tracking a task.
    pub fn push(&self, task: impl Future<Output = Completion> + 'static) {
        self.incoming.borrow_mut().push(Box::pin(task));
        if let Some(waiter) = self.waiter.borrow_mut().take() {
            waiter.wake();
        }
    }

    /// Whether any task (or timer) is outstanding.
    pub fn is_empty(&self) -> bool {
        self.pending.borrow().as_ref().is_none_or(|p| p.is_empty())
            && self.incoming.borrow().is_empty()
            && self.timers.borrow().by_id.is_empty()
    }

    /// Sets a timer firing `delay` from now; gives its id (never 0).
    pub fn set_timer(&self, delay: Duration, timer: Timer) -> u32 {
        let id = self.next_timer.get().wrapping_add(1).max(1);
        self.next_timer.set(id);
        let deadline = Instant::now() + delay;
        let mut timers = self.timers.borrow_mut();
        timers.by_deadline.insert((deadline, id));
        timers.by_id.insert(id, (deadline, timer));
        drop(timers);
        if let Some(waiter) = self.waiter.borrow_mut().take() {
            waiter.wake();
        }
        id
    }

    /// Cancels timer `id` (nothing if it is not pending).
    pub fn clear_timer(&self, id: u32) {
        let mut timers = self.timers.borrow_mut();
        if let Some((deadline, _)) = timers.by_id.remove(&id) {
            timers.by_deadline.remove(&(deadline, id));
        }
    }

    /// How many timers are pending.
    pub fn timers(&self) -> usize {
        self.timers.borrow().by_id.len()
    }

    /// The completion of the earliest timer if it is due: a timeout is
    /// taken out, an interval set again from now.
    fn due_timer(&self, now: Instant) -> Option<Completion> {
        let mut timers = self.timers.borrow_mut();
        let &(deadline, id) = timers.by_deadline.first()?;
        if deadline > now {
            return None;
        }
        timers.by_deadline.remove(&(deadline, id));
        let (callback, args, run) = match timers.by_id.get_mut(&id) {
            Some((
                at,
                Timer {
                    callback,
                    args,
                    every: Some(every),
                    run,
                },
            )) => {
                *at = now + *every;
                let fired = (callback.clone(), args.clone(), *run);
                let again = (*at, id);
                timers.by_deadline.insert(again);
                fired
            }
            _ => {
                let (_, timer) = timers.by_id.remove(&id)?;
                (timer.callback, timer.args, timer.run)
            }
        };
        Some(Box::new(move |ctx: &Ctx<'_>| -> rquickjs::Result<()> {
            let callback = callback.restore(ctx)?;
            let args = args
                .into_iter()
                .map(|arg| arg.restore(ctx))
                .collect::<rquickjs::Result<Vec<_>>>()?;
            run(ctx, callback, args)
        }))
    }

    /// Whether the earliest timer is due; otherwise arms the alarm for it
    /// (waking `cx` then).
    fn poll_timers(&self, cx: &mut Context<'_>) -> Option<Completion> {
        let now = Instant::now();
        if let Some(due) = self.due_timer(now) {
            return Some(due);
        }
        let earliest = self.timers.borrow().by_deadline.first().map(|&(at, _)| at);
        let mut alarm = self.alarm.borrow_mut();
        match earliest {
            None => *alarm = None,
            Some(at) => {
                let sleep = alarm.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    drop(alarm);
                    return self.due_timer(Instant::now().max(at));
                }
            }
        }
        None
    }

    /// Waits for a task to finish; gives the completions of every task that
    /// has finished by then (empty only when no task is left), so that they
    /// can run in one segment, or else the completion of the one timer due.
    pub async fn next(&self) -> Vec<Completion> {
        std::future::poll_fn(|cx: &mut Context<'_>| -> Poll<Vec<Completion>> {
            *self.waiter.borrow_mut() = Some(cx.waker().clone());
            let mut pending = self.pending.borrow_mut().take().unwrap_or_default();
            let mut done = Vec::new();
            let exhausted = loop {
                pending.extend(self.incoming.borrow_mut().drain(..));
                match pending.poll_next_unpin(cx) {
                    Poll::Ready(Some(completion)) => done.push(completion),
                    Poll::Ready(None) => break true,
                    Poll::Pending if self.incoming.borrow().is_empty() => break false,
                    Poll::Pending => {}
                }
            };
            *self.pending.borrow_mut() = Some(pending);
            if !done.is_empty() {
                return Poll::Ready(done);
            }
            if let Some(timer) = self.poll_timers(cx) {
                return Poll::Ready(vec![timer]);
            }
            if exhausted && self.timers.borrow().by_id.is_empty() {
                Poll::Ready(done)
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Drops every outstanding task and cancels every timer (the
    /// invocation ended).
    pub fn clear(&self) {
        if let Some(pending) = self.pending.borrow_mut().as_mut() {
            pending.clear();
        }
        self.incoming.borrow_mut().clear();
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        drop(timers);
        *self.alarm.borrow_mut() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    /// A timer calling `log(label)` (a JS function) when it fires.
    fn timer<'js>(ctx: &Ctx<'js>, label: &str, every: Option<Duration>) -> Timer {
        let log: Function = ctx.globals().get("log").unwrap();
        let label = rquickjs::String::from_str(ctx.clone(), label).unwrap();
        Timer {
            callback: Persistent::save(ctx, log),
            args: vec![Persistent::save(ctx, label.into_value())],
            every,
            run: |_, callback, args| {
                callback
                    .call_arg::<Value>({
                        let mut call =
                            rquickjs::function::Args::new(callback.ctx().clone(), args.len());
                        call.push_args(args)?;
                        call
                    })
                    .map(drop)
            },
        }
    }

    #[test]
    fn timers_fire_one_at_a_time_in_deadline_order_and_clear_cancels() {
        let events = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        let tasks = Tasks::default();
        context.with(|ctx| {
            let fired: rquickjs::Array = rquickjs::Array::new(ctx.clone()).unwrap();
            ctx.globals().set("fired", fired).unwrap();
            // Looks the array up on each call: a JS value captured by a Rust
            // closure is a root the collector cannot see.
            let log = Function::new(ctx.clone(), |ctx: Ctx<'_>, label: String| {
                let fired: rquickjs::Array = ctx.globals().get("fired").unwrap();
                fired.set(fired.len(), label).unwrap();
            })
            .unwrap();
            ctx.globals().set("log", log).unwrap();
            tasks.set_timer(Duration::from_millis(30), timer(&ctx, "late", None));
            tasks.set_timer(Duration::ZERO, timer(&ctx, "first", None));
            let dropped = tasks.set_timer(Duration::ZERO, timer(&ctx, "dropped", None));
            tasks.set_timer(Duration::ZERO, timer(&ctx, "second", None));
            tasks.set_timer(
                Duration::from_millis(10),
                timer(&ctx, "every", Some(Duration::from_millis(10))),
            );
            tasks.clear_timer(dropped);
        });
        assert_eq!(tasks.timers(), 4);
        let fired = |n: usize| -> Vec<String> {
            let mut batches = Vec::new();
            while batches.len() < n {
                let completions = events.block_on(tasks.next());
                assert_eq!(completions.len(), 1, "one timer per segment");
                context.with(|ctx| {
                    for completion in completions {
                        completion(&ctx).unwrap();
                    }
                });
                batches.push(());
            }
            context.with(|ctx| ctx.globals().get::<_, Vec<String>>("fired").unwrap())
        };
        let order = fired(5);
        assert_eq!(&order[..3], ["first", "second", "every"]);
        assert!(order.contains(&"late".to_string()), "{order:?}");
        assert_eq!(
            order.iter().filter(|l| *l == "every").count(),
            order.len() - 3,
            "{order:?}"
        );
        // The interval is still pending; the invocation ending cancels it.
        assert_eq!(tasks.timers(), 1);
        assert!(!tasks.is_empty());
        tasks.clear();
        assert!(tasks.is_empty());
        assert!(events.block_on(tasks.next()).is_empty());
    }
}
