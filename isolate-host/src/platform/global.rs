//! Globals of the HTML Standard a worker has: `self`, `navigator`
//! (`userAgent` only) and its class `Navigator`, `queueMicrotask` and
//! `structuredClone`.

use rquickjs::{qjs, Ctx, Function, Object, Value};

use super::js::export;
use super::LazyGlobal;

/// `navigator.userAgent`: the program and its version, nothing about the host.
const USER_AGENT: &str = concat!("caplet/", env!("CARGO_PKG_VERSION"));

pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "self",
        build: |ctx| Ok(ctx.globals().into_value()),
    },
    LazyGlobal {
        name: "navigator",
        build: |ctx| {
            let make: Function = export(ctx, "global", "makeNavigator")?.get()?;
            make.call((USER_AGENT,))
        },
    },
    LazyGlobal {
        name: "Navigator",
        build: |ctx| export(ctx, "global", "Navigator"),
    },
    LazyGlobal {
        name: "queueMicrotask",
        build: |ctx| export(ctx, "global", "queueMicrotask"),
    },
    LazyGlobal {
        name: "structuredClone",
        build: structured_clone,
    },
];

fn structured_clone<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let make: Function = export(ctx, "clone", "makeStructuredClone")?.get()?;
    let kind = Function::new(ctx.clone(), kind_of)?;
    make.call((kind,))
}

/// What `value` is to the engine, for structuredClone: "proxy", "error",
/// "array", "ordinary" (a plain object) or "other" (any other class: host
/// objects such as capability stubs, promises, weak collections …).
fn kind_of<'js>(ctx: Ctx<'js>, value: Value<'js>) -> rquickjs::Result<&'static str> {
    let Some(object) = value.as_object() else {
        return Ok("other");
    };
    let raw = object.as_raw();
    // SAFETY: `raw` is a live object value; these only read its header.
    let (proxy, error, class) = unsafe {
        (
            qjs::JS_IsProxy(raw),
            qjs::JS_IsError(raw),
            qjs::JS_GetClassID(raw),
        )
    };
    if proxy {
        return Ok("proxy");
    }
    if error {
        return Ok("error");
    }
    if value.is_array() {
        return Ok("array");
    }
    let plain = Object::new(ctx)?;
    // SAFETY: as above.
    if class == unsafe { qjs::JS_GetClassID(plain.as_raw()) } {
        return Ok("ordinary");
    }
    Ok("other")
}
