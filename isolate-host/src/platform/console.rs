//! `console` (WHATWG Console Standard): the five native log methods of
//! `crate::console` wrapped by `js/console.js` (grouping, counters, timers
//! on the frozen clock, assert, table, dir, trace), built when a worker
//! first touches `console`; a promise prints with its state, read by
//! `node_util`'s native.

use rquickjs::Function;

use super::js::export;
use super::LazyGlobal;

pub const GLOBALS: &[LazyGlobal] = &[LazyGlobal {
    name: "console",
    build: |ctx| {
        let natives = crate::console::methods(ctx)?;
        let make: Function = export(ctx, "console", "makeConsole")?.get()?;
        make.call((
            natives[0].clone(),
            natives[1].clone(),
            natives[2].clone(),
            natives[3].clone(),
            natives[4].clone(),
            Function::new(ctx.clone(), super::node_util::promise_state)?,
        ))
    },
}];
