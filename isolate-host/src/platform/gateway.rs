//! `fetchSend`, the way out of the platform's `fetch()`: one request
//! through the worker's http gateway (`env.fetch`), so the broker's egress
//! policy applies exactly as to `env.fetch.fetch({request})`. Cancelling
//! drops the call, which the broker sees as a cancelled call: it stops the
//! request (the gateway's future is dropped). Each request counts as one
//! capability call against the subrequest and calls-in-flight limits.

use std::rc::{Rc, Weak};

use caplet::http_capnp::{gateway, RedirectMode};
use capnp::capability::FromClientHook;
use futures::future::{AbortHandle, Abortable};
use rquickjs::{Array, Ctx, Exception, Function, JsLifetime, Object, Persistent, TypedArray};

use crate::caps::Caps;
use crate::tasks::Completion;

/// The binding `fetchSend` sends through.
const BINDING: &str = "fetch";

/// The capabilities of the worker `fetchSend` sends for (runtime userdata;
/// a Rust handle, no JS value).
struct Granted(Weak<Caps>);

// SAFETY: holds no JS value and no lifetime.
unsafe impl<'js> JsLifetime<'js> for Granted {
    type Changed<'to> = Granted;
}

/// Lets `fetchSend` send through `caps`' `fetch` binding (call once, when
/// the worker is granted an http gateway as `env.fetch`).
pub fn grant(ctx: &Ctx<'_>, caps: &Rc<Caps>) -> rquickjs::Result<()> {
    ctx.store_userdata(Granted(Rc::downgrade(caps)))
        .map(drop)
        .map_err(|_| Exception::throw_internal(ctx, "fetch is granted twice"))
}

/// Largest request (URL, headers and body) `fetch` sends, in bytes.
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// `fetchSend(method, url, headers, body, redirect)`: sends one request
/// through the worker's gateway. `headers` is an array of `[name, value]`
/// pairs, `body` a Uint8Array, `redirect` the request's redirect mode
/// (`"follow"`, `"manual"` or `"error"`, handled by the gateway). Returns `{ promise, cancel }`: the promise resolves to
/// `{ status, statusText, url, redirected, headers, body }` or rejects with
/// the gateway's `RpcError`; `cancel()` drops the call.
pub fn send<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    headers: Array<'js>,
    body: TypedArray<'js, u8>,
    redirect: String,
) -> rquickjs::Result<Object<'js>> {
    let redirect = match redirect.as_str() {
        "follow" => RedirectMode::Follow,
        "manual" => RedirectMode::Manual,
        "error" => RedirectMode::Error,
        other => {
            return Err(Exception::throw_type(
                &ctx,
                &format!("fetch: invalid redirect mode {other:?}"),
            ))
        }
    };
    let caps = ctx
        .userdata::<Granted>()
        .and_then(|granted| granted.0.upgrade())
        .ok_or_else(|| {
            Exception::throw_type(
                &ctx,
                "fetch: this worker has no http gateway granted as env.fetch",
            )
        })?;
    let core = caps
        .core()
        .ok_or_else(|| Exception::throw_internal(&ctx, "the worker is gone"))?;
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
    let binding = caps
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
        request.set_redirect(redirect);
    }
    // Counted like every capability call (subrequest and in-flight limits).
    core.start_call(&ctx)?;
    let (handle, registration) = AbortHandle::new_pair();
    let answer = Abortable::new(call.send().promise, registration);
    let (promise, resolve, reject) = ctx.promise()?;
    let resolve = Persistent::save(&ctx, resolve);
    let reject = Persistent::save(&ctx, reject);
    let weak = Rc::downgrade(&core);
    let caps = Rc::downgrade(&caps);
    core.tasks().push(async move {
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
            let Some(caps) = caps.upgrade() else {
                return Ok(());
            };
            match incoming {
                Ok(incoming) => {
                    let answer = incoming.into_js(ctx)?;
                    resolve.restore(ctx)?.call::<_, ()>((answer,))
                }
                Err(error) => {
                    let error = caps.rpc_error(ctx, &error)?;
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
