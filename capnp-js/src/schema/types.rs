//! The tables a [`SchemaSet`](super::SchemaSet) holds for the codec:
//! struct layouts and their fields, types, defaults, enums and methods, the
//! node-id map, and [`SchemaError`].

use std::collections::HashMap;

use std::hash::{BuildHasherDefault, Hasher};

use capnp::message::{self, ReaderOptions};
use capnp::schema_capnp::{brand, type_};

/// Most nodes a set may hold (a hostile node list is refused beyond this).
pub const MAX_NODES: usize = 20_000;
/// Deepest group / type nesting accepted while building layouts and checking.
pub const MAX_SCHEMA_DEPTH: usize = 64;

/// Hasher for node ids: ids are already random 64-bit numbers.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // Mix a little in case ids are not random (hand-written ids).
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by node id.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Errors building or checking a [`SchemaSet`](super::SchemaSet).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// A node id that is not in the set.
    #[error("{place}unknown node id {id:#018x}")]
    UnknownNode { id: u64, place: String },
    /// A construct the codec does not support (AnyPointer, generics, …).
    #[error("{0}")]
    Unsupported(String),
    /// The nodes are malformed (bad offsets, wrong node kinds, …).
    #[error("invalid schema: {0}")]
    Invalid(String),
    /// The nodes could not be read as a Cap'n Proto message.
    #[error("invalid schema message: {0}")]
    Capnp(#[from] capnp::Error),
}

impl From<capnp::NotInSchema> for SchemaError {
    fn from(e: capnp::NotInSchema) -> Self {
        SchemaError::Invalid(format!("unknown union member {}", e.0))
    }
}

/// Why a type cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// `AnyPointer`.
    AnyPointer,
    /// `AnyStruct`.
    AnyStruct,
    /// `AnyList`.
    AnyList,
    /// `Capability` (an untyped interface).
    Capability,
    /// A generic parameter, a brand (generic instantiation) or a generic node.
    Generic,
}

impl Unsupported {
    /// Human text, e.g. `AnyPointer is not supported`.
    pub fn message(self) -> &'static str {
        match self {
            Unsupported::AnyPointer => "AnyPointer is not supported",
            Unsupported::AnyStruct => "AnyStruct is not supported",
            Unsupported::AnyList => "AnyList is not supported",
            Unsupported::Capability => "Capability (untyped interface) is not supported",
            Unsupported::Generic => "generic types (brands, type parameters) are not supported",
        }
    }
}

/// A field or element type, resolved from `schema.capnp`'s `Type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Text,
    Data,
    List(Box<Type>),
    /// Enum by node id.
    Enum(u64),
    /// Struct by node id.
    Struct(u64),
    /// Interface by node id.
    Interface(u64),
    /// A type the codec refuses (see [`SchemaSet::check_interface`](super::SchemaSet::check_interface)).
    Unsupported(Unsupported),
}

impl Type {
    /// The Cap'n Proto name of a primitive type, e.g. `UInt8`.
    pub fn name(&self) -> &'static str {
        match self {
            Type::Void => "Void",
            Type::Bool => "Bool",
            Type::Int8 => "Int8",
            Type::Int16 => "Int16",
            Type::Int32 => "Int32",
            Type::Int64 => "Int64",
            Type::UInt8 => "UInt8",
            Type::UInt16 => "UInt16",
            Type::UInt32 => "UInt32",
            Type::UInt64 => "UInt64",
            Type::Float32 => "Float32",
            Type::Float64 => "Float64",
            Type::Text => "Text",
            Type::Data => "Data",
            Type::List(_) => "List",
            Type::Enum(_) => "enum",
            Type::Struct(_) => "struct",
            Type::Interface(_) => "interface",
            Type::Unsupported(_) => "unsupported",
        }
    }

    /// Size of one value in the data section, in bits; `None` for pointers.
    pub fn data_bits(&self) -> Option<u32> {
        Some(match self {
            Type::Void => 0,
            Type::Bool => 1,
            Type::Int8 | Type::UInt8 => 8,
            Type::Int16 | Type::UInt16 | Type::Enum(_) => 16,
            Type::Int32 | Type::UInt32 | Type::Float32 => 32,
            Type::Int64 | Type::UInt64 | Type::Float64 => 64,
            _ => return None,
        })
    }

    pub(crate) fn from_reader(t: type_::Reader<'_>, depth: usize) -> Result<Type, SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Invalid("type nesting too deep".into()));
        }
        Ok(match t.which()? {
            type_::Void(()) => Type::Void,
            type_::Bool(()) => Type::Bool,
            type_::Int8(()) => Type::Int8,
            type_::Int16(()) => Type::Int16,
            type_::Int32(()) => Type::Int32,
            type_::Int64(()) => Type::Int64,
            type_::Uint8(()) => Type::UInt8,
            type_::Uint16(()) => Type::UInt16,
            type_::Uint32(()) => Type::UInt32,
            type_::Uint64(()) => Type::UInt64,
            type_::Float32(()) => Type::Float32,
            type_::Float64(()) => Type::Float64,
            type_::Text(()) => Type::Text,
            type_::Data(()) => Type::Data,
            type_::List(l) => Type::List(Box::new(Type::from_reader(
                l.get_element_type()?,
                depth + 1,
            )?)),
            type_::Enum(e) => {
                if is_branded(e.get_brand()?)? {
                    Type::Unsupported(Unsupported::Generic)
                } else {
                    Type::Enum(e.get_type_id())
                }
            }
            type_::Struct(s) => {
                if is_branded(s.get_brand()?)? {
                    Type::Unsupported(Unsupported::Generic)
                } else {
                    Type::Struct(s.get_type_id())
                }
            }
            type_::Interface(i) => {
                if is_branded(i.get_brand()?)? {
                    Type::Unsupported(Unsupported::Generic)
                } else {
                    Type::Interface(i.get_type_id())
                }
            }
            type_::AnyPointer(a) => {
                use type_::any_pointer::{unconstrained, Which};
                match a.which()? {
                    Which::Unconstrained(u) => Type::Unsupported(match u.which()? {
                        unconstrained::AnyKind(()) => Unsupported::AnyPointer,
                        unconstrained::Struct(()) => Unsupported::AnyStruct,
                        unconstrained::List(()) => Unsupported::AnyList,
                        unconstrained::Capability(()) => Unsupported::Capability,
                    }),
                    Which::Parameter(_) | Which::ImplicitMethodParameter(_) => {
                        Type::Unsupported(Unsupported::Generic)
                    }
                }
            }
        })
    }
}

/// True if a brand binds or inherits any generic scope.
pub(super) fn is_branded(b: brand::Reader<'_>) -> Result<bool, SchemaError> {
    Ok(b.has_scopes() && !b.get_scopes()?.is_empty())
}

/// A slot's default value, as stored in the schema.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// All-zero data / null pointer (the implicit default).
    None,
    /// Raw bits XORed into the data section (bools: 0 or 1; floats: IEEE bits).
    Bits(u64),
    /// Text default.
    Text(Box<str>),
    /// Data default.
    Data(Box<[u8]>),
    /// Struct or list default: one canonical single-segment message whose
    /// root is the value. Read through a checked message reader.
    Pointer(Box<[capnp::Word]>),
}

/// How a field is stored.
#[derive(Debug, Clone)]
pub enum FieldKind {
    /// A plain field.
    Slot {
        /// Offset in units of the type's size (bits for Bool, pointers for pointer types).
        offset: u32,
        ty: Type,
        default: DefaultValue,
    },
    /// A group (or a named union): its fields live in the same struct.
    Group(Box<Layout>),
}

/// One field of a struct or group.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    pub name: Box<str>,
    /// Union discriminant value if the field is a union member.
    pub discriminant: Option<u16>,
    pub kind: FieldKind,
}

/// Fields of a struct or group (groups share their parent's sections).
#[derive(Debug, Clone)]
pub struct Layout {
    /// Node id of the struct or group.
    pub id: u64,
    /// Short name for messages (`Params`, `Shape`, …).
    pub name: Box<str>,
    /// Fields in code order.
    pub fields: Vec<FieldInfo>,
    /// Index into `fields` by name.
    pub by_name: HashMap<Box<str>, usize>,
    /// Number of union members (0 = no union).
    pub discriminant_count: u16,
    /// Offset of the discriminant, in 16-bit units.
    pub discriminant_offset: u32,
    /// `circle, square`: union member names, for error messages.
    pub union_members: Box<str>,
    /// Indices of non-union group fields that contain a union somewhere
    /// (such a group cannot be omitted: its union needs a member).
    pub required_groups: Vec<usize>,
}

impl Layout {
    /// True if writing this layout requires choosing a union member.
    pub fn needs_union(&self) -> bool {
        self.discriminant_count > 0 || !self.required_groups.is_empty()
    }
}

impl Layout {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }
}

/// A (non-group) struct: its section sizes and its top-level layout.
#[derive(Debug, Clone)]
pub struct StructInfo {
    pub id: u64,
    /// Full display name, e.g. `test.capnp:TestAllTypes`.
    pub display_name: Box<str>,
    pub data_words: u16,
    pub pointer_count: u16,
    pub layout: Layout,
    /// The node is generic (has type parameters).
    pub generic: bool,
}

impl StructInfo {
    /// Short name used in error messages.
    pub fn name(&self) -> &str {
        &self.layout.name
    }
}

/// An enum: enumerant names by ordinal.
#[derive(Debug, Clone)]
pub struct EnumInfo {
    pub id: u64,
    pub name: Box<str>,
    pub enumerants: Vec<Box<str>>,
    pub by_name: HashMap<Box<str>, u16>,
}

/// One method of an interface (own or inherited).
#[derive(Debug, Clone)]
pub struct MethodInfo {
    pub name: Box<str>,
    /// Interface that declares the method.
    pub interface_id: u64,
    /// Short name of that interface.
    pub interface_name: Box<str>,
    /// Method ordinal within its declaring interface.
    pub ordinal: u16,
    pub param_struct: u64,
    pub result_struct: u64,
    /// Generic method (implicit parameters or branded param/result types).
    pub generic: bool,
}

/// An interface with its inherited methods resolved.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    pub id: u64,
    pub name: Box<str>,
    pub display_name: Box<str>,
    /// Direct superclasses (`extends`).
    pub superclasses: Vec<u64>,
    /// Superclass references that were generic instantiations.
    pub generic_superclass: bool,
    /// The node is generic.
    pub generic: bool,
    /// Methods declared here, by ordinal.
    pub own_methods: Vec<MethodInfo>,
    /// Own methods first, then inherited ones (breadth-first over `extends`,
    /// each interface once). Superclasses missing from the set are skipped
    /// here and reported by [`SchemaSet::check_interface`](super::SchemaSet::check_interface).
    pub methods: Vec<MethodInfo>,
}

impl InterfaceInfo {
    /// First method called `name` (own methods shadow inherited ones).
    pub fn method_by_name(&self, name: &str) -> Option<&MethodInfo> {
        self.methods.iter().find(|m| &*m.name == name)
    }

    /// The method `ordinal` of `interface_id` (this interface or one it
    /// extends), if this interface has it.
    pub fn method_by_id(&self, interface_id: u64, ordinal: u16) -> Option<&MethodInfo> {
        self.methods
            .iter()
            .find(|m| m.interface_id == interface_id && m.ordinal == ordinal)
    }
}

/// Reader segments over one owned, aligned segment.
pub(crate) struct OneSegment<'a>(pub(crate) &'a [u8]);

impl message::ReaderSegments for OneSegment<'_> {
    fn get_segment(&self, idx: u32) -> Option<&[u8]> {
        (idx == 0).then_some(self.0)
    }
    fn len(&self) -> usize {
        1
    }
}

/// Copies any pointer value into a canonical single-segment message.
pub(crate) fn to_words<T, R>(value: R) -> Result<Box<[capnp::Word]>, capnp::Error>
where
    T: capnp::traits::Owned,
    R: capnp::traits::SetterInput<T>,
{
    let mut msg = message::Builder::new_default();
    msg.set_root_canonical(value)?;
    let segments = msg.get_segments_for_output();
    if segments.len() != 1 {
        return Err(capnp::Error::failed(
            "canonical message spans several segments".into(),
        ));
    }
    let bytes = segments[0];
    let mut words = capnp::Word::allocate_zeroed_vec(bytes.len() / 8);
    capnp::Word::words_to_bytes_mut(&mut words).copy_from_slice(bytes);
    Ok(words.into_boxed_slice())
}

/// A reader over a word buffer made by [`to_words`].
pub(crate) fn words_reader(words: &[capnp::Word]) -> message::Reader<OneSegment<'_>> {
    message::Reader::new(
        OneSegment(capnp::Word::words_to_bytes(words)),
        ReaderOptions::new(),
    )
}
