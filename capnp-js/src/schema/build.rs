//! Building a [`SchemaSet`]: copies the nodes (bounded in number), names
//! them, and computes every struct's layout (field offsets checked against
//! the struct's size), enum and interface tables and defaults.

use super::types::*;
use super::{NodeDocs, SchemaSet};

use std::collections::{HashMap, HashSet};

use std::hash::BuildHasherDefault;

use capnp::message::ReaderOptions;
use capnp::schema_capnp::{field, node, value};

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

#[cfg(test)]
mod tests {
    use super::*;
    use capnp::message;
    use capnp::schema_capnp::code_generator_request;
    use std::hash::Hasher;

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
