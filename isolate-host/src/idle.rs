//! Work the host puts off until it has nothing else to do: freeing the
//! runtimes of released workers (`JS_FreeRuntime` and its collection are a
//! large share of a load's cost when they run inline) and preparing the
//! isolate the next load will take.

use std::cell::RefCell;
use std::rc::Rc;

use crate::engine;
use crate::worker::JsWorker;

thread_local! {
    static GRAVEYARD: RefCell<Vec<Rc<JsWorker>>> = const { RefCell::new(Vec::new()) };
    static WAKE: Rc<tokio::sync::Notify> = Rc::new(tokio::sync::Notify::new());
}

/// Hands over a released worker, to be freed when the host is idle.
pub fn bury(worker: Rc<JsWorker>) {
    GRAVEYARD.with(|graveyard| graveyard.borrow_mut().push(worker));
    wake();
}

/// Asks for idle work (after a load took the prepared isolate).
pub fn wake() {
    WAKE.with(|wake| wake.notify_one());
}

/// Runs for the host's life on its `LocalSet`.
pub async fn run() {
    let wake = WAKE.with(Rc::clone);
    loop {
        wake.notified().await;
        // Let the answers already queued go out first.
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        let buried = GRAVEYARD.with(|graveyard| std::mem::take(&mut *graveyard.borrow_mut()));
        drop(buried);
        if let Err(error) = engine::prepare_spare() {
            eprintln!("caplet: isolate-host cannot prepare an isolate: {error}");
        }
    }
}
