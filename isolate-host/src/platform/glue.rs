//! Shared helpers of the Rust-backed platform modules (url, encoding,
//! base64, crypto, compression): building a module's JS half over its
//! natives once per context, throwing `DOMException`s, and moving bytes
//! between JS buffers and Rust without leaving the metered heap.

use rquickjs::{Ctx, Exception, Function, Object, Value};

/// The object a platform JS module's `install(native)` returns, built at
/// most once per context (and cached under `key`): `module` is the name of
/// `js/MODULE.js`, `natives` makes the native functions it is given.
pub(crate) fn built<'js>(
    ctx: &Ctx<'js>,
    module: &'static str,
    key: &'static str,
    natives: fn(&Ctx<'js>) -> rquickjs::Result<Object<'js>>,
) -> rquickjs::Result<Object<'js>> {
    if let Some(built) = super::lazy::cached_module(ctx, key) {
        return Ok(built);
    }
    let install: Function<'js> = super::js::export(ctx, module, "install")?.get()?;
    let built: Object<'js> = install.call((natives(ctx)?,))?;
    super::lazy::cache_module(ctx, key, &built)?;
    Ok(built)
}

/// Throws a `DOMException` named `name` (e.g. `"InvalidCharacterError"`)
/// with `message`.
pub(crate) fn throw_dom(ctx: &Ctx<'_>, name: &str, message: &str) -> rquickjs::Error {
    let constructor: rquickjs::Constructor =
        match super::js::export(ctx, "dom_exception", "DOMException").and_then(|c| c.get()) {
            Ok(constructor) => constructor,
            Err(e) => return e,
        };
    match constructor.construct::<_, Value>((message, name)) {
        Ok(error) => ctx.throw(error),
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

/// A runtime and context set up as a worker's (its intrinsics, the
/// platform's loader and lazy globals), plus `eval`, for unit tests.
#[cfg(test)]
pub(crate) fn test_context() -> (rquickjs::Runtime, rquickjs::Context) {
    use crate::engine::WorkerIntrinsics;
    use rquickjs::context::intrinsic::Eval;
    let runtime = rquickjs::Runtime::new().unwrap();
    runtime.set_memory_limit(64 << 20);
    let context = rquickjs::Context::custom::<(WorkerIntrinsics, Eval)>(&runtime).unwrap();
    let empty = crate::modules::Bytecode::default();
    crate::modules::install_worker_loader(
        &runtime,
        &empty,
        &super::js::bytecode().unwrap(),
        super::native_module,
    );
    context.with(|ctx| super::install(&ctx).unwrap());
    (runtime, context)
}

/// Installs `globals` in `ctx` eagerly and evaluates `script`, returning
/// its value as a string, or `"throws Name: message"`.
#[cfg(test)]
pub(crate) fn run(ctx: &Ctx<'_>, script: &str) -> String {
    use rquickjs::FromJs;
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

/// [`run`] in a context of its own from [`test_context`].
#[cfg(test)]
pub(crate) fn run_fresh(script: &str) -> String {
    let (_runtime, context) = test_context();
    context.with(|ctx| run(&ctx, script))
}

/// Like [`run`] for a script whose value is a promise: runs the jobs until
/// it settles and returns what it resolved to, or `"rejects Name: message"`.
#[cfg(test)]
pub(crate) fn run_async(
    runtime: &rquickjs::Runtime,
    context: &rquickjs::Context,
    script: &str,
) -> String {
    context.with(|ctx| {
        let wrapped = format!(
            "globalThis.__out = undefined; Promise.resolve().then(async () => {{ {script} }}).then(\
             (v) => {{ globalThis.__out = String(v); }},\
             (e) => {{ globalThis.__out = 'rejects ' + (e && e.name) + ': ' + (e && e.message); }}); 'started'"
        );
        assert_eq!(run(&ctx, &wrapped), "started");
    });
    while runtime.execute_pending_job().unwrap() {}
    context.with(|ctx| {
        let out: Value = ctx.globals().get("__out").unwrap();
        out.as_string()
            .map(|s| s.to_string().unwrap())
            .unwrap_or_else(|| "did not settle".to_string())
    })
}
