//! The global `fetch()` of a worker granted an http gateway
//! (`schema/http.capnp:Gateway`) under the name `fetch`. Without that
//! grant there is no global `fetch` at all.
//!
//! `fetch` is the Fetch Standard's, implemented with `Request`, `Response`,
//! `Headers` and streams in `platform/js/fetch_api.js`; this module is its
//! way out: [`send`] (the platform's `fetchSend`) sends one request through
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
//! - The gateway follows redirects itself and takes the whole body in one
//!   message: `redirect: "error"` is checked on the answer, `"manual"` is
//!   refused, and a streamed request body is read to its end first.

use std::rc::{Rc, Weak};

use caplet::http_capnp::gateway;
use capnp::capability::FromClientHook;
use capnp::traits::HasTypeId;
use futures::future::{AbortHandle, Abortable};
use rquickjs::{
    Array, Ctx, Exception, Function, JsLifetime, Object, Persistent, TypedArray, Value,
};

use crate::tasks::Completion;
use crate::worker::Core;

/// The binding name that turns on the global `fetch`.
pub const BINDING: &str = "fetch";

/// The worker `fetchSend` sends for (runtime userdata; a Rust handle, no
/// JS value).
struct Granted(Weak<Core>);

// SAFETY: holds no JS value and no lifetime.
unsafe impl<'js> JsLifetime<'js> for Granted {
    type Changed<'to> = Granted;
}

/// Installs `globalThis.fetch` when the worker has a `fetch` binding of the
/// gateway interface: a native that calls the platform's `fetch` (loaded
/// on the first call).
pub fn install<'js>(ctx: &Ctx<'js>, core: &Rc<Core>) -> rquickjs::Result<()> {
    let Some(binding) = core.caps.binding(BINDING) else {
        return Ok(());
    };
    if binding.interface_id != gateway::Client::TYPE_ID {
        return Ok(());
    }
    ctx.store_userdata(Granted(Rc::downgrade(core)))
        .map_err(|_| Exception::throw_internal(ctx, "fetch is installed twice"))?;
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

/// Largest request (URL, headers and body) `fetch` sends, in bytes.
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// `fetchSend(method, url, headers, body)`: sends one request through the
/// worker's gateway. `headers` is an array of `[name, value]` pairs, `body`
/// a Uint8Array. Returns `{ promise, cancel }`: the promise resolves to
/// `{ status, statusText, url, redirected, headers, body }` or rejects with
/// the gateway's `RpcError`; `cancel()` drops the call.
pub fn send<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    headers: Array<'js>,
    body: TypedArray<'js, u8>,
) -> rquickjs::Result<Object<'js>> {
    let core = ctx
        .userdata::<Granted>()
        .and_then(|granted| granted.0.upgrade())
        .ok_or_else(|| {
            Exception::throw_type(
                &ctx,
                "fetch: this worker has no http gateway granted as env.fetch",
            )
        })?;
    let mut pairs = Vec::with_capacity(headers.len());
    for pair in headers.iter::<Array>() {
        let pair = pair?;
        pairs.push((pair.get::<String>(0)?, pair.get::<String>(1)?));
    }
    // SAFETY: the bytes are copied before any JavaScript runs again.
    let body = unsafe { body.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    // Checked here: the request must fit in one message (and capnp asserts
    // on lists of 2^29 elements or more).
    let size = body.len() + url.len() + pairs.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
    if size > MAX_REQUEST_BYTES {
        return Err(Exception::throw_type(
            &ctx,
            &format!("fetch: the request is {size} bytes, over the limit of {MAX_REQUEST_BYTES}"),
        ));
    }
    let binding = core
        .caps
        .binding(BINDING)
        .ok_or_else(|| Exception::throw_internal(&ctx, "the fetch binding is gone"))?;
    let client = gateway::Client::new(binding.client.hook.add_ref());
    let mut call = client.fetch_request();
    {
        let mut request = call.get().init_request();
        request.set_method(&method);
        request.set_url(&url);
        let mut list = request.reborrow().init_headers(pairs.len() as u32);
        for (i, (name, value)) in pairs.iter().enumerate() {
            let mut header = list.reborrow().get(i as u32);
            header.set_name(name);
            header.set_value(value);
        }
        request.set_body(&body);
    }
    // Counted like every capability call (subrequest and in-flight limits).
    core.start_call(&ctx)?;
    let (handle, registration) = AbortHandle::new_pair();
    let answer = Abortable::new(call.send().promise, registration);
    let (promise, resolve, reject) = ctx.promise()?;
    let resolve = Persistent::save(&ctx, resolve);
    let reject = Persistent::save(&ctx, reject);
    let weak = Rc::downgrade(&core);
    core.tasks.push(async move {
        let answer = answer.await;
        if let Some(core) = weak.upgrade() {
            core.end_call();
        }
        let Ok(answer) = answer else {
            // Cancelled: JS already rejected its own promise.
            let nothing: Completion = Box::new(|_: &Ctx<'_>| Ok(()));
            return nothing;
        };
        let incoming = answer.and_then(|answer| {
            let response = answer.get()?.get_response()?;
            let mut headers = Vec::new();
            for header in response.get_headers()? {
                headers.push((
                    header.get_name()?.to_string()?,
                    header.get_value()?.to_string()?,
                ));
            }
            Ok(Incoming {
                status: response.get_status(),
                status_text: response.get_status_text()?.to_string()?,
                headers,
                body: response.get_body()?.to_vec(),
                url: response.get_url()?.to_string()?,
                redirects: response.get_redirects(),
            })
        });
        let completion: Completion = Box::new(move |ctx: &Ctx<'_>| -> rquickjs::Result<()> {
            let Some(core) = weak.upgrade() else {
                return Ok(());
            };
            match incoming {
                Ok(incoming) => {
                    let answer = incoming.into_js(ctx)?;
                    resolve.restore(ctx)?.call::<_, ()>((answer,))
                }
                Err(error) => {
                    let error = core.caps.rpc_error(ctx, &error)?;
                    reject.restore(ctx)?.call::<_, ()>((error,))
                }
            }
        });
        completion
    });
    let out = Object::new(ctx.clone())?;
    out.set("promise", promise)?;
    out.set(
        "cancel",
        Function::new(ctx.clone(), move || handle.abort())?,
    )?;
    Ok(out)
}

/// A response as the gateway returned it.
struct Incoming {
    status: u16,
    status_text: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    url: String,
    redirects: u8,
}

impl Incoming {
    fn into_js<'js>(self, ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
        let answer = Object::new(ctx.clone())?;
        answer.set("status", self.status)?;
        answer.set("statusText", self.status_text)?;
        answer.set("url", self.url)?;
        answer.set("redirected", self.redirects > 0)?;
        let headers = Array::new(ctx.clone())?;
        for (i, (name, value)) in self.headers.into_iter().enumerate() {
            let pair = Array::new(ctx.clone())?;
            pair.set(0, name)?;
            pair.set(1, value)?;
            headers.set(i, pair)?;
        }
        answer.set("headers", headers)?;
        answer.set(
            "body",
            TypedArray::<u8>::new_copy(ctx.clone(), &self.body[..])?,
        )?;
        Ok(answer)
    }
}
