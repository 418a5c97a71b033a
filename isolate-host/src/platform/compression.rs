//! `CompressionStream` and `DecompressionStream` (WHATWG Compression) for
//! `gzip`, `deflate` (zlib) and `deflate-raw`, over `flate2`. The classes
//! are JS glue (`js/compression.js`) around a `TransformStream`; the coder
//! between chunks lives in a native [`Coder`] object.
//!
//! Output is bounded as it is made: input is fed in slices of
//! [`INPUT_SLICE`] bytes and what they produced is moved onto the worker's
//! metered heap at once, so a decompression bomb meets the worker's memory
//! limit instead of the host's.

use std::io::Write;

use flate2::write::{
    DeflateDecoder, DeflateEncoder, GzDecoder, GzEncoder, ZlibDecoder, ZlibEncoder,
};
use flate2::Compression;
use rquickjs::class::{JsClass, Trace, Tracer, Writable};
use rquickjs::{Array, Class, Ctx, Exception, Function, Object, TypedArray, Value};

use super::{glue, LazyGlobal};

/// The globals this module owns.
pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "CompressionStream",
        build: build_compression,
    },
    LazyGlobal {
        name: "DecompressionStream",
        build: build_decompression,
    },
];

/// How much input is coded before its output moves to the JS heap: deflate
/// expands at most ~1032 times, so this bounds a step's output to ~1 MiB.
const INPUT_SLICE: usize = 1024;

fn build_compression<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    build(ctx)?.get("CompressionStream")
}

fn build_decompression<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    build(ctx)?.get("DecompressionStream")
}

fn build<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    glue::built(ctx, "compression", "compression:classes", natives)
}

fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let native = glue::native(ctx)?;
    native.set("coder", Function::new(ctx.clone(), coder)?)?;
    native.set("push", Function::new(ctx.clone(), push)?)?;
    native.set("finish", Function::new(ctx.clone(), finish)?)?;
    native.set("rethrow", Function::new(ctx.clone(), rethrow)?)?;
    Ok(native)
}

/// Where a coder writes: the bytes made since they were last taken.
#[derive(Default)]
struct Sink(Vec<u8>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Kind {
    GzipEncode(GzEncoder<Sink>),
    DeflateEncode(ZlibEncoder<Sink>),
    RawEncode(DeflateEncoder<Sink>),
    GzipDecode(GzDecoder<Sink>),
    DeflateDecode(ZlibDecoder<Sink>),
    RawDecode(DeflateDecoder<Sink>),
}

/// A compression or decompression in progress (`None` once finished), and
/// the error to throw once the output made before it is enqueued.
pub struct Coder(Option<Kind>, Option<String>);

impl<'js> Trace<'js> for Coder {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

// SAFETY: `Coder` holds no JS values.
unsafe impl<'js> rquickjs::JsLifetime<'js> for Coder {
    type Changed<'to> = Coder;
}

impl<'js> JsClass<'js> for Coder {
    const NAME: &'static str = "CompressionCoder";
    type Mutable = Writable;

    fn constructor(_ctx: &Ctx<'js>) -> rquickjs::Result<Option<rquickjs::Constructor<'js>>> {
        Ok(None)
    }
}

impl Kind {
    fn new(format: &str, decompress: bool) -> Option<Kind> {
        let sink = Sink::default();
        let level = Compression::default();
        Some(match (format, decompress) {
            ("gzip", false) => Kind::GzipEncode(GzEncoder::new(sink, level)),
            ("deflate", false) => Kind::DeflateEncode(ZlibEncoder::new(sink, level)),
            ("deflate-raw", false) => Kind::RawEncode(DeflateEncoder::new(sink, level)),
            ("gzip", true) => Kind::GzipDecode(GzDecoder::new(sink)),
            ("deflate", true) => Kind::DeflateDecode(ZlibDecoder::new(sink)),
            ("deflate-raw", true) => Kind::RawDecode(DeflateDecoder::new(sink)),
            _ => return None,
        })
    }

    fn decompresses(&self) -> bool {
        matches!(
            self,
            Kind::GzipDecode(_) | Kind::DeflateDecode(_) | Kind::RawDecode(_)
        )
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Kind::GzipEncode(w) => w,
            Kind::DeflateEncode(w) => w,
            Kind::RawEncode(w) => w,
            Kind::GzipDecode(w) => w,
            Kind::DeflateDecode(w) => w,
            Kind::RawDecode(w) => w,
        }
    }

    fn sink(&mut self) -> &mut Sink {
        match self {
            Kind::GzipEncode(w) => w.get_mut(),
            Kind::DeflateEncode(w) => w.get_mut(),
            Kind::RawEncode(w) => w.get_mut(),
            Kind::GzipDecode(w) => w.get_mut(),
            Kind::DeflateDecode(w) => w.get_mut(),
            Kind::RawDecode(w) => w.get_mut(),
        }
    }

    /// Ends the stream: writes what is left (an encoder's trailer) and
    /// checks that a decoder saw a whole stream.
    fn try_finish(&mut self) -> std::io::Result<()> {
        match self {
            Kind::GzipEncode(w) => w.try_finish(),
            Kind::DeflateEncode(w) => w.try_finish(),
            Kind::RawEncode(w) => w.try_finish(),
            Kind::GzipDecode(w) => w.try_finish(),
            Kind::DeflateDecode(w) => w.try_finish(),
            Kind::RawDecode(w) => w.try_finish(),
        }
    }
}

/// `coder(format, decompress)`: a new coder; a `TypeError` for a format
/// that is none of `gzip`, `deflate`, `deflate-raw`.
fn coder<'js>(
    ctx: Ctx<'js>,
    format: String,
    decompress: bool,
) -> rquickjs::Result<Class<'js, Coder>> {
    let Some(kind) = Kind::new(&format, decompress) else {
        return Err(Exception::throw_type(
            &ctx,
            &format!(
                "unsupported compression format {format:?}: expected gzip, deflate or deflate-raw"
            ),
        ));
    };
    Class::instance(ctx, Coder(Some(kind), None))
}

/// Appends `made` to `out` as one more chunk, on the JS heap.
fn append<'js>(ctx: &Ctx<'js>, out: &Array<'js>, made: &[u8]) -> rquickjs::Result<()> {
    if !made.is_empty() {
        out.set(out.len(), glue::uint8(ctx, made)?)?;
    }
    Ok(())
}

fn coding_message(decompress: bool, e: &std::io::Error) -> String {
    let what = if decompress { "decompress" } else { "compress" };
    let message = match e.kind() {
        std::io::ErrorKind::WriteZero => "the compressed data goes on after its end".to_string(),
        std::io::ErrorKind::UnexpectedEof => "the compressed data ends early".to_string(),
        _ => e.to_string(),
    };
    format!("could not {what}: {message}")
}

fn coding_error(ctx: &Ctx<'_>, decompress: bool, e: &std::io::Error) -> rquickjs::Error {
    Exception::throw_type(ctx, &coding_message(decompress, e))
}

/// Input after the end of the compressed data (junk, or a second gzip
/// member): the Compression Standard enqueues what the data before it
/// made, then throws ("decompress and enqueue a chunk", step 5).
fn after_end(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WriteZero
}

fn finished_error(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_type(ctx, "the stream is already finished")
}

/// `push(coder, bytes)`: the chunks that `bytes` produced. Input after the
/// end of the compressed data leaves its error for [`rethrow`], to be
/// thrown once these chunks are enqueued; other errors throw at once. The
/// coder is
/// borrowed only while Rust codes a slice, never while JS objects are made
/// (which can run a worker's setters, and through them this coder again).
fn push<'js>(
    ctx: Ctx<'js>,
    coder: Class<'js, Coder>,
    input: TypedArray<'js, u8>,
) -> rquickjs::Result<Array<'js>> {
    let out = Array::new(ctx.clone())?;
    let input = glue::with_bytes(&ctx, &input, <[u8]>::to_vec)?;
    for slice in input.chunks(INPUT_SLICE) {
        let (written, made, decompress) = {
            let mut coder = coder.try_borrow_mut()?;
            let Some(kind) = coder.0.as_mut() else {
                return Err(finished_error(&ctx));
            };
            let written = kind.writer().write_all(slice);
            let made = std::mem::take(&mut kind.sink().0);
            let decompress = kind.decompresses();
            if written.is_err() {
                coder.0 = None;
            }
            (written, made, decompress)
        };
        append(&ctx, &out, &made)?;
        match written {
            Ok(()) => {}
            Err(e) if after_end(&e) => {
                coder.try_borrow_mut()?.1 = Some(coding_message(decompress, &e));
                return Ok(out);
            }
            Err(e) => return Err(coding_error(&ctx, decompress, &e)),
        }
    }
    Ok(out)
}

/// `rethrow(coder)`: throws the `TypeError` a step left after its output
/// (see [`push`], [`finish`]), once.
fn rethrow(ctx: Ctx<'_>, coder: Class<'_, Coder>) -> rquickjs::Result<()> {
    match coder.try_borrow_mut()?.1.take() {
        Some(message) => Err(Exception::throw_type(&ctx, &message)),
        None => Ok(()),
    }
}

/// `finish(coder)`: the last chunks. When the compressed input ended early
/// (or its trailer is wrong) the error is left for [`rethrow`], after the
/// output made so far, as the standard's "decompress flush and enqueue"
/// does.
fn finish<'js>(ctx: Ctx<'js>, coder: Class<'js, Coder>) -> rquickjs::Result<Array<'js>> {
    let out = Array::new(ctx.clone())?;
    let Some(mut kind) = coder.try_borrow_mut()?.0.take() else {
        return Err(finished_error(&ctx));
    };
    let decompress = kind.decompresses();
    let finished = kind.try_finish();
    append(&ctx, &out, &kind.sink().0)?;
    if let Err(e) = finished {
        coder.try_borrow_mut()?.1 = Some(coding_message(decompress, &e));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::glue::{run, test_context};
    use super::*;

    /// Runs `script` with the natives as `native` (no streams needed).
    fn js(script: &str) -> String {
        let (_runtime, context) = test_context();
        context.with(|ctx| {
            ctx.globals().set("native", natives(&ctx).unwrap()).unwrap();
            run(&ctx, &format!(
                "const code = (format, decompress, chunks) => {{\
                   const c = native.coder(format, decompress); const out = [];\
                   for (const chunk of chunks) {{ out.push(...native.push(c, chunk)); native.rethrow(c); }}\
                   out.push(...native.finish(c)); native.rethrow(c);\
                   const all = new Uint8Array(out.reduce((n, b) => n + b.length, 0));\
                   let at = 0; for (const b of out) {{ all.set(b, at); at += b.length; }} return all; }};\
                 const bytes = (s) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));\
                 const text = (b) => String.fromCharCode(...b);\
                 {script}"
            ))
        })
    }

    #[test]
    fn every_format_round_trips() {
        for format in ["gzip", "deflate", "deflate-raw"] {
            let out = js(&format!(
                "const z = code('{format}', false, [bytes('hello '), bytes('hello '.repeat(100))]);\
                 text(code('{format}', true, [z.subarray(0, 3), z.subarray(3)])) === 'hello '.repeat(101) && z.length < 100"
            ));
            assert_eq!(out, "true", "{format}");
        }
    }

    #[test]
    fn formats_have_their_headers() {
        // gzip starts 1f 8b; zlib's first two bytes are a multiple of 31.
        assert_eq!(
            js("const z = code('gzip', false, [bytes('x')]); z[0] + ',' + z[1]"),
            "31,139"
        );
        assert_eq!(
            js("const z = code('deflate', false, [bytes('x')]); ((z[0] << 8) | z[1]) % 31"),
            "0"
        );
        // A known raw deflate stream (from zlib): 'hello' with fixed codes.
        assert_eq!(js("text(code('deflate-raw', true, [new Uint8Array([0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])]))"), "hello");
    }

    #[test]
    fn bad_input_is_a_type_error() {
        assert_eq!(
            js("try { native.coder('brotli', true) } catch (e) { e.name + ': ' + e.message }"),
            "TypeError: unsupported compression format \"brotli\": expected gzip, deflate or deflate-raw"
        );
        let truncated = js("const z = code('gzip', false, [bytes('hello world')]);\
             try { code('gzip', true, [z.subarray(0, z.length - 4)]); 'no' } catch (e) { e.name }");
        assert_eq!(truncated, "TypeError");
        for format in ["deflate", "deflate-raw"] {
            let out = js(&format!(
                "const z = code('{format}', false, [bytes('hello world, hello world')]);\
                 try {{ code('{format}', true, [z.subarray(0, z.length - 2)]); 'no' }} catch (e) {{ e.name + ': ' + e.message }}"
            ));
            assert_eq!(
                out, "TypeError: could not decompress: the compressed data ends early",
                "{format}"
            );
            let out = js(&format!(
                "const z = code('{format}', false, [bytes('hi')]);\
                 try {{ code('{format}', true, [z, new Uint8Array([1])]); 'no' }} catch (e) {{ e.name + ': ' + e.message }}"
            ));
            assert_eq!(
                out, "TypeError: could not decompress: the compressed data goes on after its end",
                "{format}"
            );
        }
        assert_eq!(js("try { code('deflate', true, [bytes('not zlib at all')]); 'no' } catch (e) { e.name }"), "TypeError");
        assert_eq!(
            js("try { code('deflate', true, []); 'no' } catch (e) { e.name }"),
            "TypeError"
        );
    }
}
