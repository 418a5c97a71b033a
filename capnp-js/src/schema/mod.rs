//! [`SchemaSet`]: an owned, validated set of Cap'n Proto schema nodes loaded
//! at run time, with precomputed struct layouts, enum tables and interface
//! method tables for the codec.
//!
//! The nodes may come from a hostile client, so everything here is bounded:
//! node counts, nesting depth, field offsets (checked against the struct's
//! size so the codec never writes outside a struct), and reference cycles.
//! A node id that is not in the set is an error, never a panic.
//!
//! Files: `types` holds the tables the codec reads (layouts, fields, types,
//! errors); `build` makes a set from nodes and computes them; `check`
//! refuses what the codec does not support. `build` and `check` use `types`
//! and this file's [`SchemaSet`]; neither uses the other.

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasherDefault;

use capnp::message;
use capnp::schema_capnp::node;

mod build;
mod check;
mod types;

pub use types::*;

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

impl SchemaSet {
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
}
