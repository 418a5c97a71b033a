//! The global `fetch()` of a worker granted an http gateway
//! (`schema/http.capnp:Gateway`) under the name `fetch`. Without that
//! grant there is no global `fetch` at all.
//!
//! `fetch` is the Fetch Standard's, implemented with `Request`, `Response`,
//! `Headers` and streams in `platform/js/fetch_api.js`; this module is its
//! way out: `platform/gateway.rs` (the platform's `fetchSend`) sends one request through
//! `env.fetch`, so the broker's egress policy applies exactly as to
//! `env.fetch.fetch({request})`, and hands back a promise of the answer and
//! a function that cancels it. Cancelling drops the call, which the broker
//! sees as a cancelled call: it stops the request (the gateway's future is
//! dropped).
//!
//! - Each `fetch()` counts as one capability call against the worker's
//!   subrequest and calls-in-flight limits, like a call on `env.fetch`.
//! - A refused or failed request rejects with the gateway's `RpcError`
//!   (e.g. `denied: …`, `too_large: …`); an HTTP error status is not an
//!   error.
//! - The gateway handles the request's redirect mode itself (`follow`;
//!   `manual` returns the 3xx response, as in Deno and workerd; `error`
//!   rejects with a `TypeError` before a second request is sent) and takes
//!   the whole body in one message, so a streamed request body is read to
//!   its end first.

use std::rc::Rc;

use caplet::http_capnp::gateway;
use capnp::traits::HasTypeId;
use rquickjs::{Ctx, Function, Value};

use crate::caps::Caps;

/// The binding name that turns on the global `fetch`.
pub const BINDING: &str = "fetch";

/// Installs `globalThis.fetch` when the worker has a `fetch` binding of the
/// gateway interface: a native that calls the platform's `fetch` (loaded
/// on the first call).
pub fn install<'js>(ctx: &Ctx<'js>, caps: &Rc<Caps>) -> rquickjs::Result<()> {
    let Some(binding) = caps.binding(BINDING) else {
        return Ok(());
    };
    if binding.interface_id != gateway::Client::TYPE_ID {
        return Ok(());
    }
    crate::platform::grant_fetch(ctx, caps)?;
    let fetch = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>,
         args: rquickjs::function::Rest<Value<'js>>|
         -> rquickjs::Result<Value<'js>> {
            let fetch: Function = crate::platform::js::export(&ctx, "fetch_api", "fetch")?.get()?;
            fetch.call((rquickjs::function::Rest(args.0),))
        },
    )?
    .with_name("fetch")?;
    ctx.globals().set("fetch", fetch)
}
