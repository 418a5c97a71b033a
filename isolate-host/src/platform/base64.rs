//! `atob` and `btoa` (HTML's forgiving-base64), over the `base64` crate. A
//! string that is not valid input throws an `InvalidCharacterError`
//! `DOMException`, as the standard says.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use rquickjs::function::Opt;
use rquickjs::{Coerced, Ctx, Exception, Function, Value};

use super::{glue, LazyGlobal};

/// The globals this module owns.
pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "atob",
        build: build_atob,
    },
    LazyGlobal {
        name: "btoa",
        build: build_btoa,
    },
];

fn build_atob<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let f = Function::new(ctx.clone(), atob)?.with_name("atob")?;
    Ok(f.into_value())
}

fn build_btoa<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let f = Function::new(ctx.clone(), btoa)?.with_name("btoa")?;
    Ok(f.into_value())
}

/// The standard alphabet, decoding without padding (the forgiving steps
/// strip it first) and ignoring the bits left over after the last byte.
const FORGIVING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Forgiving-base64 decode (HTML § "forgiving-base64 decode"); `None` is
/// failure.
pub(crate) fn forgiving_decode(input: &str) -> Option<Vec<u8>> {
    let mut data: Vec<u8> = input
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .collect();
    if data.len().is_multiple_of(4) {
        if data.ends_with(b"==") {
            data.truncate(data.len() - 2);
        } else if data.ends_with(b"=") {
            data.truncate(data.len() - 1);
        }
    }
    if data.len() % 4 == 1 {
        return None;
    }
    if !data
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return None;
    }
    FORGIVING.decode(&data).ok()
}

/// The string argument a Web IDL operation requires (a `TypeError` when
/// missing); a string with a lone surrogate is refused like any character
/// outside of the operation's alphabet.
fn required<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    data: Opt<Coerced<rquickjs::String<'js>>>,
) -> rquickjs::Result<String> {
    let Some(data) = data.0 else {
        return Err(Exception::throw_type(
            ctx,
            &format!("{name} needs 1 argument, got 0"),
        ));
    };
    data.0.to_string().map_err(|_| {
        glue::throw_dom(
            ctx,
            "InvalidCharacterError",
            &format!("{name}: the string has a lone surrogate"),
        )
    })
}

fn atob<'js>(
    ctx: Ctx<'js>,
    data: Opt<Coerced<rquickjs::String<'js>>>,
) -> rquickjs::Result<rquickjs::String<'js>> {
    let data = required(&ctx, "atob", data)?;
    let Some(bytes) = forgiving_decode(&data) else {
        return Err(glue::throw_dom(
            &ctx,
            "InvalidCharacterError",
            "atob: the string is not valid base64",
        ));
    };
    // Each byte becomes the code point of the same value.
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    rquickjs::String::from_str(ctx, &text)
}

fn btoa<'js>(ctx: Ctx<'js>, data: Opt<Coerced<rquickjs::String<'js>>>) -> rquickjs::Result<String> {
    let data = required(&ctx, "btoa", data)?;
    let mut bytes = Vec::with_capacity(data.len());
    for c in data.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => bytes.push(b),
            Err(_) => {
                return Err(glue::throw_dom(
                    &ctx,
                    "InvalidCharacterError",
                    "btoa: the string has a character outside of Latin-1",
                ))
            }
        }
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::super::glue::run_fresh as js;

    #[test]
    fn round_trips_latin1() {
        assert_eq!(js("btoa('Hello, world')"), "SGVsbG8sIHdvcmxk");
        assert_eq!(js("atob('SGVsbG8sIHdvcmxk')"), "Hello, world");
        assert_eq!(js("btoa('\\xff\\xfe\\x00')"), "//4A");
        assert_eq!(js("atob('//4A') === '\\xff\\xfe\\x00'"), "true");
    }

    #[test]
    fn decoding_is_forgiving_as_html_says() {
        // Whitespace anywhere, missing padding, and leftover bits are fine.
        assert_eq!(js("atob(' SGVs\\nbG8 ')"), "Hello");
        assert_eq!(js("atob('YQ')"), "a");
        assert_eq!(js("atob('YR==')"), "a");
        assert_eq!(js("atob('')"), "");
        assert_eq!(js("atob(null)"), "\u{9e}\u{e9}e");
    }

    #[test]
    fn bad_input_is_an_invalid_character_error() {
        for bad in ["'a'", "'YQ='", "'YQ==='", "'Y==Q'", "'*'", "'YQ\u{e9}'"] {
            let out = js(&format!(
                "try {{ atob({bad}); 'no' }} catch (e) {{ e.name + '|' + e.message }}"
            ));
            assert_eq!(
                out, "InvalidCharacterError|atob: the string is not valid base64",
                "{bad}"
            );
        }
        let out = js("try { btoa('\\u0100') } catch (e) { e.name }");
        assert_eq!(out, "InvalidCharacterError");
        let out = js("try { btoa('\\ud800') } catch (e) { e.name }");
        assert_eq!(out, "InvalidCharacterError");
        assert_eq!(js("try { atob() } catch (e) { e.name }"), "TypeError");
    }
}
