//! The codec: JavaScript values ⇄ Cap'n Proto structs, driven by a
//! [`SchemaSet`]. See the crate documentation for the type mapping.
//!
//! Structs are accessed through `capnp::private::layout` with sizes and
//! offsets taken from the schema at run time. Every offset was checked
//! against its struct's size when the [`SchemaSet`] was built, and every
//! struct is written through a builder initialised with exactly that size,
//! so hostile schemas cannot make the codec write outside a struct.

use std::fmt;

use capnp::private::capability::ClientHook;
use capnp::private::layout::{
    ElementSize, ListBuilder, ListReader, PointerBuilder, PointerReader, PrimitiveElement,
    StructBuilder, StructReader, StructSize,
};
use capnp::traits::{FromPointerBuilder, FromPointerReader};
use capnp::{any_pointer, any_pointer_list, struct_list};
use rquickjs::{qjs, Array, BigInt, Ctx, Exception, IntoJs, Object, TypedArray, Value};

use crate::schema::{
    words_reader, DefaultValue, FieldInfo, FieldKind, Layout, SchemaError, SchemaSet, Type,
};

// ---------------------------------------------------------------------------
// Errors and paths
// ---------------------------------------------------------------------------

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
    /// The message would exceed [`Limits`] (thrown as `RangeError`).
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

    fn at(mut self, path: &Path<'_>) -> CodecError {
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

    fn push_field(&mut self, name: &'s str) {
        self.segs.push(Seg::Field(name));
    }

    fn push_index(&mut self, i: u32) {
        self.segs.push(Seg::Index(i));
    }

    fn pop(&mut self) {
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

/// Cap'n Proto lists hold fewer than 2^29 elements (capnp asserts it).
const MAX_LIST_BYTES: usize = (1 << 29) - 1;

// ---------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Raw access to capnp's layout from run-time sizes
// ---------------------------------------------------------------------------

/// The raw pointer behind an `any_pointer::Reader`
/// (`reader.get_as::<RawPointerReader>()`).
pub struct RawPointerReader<'a>(pub PointerReader<'a>);

impl<'a> FromPointerReader<'a> for RawPointerReader<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPointerReader(*reader))
    }
}

/// The raw pointer behind an `any_pointer::Builder`
/// (`builder.get_as::<RawPointerBuilder>()`).
pub struct RawPointerBuilder<'a>(pub PointerBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for RawPointerBuilder<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _length: u32) -> Self {
        RawPointerBuilder(builder)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPointerBuilder(builder))
    }
}

/// A struct of run-time layout, as an element type of `struct_list`.
pub struct RawStruct;

/// Reader half of [`RawStruct`].
pub struct RawStructReader<'a>(pub StructReader<'a>);
/// Builder half of [`RawStruct`].
pub struct RawStructBuilder<'a>(pub StructBuilder<'a>);

impl capnp::introspect::Introspect for RawStruct {
    fn introspect() -> capnp::introspect::Type {
        capnp::introspect::TypeVariant::AnyPointer.into()
    }
}

impl capnp::traits::OwnedStruct for RawStruct {
    type Reader<'a> = RawStructReader<'a>;
    type Builder<'a> = RawStructBuilder<'a>;
}

impl<'a> From<StructReader<'a>> for RawStructReader<'a> {
    fn from(r: StructReader<'a>) -> Self {
        RawStructReader(r)
    }
}

impl<'a> From<StructBuilder<'a>> for RawStructBuilder<'a> {
    fn from(b: StructBuilder<'a>) -> Self {
        RawStructBuilder(b)
    }
}

impl<'a> capnp::traits::IntoInternalStructReader<'a> for RawStructReader<'a> {
    fn into_internal_struct_reader(self) -> StructReader<'a> {
        self.0
    }
}

impl capnp::traits::SetterInput<RawStruct> for RawStructReader<'_> {
    fn set_pointer_builder(
        mut builder: PointerBuilder<'_>,
        input: Self,
        canonicalize: bool,
    ) -> capnp::Result<()> {
        builder.set_struct(&input.0, canonicalize)
    }
}

impl capnp::traits::HasStructSize for RawStructBuilder<'_> {
    // The smallest size: `get_struct_list` then keeps the list's real size.
    const STRUCT_SIZE: StructSize = StructSize {
        data: 0,
        pointers: 0,
    };
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// Bounds on what one encode may build.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message body, in 8-byte words (default 8 Mi words = 64 MiB,
    /// capnp's default traversal limit, beyond which readers refuse). Every
    /// list element counts as at least one word, which also bounds the work
    /// one encode can do (sparse JS arrays are cheap to make but not to walk).
    pub max_words: u64,
    /// Deepest struct/list nesting (default 64, capnp's default nesting
    /// limit). Also stops cyclic JavaScript objects.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_words: 8 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// capnp's limit on list element counts.
const MAX_LIST_LEN: u32 = (1 << 29) - 1;

// ---------------------------------------------------------------------------
// JavaScript helpers
// ---------------------------------------------------------------------------

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
fn fmt_num(f: f64) -> String {
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
fn js_number<'js>(ctx: &Ctx<'js>, f: f64) -> Value<'js> {
    if f == 0.0 && f.is_sign_negative() {
        Value::new_float(ctx.clone(), f)
    } else {
        Value::new_number(ctx.clone(), f)
    }
}

fn js_err(e: rquickjs::Error) -> CodecError {
    CodecError::from(e)
}

/// Calls `f` with the UTF-8 bytes of JS string `v`. Refuses lone surrogates
/// (they have no UTF-8 form).
fn with_js_str<R>(
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
fn with_js_bytes<R>(
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

// ---------------------------------------------------------------------------
// Writing (JS → capnp)
// ---------------------------------------------------------------------------

/// Which of a layout's required groups were given (no allocation up to 64).
enum GroupsSeen {
    Bits(u64),
    Many(Vec<bool>),
}

impl GroupsSeen {
    fn new(n: usize) -> GroupsSeen {
        if n <= 64 {
            GroupsSeen::Bits(0)
        } else {
            GroupsSeen::Many(vec![false; n])
        }
    }
    fn set(&mut self, i: usize) {
        match self {
            GroupsSeen::Bits(b) => *b |= 1 << i,
            GroupsSeen::Many(v) => v[i] = true,
        }
    }
    fn get(&self, i: usize) -> bool {
        match self {
            GroupsSeen::Bits(b) => *b & (1 << i) != 0,
            GroupsSeen::Many(v) => v[i],
        }
    }
}

struct Writer<'a, 's, 'js> {
    ctx: &'a Ctx<'js>,
    schema: &'s SchemaSet,
    caps: &'a mut dyn CapWriter<'js>,
    path: &'a mut Path<'s>,
    depth: u32,
    words: u64,
    limits: Limits,
}

/// Encodes JS `value` as the struct `struct_id` into `builder` (which is
/// initialised as a struct of the schema's size). See the crate docs for the
/// mapping. On error the builder holds a partial message; discard it.
///
/// If the struct can contain interfaces, `builder` must belong to a message
/// with a capability table (as RPC params and results do).
pub fn write_struct<'js, 's>(
    ctx: &Ctx<'js>,
    schema: &'s SchemaSet,
    struct_id: u64,
    value: &Value<'js>,
    builder: any_pointer::Builder<'_>,
    caps: &mut dyn CapWriter<'js>,
    path: &mut Path<'s>,
) -> Result<(), CodecError> {
    write_struct_with(
        ctx,
        schema,
        struct_id,
        value,
        builder,
        caps,
        path,
        Limits::default(),
    )
}

/// [`write_struct`] with explicit [`Limits`].
#[allow(clippy::too_many_arguments)]
pub fn write_struct_with<'js, 's>(
    ctx: &Ctx<'js>,
    schema: &'s SchemaSet,
    struct_id: u64,
    value: &Value<'js>,
    builder: any_pointer::Builder<'_>,
    caps: &mut dyn CapWriter<'js>,
    path: &mut Path<'s>,
    limits: Limits,
) -> Result<(), CodecError> {
    let info = schema
        .struct_info(struct_id)
        .map_err(|e| CodecError::from(e).at(path))?;
    let mut w = Writer {
        ctx,
        schema,
        caps,
        path,
        depth: 0,
        words: 0,
        limits,
    };
    let obj = w.expect_object(value)?;
    w.charge(u64::from(info.data_words) + u64::from(info.pointer_count))?;
    let pb = builder
        .get_as::<RawPointerBuilder<'_>>()
        .map_err(|e| CodecError::from(e).at(w.path))?
        .0;
    let mut sb = pb.init_struct(StructSize {
        data: info.data_words,
        pointers: info.pointer_count,
    });
    w.write_layout(&info.layout, &obj, &mut sb)
}

impl<'s, 'js> Writer<'_, 's, 'js> {
    fn err(&self, kind: ErrorKind, message: impl Into<String>) -> CodecError {
        CodecError {
            kind,
            path: self.path.to_string(),
            message: message.into(),
        }
    }

    fn type_err(&self, expected: &str, v: &Value<'js>) -> CodecError {
        self.err(
            ErrorKind::Type,
            format!("expected {expected}, got {}", js_type_name(v)),
        )
    }

    /// The error for text or data that does not fit (checked before it is
    /// copied, unlike what `charge` counts after).
    fn too_large(&self) -> CodecError {
        self.err(
            ErrorKind::Limit,
            format!(
                "message too large (more than {} words)",
                self.limits.max_words
            ),
        )
    }

    fn charge(&mut self, words: u64) -> Result<(), CodecError> {
        self.words = self.words.saturating_add(words);
        if self.words > self.limits.max_words {
            return Err(self.err(
                ErrorKind::Limit,
                format!(
                    "message too large (more than {} words)",
                    self.limits.max_words
                ),
            ));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), CodecError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.err(
                ErrorKind::Limit,
                format!(
                    "nesting deeper than {} (cyclic object?)",
                    self.limits.max_depth
                ),
            ));
        }
        Ok(())
    }

    fn expect_object(&self, v: &Value<'js>) -> Result<Object<'js>, CodecError> {
        match v.as_object() {
            Some(o) if !v.is_array() && !v.is_function() => Ok(o.clone()),
            _ => Err(self.type_err("object", v)),
        }
    }

    fn write_layout(
        &mut self,
        layout: &'s Layout,
        obj: &Object<'js>,
        sb: &mut StructBuilder<'_>,
    ) -> Result<(), CodecError> {
        let mut union_set = false;
        // Required groups (holding a union) seen so far, by position in
        // `layout.required_groups`.
        let mut groups_seen = GroupsSeen::new(layout.required_groups.len());
        for prop in obj.props::<String, Value<'js>>() {
            let (key, v) = prop.map_err(|e| js_err(e).at(self.path))?;
            let Some(&index) = layout.by_name.get(key.as_str()) else {
                let path = self.path.to_string();
                let sep = if path.is_empty() { "" } else { "." };
                return Err(CodecError {
                    kind: ErrorKind::Type,
                    path: format!("{path}{sep}{key}"),
                    message: format!("no such field in {}", layout.name),
                });
            };
            if v.is_undefined() {
                continue;
            }
            let field: &'s FieldInfo = &layout.fields[index];
            if !layout.required_groups.is_empty() {
                if let Some(pos) = layout.required_groups.iter().position(|&g| g == index) {
                    groups_seen.set(pos);
                }
            }
            if let Some(disc) = field.discriminant {
                if union_set {
                    return Err(self.union_err(layout));
                }
                union_set = true;
                sb.set_data_field::<u16>(layout.discriminant_offset as usize, disc);
            }
            self.path.push_field(&field.name);
            self.write_field(field, &v, sb)?;
            self.path.pop();
        }
        if layout.discriminant_count > 0 && !union_set {
            return Err(self.union_err(layout));
        }
        for (pos, &index) in layout.required_groups.iter().enumerate() {
            if !groups_seen.get(pos) {
                let field = &layout.fields[index];
                if let FieldKind::Group(group) = &field.kind {
                    self.path.push_field(&field.name);
                    return Err(self.missing_union(group));
                }
            }
        }
        Ok(())
    }

    /// The error for an omitted group that holds a union: names the first
    /// union inside it.
    fn missing_union(&mut self, layout: &'s Layout) -> CodecError {
        if layout.discriminant_count > 0 {
            return self.union_err(layout);
        }
        for &index in &layout.required_groups {
            if let FieldKind::Group(group) = &layout.fields[index].kind {
                self.path.push_field(&layout.fields[index].name);
                return self.missing_union(group);
            }
        }
        self.union_err(layout)
    }

    fn union_err(&self, layout: &Layout) -> CodecError {
        self.err(
            ErrorKind::Type,
            format!("exactly one of {} must be set", layout.union_members),
        )
    }

    fn write_field(
        &mut self,
        field: &'s FieldInfo,
        v: &Value<'js>,
        sb: &mut StructBuilder<'_>,
    ) -> Result<(), CodecError> {
        match &field.kind {
            FieldKind::Group(group) => {
                let obj = self.expect_object(v)?;
                self.write_layout(group, &obj, sb)
            }
            FieldKind::Slot {
                offset,
                ty,
                default,
            } => {
                let mask = match default {
                    DefaultValue::Bits(b) => *b,
                    _ => 0,
                };
                let off = *offset as usize;
                match ty {
                    Type::Void => {
                        if !v.is_null() {
                            return Err(self.type_err("null", v));
                        }
                    }
                    Type::Bool => sb.set_bool_field_mask(off, self.bool(v)?, mask != 0),
                    Type::Int8 => sb.set_data_field_mask::<i8>(
                        off,
                        self.int(v, ty, -0x80, 0x7f)? as i8,
                        mask as i8,
                    ),
                    Type::Int16 => sb.set_data_field_mask::<i16>(
                        off,
                        self.int(v, ty, -0x8000, 0x7fff)? as i16,
                        mask as i16,
                    ),
                    Type::Int32 => sb.set_data_field_mask::<i32>(
                        off,
                        self.int(v, ty, i64::from(i32::MIN), i64::from(i32::MAX))? as i32,
                        mask as i32,
                    ),
                    Type::UInt8 => sb.set_data_field_mask::<u8>(
                        off,
                        self.int(v, ty, 0, 0xff)? as u8,
                        mask as u8,
                    ),
                    Type::UInt16 => sb.set_data_field_mask::<u16>(
                        off,
                        self.int(v, ty, 0, 0xffff)? as u16,
                        mask as u16,
                    ),
                    Type::UInt32 => sb.set_data_field_mask::<u32>(
                        off,
                        self.int(v, ty, 0, i64::from(u32::MAX))? as u32,
                        mask as u32,
                    ),
                    Type::Int64 => sb.set_data_field_mask::<i64>(off, self.i64(v)?, mask as i64),
                    Type::UInt64 => sb.set_data_field_mask::<u64>(off, self.u64(v)?, mask),
                    Type::Float32 => sb.set_data_field_mask::<f32>(off, self.f32(v)?, mask as u32),
                    Type::Float64 => sb.set_data_field_mask::<f64>(off, self.f64(v)?, mask),
                    Type::Enum(id) => {
                        sb.set_data_field_mask::<u16>(off, self.enum_(v, *id)?, mask as u16)
                    }
                    _ => {
                        let pb = sb.reborrow().get_pointer_field(off);
                        self.write_pointer(ty, v, pb)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn bool(&self, v: &Value<'js>) -> Result<bool, CodecError> {
        v.as_bool().ok_or_else(|| self.type_err("boolean", v))
    }

    /// An integer in `min..=max` from a JS number.
    fn int(&self, v: &Value<'js>, ty: &Type, min: i64, max: i64) -> Result<i64, CodecError> {
        if let Some(i) = v.as_int() {
            let i = i64::from(i);
            if i < min || i > max {
                return Err(self.err(
                    ErrorKind::Range,
                    format!("{i} out of range for {}", ty.name()),
                ));
            }
            return Ok(i);
        }
        if let Some(f) = v.as_float() {
            if !f.is_finite() || f.fract() != 0.0 {
                return Err(self.err(
                    ErrorKind::Range,
                    format!("expected an integer for {}, got {}", ty.name(), fmt_num(f)),
                ));
            }
            if f < min as f64 || f > max as f64 {
                return Err(self.err(
                    ErrorKind::Range,
                    format!("{} out of range for {}", fmt_num(f), ty.name()),
                ));
            }
            return Ok(f as i64);
        }
        Err(self.type_err("number", v))
    }

    /// A safe-integer JS number for a 64-bit field.
    fn safe_int(&self, v: &Value<'js>, ty: &str) -> Result<Option<i64>, CodecError> {
        if let Some(i) = v.as_int() {
            return Ok(Some(i64::from(i)));
        }
        if let Some(f) = v.as_float() {
            const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
            if !f.is_finite() || f.fract() != 0.0 {
                return Err(self.err(
                    ErrorKind::Range,
                    format!("expected an integer for {ty}, got {}", fmt_num(f)),
                ));
            }
            if f.abs() > MAX_SAFE {
                return Err(self.err(
                    ErrorKind::Range,
                    format!(
                        "{} is not a safe integer; use a BigInt for {ty}",
                        fmt_num(f)
                    ),
                ));
            }
            return Ok(Some(f as i64));
        }
        Ok(None)
    }

    fn bigint_text(&self, v: &Value<'js>) -> String {
        v.get::<rquickjs::Coerced<String>>()
            .map(|c| c.0)
            .unwrap_or_else(|_| "BigInt".into())
    }

    fn i64(&self, v: &Value<'js>) -> Result<i64, CodecError> {
        if let Some(i) = self.safe_int(v, "Int64")? {
            return Ok(i);
        }
        if !v.is_big_int() {
            return Err(self.type_err("bigint", v));
        }
        let raw = self.ctx.as_raw().as_ptr();
        let mut out = 0i64;
        // SAFETY: `v` is a BigInt of this context (no JS code runs).
        if unsafe { qjs::JS_ToBigInt64(raw, &mut out, v.as_raw()) } != 0 {
            return Err(js_err(rquickjs::Error::Exception).at(self.path));
        }
        let back =
            Value::new_big_int(self.ctx.clone(), out).map_err(|e| js_err(e).at(self.path))?;
        // SAFETY: both are live values of this context.
        if !unsafe { qjs::JS_IsStrictEqual(raw, v.as_raw(), back.as_raw()) } {
            return Err(self.err(
                ErrorKind::Range,
                format!("{} out of range for Int64", self.bigint_text(v)),
            ));
        }
        Ok(out)
    }

    fn u64(&self, v: &Value<'js>) -> Result<u64, CodecError> {
        if let Some(i) = self.safe_int(v, "UInt64")? {
            return u64::try_from(i)
                .map_err(|_| self.err(ErrorKind::Range, format!("{i} out of range for UInt64")));
        }
        if !v.is_big_int() {
            return Err(self.type_err("bigint", v));
        }
        let raw = self.ctx.as_raw().as_ptr();
        let mut out = 0u64;
        // SAFETY: as in `i64`.
        if unsafe { qjs::JS_ToBigUint64(raw, &mut out, v.as_raw()) } != 0 {
            return Err(js_err(rquickjs::Error::Exception).at(self.path));
        }
        let back = BigInt::from_u64(self.ctx.clone(), out)
            .and_then(|b| b.into_js(self.ctx))
            .map_err(|e| js_err(e).at(self.path))?;
        // SAFETY: as in `i64`.
        if !unsafe { qjs::JS_IsStrictEqual(raw, v.as_raw(), back.as_raw()) } {
            return Err(self.err(
                ErrorKind::Range,
                format!("{} out of range for UInt64", self.bigint_text(v)),
            ));
        }
        Ok(out)
    }

    fn f64(&self, v: &Value<'js>) -> Result<f64, CodecError> {
        if let Some(i) = v.as_int() {
            return Ok(f64::from(i));
        }
        v.as_float().ok_or_else(|| self.type_err("number", v))
    }

    fn f32(&self, v: &Value<'js>) -> Result<f32, CodecError> {
        let f = self.f64(v)?;
        let g = f as f32;
        if f.is_finite() && g.is_infinite() {
            return Err(self.err(
                ErrorKind::Range,
                format!("{} out of range for Float32", fmt_num(f)),
            ));
        }
        Ok(g)
    }

    fn enum_(&self, v: &Value<'js>, id: u64) -> Result<u16, CodecError> {
        let info = self
            .schema
            .enum_info(id)
            .map_err(|e| CodecError::from(e).at(self.path))?;
        if v.is_string() {
            let found = with_js_str(self.ctx, v, |s| {
                info.by_name.get(s).copied().ok_or_else(|| s.to_string())
            })
            .map_err(|e| e.at(self.path))?;
            return found.map_err(|name| {
                self.err(
                    ErrorKind::Type,
                    format!("unknown enumerant {:?} for enum {}", name, info.name),
                )
            });
        }
        if v.is_number() {
            // Raw ordinals round-trip enumerants this schema does not know.
            return Ok(self.int(v, &Type::UInt16, 0, 0xffff)? as u16);
        }
        Err(self.err(
            ErrorKind::Type,
            format!(
                "expected enumerant name of {}, got {}",
                info.name,
                js_type_name(v)
            ),
        ))
    }

    fn write_pointer(
        &mut self,
        ty: &'s Type,
        v: &Value<'js>,
        mut pb: PointerBuilder<'_>,
    ) -> Result<(), CodecError> {
        if v.is_null() || v.is_undefined() {
            // Leave the pointer null: it reads back as the schema default.
            return Ok(());
        }
        match ty {
            Type::Text => {
                if !v.is_string() {
                    return Err(self.type_err("string", v));
                }
                // Checked before copying: capnp asserts (panics) on a list of
                // 2^29 elements or more.
                let budget = self.limits.max_words.saturating_sub(self.words);
                let len = with_js_str(self.ctx, v, |s| {
                    let fits = (s.len() as u64 + 8) / 8 <= budget && s.len() < MAX_LIST_BYTES;
                    if fits {
                        pb.set_text(s.into());
                    }
                    (s.len(), fits)
                })
                .map_err(|e| e.at(self.path))?;
                if !len.1 {
                    return Err(self.too_large());
                }
                self.charge((len.0 as u64 + 8) / 8)
            }
            Type::Data => {
                let budget = self.limits.max_words.saturating_sub(self.words);
                let len = with_js_bytes(self.ctx, v, |bytes| {
                    let fits =
                        (bytes.len() as u64).div_ceil(8) <= budget && bytes.len() < MAX_LIST_BYTES;
                    if fits {
                        pb.set_data(bytes);
                    }
                    (bytes.len(), fits)
                })
                .map_err(|e| e.at(self.path))?
                .ok_or_else(|| self.type_err("Uint8Array", v))?;
                if !len.1 {
                    return Err(self.too_large());
                }
                self.charge((len.0 as u64).div_ceil(8))
            }
            Type::Struct(id) => {
                let info = self
                    .schema
                    .struct_info(*id)
                    .map_err(|e| CodecError::from(e).at(self.path))?;
                let obj = self.expect_object(v)?;
                self.enter()?;
                self.charge(u64::from(info.data_words) + u64::from(info.pointer_count))?;
                let mut sb = pb.init_struct(StructSize {
                    data: info.data_words,
                    pointers: info.pointer_count,
                });
                self.write_layout(&info.layout, &obj, &mut sb)?;
                self.depth -= 1;
                Ok(())
            }
            Type::List(elem) => {
                self.enter()?;
                self.write_list(elem, v, pb)?;
                self.depth -= 1;
                Ok(())
            }
            Type::Interface(id) => {
                let hook = self
                    .caps
                    .write_cap(self.ctx, *id, v)
                    .map_err(|e| e.at(self.path))?;
                pb.set_capability(hook);
                Ok(())
            }
            Type::Unsupported(u) => Err(self.err(ErrorKind::Schema, u.message())),
            _ => Err(self.err(
                ErrorKind::Schema,
                format!("{} is not a pointer type", ty.name()),
            )),
        }
    }

    fn write_list(
        &mut self,
        elem: &'s Type,
        v: &Value<'js>,
        mut pb: PointerBuilder<'_>,
    ) -> Result<(), CodecError> {
        let Some(arr) = v.as_array() else {
            return Err(self.type_err("array", v));
        };
        let len = arr.len();
        if len > MAX_LIST_LEN as usize {
            return Err(self.err(
                ErrorKind::Limit,
                format!("list of {len} elements is too long"),
            ));
        }
        let len = len as u32;
        let get = |w: &Self, i: u32| -> Result<Value<'js>, CodecError> {
            arr.get::<Value<'js>>(i as usize)
                .map_err(|e| js_err(e).at(w.path))
        };
        macro_rules! prim_list {
            ($t:ty, $size:expr, |$w:ident, $x:ident| $conv:expr) => {{
                // Each element counts at least one word: bounds the work per message.
                self.charge(u64::from(len))?;
                let lb = pb.init_list($size, len);
                for i in 0..len {
                    let $x = get(self, i)?;
                    self.path.push_index(i);
                    let $w = &*self;
                    let value: $t = $conv;
                    self.path.pop();
                    <$t as PrimitiveElement>::set(&lb, i, value);
                }
                Ok(())
            }};
        }
        match elem {
            Type::Void => {
                self.charge(u64::from(len))?;
                pb.init_list(ElementSize::Void, len);
                for i in 0..len {
                    let x = get(self, i)?;
                    if !x.is_null() && !x.is_undefined() {
                        self.path.push_index(i);
                        return Err(self.type_err("null", &x));
                    }
                }
                Ok(())
            }
            Type::Bool => prim_list!(bool, ElementSize::Bit, |w, x| w.bool(&x)?),
            Type::Int8 => prim_list!(i8, ElementSize::Byte, |w, x| w.int(&x, elem, -0x80, 0x7f)?
                as i8),
            Type::UInt8 => prim_list!(u8, ElementSize::Byte, |w, x| w.int(&x, elem, 0, 0xff)?
                as u8),
            Type::Int16 => prim_list!(i16, ElementSize::TwoBytes, |w, x| w
                .int(&x, elem, -0x8000, 0x7fff)?
                as i16),
            Type::UInt16 => prim_list!(u16, ElementSize::TwoBytes, |w, x| w
                .int(&x, elem, 0, 0xffff)?
                as u16),
            Type::Enum(id) => prim_list!(u16, ElementSize::TwoBytes, |w, x| w.enum_(&x, *id)?),
            Type::Int32 => prim_list!(i32, ElementSize::FourBytes, |w, x| w.int(
                &x,
                elem,
                i64::from(i32::MIN),
                i64::from(i32::MAX)
            )? as i32),
            Type::UInt32 => {
                prim_list!(u32, ElementSize::FourBytes, |w, x| w.int(
                    &x,
                    elem,
                    0,
                    i64::from(u32::MAX)
                )?
                    as u32)
            }
            Type::Float32 => prim_list!(f32, ElementSize::FourBytes, |w, x| w.f32(&x)?),
            Type::Int64 => prim_list!(i64, ElementSize::EightBytes, |w, x| w.i64(&x)?),
            Type::UInt64 => prim_list!(u64, ElementSize::EightBytes, |w, x| w.u64(&x)?),
            Type::Float64 => prim_list!(f64, ElementSize::EightBytes, |w, x| w.f64(&x)?),
            Type::Struct(id) => {
                let info = self
                    .schema
                    .struct_info(*id)
                    .map_err(|e| CodecError::from(e).at(self.path))?;
                let words_each = u64::from(info.data_words) + u64::from(info.pointer_count);
                let total = u64::from(len) * words_each;
                if total >= 1 << 29 {
                    return Err(self.err(
                        ErrorKind::Limit,
                        format!("list of {len} structs is too large"),
                    ));
                }
                self.charge((total + 1).max(u64::from(len)))?;
                let size = StructSize {
                    data: info.data_words,
                    pointers: info.pointer_count,
                };
                pb.reborrow().init_struct_list(len, size);
                let mut list = struct_list::Builder::<RawStruct>::get_from_pointer(pb, None)
                    .map_err(|e| CodecError::from(e).at(self.path))?;
                for i in 0..len {
                    let x = get(self, i)?;
                    self.path.push_index(i);
                    let obj = self.expect_object(&x)?;
                    self.enter()?;
                    let mut sb = list.reborrow().get(i).0;
                    self.write_layout(&info.layout, &obj, &mut sb)?;
                    self.depth -= 1;
                    self.path.pop();
                }
                Ok(())
            }
            Type::Text | Type::Data | Type::List(_) | Type::Interface(_) => {
                self.charge(u64::from(len))?;
                let mut lb: ListBuilder<'_> = pb.init_list(ElementSize::Pointer, len);
                for i in 0..len {
                    let x = get(self, i)?;
                    self.path.push_index(i);
                    if x.is_undefined() {
                        // A hole or `undefined` is not silently a null element;
                        // an explicit `null` is.
                        let expected = match elem {
                            Type::Text => "string",
                            Type::Data => "Uint8Array",
                            Type::List(_) => "array",
                            _ => "capability or null",
                        };
                        return Err(self.type_err(expected, &x));
                    }
                    self.write_pointer(elem, &x, lb.reborrow().get_pointer_element(i))?;
                    self.path.pop();
                }
                Ok(())
            }
            Type::Unsupported(u) => Err(self.err(ErrorKind::Schema, u.message())),
        }
    }
}

// ---------------------------------------------------------------------------
// Reading (capnp → JS)
// ---------------------------------------------------------------------------

struct Reader<'a, 's, 'js> {
    ctx: &'a Ctx<'js>,
    schema: &'s SchemaSet,
    caps: &'a mut dyn CapReader<'js>,
    path: Path<'s>,
}

/// Decodes the struct `struct_id` at `reader` into a plain JS object. A null
/// root pointer decodes as a struct of all defaults. See the crate docs for
/// the mapping. Errors carry the path (rooted at `struct`; use
/// [`read_struct_at`] to name the root).
pub fn read_struct<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    struct_id: u64,
    reader: any_pointer::Reader<'_>,
    caps: &mut dyn CapReader<'js>,
) -> Result<Object<'js>, CodecError> {
    read_struct_at(ctx, schema, struct_id, reader, caps, "struct")
}

/// [`read_struct`] with error paths rooted at `root` (`params`, `results`).
pub fn read_struct_at<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    struct_id: u64,
    reader: any_pointer::Reader<'_>,
    caps: &mut dyn CapReader<'js>,
    root: &str,
) -> Result<Object<'js>, CodecError> {
    let mut r = Reader {
        ctx,
        schema,
        caps,
        path: Path::new(root),
    };
    let info = schema
        .struct_info(struct_id)
        .map_err(|e| CodecError::from(e).at(&r.path))?;
    let pr = reader
        .get_as::<RawPointerReader<'_>>()
        .map_err(|e| r.capnp(e))?
        .0;
    let sr = pr.get_struct(None).map_err(|e| r.capnp(e))?;
    let obj = Object::new(ctx.clone()).map_err(|e| r.js(e))?;
    r.read_layout(&info.layout, &sr, &obj)?;
    Ok(obj)
}

impl<'s, 'js> Reader<'_, 's, 'js> {
    fn capnp(&self, e: capnp::Error) -> CodecError {
        CodecError::from(e).at(&self.path)
    }

    fn js(&self, e: rquickjs::Error) -> CodecError {
        js_err(e).at(&self.path)
    }

    fn read_layout(
        &mut self,
        layout: &'s Layout,
        sr: &StructReader<'_>,
        obj: &Object<'js>,
    ) -> Result<(), CodecError> {
        let active = (layout.discriminant_count > 0)
            .then(|| sr.get_data_field::<u16>(layout.discriminant_offset as usize));
        for field in &layout.fields {
            if field.discriminant.is_some() && field.discriminant != active {
                continue;
            }
            self.path.push_field(&field.name);
            let value = match &field.kind {
                FieldKind::Group(group) => {
                    let g = Object::new(self.ctx.clone()).map_err(|e| self.js(e))?;
                    self.read_layout(group, sr, &g)?;
                    g.into_value()
                }
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                } => self.read_slot(ty, *offset as usize, default, sr)?,
            };
            obj.set(&*field.name, value).map_err(|e| self.js(e))?;
            self.path.pop();
        }
        Ok(())
    }

    fn read_slot(
        &mut self,
        ty: &'s Type,
        off: usize,
        default: &DefaultValue,
        sr: &StructReader<'_>,
    ) -> Result<Value<'js>, CodecError> {
        let mask = match default {
            DefaultValue::Bits(b) => *b,
            _ => 0,
        };
        let ctx = self.ctx.clone();
        Ok(match ty {
            Type::Void => Value::new_null(ctx),
            Type::Bool => Value::new_bool(ctx, sr.get_bool_field_mask(off, mask != 0)),
            Type::Int8 => Value::new_int(
                ctx,
                i32::from(sr.get_data_field_mask::<i8>(off, mask as i8)),
            ),
            Type::Int16 => Value::new_int(
                ctx,
                i32::from(sr.get_data_field_mask::<i16>(off, mask as i16)),
            ),
            Type::Int32 => Value::new_int(ctx, sr.get_data_field_mask::<i32>(off, mask as i32)),
            Type::UInt8 => Value::new_int(
                ctx,
                i32::from(sr.get_data_field_mask::<u8>(off, mask as u8)),
            ),
            Type::UInt16 => Value::new_int(
                ctx,
                i32::from(sr.get_data_field_mask::<u16>(off, mask as u16)),
            ),
            Type::UInt32 => Value::new_number(
                ctx,
                f64::from(sr.get_data_field_mask::<u32>(off, mask as u32)),
            ),
            Type::Int64 => self.big_i64(sr.get_data_field_mask::<i64>(off, mask as i64))?,
            Type::UInt64 => self.big_u64(sr.get_data_field_mask::<u64>(off, mask))?,
            Type::Float32 => js_number(
                &ctx,
                f64::from(sr.get_data_field_mask::<f32>(off, mask as u32)),
            ),
            Type::Float64 => js_number(&ctx, sr.get_data_field_mask::<f64>(off, mask)),
            Type::Enum(id) => self.enum_(*id, sr.get_data_field_mask::<u16>(off, mask as u16))?,
            _ => self.read_pointer(ty, sr.get_pointer_field(off), default)?,
        })
    }

    fn big_i64(&self, x: i64) -> Result<Value<'js>, CodecError> {
        Value::new_big_int(self.ctx.clone(), x).map_err(|e| self.js(e))
    }

    fn big_u64(&self, x: u64) -> Result<Value<'js>, CodecError> {
        BigInt::from_u64(self.ctx.clone(), x)
            .and_then(|b| b.into_js(self.ctx))
            .map_err(|e| self.js(e))
    }

    fn enum_(&self, id: u64, ordinal: u16) -> Result<Value<'js>, CodecError> {
        let info = self
            .schema
            .enum_info(id)
            .map_err(|e| CodecError::from(e).at(&self.path))?;
        match info.enumerants.get(usize::from(ordinal)) {
            Some(name) => rquickjs::String::from_str(self.ctx.clone(), name)
                .map(|s| s.into_value())
                .map_err(|e| self.js(e)),
            None => Ok(Value::new_int(self.ctx.clone(), i32::from(ordinal))),
        }
    }

    fn string(&self, s: &str) -> Result<Value<'js>, CodecError> {
        rquickjs::String::from_str(self.ctx.clone(), s)
            .map(|s| s.into_value())
            .map_err(|e| self.js(e))
    }

    fn bytes(&self, b: &[u8]) -> Result<Value<'js>, CodecError> {
        TypedArray::<u8>::new_copy(self.ctx.clone(), b)
            .map(|a| a.into_value())
            .map_err(|e| self.js(e))
    }

    fn read_pointer(
        &mut self,
        ty: &'s Type,
        pr: PointerReader<'_>,
        default: &DefaultValue,
    ) -> Result<Value<'js>, CodecError> {
        if pr.is_null() {
            return match (default, ty) {
                (DefaultValue::Text(s), _) => self.string(s),
                (DefaultValue::Data(d), _) => self.bytes(d),
                (DefaultValue::Pointer(words), _) => {
                    let msg = words_reader(words);
                    let root: any_pointer::Reader<'_> =
                        msg.get_root().map_err(|e| self.capnp(e))?;
                    let root = root
                        .get_as::<RawPointerReader<'_>>()
                        .map_err(|e| self.capnp(e))?
                        .0;
                    self.read_pointer(ty, root, &DefaultValue::None)
                }
                (_, Type::Text) => self.string(""),
                (_, Type::Data) => self.bytes(&[]),
                (_, Type::List(_)) => Array::new(self.ctx.clone())
                    .map(|a| a.into_value())
                    .map_err(|e| self.js(e)),
                // Struct, interface, and unsupported kinds: absent is `null`.
                _ => Ok(Value::new_null(self.ctx.clone())),
            };
        }
        match ty {
            Type::Text => {
                let t = pr.get_text(None).map_err(|e| self.capnp(e))?;
                let s = t.to_str().map_err(|_| {
                    CodecError::new(ErrorKind::Capnp, "text is not valid UTF-8").at(&self.path)
                })?;
                self.string(s)
            }
            Type::Data => {
                let d = pr.get_data(None).map_err(|e| self.capnp(e))?;
                self.bytes(d)
            }
            Type::Struct(id) => {
                let info = self
                    .schema
                    .struct_info(*id)
                    .map_err(|e| CodecError::from(e).at(&self.path))?;
                let sr = pr.get_struct(None).map_err(|e| self.capnp(e))?;
                let obj = Object::new(self.ctx.clone()).map_err(|e| self.js(e))?;
                self.read_layout(&info.layout, &sr, &obj)?;
                Ok(obj.into_value())
            }
            Type::List(elem) => self.read_list(elem, pr),
            Type::Interface(id) => {
                let hook = pr.get_capability().map_err(|e| self.capnp(e))?;
                self.caps
                    .read_cap(self.ctx, *id, hook)
                    .map_err(|e| e.at(&self.path))
            }
            Type::Unsupported(u) => {
                Err(CodecError::new(ErrorKind::Schema, u.message()).at(&self.path))
            }
            _ => Err(CodecError::new(
                ErrorKind::Schema,
                format!("{} is not a pointer type", ty.name()),
            )
            .at(&self.path)),
        }
    }

    fn read_list(
        &mut self,
        elem: &'s Type,
        pr: PointerReader<'_>,
    ) -> Result<Value<'js>, CodecError> {
        let arr = Array::new(self.ctx.clone()).map_err(|e| self.js(e))?;
        macro_rules! prim_list {
            ($t:ty, $size:expr, |$x:ident| $conv:expr) => {{
                let lr: ListReader<'_> = pr.get_list($size, None).map_err(|e| self.capnp(e))?;
                for i in 0..lr.len() {
                    let $x: $t = <$t as PrimitiveElement>::get(&lr, i);
                    let value: Value<'js> = $conv;
                    arr.set(i as usize, value).map_err(|e| self.js(e))?;
                }
            }};
        }
        let ctx = self.ctx.clone();
        match elem {
            Type::Void => {
                let lr = pr
                    .get_list(ElementSize::Void, None)
                    .map_err(|e| self.capnp(e))?;
                for i in 0..lr.len() {
                    arr.set(i as usize, Value::new_null(ctx.clone()))
                        .map_err(|e| self.js(e))?;
                }
            }
            Type::Bool => prim_list!(bool, ElementSize::Bit, |x| Value::new_bool(ctx.clone(), x)),
            Type::Int8 => prim_list!(i8, ElementSize::Byte, |x| Value::new_int(
                ctx.clone(),
                i32::from(x)
            )),
            Type::UInt8 => prim_list!(u8, ElementSize::Byte, |x| Value::new_int(
                ctx.clone(),
                i32::from(x)
            )),
            Type::Int16 => prim_list!(i16, ElementSize::TwoBytes, |x| Value::new_int(
                ctx.clone(),
                i32::from(x)
            )),
            Type::UInt16 => prim_list!(u16, ElementSize::TwoBytes, |x| Value::new_int(
                ctx.clone(),
                i32::from(x)
            )),
            Type::Int32 => prim_list!(i32, ElementSize::FourBytes, |x| Value::new_int(
                ctx.clone(),
                x
            )),
            Type::UInt32 => prim_list!(u32, ElementSize::FourBytes, |x| Value::new_number(
                ctx.clone(),
                f64::from(x)
            )),
            Type::Float32 => prim_list!(f32, ElementSize::FourBytes, |x| js_number(
                &ctx,
                f64::from(x)
            )),
            Type::Int64 => prim_list!(i64, ElementSize::EightBytes, |x| self.big_i64(x)?),
            Type::UInt64 => prim_list!(u64, ElementSize::EightBytes, |x| self.big_u64(x)?),
            Type::Float64 => prim_list!(f64, ElementSize::EightBytes, |x| js_number(&ctx, x)),
            Type::Enum(id) => prim_list!(u16, ElementSize::TwoBytes, |x| self.enum_(*id, x)?),
            Type::Struct(id) => {
                let info = self
                    .schema
                    .struct_info(*id)
                    .map_err(|e| CodecError::from(e).at(&self.path))?;
                let list = struct_list::Reader::<RawStruct>::get_from_pointer(&pr, None)
                    .map_err(|e| self.capnp(e))?;
                for i in 0..list.len() {
                    self.path.push_index(i);
                    let sr = list.get(i).0;
                    let obj = Object::new(ctx.clone()).map_err(|e| self.js(e))?;
                    self.read_layout(&info.layout, &sr, &obj)?;
                    arr.set(i as usize, obj).map_err(|e| self.js(e))?;
                    self.path.pop();
                }
            }
            Type::Text | Type::Data | Type::List(_) | Type::Interface(_) => {
                let list = any_pointer_list::Reader::get_from_pointer(&pr, None)
                    .map_err(|e| self.capnp(e))?;
                for i in 0..list.len() {
                    self.path.push_index(i);
                    let p = list
                        .get(i)
                        .get_as::<RawPointerReader<'_>>()
                        .map_err(|e| self.capnp(e))?
                        .0;
                    let value = self.read_pointer(elem, p, &DefaultValue::None)?;
                    arr.set(i as usize, value).map_err(|e| self.js(e))?;
                    self.path.pop();
                }
            }
            Type::Unsupported(u) => {
                return Err(CodecError::new(ErrorKind::Schema, u.message()).at(&self.path))
            }
        }
        Ok(arr.into_value())
    }
}

// ---------------------------------------------------------------------------
// Method params and results
// ---------------------------------------------------------------------------

fn method_struct(
    schema: &SchemaSet,
    interface_id: u64,
    ordinal: u16,
    results: bool,
) -> Result<u64, CodecError> {
    let m = schema.method(interface_id, ordinal)?;
    Ok(if results {
        m.result_struct
    } else {
        m.param_struct
    })
}

/// Encodes the params of method `ordinal` of `interface_id` (the interface
/// that declares it) from JS `value`; errors are rooted at `params`.
pub fn write_params<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    interface_id: u64,
    ordinal: u16,
    value: &Value<'js>,
    builder: any_pointer::Builder<'_>,
    caps: &mut dyn CapWriter<'js>,
) -> Result<(), CodecError> {
    let id = method_struct(schema, interface_id, ordinal, false)?;
    write_struct(
        ctx,
        schema,
        id,
        value,
        builder,
        caps,
        &mut Path::new("params"),
    )
}

/// Encodes the results of method `ordinal` of `interface_id`; errors are
/// rooted at `results`.
pub fn write_results<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    interface_id: u64,
    ordinal: u16,
    value: &Value<'js>,
    builder: any_pointer::Builder<'_>,
    caps: &mut dyn CapWriter<'js>,
) -> Result<(), CodecError> {
    let id = method_struct(schema, interface_id, ordinal, true)?;
    write_struct(
        ctx,
        schema,
        id,
        value,
        builder,
        caps,
        &mut Path::new("results"),
    )
}

/// Decodes the params of method `ordinal` of `interface_id`.
pub fn read_params<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    interface_id: u64,
    ordinal: u16,
    reader: any_pointer::Reader<'_>,
    caps: &mut dyn CapReader<'js>,
) -> Result<Object<'js>, CodecError> {
    let id = method_struct(schema, interface_id, ordinal, false)?;
    read_struct_at(ctx, schema, id, reader, caps, "params")
}

/// Decodes the results of method `ordinal` of `interface_id`.
pub fn read_results<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    interface_id: u64,
    ordinal: u16,
    reader: any_pointer::Reader<'_>,
    caps: &mut dyn CapReader<'js>,
) -> Result<Object<'js>, CodecError> {
    let id = method_struct(schema, interface_id, ordinal, true)?;
    read_struct_at(ctx, schema, id, reader, caps, "results")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

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
