//! The Web platform of a worker, installed lazily: each module lists the
//! globals it owns as [`LazyGlobal`]s, and a global is built on first access,
//! so a worker that never touches one pays nothing for it.

use rquickjs::{Ctx, Value};

pub mod base64;
pub mod compression;
pub mod crypto;
pub mod encoding;
mod glue;
pub mod url;

/// A global built on first access.
pub struct LazyGlobal {
    /// The global's name, e.g. `"URL"`.
    pub name: &'static str,
    /// Builds the global's value in a context.
    pub build: for<'js> fn(&Ctx<'js>) -> rquickjs::Result<Value<'js>>,
}
