//! Events, aborting and errors of the DOM Standard and WebIDL: `Event`,
//! `EventTarget`, `CustomEvent`, `AbortController`, `AbortSignal`,
//! `DOMException`, and `reportError`, `ErrorEvent` and
//! `PromiseRejectionEvent` (HTML), implemented in
//! `js/events.js`, `js/abort.js` and `js/dom_exception.js`.

use super::js::export;
use super::LazyGlobal;

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
