//! `caplet:platform/native.js`: the native half of the platform's JS
//! modules, a module defined in Rust (UTF-8 through Rust's own codec, and
//! the http gateway's `fetchSend`, `multipartParse` for `formData()`). Only platform modules can import it.

use rquickjs::module::{Declarations, Exports, ModuleDef};
use rquickjs::{Ctx, Function, Module, TypedArray, Value};

/// The module's name.
pub const NAME: &str = "caplet:platform/native.js";

/// What the compiler sees in its place (the exports, for linking).
pub const PLACEHOLDER: &str = "export let utf8Encode, utf8Decode, fetchSend, multipartParse;";

struct Natives;

impl ModuleDef for Natives {
    fn declare(decl: &Declarations<'_>) -> rquickjs::Result<()> {
        decl.declare("utf8Encode")?;
        decl.declare("utf8Decode")?;
        decl.declare("fetchSend")?;
        decl.declare("multipartParse")?;
        Ok(())
    }

    fn evaluate<'js>(ctx: &Ctx<'js>, exports: &Exports<'js>) -> rquickjs::Result<()> {
        exports.export("utf8Encode", Function::new(ctx.clone(), utf8_encode)?)?;
        exports.export("utf8Decode", Function::new(ctx.clone(), utf8_decode)?)?;
        exports.export(
            "fetchSend",
            Function::new(ctx.clone(), super::gateway::send)?,
        )?;
        exports.export(
            "multipartParse",
            Function::new(ctx.clone(), super::multipart::parse_js)?,
        )?;
        Ok(())
    }
}

/// The worker loader's hook: the native module for its name.
pub fn load<'js>(
    ctx: &Ctx<'js>,
    name: &str,
) -> Option<rquickjs::Result<Module<'js, rquickjs::module::Declared>>> {
    (name == NAME).then(|| Module::declare_def::<Natives, _>(ctx.clone(), name))
}

/// UTF-8 bytes of a string (the caller makes it well-formed first).
fn utf8_encode<'js>(
    ctx: Ctx<'js>,
    text: rquickjs::String<'js>,
) -> rquickjs::Result<TypedArray<'js, u8>> {
    TypedArray::new_copy(ctx, text.to_string()?.as_bytes())
}

/// The text of UTF-8 bytes (a Uint8Array), invalid sequences replaced with
/// U+FFFD as the Encoding Standard's decoder does, and a leading BOM
/// dropped unless `ignore_bom`.
fn utf8_decode<'js>(
    ctx: Ctx<'js>,
    bytes: Value<'js>,
    ignore_bom: bool,
) -> rquickjs::Result<rquickjs::String<'js>> {
    let array = TypedArray::<u8>::from_value(bytes)
        .map_err(|_| rquickjs::Exception::throw_type(&ctx, "utf8Decode needs a Uint8Array"))?;
    // SAFETY: the bytes are copied before any JavaScript runs again.
    let owned = unsafe { array.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&owned);
    let text = if ignore_bom {
        &text[..]
    } else {
        text.strip_prefix('\u{feff}').unwrap_or(&text)
    };
    rquickjs::String::from_str(ctx, text)
}
