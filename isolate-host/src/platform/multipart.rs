//! `multipartParse`, the native half of `Request`/`Response.formData()` for
//! `multipart/form-data` bodies (RFC 7578, as the Fetch Standard's
//! multipart parser reads it), over the `multer` crate. The body is already
//! in memory, so every future `multer` returns is ready at once; the parts
//! come back as JS values on the worker's metered heap.

use std::convert::Infallible;

use futures::FutureExt;
use rquickjs::{Array, Ctx, Exception, Object, TypedArray, Value};

use super::glue::with_bytes;

/// One part of a form: a name and either text or a file.
#[derive(Debug, PartialEq)]
struct Part {
    name: String,
    value: PartValue,
}

#[derive(Debug, PartialEq)]
enum PartValue {
    Text(String),
    File {
        filename: String,
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Parses `body` as `multipart/form-data` with the boundary named in
/// `content_type` (the whole `Content-Type` value). Errors are one line.
fn parse(body: Vec<u8>, content_type: &str) -> Result<Vec<Part>, String> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| format!("the content type has no usable boundary: {e}"))?;
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = ready(form.next_field())?;
        let Some(field) = field else { break };
        let name = field
            .name()
            .ok_or("a part has no name in its Content-Disposition")?
            .to_owned();
        let filename = field.file_name().map(str::to_owned);
        // The Fetch Standard: a file part's type is its Content-Type if that
        // is ASCII, "" if not, and "text/plain" when there is none.
        let content_type = match field.headers().get("content-type") {
            None => "text/plain".to_owned(),
            Some(v) => v
                .to_str()
                .ok()
                .filter(|v| v.is_ascii())
                .unwrap_or("")
                .to_owned(),
        };
        let bytes = ready(field.bytes())?.to_vec();
        let value = match filename {
            Some(filename) => PartValue::File {
                filename,
                content_type,
                bytes,
            },
            None => {
                let text = String::from_utf8_lossy(&bytes);
                PartValue::Text(text.strip_prefix('\u{feff}').unwrap_or(&text).to_owned())
            }
        };
        parts.push(Part { name, value });
    }
    Ok(parts)
}

/// The output of a `multer` future over an in-memory body, which is always
/// ready when first polled.
fn ready<T>(future: impl std::future::Future<Output = multer::Result<T>>) -> Result<T, String> {
    match future.now_or_never() {
        Some(result) => result.map_err(|e| e.to_string()),
        None => Err("the multipart parser waited for more input".to_owned()),
    }
}

/// `multipartParse(bytes, contentType)`: the parts of a
/// `multipart/form-data` body as `[name, value]` pairs, where a value is a
/// string or `{ filename, type, bytes }`. Malformed bodies throw a
/// `TypeError` naming the cause.
pub fn parse_js<'js>(
    ctx: Ctx<'js>,
    body: TypedArray<'js, u8>,
    content_type: String,
) -> rquickjs::Result<Array<'js>> {
    let body = with_bytes(&ctx, &body, <[u8]>::to_vec)?;
    let parts = parse(body, &content_type).map_err(|e| {
        Exception::throw_type(&ctx, &format!("formData(): bad multipart/form-data: {e}"))
    })?;
    let out = Array::new(ctx.clone())?;
    for (i, part) in parts.into_iter().enumerate() {
        let pair = Array::new(ctx.clone())?;
        pair.set(0, part.name)?;
        let value: Value<'js> = match part.value {
            PartValue::Text(text) => rquickjs::String::from_str(ctx.clone(), &text)?.into_value(),
            PartValue::File {
                filename,
                content_type,
                bytes,
            } => {
                let file = Object::new(ctx.clone())?;
                file.set("filename", filename)?;
                file.set("type", content_type)?;
                file.set("bytes", TypedArray::<u8>::new_copy(ctx.clone(), &bytes)?)?;
                file.into_value()
            }
        };
        pair.set(1, value)?;
        out.set(i, pair)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_errors() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xef\xbb\xbfone\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n\x00\x01\r\n\
--XyZ--\r\n";
        let parts = parse(body.to_vec(), "multipart/form-data; boundary=XyZ").unwrap();
        assert_eq!(
            parts,
            vec![
                Part {
                    name: "a".into(),
                    value: PartValue::Text("one".into())
                },
                Part {
                    name: "f".into(),
                    value: PartValue::File {
                        filename: "x.bin".into(),
                        content_type: "text/plain".into(),
                        bytes: vec![0, 1]
                    }
                },
            ]
        );
        assert!(parse(body.to_vec(), "multipart/form-data")
            .unwrap_err()
            .starts_with("the content type has no usable boundary"));
        assert!(parse(
            b"--XyZ\r\nnot a header\r\n".to_vec(),
            "multipart/form-data; boundary=XyZ"
        )
        .is_err());
    }
}
