//! Reading: Cap'n Proto structs → JavaScript values ([`read_struct`],
//! [`read_params`], [`read_results`]).

use capnp::traits::FromPointerReader;
use capnp::{any_pointer, any_pointer_list, struct_list};
use rquickjs::{Array, BigInt, Ctx, IntoJs, Object, TypedArray, Value};

use super::error::{CodecError, ErrorKind, Path};
use super::js::{js_err, js_number, CapReader};
use super::raw::{
    ElementSize, ListReader, PointerReader, PrimitiveElement, RawPointerReader, RawStruct,
    StructReader,
};
use crate::schema::{words_reader, DefaultValue, FieldKind, Layout, SchemaSet, Type};

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

/// Decodes the params of method `ordinal` of `interface_id`.
pub fn read_params<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    interface_id: u64,
    ordinal: u16,
    reader: any_pointer::Reader<'_>,
    caps: &mut dyn CapReader<'js>,
) -> Result<Object<'js>, CodecError> {
    let id = schema.method(interface_id, ordinal)?.param_struct;
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
    let id = schema.method(interface_id, ordinal)?.result_struct;
    read_struct_at(ctx, schema, id, reader, caps, "results")
}
