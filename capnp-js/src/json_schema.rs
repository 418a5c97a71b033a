//! A worker's bindings as the MCP tool list a one-tool-per-method server
//! would publish: each method a tool `BINDING_METHOD` whose description is
//! the method's doc comment, whose `inputSchema` is its params and whose
//! `outputSchema` its results as JSON Schema (fields with their docs,
//! enums, unions as `oneOf`, lists, nested structs): the same information
//! as the declarations. `caplet types --mcp-tool-list` prints it, so the size of the
//! TypeScript declarations can be measured against it (BENCHMARKS.md).

use serde_json::{json, Map, Value};

use crate::schema::{SchemaError, SchemaSet, Type};
use crate::typescript::{fields_of, EnvBinding, FieldType};

/// How deep nested structs are written out (recursive types stop here).
const MAX_DEPTH: usize = 8;

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
