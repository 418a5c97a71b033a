//! [`SchemaSet`]: an owned, validated set of Cap'n Proto schema nodes loaded
//! at run time, with precomputed struct layouts, enum tables and interface
//! method tables for the codec.
//!
//! The nodes may come from a hostile client, so everything here is bounded:
//! node counts, nesting depth, field offsets (checked against the struct's
//! size so the codec never writes outside a struct), and reference cycles.
//! A node id that is not in the set is an error, never a panic.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use capnp::message::{self, ReaderOptions};
use capnp::schema_capnp::{brand, field, node, type_, value};

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

/// Errors building or checking a [`SchemaSet`].
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
    /// A type the codec refuses (see [`SchemaSet::check_interface`]).
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
fn is_branded(b: brand::Reader<'_>) -> Result<bool, SchemaError> {
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
    /// here and reported by [`SchemaSet::check_interface`].
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

/// An owned set of schema nodes with precomputed codec tables. Immutable
/// once built; `Send + Sync`, so one `Arc<SchemaSet>` can serve every thread.
pub struct SchemaSet {
    nodes: IdMap<Box<[capnp::Word]>>,
    structs: IdMap<StructInfo>,
    enums: IdMap<EnumInfo>,
    interfaces: IdMap<InterfaceInfo>,
    /// Short names of every node (for messages).
    names: IdMap<Box<str>>,
    /// Ids of group nodes (never valid as a `Type::Struct`).
    groups: HashSet<u64, BuildHasherDefault<IdHasher>>,
    /// Doc comments, when the nodes came with their `sourceInfo`.
    docs: IdMap<NodeDocs>,
}

/// The doc comments of one node, from a `CodeGeneratorRequest`'s
/// `sourceInfo`: the node's own and its members' (struct fields in the
/// order of `Node.struct.fields`, enumerants, methods by ordinal).
#[derive(Debug, Clone, Default)]
struct NodeDocs {
    doc: Box<str>,
    members: Vec<Box<str>>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SchemaSet>();
};

impl fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaSet")
            .field("nodes", &self.nodes.len())
            .field("structs", &self.structs.len())
            .field("enums", &self.enums.len())
            .field("interfaces", &self.interfaces.len())
            .finish()
    }
}

/// Short name of a node: its display name minus the file/scope prefix. The
/// parameter and result structs the compiler makes for a method
/// (`find$Params`) are called `Params` / `Results`.
fn short_name(n: node::Reader<'_>) -> Result<Box<str>, SchemaError> {
    let display = n.get_display_name()?.to_str().map_err(capnp::Error::from)?;
    let prefix = n.get_display_name_prefix_length() as usize;
    let short = display.get(prefix..).unwrap_or(display);
    let short = match short.rsplit_once('$') {
        Some((_, tail)) if !tail.is_empty() => tail,
        _ => short,
    };
    Ok(short.into())
}

impl SchemaSet {
    /// Builds a set from a serialized `CodeGeneratorRequest` (what `capnp
    /// compile -o-` writes; [`crate::compile`] produces one).
    pub fn from_code_generator_request(bytes: &[u8]) -> Result<SchemaSet, SchemaError> {
        // Copied: `bytes` need not be aligned (`include_bytes!` is not).
        let msg = capnp::serialize::read_message(bytes, ReaderOptions::new())?;
        let req: capnp::schema_capnp::code_generator_request::Reader<'_> = msg.get_root()?;
        let mut set = SchemaSet::from_nodes(req.get_nodes()?.iter())?;
        for info in req.get_source_info()? {
            let text = |t: capnp::text::Reader<'_>| -> Result<Box<str>, SchemaError> {
                Ok(t.to_str().map_err(capnp::Error::from)?.trim_end().into())
            };
            let mut members = Vec::new();
            for m in info.get_members()? {
                members.push(text(m.get_doc_comment()?)?);
            }
            let doc = text(info.get_doc_comment()?)?;
            if !doc.is_empty() || members.iter().any(|m| !m.is_empty()) {
                set.docs.insert(info.get_id(), NodeDocs { doc, members });
            }
        }
        Ok(set)
    }

    /// Builds a set from schema nodes, e.g. `CompiledSchema.nodes` sent by a
    /// client. Nodes are copied; duplicates (same id) are an error.
    pub fn from_nodes<'a, I>(nodes: I) -> Result<SchemaSet, SchemaError>
    where
        I: IntoIterator<Item = node::Reader<'a>>,
    {
        let mut owned: IdMap<Box<[capnp::Word]>> = IdMap::default();
        for n in nodes {
            if owned.len() >= MAX_NODES {
                return Err(SchemaError::Invalid(format!(
                    "more than {MAX_NODES} schema nodes"
                )));
            }
            let id = n.get_id();
            if owned.contains_key(&id) {
                return Err(SchemaError::Invalid(format!(
                    "duplicate node id {id:#018x}"
                )));
            }
            owned.insert(id, to_words::<node::Owned, _>(n)?);
        }
        SchemaSet::build(owned)
    }

    fn build(nodes: IdMap<Box<[capnp::Word]>>) -> Result<SchemaSet, SchemaError> {
        let mut names: IdMap<Box<str>> = IdMap::default();
        let mut groups: HashSet<u64, BuildHasherDefault<IdHasher>> = HashSet::default();
        let readers: Vec<_> = nodes.values().map(|w| words_reader(w)).collect();
        let mut roots: IdMap<node::Reader<'_>> = IdMap::default();
        for r in &readers {
            let n: node::Reader<'_> = r.get_root()?;
            names.insert(n.get_id(), short_name(n)?);
            if let node::Struct(s) = n.which()? {
                if s.get_is_group() {
                    groups.insert(n.get_id());
                }
            }
            roots.insert(n.get_id(), n);
        }
        let mut structs = IdMap::default();
        let mut enums = IdMap::default();
        let mut interfaces = IdMap::default();
        for (&id, &n) in &roots {
            match n.which()? {
                node::Struct(s) if !s.get_is_group() => {
                    structs.insert(id, build_struct(&roots, &names, n, s)?);
                }
                node::Enum(e) => {
                    let mut enumerants = Vec::new();
                    let mut by_name = HashMap::new();
                    for (i, en) in e.get_enumerants()?.iter().enumerate() {
                        let name: Box<str> =
                            en.get_name()?.to_str().map_err(capnp::Error::from)?.into();
                        let ordinal = u16::try_from(i)
                            .map_err(|_| SchemaError::Invalid("too many enumerants".into()))?;
                        by_name.entry(name.clone()).or_insert(ordinal);
                        enumerants.push(name);
                    }
                    enums.insert(
                        id,
                        EnumInfo {
                            id,
                            name: names[&id].clone(),
                            enumerants,
                            by_name,
                        },
                    );
                }
                node::Interface(i) => {
                    interfaces.insert(id, build_interface(&names, n, i)?);
                }
                _ => {}
            }
        }
        drop(roots);
        drop(readers);
        // Resolve inherited methods.
        let ids: Vec<u64> = interfaces.keys().copied().collect();
        for id in ids {
            let mut methods = Vec::new();
            let mut seen = HashSet::new();
            let mut queue = std::collections::VecDeque::from([id]);
            while let Some(cur) = queue.pop_front() {
                if !seen.insert(cur) {
                    continue;
                }
                if let Some(info) = interfaces.get(&cur) {
                    methods.extend(info.own_methods.iter().cloned());
                    queue.extend(info.superclasses.iter().copied());
                }
            }
            if let Some(info) = interfaces.get_mut(&id) {
                info.methods = methods;
            }
        }
        Ok(SchemaSet {
            nodes,
            structs,
            enums,
            interfaces,
            names,
            groups,
            docs: IdMap::default(),
        })
    }

    /// Number of nodes in the set.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True if the set holds no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Ids of all nodes.
    pub fn node_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.nodes.keys().copied()
    }

    /// The raw node `id`: `schema.node(id)?.get()?` is a `node::Reader`.
    pub fn node(
        &self,
        id: u64,
    ) -> Result<message::TypedReader<impl message::ReaderSegments + '_, node::Owned>, SchemaError>
    {
        let words = self.nodes.get(&id).ok_or(SchemaError::UnknownNode {
            id,
            place: String::new(),
        })?;
        Ok(message::TypedReader::new(words_reader(words)))
    }

    /// The doc comment of node `id`, if the set was built from a
    /// `CodeGeneratorRequest` that had one ([`Self::from_code_generator_request`]).
    pub fn doc(&self, id: u64) -> Option<&str> {
        let doc = &self.docs.get(&id)?.doc;
        (!doc.is_empty()).then_some(&**doc)
    }

    /// The doc comment of member `index` of node `id`: a struct's field at
    /// that index of `Node.struct.fields`, an enumerant, or a method by
    /// ordinal.
    pub fn member_doc(&self, id: u64, index: usize) -> Option<&str> {
        let doc = self.docs.get(&id)?.members.get(index)?;
        (!doc.is_empty()).then_some(&**doc)
    }

    /// Short name of node `id` (`Color`, `Params`, …).
    pub fn name(&self, id: u64) -> Option<&str> {
        self.names.get(&id).map(|s| &**s)
    }

    /// The struct `id` (not a group).
    pub fn struct_info(&self, id: u64) -> Result<&StructInfo, SchemaError> {
        self.structs
            .get(&id)
            .ok_or_else(|| self.not_a("struct", id))
    }

    /// The enum `id`.
    pub fn enum_info(&self, id: u64) -> Result<&EnumInfo, SchemaError> {
        self.enums.get(&id).ok_or_else(|| self.not_a("enum", id))
    }

    /// The interface `id`.
    pub fn interface(&self, id: u64) -> Result<&InterfaceInfo, SchemaError> {
        self.interfaces
            .get(&id)
            .ok_or_else(|| self.not_a("interface", id))
    }

    /// Method `ordinal` declared by interface `interface_id`.
    pub fn method(&self, interface_id: u64, ordinal: u16) -> Result<&MethodInfo, SchemaError> {
        let iface = self.interface(interface_id)?;
        iface.own_methods.get(usize::from(ordinal)).ok_or_else(|| {
            SchemaError::Invalid(format!("interface {} has no method @{ordinal}", iface.name))
        })
    }

    fn not_a(&self, what: &str, id: u64) -> SchemaError {
        match self.names.get(&id) {
            None => SchemaError::UnknownNode {
                id,
                place: String::new(),
            },
            Some(name) if self.groups.contains(&id) => {
                SchemaError::Invalid(format!("{name} ({id:#018x}) is a group, not a {what}"))
            }
            Some(name) => SchemaError::Invalid(format!("{name} ({id:#018x}) is not a {what}")),
        }
    }

    /// Finds a node by its full display name, e.g. `file.capnp:Outer.Inner`.
    pub fn find_by_display_name(&self, name: &str) -> Option<u64> {
        self.nodes.iter().find_map(|(&id, words)| {
            let reader = words_reader(words);
            let n: node::Reader<'_> = reader.get_root().ok()?;
            (n.get_display_name().ok()?.as_bytes() == name.as_bytes()).then_some(id)
        })
    }

    /// Checks that everything reachable from interface `id` (its
    /// superclasses, its methods' param and result structs, their fields
    /// recursively, and any interface those mention) exists and is supported
    /// by the codec: no generics, no AnyPointer. Errors name the place, e.g.
    /// `Inventory.find: params.filter: AnyPointer is not supported`.
    pub fn check_interface(&self, id: u64) -> Result<(), SchemaError> {
        let mut checker = Checker {
            set: self,
            seen_structs: HashSet::new(),
            seen_enums: HashSet::new(),
            seen_interfaces: HashSet::new(),
            pending_interfaces: vec![(id, String::new())],
        };
        while let Some((iid, place)) = checker.pending_interfaces.pop() {
            checker.interface(iid, &place)?;
        }
        Ok(())
    }
}

fn build_interface(
    names: &IdMap<Box<str>>,
    n: node::Reader<'_>,
    i: node::interface::Reader<'_>,
) -> Result<InterfaceInfo, SchemaError> {
    let id = n.get_id();
    let name = names[&id].clone();
    let mut superclasses = Vec::new();
    let mut generic_superclass = false;
    for s in i.get_superclasses()? {
        generic_superclass |= is_branded(s.get_brand()?)?;
        superclasses.push(s.get_id());
    }
    let mut own_methods = Vec::new();
    for (ordinal, m) in i.get_methods()?.iter().enumerate() {
        let ordinal = u16::try_from(ordinal)
            .map_err(|_| SchemaError::Invalid(format!("interface {name} has too many methods")))?;
        let generic = !m.get_implicit_parameters()?.is_empty()
            || is_branded(m.get_param_brand()?)?
            || is_branded(m.get_result_brand()?)?;
        own_methods.push(MethodInfo {
            name: m.get_name()?.to_str().map_err(capnp::Error::from)?.into(),
            interface_id: id,
            interface_name: name.clone(),
            ordinal,
            param_struct: m.get_param_struct_type(),
            result_struct: m.get_result_struct_type(),
            generic,
        });
    }
    Ok(InterfaceInfo {
        id,
        name,
        display_name: n
            .get_display_name()?
            .to_str()
            .map_err(capnp::Error::from)?
            .into(),
        superclasses,
        generic_superclass,
        generic: n.get_is_generic() || !n.get_parameters()?.is_empty(),
        own_methods,
        methods: Vec::new(),
    })
}

fn build_struct(
    nodes: &IdMap<node::Reader<'_>>,
    names: &IdMap<Box<str>>,
    n: node::Reader<'_>,
    s: node::struct_::Reader<'_>,
) -> Result<StructInfo, SchemaError> {
    let id = n.get_id();
    let sizes = Sizes {
        data_bits: u64::from(s.get_data_word_count()) * 64,
        pointers: s.get_pointer_count(),
    };
    let mut stack = vec![id];
    let layout = build_layout(nodes, names, n, s, sizes, &mut stack)?;
    Ok(StructInfo {
        id,
        display_name: n
            .get_display_name()?
            .to_str()
            .map_err(capnp::Error::from)?
            .into(),
        data_words: s.get_data_word_count(),
        pointer_count: s.get_pointer_count(),
        layout,
        generic: n.get_is_generic() || !n.get_parameters()?.is_empty(),
    })
}

#[derive(Clone, Copy)]
struct Sizes {
    data_bits: u64,
    pointers: u16,
}

fn build_layout(
    nodes: &IdMap<node::Reader<'_>>,
    names: &IdMap<Box<str>>,
    n: node::Reader<'_>,
    s: node::struct_::Reader<'_>,
    sizes: Sizes,
    stack: &mut Vec<u64>,
) -> Result<Layout, SchemaError> {
    let id = n.get_id();
    let name = names[&id].clone();
    let invalid = |msg: String| SchemaError::Invalid(format!("{name}: {msg}"));
    let mut fields = Vec::new();
    let mut by_name = HashMap::new();
    let mut union_members = Vec::new();
    let discriminant_count = s.get_discriminant_count();
    let discriminant_offset = s.get_discriminant_offset();
    if discriminant_count > 0 && (u64::from(discriminant_offset) + 1) * 16 > sizes.data_bits {
        return Err(invalid(
            "union discriminant lies outside the data section".into(),
        ));
    }
    let mut raw_fields: Vec<field::Reader<'_>> = s.get_fields()?.iter().collect();
    raw_fields.sort_by_key(|f| f.get_code_order());
    for f in raw_fields {
        let fname: Box<str> = f.get_name()?.to_str().map_err(capnp::Error::from)?.into();
        let disc = f.get_discriminant_value();
        let discriminant = (disc != field::NO_DISCRIMINANT).then_some(disc);
        if discriminant.is_some() {
            if discriminant_count == 0 {
                return Err(invalid(format!(
                    "field {fname} is a union member of a struct without a union"
                )));
            }
            union_members.push(fname.to_string());
        }
        let kind = match f.which()? {
            field::Slot(slot) => {
                let ty = Type::from_reader(slot.get_type()?, 0)?;
                let offset = slot.get_offset();
                match ty.data_bits() {
                    Some(bits) => {
                        if (u64::from(offset) + 1) * u64::from(bits) > sizes.data_bits {
                            return Err(invalid(format!(
                                "field {fname} lies outside the data section"
                            )));
                        }
                    }
                    None => {
                        if offset >= u32::from(sizes.pointers) {
                            return Err(invalid(format!(
                                "field {fname} lies outside the pointer section"
                            )));
                        }
                    }
                }
                let default = if slot.has_default_value() {
                    default_value(&ty, slot.get_default_value()?)
                        .map_err(|e| invalid(format!("field {fname}: {e}")))?
                } else {
                    DefaultValue::None
                };
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                }
            }
            field::Group(g) => {
                let gid = g.get_type_id();
                if stack.contains(&gid) || stack.len() > MAX_SCHEMA_DEPTH {
                    return Err(invalid(format!(
                        "group {fname} nests recursively or too deep"
                    )));
                }
                let gnode = nodes.get(&gid).ok_or_else(|| SchemaError::UnknownNode {
                    id: gid,
                    place: format!("{name}.{fname}: "),
                })?;
                let gs = match gnode.which()? {
                    node::Struct(gs) if gs.get_is_group() => gs,
                    _ => {
                        return Err(invalid(format!(
                            "group {fname} does not refer to a group node"
                        )))
                    }
                };
                stack.push(gid);
                let layout = build_layout(nodes, names, *gnode, gs, sizes, stack)?;
                stack.pop();
                FieldKind::Group(Box::new(layout))
            }
        };
        if by_name.insert(fname.clone(), fields.len()).is_some() {
            return Err(invalid(format!("duplicate field name {fname}")));
        }
        fields.push(FieldInfo {
            name: fname,
            discriminant,
            kind,
        });
    }
    let required_groups = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.discriminant.is_none() && matches!(&f.kind, FieldKind::Group(g) if g.needs_union())
        })
        .map(|(i, _)| i)
        .collect();
    Ok(Layout {
        id,
        name,
        fields,
        by_name,
        discriminant_count,
        discriminant_offset,
        union_members: union_members.join(", ").into(),
        required_groups,
    })
}

/// Converts a schema `Value` into a default of type `ty`.
fn default_value(ty: &Type, v: value::Reader<'_>) -> Result<DefaultValue, String> {
    let mismatch = || format!("default value does not match type {}", ty.name());
    let w = v.which().map_err(|e| e.to_string())?;
    let bits = |b: u64| {
        if b == 0 {
            DefaultValue::None
        } else {
            DefaultValue::Bits(b)
        }
    };
    Ok(match (ty, w) {
        (Type::Void, value::Void(())) => DefaultValue::None,
        (Type::Bool, value::Bool(b)) => bits(u64::from(b)),
        (Type::Int8, value::Int8(x)) => bits(u64::from(x as u8)),
        (Type::Int16, value::Int16(x)) => bits(u64::from(x as u16)),
        (Type::Int32, value::Int32(x)) => bits(u64::from(x as u32)),
        (Type::Int64, value::Int64(x)) => bits(x as u64),
        (Type::UInt8, value::Uint8(x)) => bits(u64::from(x)),
        (Type::UInt16, value::Uint16(x)) => bits(u64::from(x)),
        (Type::UInt32, value::Uint32(x)) => bits(u64::from(x)),
        (Type::UInt64, value::Uint64(x)) => bits(x),
        (Type::Float32, value::Float32(x)) => bits(u64::from(x.to_bits())),
        (Type::Float64, value::Float64(x)) => bits(x.to_bits()),
        (Type::Enum(_), value::Enum(x)) => bits(u64::from(x)),
        (Type::Text, value::Text(t)) => {
            let t = t.map_err(|e| e.to_string())?;
            let s = t
                .to_str()
                .map_err(|e| format!("default text is not UTF-8: {e}"))?;
            if t.is_empty() && !v.has_text() {
                DefaultValue::None
            } else {
                DefaultValue::Text(s.into())
            }
        }
        (Type::Data, value::Data(d)) => {
            let d = d.map_err(|e| e.to_string())?;
            if !v.has_data() {
                DefaultValue::None
            } else {
                DefaultValue::Data(d.into())
            }
        }
        (Type::List(_), value::List(p)) | (Type::Struct(_), value::Struct(p)) => {
            if p.is_null() {
                DefaultValue::None
            } else {
                DefaultValue::Pointer(
                    to_words::<capnp::any_pointer::Owned, _>(p).map_err(|e| e.to_string())?,
                )
            }
        }
        (Type::Interface(_), value::Interface(())) => DefaultValue::None,
        (Type::Unsupported(_), _) => DefaultValue::None,
        _ => return Err(mismatch()),
    })
}

/// Walks an interface for [`SchemaSet::check_interface`].
struct Checker<'s> {
    set: &'s SchemaSet,
    seen_structs: HashSet<u64>,
    seen_enums: HashSet<u64>,
    seen_interfaces: HashSet<u64>,
    pending_interfaces: Vec<(u64, String)>,
}

impl Checker<'_> {
    fn unknown(id: u64, place: &str) -> SchemaError {
        let place = if place.is_empty() {
            String::new()
        } else {
            format!("{place}: ")
        };
        SchemaError::UnknownNode { id, place }
    }

    fn interface(&mut self, id: u64, place: &str) -> Result<(), SchemaError> {
        if !self.seen_interfaces.insert(id) {
            return Ok(());
        }
        let set = self.set;
        let Some(info) = set.interfaces.get(&id) else {
            return Err(match set.names.get(&id) {
                None => Self::unknown(id, place),
                Some(name) => SchemaError::Invalid(format!(
                    "{}{name} is not an interface",
                    if place.is_empty() {
                        String::new()
                    } else {
                        format!("{place}: ")
                    }
                )),
            });
        };
        if info.generic {
            return Err(SchemaError::Unsupported(format!(
                "{}: generic interfaces are not supported",
                info.name
            )));
        }
        if info.generic_superclass {
            return Err(SchemaError::Unsupported(format!(
                "{}: extends a generic interface instantiation; {}",
                info.name,
                Unsupported::Generic.message()
            )));
        }
        for &sup in &info.superclasses {
            self.pending_interfaces
                .push((sup, format!("{} extends", info.name)));
        }
        for m in &info.own_methods {
            let mplace = format!("{}.{}", info.name, m.name);
            if m.generic {
                return Err(SchemaError::Unsupported(format!(
                    "{mplace}: {}",
                    Unsupported::Generic.message()
                )));
            }
            self.root_struct(m.param_struct, &mplace, "params")?;
            self.root_struct(m.result_struct, &mplace, "results")?;
        }
        Ok(())
    }

    fn root_struct(&mut self, id: u64, method: &str, root: &str) -> Result<(), SchemaError> {
        let mut path = root.to_string();
        self.struct_(id, method, &mut path, 0)
    }

    fn struct_(
        &mut self,
        id: u64,
        method: &str,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if !self.seen_structs.insert(id) {
            return Ok(());
        }
        let set = self.set;
        let info = set
            .structs
            .get(&id)
            .ok_or_else(|| match set.names.get(&id) {
                None => Self::unknown(id, &format!("{method}: {path}")),
                Some(name) => {
                    SchemaError::Invalid(format!("{method}: {path}: {name} is not a struct"))
                }
            })?;
        if info.generic {
            return Err(SchemaError::Unsupported(format!(
                "{method}: {path}: {}",
                Unsupported::Generic.message()
            )));
        }
        self.layout(&info.layout, method, path, depth)
    }

    fn layout(
        &mut self,
        layout: &Layout,
        method: &str,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Unsupported(format!(
                "{method}: {path}: nesting too deep"
            )));
        }
        for f in &layout.fields {
            let len = path.len();
            path.push('.');
            path.push_str(&f.name);
            match &f.kind {
                FieldKind::Slot { ty, .. } => self.type_(ty, method, path, depth + 1)?,
                FieldKind::Group(g) => self.layout(g, method, path, depth + 1)?,
            }
            path.truncate(len);
        }
        Ok(())
    }

    fn type_(
        &mut self,
        ty: &Type,
        method: &str,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Unsupported(format!(
                "{method}: {path}: nesting too deep"
            )));
        }
        match ty {
            Type::Unsupported(u) => Err(SchemaError::Unsupported(format!(
                "{method}: {path}: {}",
                u.message()
            ))),
            Type::List(elem) => {
                let len = path.len();
                path.push_str("[]");
                self.type_(elem, method, path, depth + 1)?;
                path.truncate(len);
                Ok(())
            }
            Type::Struct(id) => self.struct_(*id, method, path, depth + 1),
            Type::Enum(id) => {
                if self.seen_enums.insert(*id) && !self.set.enums.contains_key(id) {
                    return Err(match self.set.names.get(id) {
                        None => Self::unknown(*id, &format!("{method}: {path}")),
                        Some(name) => {
                            SchemaError::Invalid(format!("{method}: {path}: {name} is not an enum"))
                        }
                    });
                }
                Ok(())
            }
            Type::Interface(id) => {
                if !self.seen_interfaces.contains(id) {
                    self.pending_interfaces
                        .push((*id, format!("{method}: {path}")));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnp::schema_capnp::code_generator_request;

    /// Builds nodes by hand and returns the set (or its error).
    fn build(
        f: impl FnOnce(capnp::struct_list::Builder<'_, node::Owned>),
    ) -> Result<SchemaSet, SchemaError> {
        build_n(4, f)
    }

    fn build_n(
        n: u32,
        f: impl FnOnce(capnp::struct_list::Builder<'_, node::Owned>),
    ) -> Result<SchemaSet, SchemaError> {
        let mut msg = message::Builder::new_default();
        f(msg
            .init_root::<code_generator_request::Builder<'_>>()
            .init_nodes(n));
        let req: code_generator_request::Reader<'_> = msg.get_root_as_reader().unwrap();
        SchemaSet::from_nodes(req.get_nodes().unwrap().iter())
    }

    fn name(n: &mut node::Builder<'_>, id: u64, display: &str) {
        n.set_id(id);
        n.set_display_name(display);
        n.set_display_name_prefix_length(display.find(':').map_or(0, |i| i + 1) as u32);
    }

    #[test]
    fn layout_names_defaults_and_unsupported_types() {
        let set = build(|mut nodes| {
            let mut n = nodes.reborrow().get(0);
            name(&mut n, 100, "f.capnp:Iface.m$Params");
            let mut st = n.init_struct();
            st.set_data_word_count(1);
            st.set_pointer_count(3);
            st.set_discriminant_count(2);
            st.set_discriminant_offset(3);
            let mut fields = st.init_fields(5);
            {
                let mut f = fields.reborrow().get(0);
                f.set_name("n");
                f.set_code_order(1);
                f.set_discriminant_value(field::NO_DISCRIMINANT);
                let mut slot = f.init_slot();
                slot.set_offset(1);
                slot.reborrow().init_type().set_int32(());
                slot.set_had_explicit_default(true);
                slot.init_default_value().set_int32(-5);
            }
            {
                let mut f = fields.reborrow().get(1);
                f.set_name("any");
                f.set_code_order(0);
                f.set_discriminant_value(field::NO_DISCRIMINANT);
                let mut slot = f.init_slot();
                slot.set_offset(0);
                slot.init_type()
                    .init_any_pointer()
                    .init_unconstrained()
                    .set_any_kind(());
            }
            {
                let mut f = fields.reborrow().get(2);
                f.set_name("gen");
                f.set_code_order(2);
                f.set_discriminant_value(field::NO_DISCRIMINANT);
                let mut slot = f.init_slot();
                slot.set_offset(1);
                let mut s = slot.init_type().init_struct();
                s.set_type_id(100);
                s.init_brand().init_scopes(1).get(0).set_scope_id(100);
            }
            {
                let mut f = fields.reborrow().get(3);
                f.set_name("a");
                f.set_code_order(3);
                f.set_discriminant_value(0);
                f.init_slot().init_type().set_void(());
            }
            {
                let mut f = fields.reborrow().get(4);
                f.set_name("b");
                f.set_code_order(4);
                f.set_discriminant_value(1);
                let mut slot = f.init_slot();
                slot.set_offset(2);
                slot.init_type()
                    .init_list()
                    .init_element_type()
                    .init_any_pointer()
                    .init_parameter();
            }
            let mut n = nodes.reborrow().get(1);
            name(&mut n, 101, "f.capnp:Color");
            let mut e = n.init_enum().init_enumerants(2);
            e.reborrow().get(0).set_name("red");
            e.reborrow().get(1).set_name("green");
            let mut n = nodes.reborrow().get(2);
            name(&mut n, 102, "f.capnp:Iface");
            let mut m = n.init_interface().init_methods(1).get(0);
            m.set_name("m");
            m.set_param_struct_type(100);
            m.set_result_struct_type(100);
            name(&mut nodes.reborrow().get(3), 103, "f.capnp");
        })
        .unwrap();
        let info = set.struct_info(100).unwrap();
        assert_eq!(info.name(), "Params");
        let names: Vec<&str> = info.layout.fields.iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["any", "n", "gen", "a", "b"], "code order");
        assert_eq!(&*info.layout.union_members, "a, b");
        assert_eq!(info.layout.discriminant_offset, 3);
        let n = info.layout.field("n").unwrap();
        assert!(
            matches!(n.kind, FieldKind::Slot { offset: 1, ty: Type::Int32, default: DefaultValue::Bits(b) } if b == u64::from(-5i32 as u32))
        );
        let ty = |f: &str| match &info.layout.field(f).unwrap().kind {
            FieldKind::Slot { ty, .. } => ty.clone(),
            FieldKind::Group(_) => unreachable!(),
        };
        assert_eq!(ty("any"), Type::Unsupported(Unsupported::AnyPointer));
        assert_eq!(ty("gen"), Type::Unsupported(Unsupported::Generic));
        assert_eq!(
            ty("b"),
            Type::List(Box::new(Type::Unsupported(Unsupported::Generic)))
        );
        let color = set.enum_info(101).unwrap();
        assert_eq!(&*color.name, "Color");
        assert_eq!(color.by_name["green"], 1);
        assert_eq!(set.name(103), Some("f.capnp"));
        assert_eq!(set.find_by_display_name("f.capnp:Iface"), Some(102));
        assert_eq!(set.method(102, 0).unwrap().param_struct, 100);
        assert_eq!(
            set.check_interface(102).unwrap_err().to_string(),
            "Iface.m: params.any: AnyPointer is not supported"
        );
        let err = set.struct_info(101).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid schema: Color (0x0000000000000065) is not a struct"
        );
        assert_eq!(
            set.struct_info(7).unwrap_err().to_string(),
            "unknown node id 0x0000000000000007"
        );
        assert!(format!("{set:?}").contains("structs: 1"));
    }

    #[test]
    fn malformed_nodes_are_errors() {
        // Default of the wrong type.
        let err = build_n(1, |mut nodes| {
            let mut n = nodes.reborrow().get(0);
            name(&mut n, 1, "f.capnp:S");
            let mut st = n.init_struct();
            st.set_data_word_count(1);
            let mut f = st.init_fields(1).get(0);
            f.set_name("x");
            f.set_discriminant_value(field::NO_DISCRIMINANT);
            let mut slot = f.init_slot();
            slot.reborrow().init_type().set_bool(());
            slot.init_default_value().set_text("no");
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid schema: S: field x: default value does not match type Bool"
        );
        // Pointer outside the pointer section, duplicate names, discriminant outside.
        let err = build_n(1, |mut nodes| {
            let mut n = nodes.reborrow().get(0);
            name(&mut n, 1, "f.capnp:S");
            let mut f = n.init_struct().init_fields(1).get(0);
            f.set_name("t");
            f.set_discriminant_value(field::NO_DISCRIMINANT);
            f.init_slot().init_type().set_text(());
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid schema: S: field t lies outside the pointer section"
        );
        let err = build_n(1, |mut nodes| {
            let mut n = nodes.reborrow().get(0);
            name(&mut n, 1, "f.capnp:S");
            let mut st = n.init_struct();
            st.set_discriminant_count(2);
            st.set_discriminant_offset(0);
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid schema: S: union discriminant lies outside the data section"
        );
        let err = build_n(2, |mut nodes| {
            name(&mut nodes.reborrow().get(0), 1, "a");
            name(&mut nodes.reborrow().get(1), 1, "b");
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid schema: duplicate node id 0x0000000000000001"
        );
        // Deeply nested list types are bounded, not a stack overflow.
        let err = build_n(1, |mut nodes| {
            let mut n = nodes.reborrow().get(0);
            name(&mut n, 1, "f.capnp:S");
            let mut st = n.init_struct();
            st.set_pointer_count(1);
            let mut f = st.init_fields(1).get(0);
            f.set_name("l");
            f.set_discriminant_value(field::NO_DISCRIMINANT);
            let mut t = f.init_slot().init_type();
            for _ in 0..200 {
                t = t.init_list().init_element_type();
            }
            t.set_int8(());
        });
        assert!(err.is_err());
    }

    #[test]
    fn id_hasher_spreads_ids() {
        let mut a = IdHasher::default();
        a.write_u64(1);
        let mut b = IdHasher::default();
        b.write_u64(2);
        assert_ne!(a.finish(), b.finish());
    }
}
