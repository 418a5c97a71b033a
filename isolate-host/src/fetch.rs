//! The global `fetch()` of a worker granted an http gateway
//! (`schema/http.capnp:Gateway`) under the name `fetch`. Without that
//! grant there is no global `fetch` at all.
//!
//! It is built natively here (workers have no `eval`, so no JS prelude) and
//! every request goes through `env.fetch`: the broker's egress policy
//! applies exactly as to `env.fetch.fetch({request})`. The subset of the
//! Fetch standard it offers:
//!
//! - `fetch(url, {method, headers, body})`, where `url` is a string (or an
//!   object with a `url` property), `headers` a plain object, an array of
//!   `[name, value]` pairs or a response's `headers`, and `body` a string
//!   (sent as UTF-8, with `content-type: text/plain;charset=UTF-8` unless
//!   one is given), an `ArrayBuffer` or a `Uint8Array`. Standard method
//!   names are upper-cased.
//! - It resolves to a response with `status`, `ok`, `statusText`, `url`,
//!   `redirected`, `headers` (`get(name)`, `has(name)`, `forEach(fn)`,
//!   `entries()`, and iterable as `[name, value]` pairs), and `text()`, `json()`, `arrayBuffer()` and `bytes()`,
//!   each a promise and callable any number of times (the body is already
//!   read, within the policy's size limit).
//! - Each `fetch()` counts as one capability call against the worker's
//!   subrequest and calls-in-flight limits, like a call on `env.fetch`.
//! - A refused or failed request rejects with the gateway's `RpcError`
//!   (e.g. `denied: …`, `too_large: …`); an HTTP error status is not an
//!   error. Malformed arguments reject with a `TypeError`.

use std::rc::{Rc, Weak};

use caplet::http_capnp::gateway;
use capnp::capability::FromClientHook;
use capnp::traits::HasTypeId;
use rquickjs::function::{Opt, This};
use rquickjs::{
    Array, ArrayBuffer, Coerced, Ctx, Exception, Function, Object, Persistent, TypedArray, Value,
};

use crate::caps::Caps;
use crate::tasks::Completion;

/// The binding name that turns on the global `fetch`.
pub const BINDING: &str = "fetch";

/// Methods upper-cased whatever case they are written in (as the Fetch
/// standard normalises them).
const STANDARD_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// Installs `globalThis.fetch` when the worker has a `fetch` binding of the
/// gateway interface.
pub fn install<'js>(ctx: &Ctx<'js>, caps: &Rc<Caps>) -> rquickjs::Result<()> {
    let Some(binding) = caps.binding(BINDING) else {
        return Ok(());
    };
    if binding.interface_id != gateway::Client::TYPE_ID {
        return Ok(());
    }
    let caps = Rc::downgrade(caps);
    let fetch = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, input: Value<'js>, init: Opt<Value<'js>>| {
            start(&ctx, &caps, input, init.0)
        },
    )?
    .with_name("fetch")?;
    ctx.globals().set("fetch", fetch)
}

/// Largest request (URL, headers and body) `fetch` sends, in bytes.
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// A request as JS described it.
struct Outgoing {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
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

/// `fetch(input, init)`: sends the request through the binding and returns
/// a promise of the response.
fn start<'js>(
    ctx: &Ctx<'js>,
    caps: &Weak<Caps>,
    input: Value<'js>,
    init: Option<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let gone = || Exception::throw_internal(ctx, "the worker is gone");
    let caps = caps.upgrade().ok_or_else(gone)?;
    let core = caps.core().ok_or_else(gone)?;
    let (promise, resolve, reject) = ctx.promise()?;
    let outgoing = match read_request(ctx, input, init).and_then(|outgoing| {
        // Checked here: the request must fit in one message (and capnp
        // asserts on lists of 2^29 elements or more).
        let size = outgoing.body.len()
            + outgoing.url.len()
            + outgoing
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>();
        if size > MAX_REQUEST_BYTES {
            return Err(Exception::throw_type(
                ctx,
                &format!(
                    "fetch: the request is {size} bytes, over the limit of {MAX_REQUEST_BYTES}"
                ),
            ));
        }
        Ok(outgoing)
    }) {
        Ok(outgoing) => outgoing,
        Err(rquickjs::Error::Exception) => {
            reject.call::<_, ()>((ctx.catch(),))?;
            return Ok(promise.into_value());
        }
        Err(other) => return Err(other),
    };
    let binding = caps
        .binding(BINDING)
        .ok_or_else(|| Exception::throw_internal(ctx, "the fetch binding is gone"))?;
    let client = gateway::Client::new(binding.client.hook.add_ref());
    let mut call = client.fetch_request();
    {
        let mut request = call.get().init_request();
        request.set_method(&outgoing.method);
        request.set_url(&outgoing.url);
        let mut headers = request
            .reborrow()
            .init_headers(outgoing.headers.len() as u32);
        for (i, (name, value)) in outgoing.headers.iter().enumerate() {
            let mut header = headers.reborrow().get(i as u32);
            header.set_name(name);
            header.set_value(value);
        }
        request.set_body(&outgoing.body);
    }
    // Counted like every capability call (subrequest and in-flight limits).
    core.start_call(ctx)?;
    let answer = call.send().promise;
    let resolve = Persistent::save(ctx, resolve);
    let reject = Persistent::save(ctx, reject);
    let weak = Rc::downgrade(&core);
    let caps = Rc::downgrade(&caps);
    core.tasks().push(async move {
        let answer = answer.await;
        if let Some(core) = weak.upgrade() {
            core.end_call();
        }
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
                    let response = response_object(ctx, incoming)?;
                    resolve.restore(ctx)?.call::<_, ()>((response,))
                }
                Err(error) => {
                    let error = caps.rpc_error(ctx, &error)?;
                    reject.restore(ctx)?.call::<_, ()>((error,))
                }
            }
        });
        completion
    });
    Ok(promise.into_value())
}

fn type_error<T>(ctx: &Ctx<'_>, message: &str) -> rquickjs::Result<T> {
    Err(Exception::throw_type(ctx, &format!("fetch: {message}")))
}

fn read_request<'js>(
    ctx: &Ctx<'js>,
    input: Value<'js>,
    init: Option<Value<'js>>,
) -> rquickjs::Result<Outgoing> {
    let url = if let Some(text) = input.as_string() {
        text.to_string()?
    } else if let Some(object) = input.as_object() {
        let url: Value = object.get("url")?;
        match url.as_string() {
            Some(text) => text.to_string()?,
            None => return type_error(ctx, "the request has no `url` string"),
        }
    } else {
        return type_error(ctx, "the first argument must be a URL string");
    };
    let mut outgoing = Outgoing {
        method: "GET".into(),
        url,
        headers: Vec::new(),
        body: Vec::new(),
    };
    let Some(init) = init.filter(|v| !v.is_undefined() && !v.is_null()) else {
        return Ok(outgoing);
    };
    let Some(init) = init.as_object() else {
        return type_error(ctx, "the options must be an object");
    };
    let method: Value = init.get("method")?;
    if !method.is_undefined() {
        let Some(method) = method.as_string() else {
            return type_error(ctx, "`method` must be a string");
        };
        let method = method.to_string()?;
        outgoing.method = match STANDARD_METHODS
            .iter()
            .find(|m| m.eq_ignore_ascii_case(&method))
        {
            Some(standard) => standard.to_string(),
            None => method,
        };
    }
    outgoing.headers = read_headers(ctx, init.get("headers")?)?;
    let body: Value = init.get("body")?;
    if let Some(text) = body.as_string() {
        outgoing.body = text.to_string()?.into_bytes();
        if !outgoing
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            outgoing
                .headers
                .push(("content-type".into(), "text/plain;charset=UTF-8".into()));
        }
    } else if let Some(bytes) = bytes_of(&body) {
        outgoing.body = bytes;
    } else if !body.is_undefined() && !body.is_null() {
        return type_error(
            ctx,
            "`body` must be a string, an ArrayBuffer or a Uint8Array",
        );
    }
    Ok(outgoing)
}

/// The bytes of an `ArrayBuffer` or a `Uint8Array`, copied.
fn bytes_of(value: &Value<'_>) -> Option<Vec<u8>> {
    if let Some(buffer) = ArrayBuffer::from_value(value.clone()) {
        // SAFETY: the bytes are copied before any JavaScript runs again.
        return unsafe { buffer.as_bytes() }.map(<[u8]>::to_vec);
    }
    if let Ok(array) = TypedArray::<u8>::from_value(value.clone()) {
        // SAFETY: as above.
        return unsafe { array.as_bytes() }.map(<[u8]>::to_vec);
    }
    None
}

/// Headers given as a plain object, an array of pairs, or anything with an
/// `entries()` method returning pairs (a response's `headers`).
fn read_headers<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Vec<(String, String)>> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let Some(object) = value.as_object() else {
        return type_error(ctx, "`headers` must be an object or an array of pairs");
    };
    let pairs = |array: &Array<'js>| -> rquickjs::Result<Vec<(String, String)>> {
        let mut headers = Vec::new();
        for pair in array.iter::<Value>() {
            let pair = pair?;
            let Some(pair) = pair.as_array().filter(|p| p.len() == 2) else {
                return type_error(ctx, "each header must be a [name, value] pair");
            };
            let name: Coerced<String> = pair.get(0)?;
            let value: Coerced<String> = pair.get(1)?;
            headers.push((name.0, value.0));
        }
        Ok(headers)
    };
    if let Some(array) = object.as_array() {
        return pairs(array);
    }
    let entries: Value = object.get("entries")?;
    if let Some(entries) = entries.as_function() {
        let list: Value = entries.call((This(object.clone()),))?;
        return match list.as_array() {
            Some(array) => pairs(array),
            None => type_error(ctx, "`headers.entries()` must return an array"),
        };
    }
    let mut headers = Vec::new();
    for prop in object.props::<String, Coerced<String>>() {
        let (name, value) = prop?;
        headers.push((name, value.0));
    }
    Ok(headers)
}

/// A promise already settled with `value`.
fn settled<'js>(ctx: &Ctx<'js>, value: Value<'js>, ok: bool) -> rquickjs::Result<Value<'js>> {
    let (promise, resolve, reject) = ctx.promise()?;
    if ok {
        resolve.call::<_, ()>((value,))?;
    } else {
        reject.call::<_, ()>((value,))?;
    }
    Ok(promise.into_value())
}

/// The JS response object.
fn response_object<'js>(ctx: &Ctx<'js>, incoming: Incoming) -> rquickjs::Result<Object<'js>> {
    let response = Object::new(ctx.clone())?;
    response.set("status", incoming.status)?;
    response.set("ok", (200..300).contains(&incoming.status))?;
    response.set("statusText", incoming.status_text)?;
    response.set("url", incoming.url)?;
    response.set("redirected", incoming.redirects > 0)?;
    response.set("headers", headers_object(ctx, Rc::new(incoming.headers))?)?;
    let body = Rc::new(incoming.body);

    let text = body.clone();
    response.set(
        "text",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
            let text = String::from_utf8_lossy(&text).into_owned();
            let value = rquickjs::String::from_str(ctx.clone(), &text)?.into_value();
            settled(&ctx, value, true)
        })?,
    )?;
    let json = body.clone();
    response.set(
        "json",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
            match ctx.json_parse(String::from_utf8_lossy(&json).into_owned()) {
                Ok(value) => settled(&ctx, value, true),
                Err(rquickjs::Error::Exception) => settled(&ctx, ctx.catch(), false),
                Err(other) => Err(other),
            }
        })?,
    )?;
    let buffer = body.clone();
    response.set(
        "arrayBuffer",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
            let value = ArrayBuffer::new_copy(ctx.clone(), &buffer[..])?.into_value();
            settled(&ctx, value, true)
        })?,
    )?;
    response.set(
        "bytes",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
            let value = TypedArray::<u8>::new_copy(ctx.clone(), &body[..])?.into_value();
            settled(&ctx, value, true)
        })?,
    )?;
    Ok(response)
}

/// A read-only `Headers` subset over the response headers (names are
/// lower case; `get` joins repeated values with `, `).
fn headers_object<'js>(
    ctx: &Ctx<'js>,
    headers: Rc<Vec<(String, String)>>,
) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    let list = headers.clone();
    object.set(
        "get",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, name: Coerced<String>| -> rquickjs::Result<Value<'js>> {
                let values: Vec<&str> = list
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(&name.0))
                    .map(|(_, v)| v.as_str())
                    .collect();
                if values.is_empty() {
                    return Ok(Value::new_null(ctx));
                }
                Ok(rquickjs::String::from_str(ctx, &values.join(", "))?.into_value())
            },
        )?,
    )?;
    let list = headers.clone();
    object.set(
        "has",
        Function::new(ctx.clone(), move |name: Coerced<String>| {
            list.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name.0))
        })?,
    )?;
    let list = headers.clone();
    object.set(
        "forEach",
        Function::new(
            ctx.clone(),
            move |callback: Function<'js>| -> rquickjs::Result<()> {
                for (name, value) in list.iter() {
                    callback.call::<_, ()>((value.as_str(), name.as_str()))?;
                }
                Ok(())
            },
        )?,
    )?;
    // The closures below capture only Rust data: a JS value captured in a
    // Rust closure is a root the collector cannot see (ARCHITECTURE.md).
    let list = headers.clone();
    object.set(
        "entries",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| entries_array(&ctx, &list))?,
    )?;
    // `for (const [name, value] of response.headers)` walks the entries.
    object.set(
        rquickjs::Symbol::iterator(ctx.clone()),
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> {
                let array = entries_array(&ctx, &headers)?;
                let walk: Function = array
                    .as_object()
                    .get(rquickjs::Symbol::iterator(ctx.clone()))?;
                walk.call((This(array),))
            },
        )?,
    )?;
    Ok(object)
}

/// The headers as an array of `[name, value]` pairs.
fn entries_array<'js>(
    ctx: &Ctx<'js>,
    headers: &[(String, String)],
) -> rquickjs::Result<Array<'js>> {
    let array = Array::new(ctx.clone())?;
    for (i, (name, value)) in headers.iter().enumerate() {
        let pair = Array::new(ctx.clone())?;
        pair.set(0, name.as_str())?;
        pair.set(1, value.as_str())?;
        array.set(i, pair)?;
    }
    Ok(array)
}
