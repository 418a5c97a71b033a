//! TypeScript declarations of a worker's `env` (`Broker.types`, `caplet
//! types`, `caplet mcp`): resolves each binding's interface schema as a
//! load would, and hands them to `caplet_capnp_js::typescript`, with the
//! built-in schemas (and their doc comments) always at hand. An upstream
//! MCP server's tools are declared from their JSON Schemas instead
//! ([`UpstreamBinding`]), with their `$ref`s written out.

use std::sync::{Arc, OnceLock};

use caplet::caplet_capnp::{binding, builtin_grant};
use caplet_capnp_js::compile::SchemaCompiler;
use caplet_capnp_js::json_schema::inline_refs;
use caplet_capnp_js::schema::SchemaSet;
use caplet_capnp_js::typescript::{self, EnvBinding, Extra};
use capnp::traits::HasTypeId;
use rmcp::model::Tool;

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

/// The tools of upstream MCP server `server` granted as binding `name`:
/// declared as a `…Tools` interface whose methods take and answer the
/// JSON values their schemas describe (what the worker sees), not as the
/// `ToolCall`/`ToolResult` interface the broker made of them.
#[derive(Debug, Clone)]
pub struct UpstreamBinding {
    pub name: String,
    pub server: String,
    pub tools: Vec<Tool>,
}

/// The declarations for `bindings` and `upstreams`.
pub fn declarations_with_upstreams(
    bindings: &[TypedBinding],
    upstreams: &[UpstreamBinding],
) -> Result<String, Error> {
    let mut sorted: Vec<&UpstreamBinding> = upstreams.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut extra = Extra::default();
    let mut taken = std::collections::HashSet::new();
    for up in sorted {
        let tools: Vec<Tool> = up.tools.iter().map(refs_inlined).collect();
        // Bindings whose names differ only in punctuation (`my_calc`,
        // `my-calc`) get `MyCalcTools`, `MyCalcTools2`, … rather than one
        // merged interface.
        let base = crate::upstream::type_name(&up.name);
        let type_name = std::iter::once(base.clone())
            .chain((2..).map(|n| format!("{base}{n}")))
            .find(|name| !taken.contains(name))
            .unwrap_or(base);
        taken.insert(type_name.clone());
        let decls = crate::upstream::declarations(&up.server, &type_name, tools.iter());
        extra.env.push((
            up.name.clone(),
            type_name,
            format!("The tools of the MCP server `{}`.", up.server),
        ));
        extra.decls.push_str(&decls);
    }
    declarations(bindings, &extra)
}

/// `tool` with the `$ref`s of its schemas written out (nested models, as
/// pydantic writes them), so they are declared as the types they name.
fn refs_inlined(tool: &Tool) -> Tool {
    let mut tool = tool.clone();
    tool.input_schema = Arc::new(inline_refs(&tool.input_schema));
    tool.output_schema = tool.output_schema.map(|s| Arc::new(inline_refs(&s)));
    tool
}

/// The upstream MCP server whose tools binding `b`'s interface claims to
/// be (its display name, `mcp:NAME`: see
/// [`crate::upstream::interface_schema`]). Anyone can name an interface so:
/// the caller checks it against that server's.
pub fn upstream_server(b: &TypedBinding) -> Option<String> {
    let node = b.schema.node(b.interface_id).ok()?;
    let node = node.get().ok()?;
    let name = node.get_display_name().ok()?.to_str().ok()?;
    name.strip_prefix("mcp:").map(str::to_string)
}

/// The bindings of a `WorkerCode.env` (`Broker.types`), resolved: names
/// and schemas are checked as `Broker.load` checks them; the capabilities
/// are not looked at (they may be null).
pub fn env_bindings(
    env: capnp::struct_list::Reader<'_, binding::Owned>,
    compiler: &SchemaCompiler,
) -> Result<Vec<TypedBinding>, Error> {
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
    Ok(bindings)
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
    fn upstreams_whose_binding_names_normalise_alike_get_distinct_types() {
        let tool = |name: &str| {
            let schema = serde_json::json!({ "type": "object" });
            let serde_json::Value::Object(schema) = schema else {
                unreachable!()
            };
            Tool::new(name.to_string(), String::new(), Arc::new(schema))
        };
        let upstreams = [("my_calc", "calc", "add"), ("my-calc", "other", "sub")].map(
            |(name, server, tool_name)| UpstreamBinding {
                name: name.into(),
                server: server.into(),
                tools: vec![tool(tool_name)],
            },
        );
        let text = declarations_with_upstreams(&[], &upstreams).expect("declarations");
        assert_eq!(text.matches("interface MyCalcTools {").count(), 1, "{text}");
        assert_eq!(
            text.matches("interface MyCalcTools2 {").count(),
            1,
            "{text}"
        );
        assert!(text.contains("  \"my-calc\": MyCalcTools;\n"), "{text}");
        assert!(text.contains("  my_calc: MyCalcTools2;\n"), "{text}");
        let (first, second) = text.split_once("interface MyCalcTools2 {").expect("both");
        assert!(
            first.contains("sub(args") && !first.contains("add(args"),
            "{text}"
        );
        assert!(
            second.contains("add(args") && !second.contains("sub(args"),
            "{text}"
        );
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
