//! A worker's bindings as the MCP tool list a one-tool-per-method server
//! would publish: each method a tool `BINDING_METHOD` whose description is
//! the method's doc comment, whose `inputSchema` is its params and whose
//! `outputSchema` its results as JSON Schema (fields with their docs,
//! enums, unions as `oneOf`, lists, nested structs): the same information
//! as the declarations. `caplet types --mcp-tool-list` prints it, so the size of the
//! TypeScript declarations can be measured against it (BENCHMARKS.md).
//!
//! The other way round, [`inline_refs`] prepares the JSON Schemas of an
//! upstream MCP server's tools for declaring: nested models are `$ref`s
//! into `$defs` (as pydantic, and so the Python SDK, writes them), which
//! it writes out in place.

use serde_json::{json, Map, Value};

use crate::schema::{SchemaError, SchemaSet, Type};
use crate::typescript::{fields_of, EnvBinding, FieldType};

/// How deep nested structs are written out (recursive types stop here).
const MAX_DEPTH: usize = 8;

/// How many `$ref`s deep [`inline_refs`] writes a schema out; a deeper one
/// becomes `{}` (any value).
pub const MAX_REF_DEPTH: usize = 8;

/// How many JSON values [`inline_refs`] writes before it stops writing out
/// `$ref`s (those left become `{}`), so definitions that each use the next
/// several times cannot make a small schema grow without bound.
pub const MAX_INLINED_VALUES: usize = 20_000;

/// The `tools/list` result for `bindings`.
pub fn mcp_tool_list(
    bindings: &[EnvBinding<'_>],
    doc_sources: &[&SchemaSet],
) -> Result<Value, SchemaError> {
    let docs = Docs { doc_sources };
    let mut tools = Vec::new();
    for b in bindings {
        let info = b.schema.interface(b.interface_id)?;
        for m in &info.methods {
            let mut tool = Map::new();
            tool.insert("name".into(), json!(format!("{}_{}", b.name, m.name)));
            if let Some(doc) = docs.member(b.schema, m.interface_id, usize::from(m.ordinal)) {
                tool.insert("description".into(), json!(doc));
            }
            tool.insert(
                "inputSchema".into(),
                docs.object(b.schema, m.param_struct, 0)?,
            );
            tool.insert(
                "outputSchema".into(),
                docs.object(b.schema, m.result_struct, 0)?,
            );
            tools.push(Value::Object(tool));
        }
    }
    Ok(json!({ "tools": tools }))
}

struct Docs<'a> {
    doc_sources: &'a [&'a SchemaSet],
}

impl Docs<'_> {
    fn member<'s>(&'s self, schema: &'s SchemaSet, id: u64, index: usize) -> Option<&'s str> {
        schema.member_doc(id, index).or_else(|| {
            self.doc_sources
                .iter()
                .find_map(|s| s.member_doc(id, index))
        })
    }

    /// The JSON Schema of struct or group `id`.
    fn object(&self, schema: &SchemaSet, id: u64, depth: usize) -> Result<Value, SchemaError> {
        if depth > MAX_DEPTH {
            return Ok(json!({ "type": "object" }));
        }
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut variants = Vec::new();
        for (index, f) in fields_of(schema, id)? {
            let mut field = match &f.kind {
                FieldType::Group(g) => self.object(schema, *g, depth + 1)?,
                FieldType::Slot {
                    ty,
                    explicit_default,
                } => {
                    if !explicit_default && !f.union_member {
                        required.push(json!(f.name));
                    }
                    self.ty(schema, ty, depth + 1)?
                }
            };
            if let (Some(doc), Value::Object(map)) = (self.member(schema, id, index), &mut field) {
                map.insert("description".into(), json!(doc));
            }
            if f.union_member {
                variants.push(json!({
                    "type": "object",
                    "properties": { f.name.clone(): field },
                    "required": [f.name],
                }));
            } else {
                properties.insert(f.name, field);
            }
        }
        let mut out = Map::new();
        out.insert("type".into(), json!("object"));
        out.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            out.insert("required".into(), Value::Array(required));
        }
        if !variants.is_empty() {
            out.insert("oneOf".into(), Value::Array(variants));
        }
        Ok(Value::Object(out))
    }

    fn ty(&self, schema: &SchemaSet, ty: &Type, depth: usize) -> Result<Value, SchemaError> {
        Ok(match ty {
            Type::Void => json!({ "type": "null" }),
            Type::Bool => json!({ "type": "boolean" }),
            Type::Int8
            | Type::Int16
            | Type::Int32
            | Type::Int64
            | Type::UInt8
            | Type::UInt16
            | Type::UInt32
            | Type::UInt64 => json!({ "type": "integer" }),
            Type::Float32 | Type::Float64 => json!({ "type": "number" }),
            Type::Text => json!({ "type": "string" }),
            Type::Data => json!({ "type": "string", "contentEncoding": "base64" }),
            Type::List(inner) => {
                json!({ "type": "array", "items": self.ty(schema, inner, depth + 1)? })
            }
            Type::Enum(id) => {
                let names: Vec<&str> = schema
                    .enum_info(*id)?
                    .enumerants
                    .iter()
                    .map(|s| &**s)
                    .collect();
                json!({ "type": "string", "enum": names })
            }
            Type::Struct(id) => self.object(schema, *id, depth)?,
            Type::Interface(_) | Type::Unsupported(_) => json!({}),
        })
    }
}

/// `schema` (a JSON Schema object) with each `$ref` into the schema itself
/// (a JSON Pointer fragment such as `#/$defs/Address`) replaced by the
/// schema it points to, merged with the keywords beside it (`default`,
/// `description` …, which win), and without the root's `$defs` and
/// `definitions`. A `$ref` that is not such a fragment, points nowhere,
/// refers to a schema it is inside of (a recursive type), or is nested
/// deeper than [`MAX_REF_DEPTH`] or met after [`MAX_INLINED_VALUES`] values
/// were written, becomes `{}` with its siblings: any value (`unknown` in
/// TypeScript).
pub fn inline_refs(schema: &Map<String, Value>) -> Map<String, Value> {
    let root = Value::Object(schema.clone());
    let mut inliner = Inliner {
        root: &root,
        open: Vec::new(),
        budget: MAX_INLINED_VALUES,
    };
    let mut out = inliner.object(schema);
    out.remove("$defs");
    out.remove("definitions");
    out
}

struct Inliner<'a> {
    root: &'a Value,
    /// The `$ref`s being written out, outermost first.
    open: Vec<&'a str>,
    /// How many more values may be written before `$ref`s stop being
    /// written out.
    budget: usize,
}

impl<'a> Inliner<'a> {
    fn value(&mut self, value: &'a Value) -> Value {
        self.budget = self.budget.saturating_sub(1);
        match value {
            Value::Object(map) => Value::Object(self.object(map)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            other => other.clone(),
        }
    }

    fn object(&mut self, map: &'a Map<String, Value>) -> Map<String, Value> {
        let mut out = match map.get("$ref") {
            Some(Value::String(target)) => self.resolve(target),
            _ => Map::new(),
        };
        for (key, value) in map {
            if key != "$ref" {
                out.insert(key.clone(), self.value(value));
            }
        }
        out
    }

    /// What `$ref` `target` points to, written out.
    fn resolve(&mut self, target: &'a str) -> Map<String, Value> {
        let Some(pointer) = target.strip_prefix('#') else {
            return Map::new();
        };
        if self.budget == 0 || self.open.len() >= MAX_REF_DEPTH || self.open.contains(&target) {
            return Map::new();
        }
        let Some(Value::Object(found)) = self.root.pointer(pointer) else {
            return Map::new();
        };
        self.open.push(target);
        let mut out = self.object(found);
        self.open.pop();
        // Its own definitions are the root's: not part of the type.
        out.remove("$defs");
        out.remove("definitions");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inlined(schema: Value) -> Value {
        match schema {
            Value::Object(map) => Value::Object(inline_refs(&map)),
            _ => panic!("a schema object"),
        }
    }

    #[test]
    fn refs_into_defs_are_written_out_with_their_siblings() {
        // What pydantic writes for nested models and an enum class.
        let schema = json!({
            "$defs": {
                "Size": { "enum": ["small", "large"], "type": "string" },
                "Line": {
                    "type": "object",
                    "properties": {
                        "sku": { "type": "string" },
                        "size": { "$ref": "#/$defs/Size", "default": "small" }
                    },
                    "required": ["sku"]
                }
            },
            "type": "object",
            "properties": {
                "lines": { "type": "array", "items": { "$ref": "#/$defs/Line" } },
                "first": { "$ref": "#/$defs/Line", "description": "The first." },
                "old": { "$ref": "#/definitions/Old" }
            },
            "definitions": { "Old": { "type": "integer" } },
            "required": ["lines"]
        });
        let line = json!({
            "type": "object",
            "properties": {
                "sku": { "type": "string" },
                "size": { "enum": ["small", "large"], "type": "string", "default": "small" }
            },
            "required": ["sku"]
        });
        let mut first = line.clone();
        first["description"] = json!("The first.");
        assert_eq!(
            inlined(schema),
            json!({
                "type": "object",
                "properties": {
                    "lines": { "type": "array", "items": line },
                    "first": first,
                    "old": { "type": "integer" }
                },
                "required": ["lines"]
            })
        );
    }

    #[test]
    fn recursive_remote_and_dangling_refs_become_any_value() {
        let schema = json!({
            "$defs": {
                "a/b": { "type": "boolean" },
                "Node": {
                    "type": "object",
                    "properties": { "children": { "type": "array", "items": { "$ref": "#/$defs/Node" } } }
                }
            },
            "type": "object",
            "properties": {
                "tree": { "$ref": "#/$defs/Node" },
                "remote": { "$ref": "https://example.com/schema.json" },
                "dangling": { "$ref": "#/$defs/Nothing", "description": "Gone." },
                "escaped": { "$ref": "#/$defs/a~1b" }
            }
        });
        assert_eq!(
            inlined(schema)["properties"],
            json!({
                "tree": {
                    "type": "object",
                    "properties": { "children": { "type": "array", "items": {} } }
                },
                "remote": {},
                "dangling": { "description": "Gone." },
                "escaped": { "type": "boolean" }
            })
        );
    }

    #[test]
    fn definitions_that_multiply_stop_at_the_value_budget() {
        // D0 uses D1 twice, D1 uses D2 twice …: 2^8 copies of D8 if all
        // were written out, under the depth; the budget still holds.
        let mut defs = Map::new();
        for i in 0..MAX_REF_DEPTH {
            let next = json!({ "$ref": format!("#/$defs/D{}", i + 1) });
            let props: Map<String, Value> =
                (0..40).map(|k| (format!("p{k}"), next.clone())).collect();
            defs.insert(
                format!("D{i}"),
                json!({ "type": "object", "properties": props }),
            );
        }
        defs.insert(format!("D{MAX_REF_DEPTH}"), json!({ "type": "string" }));
        let schema = json!({ "$defs": defs, "$ref": "#/$defs/D0" });
        let out = inlined(schema);
        let text = out.to_string();
        assert!(text.len() < 1_000_000, "{}", text.len());
        // Written out as deep as the budget allows, then any value.
        assert_eq!(
            out["properties"]["p0"]["properties"]["p0"]["type"],
            "object"
        );
        assert!(text.contains("{}"), "{text:.200}");
    }
}
