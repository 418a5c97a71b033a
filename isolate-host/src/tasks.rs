//! Host operations an invocation is waiting on (capability calls, mostly).
//!
//! JavaScript never blocks: a call that needs the outside world starts a Rust
//! future and hands JS a promise. When the future finishes, its completion
//! runs inside the worker's context (resolving or rejecting that promise) in
//! a new CPU-metered segment. An invocation whose promise is still pending
//! when no task is left can never settle.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures::stream::{FuturesUnordered, StreamExt};
use rquickjs::Ctx;

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
}

impl Tasks {
    /// Starts tracking a task.
    pub fn push(&self, task: impl Future<Output = Completion> + 'static) {
        self.incoming.borrow_mut().push(Box::pin(task));
        if let Some(waiter) = self.waiter.borrow_mut().take() {
            waiter.wake();
        }
    }

    /// Whether any task is outstanding.
    pub fn is_empty(&self) -> bool {
        self.pending.borrow().as_ref().is_none_or(|p| p.is_empty())
            && self.incoming.borrow().is_empty()
    }

    /// Waits for a task to finish; gives the completions of every task that
    /// has finished by then (empty only when no task is left), so that they
    /// can run in one segment.
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
            if done.is_empty() && !exhausted {
                Poll::Pending
            } else {
                Poll::Ready(done)
            }
        })
        .await
    }

    /// Drops every outstanding task (the invocation ended).
    pub fn clear(&self) {
        if let Some(pending) = self.pending.borrow_mut().as_mut() {
            pending.clear();
        }
        self.incoming.borrow_mut().clear();
    }
}
