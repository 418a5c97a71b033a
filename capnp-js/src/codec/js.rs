//! The JavaScript side of the codec: the integrator's capability hooks
//! ([`CapWriter`], [`CapReader`]) and helpers that read strings and bytes
//! out of QuickJS values without copying, and format values for messages.

use rquickjs::{qjs, Ctx, Value};

use super::error::{CodecError, ErrorKind};
use super::raw::ClientHook;

/// Turns a JavaScript value found where an interface is expected into a
/// capability. Supplied by the integrator (it knows stubs and exported
/// objects). `null`/`undefined` never reach it: they encode as a null
/// capability pointer.
pub trait CapWriter<'js> {
    /// `interface_id` is the field's declared interface. An error without a
    /// path gets the field's path added.
    fn write_cap(
        &mut self,
        ctx: &Ctx<'js>,
        interface_id: u64,
        value: &Value<'js>,
    ) -> Result<Box<dyn ClientHook>, CodecError>;
}

/// Turns a received capability into a JavaScript value (e.g. a stub).
/// Supplied by the integrator. Null capability pointers never reach it: they
/// decode as `null`.
pub trait CapReader<'js> {
    fn read_cap(
        &mut self,
        ctx: &Ctx<'js>,
        interface_id: u64,
        hook: Box<dyn ClientHook>,
    ) -> Result<Value<'js>, CodecError>;
}

/// Refuses every capability (for messages that must not carry any).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCaps;

impl<'js> CapWriter<'js> for NoCaps {
    fn write_cap(
        &mut self,
        _: &Ctx<'js>,
        _: u64,
        _: &Value<'js>,
    ) -> Result<Box<dyn ClientHook>, CodecError> {
        Err(CodecError::type_error("capabilities cannot be sent here"))
    }
}

impl<'js> CapReader<'js> for NoCaps {
    fn read_cap(
        &mut self,
        _: &Ctx<'js>,
        _: u64,
        _: Box<dyn ClientHook>,
    ) -> Result<Value<'js>, CodecError> {
        Err(CodecError::type_error(
            "capabilities cannot be received here",
        ))
    }
}

/// `typeof`-like name of a value for messages (`array` and `null` separate).
pub fn js_type_name(v: &Value<'_>) -> &'static str {
    if v.is_undefined() {
        "undefined"
    } else if v.is_null() {
        "null"
    } else if v.is_bool() {
        "boolean"
    } else if v.is_number() {
        "number"
    } else if v.is_big_int() {
        "bigint"
    } else if v.is_string() {
        "string"
    } else if v.is_symbol() {
        "symbol"
    } else if v.is_array() {
        "array"
    } else if v.is_function() {
        "function"
    } else if v.is_object() {
        "object"
    } else {
        "value"
    }
}

/// A number as JavaScript would print it (close enough for messages).
pub(crate) fn fmt_num(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{f:?}")
    }
}

/// A JS number value preserving `-0` (rquickjs' `new_number` folds it to 0).
pub(crate) fn js_number<'js>(ctx: &Ctx<'js>, f: f64) -> Value<'js> {
    if f == 0.0 && f.is_sign_negative() {
        Value::new_float(ctx.clone(), f)
    } else {
        Value::new_number(ctx.clone(), f)
    }
}

pub(crate) fn js_err(e: rquickjs::Error) -> CodecError {
    CodecError::from(e)
}

/// Calls `f` with the UTF-8 bytes of JS string `v`. Refuses lone surrogates
/// (they have no UTF-8 form).
pub(crate) fn with_js_str<R>(
    ctx: &Ctx<'_>,
    v: &Value<'_>,
    f: impl FnOnce(&str) -> R,
) -> Result<R, CodecError> {
    let mut len: usize = 0;
    // SAFETY: `v` is a live string value of this context; the returned
    // buffer is freed below and not used after.
    let ptr = unsafe { qjs::JS_ToCStringLen(ctx.as_raw().as_ptr(), &mut len, v.as_raw()) };
    if ptr.is_null() {
        // QuickJS left an out-of-memory exception pending.
        return Err(CodecError::new(
            ErrorKind::Js,
            "out of memory converting a string",
        ));
    }
    // SAFETY: QuickJS returned `len` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    let result = match std::str::from_utf8(bytes) {
        Ok(s) => Ok(f(s)),
        Err(_) => Err(CodecError::type_error(
            "string contains a lone surrogate and cannot be encoded as UTF-8",
        )),
    };
    // SAFETY: `ptr` came from JS_ToCStringLen on this context.
    unsafe { qjs::JS_FreeCString(ctx.as_raw().as_ptr(), ptr) };
    result
}

/// Calls `f` with the bytes of a `Uint8Array`, any other typed array, or an
/// `ArrayBuffer`. `None` if `v` is none of those. `f` must not run JS.
pub(crate) fn with_js_bytes<R>(
    ctx: &Ctx<'_>,
    v: &Value<'_>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>, CodecError> {
    if !v.is_object() {
        return Ok(None);
    }
    let raw_ctx = ctx.as_raw().as_ptr();
    // SAFETY: type queries on a live object value.
    if unsafe { qjs::JS_GetTypedArrayType(v.as_raw()) } >= 0 {
        let mut offset: qjs::size_t = 0;
        let mut length: qjs::size_t = 0;
        let mut per_element: qjs::size_t = 0;
        // SAFETY: `v` is a typed array; the returned buffer value is owned
        // by us and freed by `Value`'s drop.
        let buffer = unsafe {
            let b = qjs::JS_GetTypedArrayBuffer(
                raw_ctx,
                v.as_raw(),
                &mut offset,
                &mut length,
                &mut per_element,
            );
            Value::from_raw(ctx.clone(), b)
        };
        if buffer.is_exception() {
            // SAFETY: clear the pending exception; we report our own error.
            drop(ctx.catch());
            return Err(CodecError::type_error("typed array's buffer is detached"));
        }
        let mut size: qjs::size_t = 0;
        // SAFETY: `buffer` is an ArrayBuffer; the pointer is valid until JS runs.
        let data = unsafe { qjs::JS_GetArrayBuffer(raw_ctx, &mut size, buffer.as_raw()) };
        let (offset, length, size) = (offset as usize, length as usize, size as usize);
        if length == 0 {
            return Ok(Some(f(&[])));
        }
        if data.is_null() {
            drop(ctx.catch());
            return Err(CodecError::type_error("typed array's buffer is detached"));
        }
        if offset.checked_add(length).is_none_or(|end| end > size) {
            return Err(CodecError::type_error(
                "typed array lies outside its buffer",
            ));
        }
        // SAFETY: bounds checked against the buffer size just above; no JS
        // runs while the slice lives.
        let bytes = unsafe { std::slice::from_raw_parts(data.add(offset), length) };
        return Ok(Some(f(bytes)));
    }
    // SAFETY: type query on a live value.
    if unsafe { qjs::JS_IsArrayBuffer(v.as_raw()) } {
        let mut size: qjs::size_t = 0;
        // SAFETY: as above.
        let data = unsafe { qjs::JS_GetArrayBuffer(raw_ctx, &mut size, v.as_raw()) };
        if size == 0 {
            return Ok(Some(f(&[])));
        }
        if data.is_null() {
            drop(ctx.catch());
            return Err(CodecError::type_error("ArrayBuffer is detached"));
        }
        // SAFETY: QuickJS reports `size` bytes at `data`; no JS runs meanwhile.
        let bytes = unsafe { std::slice::from_raw_parts(data, size as usize) };
        return Ok(Some(f(bytes)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    #[test]
    fn numbers_format_like_javascript() {
        assert_eq!(fmt_num(300.0), "300");
        assert_eq!(fmt_num(-1.0), "-1");
        assert_eq!(fmt_num(1.5), "1.5");
        assert_eq!(fmt_num(1e300), "1e300");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        assert_eq!(fmt_num(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(fmt_num(-0.0), "0");
    }

    #[test]
    fn js_helpers() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            let names: Vec<&str> = ["undefined", "null", "true", "1", "1.5", "1n", "'s'", "Symbol()", "[]", "(() => 1)", "({})"]
                .iter()
                .map(|src| js_type_name(&ctx.eval::<Value<'_>, _>(format!("({src})")).unwrap()))
                .collect();
            assert_eq!(
                names,
                ["undefined", "null", "boolean", "number", "number", "bigint", "string", "symbol", "array", "function", "object"]
            );
            let v: Value<'_> = ctx.eval("'a😀'").unwrap();
            assert_eq!(with_js_str(&ctx, &v, |s| s.to_string()).unwrap(), "a😀");
            let v: Value<'_> = ctx.eval("'\\udc00'").unwrap();
            assert!(with_js_str(&ctx, &v, |s| s.len()).is_err());
            let v: Value<'_> = ctx.eval("new Uint32Array([1])").unwrap();
            assert_eq!(with_js_bytes(&ctx, &v, |b| b.to_vec()).unwrap(), Some(vec![1, 0, 0, 0]));
            let v: Value<'_> = ctx.eval("({ length: 1, 0: 1 })").unwrap();
            assert_eq!(with_js_bytes(&ctx, &v, |b| b.to_vec()).unwrap(), None);
            let v: Value<'_> = ctx.eval("const ab = new ArrayBuffer(8); const u = new Uint8Array(ab, 4); ab.transfer(); u").unwrap();
            // A view of a detached buffer is refused (and no exception is left pending).
            assert_eq!(with_js_bytes(&ctx, &v, |b| b.len()).unwrap_err().message, "typed array's buffer is detached");
            assert!(!ctx.catch().is_exception());
            let neg = js_number(&ctx, -0.0);
            let is_neg_zero: bool = ctx.globals().set("n", neg).and_then(|_| ctx.eval("Object.is(n, -0)")).unwrap();
            assert!(is_neg_zero);
        });
    }
}
