//! Shared helpers of the Rust-backed platform modules: running a module's JS
//! glue, throwing `DOMException`s, and reading byte arguments.

use rquickjs::{Ctx, Exception, Function, Object, Value};

/// Runs a glue source (a script whose value is a function taking the
/// module's native bindings) and calls it with `native`.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    source: &str,
    native: Object<'js>,
) -> rquickjs::Result<Value<'js>> {
    let factory: Function<'js> = ctx.eval(source)?;
    factory.call((native,))
}

/// Throws a `DOMException` named `name` (e.g. `"InvalidCharacterError"`)
/// with `message`. Falls back to an `Error` carrying that name when the
/// context has no `DOMException` constructor.
pub(crate) fn throw_dom(ctx: &Ctx<'_>, name: &str, message: &str) -> rquickjs::Error {
    let constructor: Option<rquickjs::Constructor> = ctx.globals().get("DOMException").ok();
    if let Some(constructor) = constructor {
        match constructor.construct::<_, Value>((message, name)) {
            Ok(error) => return ctx.throw(error),
            Err(e) => return e,
        }
    }
    match Exception::from_message(ctx.clone(), message) {
        Ok(error) => {
            if let Err(e) = error.as_object().set("name", name) {
                return e;
            }
            error.throw()
        }
        Err(e) => e,
    }
}

/// Runs `f` over the bytes of a `Uint8Array` argument (the glue turns every
/// `BufferSource` into one) without copying them; a detached buffer is a
/// `TypeError`.
pub(crate) fn with_bytes<'js, R>(
    ctx: &Ctx<'js>,
    array: &rquickjs::TypedArray<'js, u8>,
    f: impl FnOnce(&[u8]) -> R,
) -> rquickjs::Result<R> {
    // SAFETY: no JavaScript runs while `f` holds the slice: `f` is plain
    // Rust that neither calls into the engine nor keeps the slice.
    let bytes = unsafe { array.as_bytes() };
    match bytes {
        Some(bytes) => Ok(f(bytes)),
        None => Err(Exception::throw_type(ctx, "the buffer is detached")),
    }
}

/// Makes a `Uint8Array` holding a copy of `bytes`, allocated on the worker's
/// metered heap (so its memory limit bounds it).
pub(crate) fn uint8<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Value<'js>> {
    Ok(rquickjs::TypedArray::<u8>::new_copy(ctx.clone(), bytes)?.into_value())
}

/// Makes an `ArrayBuffer` holding a copy of `bytes`, on the metered heap.
pub(crate) fn array_buffer<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Value<'js>> {
    Ok(rquickjs::ArrayBuffer::new_copy(ctx.clone(), bytes)?.into_value())
}

/// An empty object to hang native functions on.
pub(crate) fn native<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    Object::new(ctx.clone())
}

/// A fresh context with every intrinsic, for unit tests.
#[cfg(test)]
pub(crate) fn test_context() -> (rquickjs::Runtime, rquickjs::Context) {
    let runtime = rquickjs::Runtime::new().unwrap();
    let context = rquickjs::Context::full(&runtime).unwrap();
    (runtime, context)
}

/// Installs `globals` in `ctx` eagerly and evaluates `script`, returning
/// its value as a string, or `"throws Name: message"`.
#[cfg(test)]
pub(crate) fn run(ctx: &Ctx<'_>, globals: &[super::LazyGlobal], script: &str) -> String {
    use rquickjs::FromJs;
    for global in globals {
        let value = (global.build)(ctx).unwrap();
        ctx.globals().set(global.name, value).unwrap();
    }
    match ctx.eval::<Value, _>(script) {
        Ok(value) => rquickjs::Coerced::<String>::from_js(ctx, value).unwrap().0,
        Err(rquickjs::Error::Exception) => {
            let thrown = ctx.catch();
            let object = thrown.as_object().unwrap();
            let name: String = object.get("name").unwrap();
            let message: String = object.get("message").unwrap();
            format!("throws {name}: {message}")
        }
        Err(e) => panic!("{e}"),
    }
}

/// Like [`run`] for a script whose value is a promise: runs the jobs until
/// it settles and returns what it resolved to, or `"rejects Name: message"`.
#[cfg(test)]
pub(crate) fn run_async(
    runtime: &rquickjs::Runtime,
    context: &rquickjs::Context,
    globals: &[super::LazyGlobal],
    script: &str,
) -> String {
    context.with(|ctx| {
        let wrapped = format!(
            "globalThis.__out = undefined; Promise.resolve().then(async () => {{ {script} }}).then(\
             (v) => {{ globalThis.__out = String(v); }},\
             (e) => {{ globalThis.__out = 'rejects ' + (e && e.name) + ': ' + (e && e.message); }}); 'started'"
        );
        assert_eq!(run(&ctx, globals, &wrapped), "started");
    });
    while runtime.execute_pending_job().unwrap() {}
    context.with(|ctx| {
        let out: Value = ctx.globals().get("__out").unwrap();
        out.as_string()
            .map(|s| s.to_string().unwrap())
            .unwrap_or_else(|| "did not settle".to_string())
    })
}
