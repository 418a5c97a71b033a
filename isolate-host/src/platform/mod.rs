//! The Web platform a worker sees beyond ECMAScript (the WinterTC Minimum
//! Common API): every global here costs nothing until a worker touches it.
//!
//! Each area is a module (`platform/<area>.rs`) exporting
//! `pub const GLOBALS: &[LazyGlobal]`: a global's name and the function that
//! builds its value in a context. [`TABLES`] lists every area's table; it is
//! the one place that says which platform globals exist. [`install`] puts
//! them behind the global object's prototype (see `lazy`): the first lookup
//! of a name builds it, and from then on it is an ordinary data property.
//! Parts written in JavaScript live in `platform/js/*.js` and are reached
//! through [`js::namespace`] / [`js::export`].
//!
//! Nothing here grants authority or reads a clock that moves while JS
//! computes: `fetch` is added by the module that owns it; timers are host
//! tasks (`timers`, on `crate::tasks`) and `performance` reads the engine's
//! frozen clock.

pub mod base64;
mod buffer;
pub mod compression;
mod console;
pub mod crypto;
pub mod encoding;
mod events;
mod fetch_api;
mod gateway;
mod global;
mod glue;
pub mod intl;
mod intl_collation;
mod intl_currency;
mod intl_date_pattern;
mod intl_list;
mod intl_parts;
mod intl_range;
mod intl_relative;
mod intl_zone;
pub mod js;
mod lazy;
mod multipart;
mod native;
pub mod node;
mod node_crypto;
mod node_util;
mod streams;
pub mod timers;
pub mod url;
mod url_pattern;

pub use events::{report_rejections, track_rejection};
pub use gateway::grant as grant_fetch;
pub use lazy::LazyGlobal;
pub use native::load as native_module;

use rquickjs::Ctx;

/// Every area's globals. Names must be unique across tables (checked by a
/// unit test).
pub static TABLES: &[&[LazyGlobal]] = &[
    base64::GLOBALS,
    buffer::GLOBALS,
    compression::GLOBALS,
    console::GLOBALS,
    crypto::GLOBALS,
    encoding::GLOBALS,
    events::GLOBALS,
    fetch_api::GLOBALS,
    global::GLOBALS,
    intl::GLOBALS,
    streams::GLOBALS,
    timers::GLOBALS,
    url::GLOBALS,
    url_pattern::GLOBALS,
];

/// The engine's own globals that a platform global replaces (QuickJS-NG's
/// `queueMicrotask` does not report errors). A unit test checks that a
/// worker context defines no other name of [`TABLES`].
pub const SHADOWED_BUILTINS: &[&str] = &["queueMicrotask"];

/// Makes the platform's globals reachable in `ctx`. Call once per context,
/// before any worker code runs; builds nothing.
pub fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    lazy::install(ctx, TABLES, SHADOWED_BUILTINS)?;
    intl::install_locale_methods(ctx)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_intl_node;
