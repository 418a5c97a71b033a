//! Codec failures: [`CodecError`] with its [`ErrorKind`] (which decides the
//! JavaScript error class it is thrown as), and [`Path`], the place in the
//! value being converted that every error names.

use std::fmt;

use rquickjs::{Ctx, Exception};

use crate::schema::SchemaError;

/// What kind of failure a [`CodecError`] is; decides the JavaScript error
/// class it is thrown as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Wrong JavaScript type, unknown field or enumerant, union misuse
    /// (thrown as `TypeError`).
    Type,
    /// A number or BigInt outside the field's range, or a non-integer for an
    /// integer field (thrown as `RangeError`).
    Range,
    /// The schema lacks a node or uses an unsupported construct
    /// (thrown as `TypeError`).
    Schema,
    /// The message would exceed [`Limits`](super::write::Limits) (thrown as `RangeError`).
    Limit,
    /// The Cap'n Proto message is malformed (thrown as `Error`).
    Capnp,
    /// A JavaScript exception was thrown while converting (a getter threw,
    /// out of memory …). It is still pending in the context.
    Js,
    /// Another failure of the JavaScript engine binding (thrown as `Error`).
    Internal,
}

/// A codec failure. Its `Display` is `path: message`, e.g.
/// `params.items[3].price: expected number, got string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub kind: ErrorKind,
    /// Where: `params.items[3].price`; empty if unknown.
    pub path: String,
    /// What, without the path.
    pub message: String,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CodecError {}

impl CodecError {
    /// An error of `kind` without a path (the codec adds it).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CodecError {
        CodecError {
            kind,
            path: String::new(),
            message: message.into(),
        }
    }

    /// A `TypeError`-class error without a path (the codec adds it).
    pub fn type_error(message: impl Into<String>) -> CodecError {
        CodecError::new(ErrorKind::Type, message)
    }

    /// Throws this error in `ctx` as the matching JavaScript error class and
    /// returns the `rquickjs::Error` to propagate. A [`ErrorKind::Js`] error
    /// leaves the original pending exception in place.
    pub fn throw(self, ctx: &Ctx<'_>) -> rquickjs::Error {
        let text = self.to_string();
        match self.kind {
            ErrorKind::Type | ErrorKind::Schema => Exception::throw_type(ctx, &text),
            ErrorKind::Range | ErrorKind::Limit => Exception::throw_range(ctx, &text),
            ErrorKind::Capnp | ErrorKind::Internal => Exception::throw_message(ctx, &text),
            ErrorKind::Js => rquickjs::Error::Exception,
        }
    }

    pub(crate) fn at(mut self, path: &Path<'_>) -> CodecError {
        if self.path.is_empty() {
            self.path = path.to_string();
        }
        self
    }
}

impl From<SchemaError> for CodecError {
    fn from(e: SchemaError) -> Self {
        CodecError::new(ErrorKind::Schema, e.to_string())
    }
}

impl From<capnp::Error> for CodecError {
    fn from(e: capnp::Error) -> Self {
        CodecError::new(ErrorKind::Capnp, e.to_string())
    }
}

impl From<rquickjs::Error> for CodecError {
    fn from(e: rquickjs::Error) -> Self {
        match e {
            rquickjs::Error::Exception => CodecError::new(
                ErrorKind::Js,
                "a JavaScript exception was thrown during conversion",
            ),
            other => CodecError::new(ErrorKind::Internal, other.to_string()),
        }
    }
}

#[derive(Clone, Copy)]
enum Seg<'s> {
    Field(&'s str),
    Index(u32),
}

/// The place being converted, e.g. `params.items[3].price`. Cheap to push
/// and pop (field names are borrowed from the schema); only formatted when an
/// error is reported.
#[derive(Clone)]
pub struct Path<'s> {
    root: &'s str,
    segs: Vec<Seg<'s>>,
}

impl<'s> Path<'s> {
    /// A path starting at `root` (`params`, `results`, …).
    pub fn new(root: &'s str) -> Path<'s> {
        Path {
            root,
            segs: Vec::with_capacity(8),
        }
    }

    pub(crate) fn push_field(&mut self, name: &'s str) {
        self.segs.push(Seg::Field(name));
    }

    pub(crate) fn push_index(&mut self, i: u32) {
        self.segs.push(Seg::Index(i));
    }

    pub(crate) fn pop(&mut self) {
        self.segs.pop();
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.root)?;
        for (i, seg) in self.segs.iter().enumerate() {
            match seg {
                Seg::Field(name) => {
                    if i > 0 || !self.root.is_empty() {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_format_like_javascript() {
        let mut p = Path::new("params");
        assert_eq!(p.to_string(), "params");
        p.push_field("items");
        p.push_index(3);
        p.push_field("price");
        assert_eq!(p.to_string(), "params.items[3].price");
        p.pop();
        p.pop();
        assert_eq!(p.to_string(), "params.items");
        let mut q = Path::new("");
        q.push_field("a");
        q.push_index(0);
        q.push_field("b");
        assert_eq!(q.to_string(), "a[0].b");
    }

    #[test]
    fn errors_display_with_path() {
        let e = CodecError {
            kind: ErrorKind::Type,
            path: "params.x".into(),
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "params.x: boom");
        let e = CodecError::type_error("no path");
        assert_eq!(e.to_string(), "no path");
        let p = Path::new("results");
        assert_eq!(e.at(&p).to_string(), "results: no path");
    }
}
