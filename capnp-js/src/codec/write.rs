//! Writing: JavaScript values → Cap'n Proto structs ([`write_struct`],
//! [`write_params`], [`write_results`]), bounded by [`Limits`].

use capnp::any_pointer;
use rquickjs::{qjs, BigInt, Ctx, IntoJs, Object, Value};

use super::error::{CodecError, ErrorKind, Path};
use super::js::{fmt_num, js_err, js_type_name, with_js_bytes, with_js_str, CapWriter};
use super::raw;
use crate::schema::{DefaultValue, FieldInfo, FieldKind, Layout, SchemaSet, Type};

/// Cap'n Proto lists hold fewer than 2^29 elements (capnp asserts it).
const MAX_LIST_BYTES: usize = (1 << 29) - 1;

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
        .get_as::<raw::RawPointerBuilder<'_>>()
        .map_err(|e| CodecError::from(e).at(w.path))?
        .0;
    let mut sb = raw::StructBuilder::init(
        pb,
        raw::StructSize {
            data: info.data_words,
            pointers: info.pointer_count,
        },
    );
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

    /// A refusal from [`raw`] (a write outside a struct), at the current path.
    fn raw_err(&self, e: capnp::Error) -> CodecError {
        CodecError::from(e).at(self.path)
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
        sb: &mut raw::StructBuilder<'_>,
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
                sb.set_data::<u16>(layout.discriminant_offset as usize, disc, 0)
                    .map_err(|e| self.raw_err(e))?;
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
        sb: &mut raw::StructBuilder<'_>,
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
                let written = match ty {
                    Type::Void => {
                        if !v.is_null() {
                            return Err(self.type_err("null", v));
                        }
                        Ok(())
                    }
                    Type::Bool => sb.set_bool(off, self.bool(v)?, mask != 0),
                    Type::Int8 => {
                        sb.set_data::<i8>(off, self.int(v, ty, -0x80, 0x7f)? as i8, mask as i8)
                    }
                    Type::Int16 => sb.set_data::<i16>(
                        off,
                        self.int(v, ty, -0x8000, 0x7fff)? as i16,
                        mask as i16,
                    ),
                    Type::Int32 => sb.set_data::<i32>(
                        off,
                        self.int(v, ty, i64::from(i32::MIN), i64::from(i32::MAX))? as i32,
                        mask as i32,
                    ),
                    Type::UInt8 => {
                        sb.set_data::<u8>(off, self.int(v, ty, 0, 0xff)? as u8, mask as u8)
                    }
                    Type::UInt16 => {
                        sb.set_data::<u16>(off, self.int(v, ty, 0, 0xffff)? as u16, mask as u16)
                    }
                    Type::UInt32 => sb.set_data::<u32>(
                        off,
                        self.int(v, ty, 0, i64::from(u32::MAX))? as u32,
                        mask as u32,
                    ),
                    Type::Int64 => sb.set_data::<i64>(off, self.i64(v)?, mask as i64),
                    Type::UInt64 => sb.set_data::<u64>(off, self.u64(v)?, mask),
                    Type::Float32 => sb.set_data::<f32>(off, self.f32(v)?, mask as u32),
                    Type::Float64 => sb.set_data::<f64>(off, self.f64(v)?, mask),
                    Type::Enum(id) => sb.set_data::<u16>(off, self.enum_(v, *id)?, mask as u16),
                    _ => {
                        let pb = sb.reborrow().pointer(off).map_err(|e| self.raw_err(e))?;
                        return self.write_pointer(ty, v, pb);
                    }
                };
                written.map_err(|e| self.raw_err(e))
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
        mut pb: raw::PointerBuilder<'_>,
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
                let mut sb = raw::StructBuilder::init(
                    pb,
                    raw::StructSize {
                        data: info.data_words,
                        pointers: info.pointer_count,
                    },
                );
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
        pb: raw::PointerBuilder<'_>,
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
                    <$t as raw::PrimitiveElement>::set(&lb, i, value);
                }
                Ok(())
            }};
        }
        match elem {
            Type::Void => {
                self.charge(u64::from(len))?;
                pb.init_list(raw::ElementSize::Void, len);
                for i in 0..len {
                    let x = get(self, i)?;
                    if !x.is_null() && !x.is_undefined() {
                        self.path.push_index(i);
                        return Err(self.type_err("null", &x));
                    }
                }
                Ok(())
            }
            Type::Bool => prim_list!(bool, raw::ElementSize::Bit, |w, x| w.bool(&x)?),
            Type::Int8 => prim_list!(i8, raw::ElementSize::Byte, |w, x| w
                .int(&x, elem, -0x80, 0x7f)?
                as i8),
            Type::UInt8 => prim_list!(u8, raw::ElementSize::Byte, |w, x| w.int(&x, elem, 0, 0xff)?
                as u8),
            Type::Int16 => prim_list!(i16, raw::ElementSize::TwoBytes, |w, x| w
                .int(&x, elem, -0x8000, 0x7fff)?
                as i16),
            Type::UInt16 => prim_list!(u16, raw::ElementSize::TwoBytes, |w, x| w
                .int(&x, elem, 0, 0xffff)?
                as u16),
            Type::Enum(id) => {
                prim_list!(u16, raw::ElementSize::TwoBytes, |w, x| w.enum_(&x, *id)?)
            }
            Type::Int32 => prim_list!(i32, raw::ElementSize::FourBytes, |w, x| w.int(
                &x,
                elem,
                i64::from(i32::MIN),
                i64::from(i32::MAX)
            )?
                as i32),
            Type::UInt32 => {
                prim_list!(u32, raw::ElementSize::FourBytes, |w, x| w.int(
                    &x,
                    elem,
                    0,
                    i64::from(u32::MAX)
                )?
                    as u32)
            }
            Type::Float32 => prim_list!(f32, raw::ElementSize::FourBytes, |w, x| w.f32(&x)?),
            Type::Int64 => prim_list!(i64, raw::ElementSize::EightBytes, |w, x| w.i64(&x)?),
            Type::UInt64 => prim_list!(u64, raw::ElementSize::EightBytes, |w, x| w.u64(&x)?),
            Type::Float64 => prim_list!(f64, raw::ElementSize::EightBytes, |w, x| w.f64(&x)?),
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
                let size = raw::StructSize {
                    data: info.data_words,
                    pointers: info.pointer_count,
                };
                let mut list = raw::StructListBuilder::init(pb, len, size)
                    .map_err(|e| CodecError::from(e).at(self.path))?;
                for i in 0..len {
                    let x = get(self, i)?;
                    self.path.push_index(i);
                    let obj = self.expect_object(&x)?;
                    self.enter()?;
                    let mut sb = list.get(i).map_err(|e| self.raw_err(e))?;
                    self.write_layout(&info.layout, &obj, &mut sb)?;
                    self.depth -= 1;
                    self.path.pop();
                }
                Ok(())
            }
            Type::Text | Type::Data | Type::List(_) | Type::Interface(_) => {
                self.charge(u64::from(len))?;
                let mut lb: raw::ListBuilder<'_> = pb.init_list(raw::ElementSize::Pointer, len);
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
    let id = schema.method(interface_id, ordinal)?.param_struct;
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
    let id = schema.method(interface_id, ordinal)?.result_struct;
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
