//! Events, aborting and errors of the DOM Standard and WebIDL: `Event`,
//! `EventTarget`, `CustomEvent`, `AbortController`, `AbortSignal`,
//! `DOMException`, and `reportError`, `ErrorEvent` and
//! `PromiseRejectionEvent` (HTML), implemented in
//! `js/events.js`, `js/abort.js` and `js/dom_exception.js`.

use std::cell::Cell;

use rquickjs::{Array, Ctx, Function, Value};

use super::js::export;
use super::{lazy, LazyGlobal};

pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "Event",
        build: |ctx| export(ctx, "events", "Event"),
    },
    LazyGlobal {
        name: "EventTarget",
        build: |ctx| export(ctx, "events", "EventTarget"),
    },
    LazyGlobal {
        name: "CustomEvent",
        build: |ctx| export(ctx, "events", "CustomEvent"),
    },
    LazyGlobal {
        name: "ErrorEvent",
        build: |ctx| export(ctx, "events", "ErrorEvent"),
    },
    LazyGlobal {
        name: "PromiseRejectionEvent",
        build: |ctx| export(ctx, "events", "PromiseRejectionEvent"),
    },
    LazyGlobal {
        name: "reportError",
        build: |ctx| export(ctx, "events", "reportError"),
    },
    LazyGlobal {
        name: "AbortController",
        build: |ctx| export(ctx, "abort", "AbortController"),
    },
    LazyGlobal {
        name: "AbortSignal",
        build: |ctx| export(ctx, "abort", "AbortSignal"),
    },
    LazyGlobal {
        name: "DOMException",
        build: |ctx| export(ctx, "dom_exception", "DOMException"),
    },
];

/// The runtime's promise rejection tracker: QuickJS calls it when a promise
/// is rejected with no handler (`handled` false) and when such a promise
/// gets its first handler (true). The promises are kept in `js/events.js`,
/// loaded on the first unhandled rejection; a worker that never has one
/// pays nothing. Nothing it throws (even a limit, which trips again at the
/// next check) is left pending inside the engine's rejection.
pub fn track_rejection<'js>(
    ctx: &Ctx<'js>,
    promise: Value<'js>,
    reason: Value<'js>,
    handled: bool,
) {
    thread_local! {
        /// Set while tracking: loading `js/events.js` may itself reject a
        /// promise (its evaluation failing, out of memory); that one is not
        /// tracked, rather than recursing.
        static TRACKING: Cell<bool> = const { Cell::new(false) };
    }
    if TRACKING.with(|t| t.replace(true)) {
        return;
    }
    track(ctx, promise, reason, handled);
    TRACKING.with(|t| t.set(false));
}

fn track<'js>(ctx: &Ctx<'js>, promise: Value<'js>, reason: Value<'js>, handled: bool) {
    if handled && lazy::cached_module(ctx, "events").is_none() {
        return;
    }
    let track = export(ctx, "events", "trackRejection").and_then(|f| f.get::<Function>());
    if track
        .and_then(|f| f.call::<_, ()>((promise, reason, handled)))
        .is_err()
    {
        let _ = ctx.catch();
    }
}

/// Reports the promises rejected with no handler during the invocation,
/// except `awaited` (those the host waits on: the entrypoint's result and
/// the `ctx.waitUntil` promises), and forgets them.
pub fn report_rejections<'js>(ctx: &Ctx<'js>, awaited: Vec<Value<'js>>) -> rquickjs::Result<()> {
    let Some(events) = lazy::cached_module(ctx, "events") else {
        return Ok(());
    };
    let report: Function = events.get("reportRejections")?;
    let list = Array::new(ctx.clone())?;
    for (i, promise) in awaited.into_iter().enumerate() {
        list.set(i, promise)?;
    }
    report.call((list,))
}
