//! TypeScript declarations of a worker's `env` (`Broker.types`, `caplet
//! types`, `caplet mcp`): resolves each binding's interface schema as a
//! load would, and hands them to `caplet_capnp_js::typescript`, with the
//! built-in schemas (and their doc comments) always at hand.

use std::sync::{Arc, OnceLock};

use caplet::caplet_capnp::{binding, builtin_grant};
use caplet_capnp_js::compile::SchemaCompiler;
use caplet_capnp_js::schema::SchemaSet;
use caplet_capnp_js::typescript::{self, EnvBinding, Extra};
use capnp::traits::HasTypeId;

use crate::error::Error;

/// Every node of `schema/*.capnp`, with the doc comments of its source.
pub fn builtin_schema() -> Arc<SchemaSet> {
    static SET: OnceLock<Arc<SchemaSet>> = OnceLock::new();
    SET.get_or_init(|| {
        Arc::new(
            SchemaSet::from_code_generator_request(caplet::SCHEMA_NODES)
                .expect("the schemas compiled into caplet are valid"),
        )
    })
    .clone()
}

/// The interface a built-in of `kind` implements; `None` for `mcp`, whose
/// interface is made from its upstream's tools (`crate::upstream`).
pub fn builtin_interface(kind: builtin_grant::Kind) -> Option<u64> {
    match kind {
        builtin_grant::Kind::Fs => Some(caplet::fs_capnp::volume::Client::TYPE_ID),
        builtin_grant::Kind::Kv => Some(caplet::kv_capnp::store::Client::TYPE_ID),
        builtin_grant::Kind::Http => Some(caplet::http_capnp::gateway::Client::TYPE_ID),
        builtin_grant::Kind::Mcp => None,
    }
}

/// One binding to declare: its name, schema and interface.
#[derive(Debug, Clone)]
pub struct TypedBinding {
    pub name: String,
    pub schema: Arc<SchemaSet>,
    pub interface_id: u64,
}

/// The declarations for `bindings`, plus `extra` (bindings that are not
/// Cap'n Proto interfaces). Bindings are declared in the order of their
/// names, so the same grants give the same text however they are listed.
pub fn declarations(bindings: &[TypedBinding], extra: &Extra) -> Result<String, Error> {
    let mut sorted: Vec<&TypedBinding> = bindings.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let env: Vec<EnvBinding<'_>> = sorted
        .into_iter()
        .map(|b| EnvBinding {
            name: &b.name,
            schema: &b.schema,
            interface_id: b.interface_id,
        })
        .collect();
    typescript::declarations(&env, extra, &[&builtin_schema()])
        .map_err(|e| Error::Schema(e.to_string()))
}

/// The declarations for the bindings of a `WorkerCode.env` (`Broker.types`):
/// names and schemas are checked as `Broker.load` checks them; the
/// capabilities are not looked at (they may be null).
pub fn declarations_for_env(
    env: capnp::struct_list::Reader<'_, binding::Owned>,
    compiler: &SchemaCompiler,
) -> Result<String, Error> {
    let mut bindings: Vec<TypedBinding> = Vec::new();
    for (name, entry) in crate::bindings::entries(env)? {
        let interface = crate::bindings::resolve(
            entry.get_interface_schema()?,
            compiler,
            &format!("binding {name:?}"),
        )?;
        bindings.push(TypedBinding {
            name,
            schema: interface.set,
            interface_id: interface.interface_id,
        });
    }
    declarations(&bindings, &Extra::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtins() -> Vec<TypedBinding> {
        let set = builtin_schema();
        [
            ("fs", builtin_grant::Kind::Fs),
            ("kv", builtin_grant::Kind::Kv),
            ("fetch", builtin_grant::Kind::Http),
        ]
        .into_iter()
        .map(|(name, kind)| TypedBinding {
            name: name.into(),
            schema: set.clone(),
            interface_id: builtin_interface(kind).unwrap(),
        })
        .collect()
    }

    #[test]
    fn the_builtins_declarations_carry_docs_and_each_type_once() {
        let text = declarations(&builtins(), &Extra::default()).expect("declarations");
        assert!(text.contains("interface Env {\n"), "{text}");
        assert!(
            text.contains("  fetch: Gateway;\n  fs: Volume;\n  kv: Store;\n"),
            "{text}"
        );
        assert!(
            text.contains("interface Volume extends Capability {"),
            "{text}"
        );
        // fs.capnp and kv.capnp both have an `Entry`.
        assert!(text.contains("interface FsEntry {"), "{text}");
        assert!(text.contains("interface KvEntry {"), "{text}");
        assert_eq!(text.matches("interface FsEntry ").count(), 1);
        // A method's doc comment, an enum as a union of names, Data, UInt64.
        assert!(text.contains("kind: \"file\" | \"directory\""), "{text}");
        assert!(text.contains("content: Uint8Array"), "{text}");
        assert!(text.contains("bytes: bigint"), "{text}");
        assert!(text.contains("/**"), "{text}");
        // Granted as `fetch`, a gateway also gives the global fetch().
        assert!(text.contains("declare function fetch("), "{text}");
    }
}
