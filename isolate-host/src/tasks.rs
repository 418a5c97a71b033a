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
#[derive(Default)]
pub struct Tasks {
    pending: RefCell<FuturesUnordered<Task>>,
    /// Whoever waits in [`Tasks::next`]. `FuturesUnordered::push` does not
    /// wake it, and a task may be pushed from outside the invocation loop
    /// (a JS callback served to another vat calling out again).
    waiter: RefCell<Option<Waker>>,
}

impl Tasks {
    /// Starts tracking a task.
    pub fn push(&self, task: impl Future<Output = Completion> + 'static) {
        self.pending.borrow_mut().push(Box::pin(task));
        if let Some(waiter) = self.waiter.borrow_mut().take() {
            waiter.wake();
        }
    }

    /// Whether any task is outstanding.
    pub fn is_empty(&self) -> bool {
        self.pending.borrow().is_empty()
    }

    /// Waits for the next task to finish. The borrow is held only while
    /// polling, never across an await, so JS may push tasks meanwhile.
    pub async fn next(&self) -> Option<Completion> {
        std::future::poll_fn(|cx: &mut Context<'_>| -> Poll<Option<Completion>> {
            *self.waiter.borrow_mut() = Some(cx.waker().clone());
            self.pending.borrow_mut().poll_next_unpin(cx)
        })
        .await
    }

    /// Drops every outstanding task (the invocation ended).
    pub fn clear(&self) {
        self.pending.borrow_mut().clear();
    }
}
