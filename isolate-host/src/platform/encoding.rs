//! `TextEncoder`, `TextDecoder`, `TextEncoderStream` and
//! `TextDecoderStream` (WHATWG Encoding) over `encoding_rs`: every encoding
//! of the standard, its labels, `fatal`, `ignoreBOM` and `stream`. The
//! classes are JS (`js/encoding.js`); a decoder's state between streamed
//! calls lives in a native [`DecoderState`] object.

use encoding_rs::{CoderResult, DecoderResult, Encoding};
use rquickjs::class::{JsClass, Trace, Tracer, Writable};
use rquickjs::{Class, Ctx, Exception, Function, Object, TypedArray, Value};

use super::{glue, LazyGlobal};

/// The globals this module owns.
pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "TextEncoder",
        build: build_encoder,
    },
    LazyGlobal {
        name: "TextDecoder",
        build: build_decoder,
    },
    LazyGlobal {
        name: "TextEncoderStream",
        build: |ctx| {
            glue::built(ctx, "encoding", "encoding:classes", natives)?.get("TextEncoderStream")
        },
    },
    LazyGlobal {
        name: "TextDecoderStream",
        build: |ctx| {
            glue::built(ctx, "encoding", "encoding:classes", natives)?.get("TextDecoderStream")
        },
    },
];

fn build_encoder<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    glue::built(ctx, "encoding", "encoding:classes", natives)?.get("TextEncoder")
}

fn build_decoder<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    glue::built(ctx, "encoding", "encoding:classes", natives)?.get("TextDecoder")
}

fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let native = glue::native(ctx)?;
    native.set("encode", Function::new(ctx.clone(), encode)?)?;
    native.set("encodeInto", Function::new(ctx.clone(), encode_into)?)?;
    native.set("encodingName", Function::new(ctx.clone(), encoding_name)?)?;
    native.set("decoder", Function::new(ctx.clone(), decoder)?)?;
    native.set("decode", Function::new(ctx.clone(), decode)?)?;
    Ok(native)
}

/// `encode(string)`: its UTF-8 bytes (lone surrogates become U+FFFD when
/// the string crosses into Rust).
fn encode<'js>(ctx: Ctx<'js>, input: String) -> rquickjs::Result<Value<'js>> {
    glue::uint8(&ctx, input.as_bytes())
}

/// `encodeInto(string, dest)`: writes the longest prefix of whole
/// characters that fits; returns `[read, written]`, `read` in UTF-16 code
/// units as the standard counts it.
fn encode_into<'js>(
    ctx: Ctx<'js>,
    input: String,
    dest: TypedArray<'js, u8>,
) -> rquickjs::Result<Vec<usize>> {
    let Some(raw) = dest.as_raw() else {
        return Err(Exception::throw_type(
            &ctx,
            "the destination buffer is detached",
        ));
    };
    // SAFETY: `raw` points to the live bytes of `dest`; no JavaScript runs
    // while this slice exists.
    let out = unsafe { &mut *raw.as_ptr() };
    let (mut read, mut written) = (0, 0);
    for c in input.chars() {
        let len = c.len_utf8();
        if written + len > out.len() {
            break;
        }
        c.encode_utf8(&mut out[written..written + len]);
        written += len;
        read += c.len_utf16();
    }
    Ok(vec![read, written])
}

/// `encodingName(label)`: the lowercase name of the encoding a label names,
/// or `null` for an unknown label (and for `replacement`, which
/// `TextDecoder` refuses).
fn encoding_name(label: String) -> Option<String> {
    let encoding = Encoding::for_label(label.as_bytes())?;
    if encoding == encoding_rs::REPLACEMENT {
        return None;
    }
    Some(encoding.name().to_ascii_lowercase())
}

/// A `TextDecoder`'s state between calls.
pub struct DecoderState {
    encoding: &'static Encoding,
    fatal: bool,
    ignore_bom: bool,
    /// The decoder of a stream in progress; `None` between streams.
    decoder: Option<encoding_rs::Decoder>,
}

impl<'js> Trace<'js> for DecoderState {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

// SAFETY: `DecoderState` holds no JS values.
unsafe impl<'js> rquickjs::JsLifetime<'js> for DecoderState {
    type Changed<'to> = DecoderState;
}

impl<'js> JsClass<'js> for DecoderState {
    const NAME: &'static str = "TextDecoderState";
    type Mutable = Writable;

    fn constructor(_ctx: &Ctx<'js>) -> rquickjs::Result<Option<rquickjs::Constructor<'js>>> {
        Ok(None)
    }
}

impl DecoderState {
    fn new_decoder(&self) -> encoding_rs::Decoder {
        if self.ignore_bom {
            self.encoding.new_decoder_without_bom_handling()
        } else {
            self.encoding.new_decoder_with_bom_removal()
        }
    }

    /// Decodes `input`; `last` ends the stream. `Err` is the message of a
    /// fatal decoding error.
    fn decode(&mut self, input: &[u8], last: bool) -> Result<String, String> {
        let mut decoder = self.decoder.take().unwrap_or_else(|| self.new_decoder());
        let result = decode_sliced(&mut decoder, input, last, self.fatal);
        // A stream goes on only after a successful, non-final call.
        if !last && result.is_ok() {
            self.decoder = Some(decoder);
        }
        result
    }
}

fn too_long() -> String {
    "the input is too long to decode".to_string()
}

/// How much input one decoding step takes: each step decodes into a
/// window sized for this much, so the host never reserves the worst case
/// (three bytes per input byte) for the whole input at once.
const DECODE_SLICE: usize = 8192;

/// Decodes `input` slice by slice into one string (`last` ends the
/// stream); `Err` is the message of a fatal error.
fn decode_sliced(
    decoder: &mut encoding_rs::Decoder,
    input: &[u8],
    last: bool,
    fatal: bool,
) -> Result<String, String> {
    let mut out = String::new();
    let window_len = if fatal {
        decoder.max_utf8_buffer_length_without_replacement(DECODE_SLICE)
    } else {
        decoder.max_utf8_buffer_length(DECODE_SLICE)
    }
    .ok_or_else(too_long)?;
    let mut window = String::with_capacity(window_len);
    let mut slices = input.chunks(DECODE_SLICE).peekable();
    // An empty input still ends the stream when `last`.
    let mut pending: Option<&[u8]> = if input.is_empty() { Some(&[]) } else { None };
    loop {
        let Some(mut slice) = pending.take().or_else(|| slices.next()) else {
            return Ok(out);
        };
        let end = last && slices.peek().is_none();
        loop {
            let (done, read) = if fatal {
                let (result, read) =
                    decoder.decode_to_string_without_replacement(slice, &mut window, end);
                match result {
                    DecoderResult::InputEmpty => (true, read),
                    DecoderResult::OutputFull => (false, read),
                    DecoderResult::Malformed(_, _) => {
                        return Err(format!(
                            "the input is not valid {}",
                            decoder.encoding().name().to_ascii_lowercase()
                        ))
                    }
                }
            } else {
                let (result, read, _) = decoder.decode_to_string(slice, &mut window, end);
                (result == CoderResult::InputEmpty, read)
            };
            slice = &slice[read..];
            out.try_reserve(window.len()).map_err(|_| too_long())?;
            out.push_str(&window);
            window.clear();
            if done {
                break;
            }
        }
    }
}

/// `decoder(label, fatal, ignoreBOM)`: a decoder state, or a `RangeError`
/// for a label that names no encoding.
fn decoder<'js>(
    ctx: Ctx<'js>,
    label: String,
    fatal: bool,
    ignore_bom: bool,
) -> rquickjs::Result<Class<'js, DecoderState>> {
    let encoding = Encoding::for_label(label.as_bytes())
        .filter(|e| *e != encoding_rs::REPLACEMENT)
        .ok_or_else(|| {
            Exception::throw_range(
                &ctx,
                &format!("the encoding label {label:?} is not supported"),
            )
        })?;
    Class::instance(
        ctx,
        DecoderState {
            encoding,
            fatal,
            ignore_bom,
            decoder: None,
        },
    )
}

/// `decode(state, bytes, stream)`: the text of `bytes`; with `stream`, an
/// incomplete character at the end waits for the next call.
fn decode<'js>(
    ctx: Ctx<'js>,
    state: Class<'js, DecoderState>,
    input: TypedArray<'js, u8>,
    stream: bool,
) -> rquickjs::Result<rquickjs::String<'js>> {
    let decoded = glue::with_bytes(&ctx, &input, |bytes| {
        state
            .try_borrow_mut()
            .map(|mut state| state.decode(bytes, !stream))
    })??;
    match decoded {
        Ok(text) => rquickjs::String::from_str(ctx, &text),
        Err(message) => Err(Exception::throw_type(&ctx, &message)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::glue::run_fresh as js;

    #[test]
    fn encodes_utf8_and_replaces_lone_surrogates() {
        assert_eq!(
            js("new TextEncoder().encode('aé€😀').join()"),
            "97,195,169,226,130,172,240,159,152,128"
        );
        assert_eq!(
            js("new TextEncoder().encode('\\ud800x').join()"),
            "239,191,189,120"
        );
        assert_eq!(js("new TextEncoder().encode().length"), "0");
        assert_eq!(js("new TextEncoder().encoding"), "utf-8");
    }

    #[test]
    fn encode_into_writes_whole_characters_only() {
        let out = js(
            "const d = new Uint8Array(5); const r = new TextEncoder().encodeInto('a😀b', d);\
                      [r.read, r.written, d.join()].join('|')",
        );
        assert_eq!(out, "3|5|97,240,159,152,128");
        let out = js(
            "const d = new Uint8Array(3); const r = new TextEncoder().encodeInto('a😀', d);\
                      [r.read, r.written].join('|')",
        );
        assert_eq!(out, "1|1");
    }

    #[test]
    fn decodes_every_label_of_the_standard() {
        assert_eq!(js("new TextDecoder(' Latin1 ').encoding"), "windows-1252");
        assert_eq!(js("new TextDecoder('sjis').encoding"), "shift_jis");
        assert_eq!(js("new TextDecoder('utf-16').encoding"), "utf-16le");
        assert_eq!(
            js("new TextDecoder('x-user-defined').encoding"),
            "x-user-defined"
        );
        assert_eq!(
            js("new TextDecoder('windows-1252').decode(new Uint8Array([0x80, 0xe9]))"),
            "€é"
        );
        assert_eq!(
            js("new TextDecoder('shift_jis').decode(new Uint8Array([0x82, 0xa0]))"),
            "あ"
        );
        assert_eq!(
            js("new TextDecoder('gbk').decode(new Uint8Array([0xc4, 0xe3]))"),
            "你"
        );
        assert_eq!(
            js("try { new TextDecoder('replacement') } catch (e) { e.name }"),
            "RangeError"
        );
        assert_eq!(
            js("try { new TextDecoder('nope') } catch (e) { e.name + ': ' + e.message }"),
            "RangeError: the encoding label \"nope\" is not supported"
        );
    }

    #[test]
    fn bom_is_removed_unless_ignored() {
        assert_eq!(
            js("new TextDecoder().decode(new Uint8Array([0xef,0xbb,0xbf,0x61])).length"),
            "1"
        );
        assert_eq!(js("new TextDecoder('utf-8', {ignoreBOM: true}).decode(new Uint8Array([0xef,0xbb,0xbf,0x61])).length"), "2");
        assert_eq!(
            js("new TextDecoder('utf-16le').decode(new Uint8Array([0xff,0xfe,0x61,0]))"),
            "a"
        );
        // A UTF-16 BOM does not switch a UTF-8 decoder.
        assert_eq!(
            js("new TextDecoder().decode(new Uint8Array([0xff,0xfe,0x61])).length"),
            "3"
        );
    }

    #[test]
    fn fatal_throws_type_errors_and_replacement_replaces() {
        assert_eq!(
            js("new TextDecoder().decode(new Uint8Array([0x61, 0xff]))"),
            "a\u{fffd}"
        );
        assert_eq!(
            js("try { new TextDecoder('utf-8', {fatal: true}).decode(new Uint8Array([0x61, 0xff])) } catch (e) { e.name + ': ' + e.message }"),
            "TypeError: the input is not valid utf-8"
        );
        assert_eq!(js("new TextDecoder('utf-8', {fatal: true}).fatal"), "true");
    }

    #[test]
    fn streaming_keeps_a_split_character() {
        let out = js("const d = new TextDecoder(); const b = new TextEncoder().encode('€x');\
                      d.decode(b.subarray(0, 1), {stream: true}) + '|' + d.decode(b.subarray(1, 2), {stream: true})\
                      + '|' + d.decode(b.subarray(2))");
        assert_eq!(out, "||€x");
        // The end of a stream with half a character is a replacement.
        let out = js("const d = new TextDecoder(); d.decode(new Uint8Array([0xe2]), {stream: true}); d.decode()");
        assert_eq!(out, "\u{fffd}");
        // A non-streamed call resets the decoder.
        let out = js("const d = new TextDecoder(); d.decode(new Uint8Array([0xe2]), {stream: true}); d.decode(); d.decode(new Uint8Array([0x61]))");
        assert_eq!(out, "a");
    }

    #[test]
    fn input_longer_than_a_slice_decodes_whole() {
        // Invalid bytes, and a character split across the slices' border.
        let out = js("const b = new Uint8Array(20000).fill(0xff);\
                      const e = new TextEncoder().encode('x'.repeat(8191) + '€' + 'y'.repeat(9000));\
                      const d = new TextDecoder('utf-8', {fatal: true});\
                      [new TextDecoder().decode(b).length, new TextDecoder('shift_jis').decode(b).length,\
                       d.decode(e) === 'x'.repeat(8191) + '€' + 'y'.repeat(9000),\
                       new TextDecoder().decode(e.subarray(0, 8193), {stream: true}).length].join()");
        assert_eq!(out, "20000,20000,true,8191");
    }

    #[test]
    fn decodes_any_buffer_source() {
        assert_eq!(
            js("new TextDecoder().decode(new Uint16Array([0x6261]).buffer)"),
            "ab"
        );
        assert_eq!(js("new TextDecoder().decode(new DataView(new Uint8Array([0x61,0x62,0x63]).buffer, 1))"), "bc");
        assert_eq!(
            js("try { new TextDecoder().decode('x') } catch (e) { e.name }"),
            "TypeError"
        );
    }
}
