//! The global `Buffer` (Node.js), built on first use from `js/buffer.js`
//! (the `buffer` npm package); `node:buffer` re-exports it.

use rquickjs::{Ctx, Object, Value};

use super::{js, LazyGlobal};

/// The global this module owns.
pub const GLOBALS: &[LazyGlobal] = &[LazyGlobal {
    name: "Buffer",
    build: build_buffer,
}];

fn build_buffer<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let exports: Object = js::export(ctx, "buffer", "default")?.get()?;
    exports.get("Buffer")
}
