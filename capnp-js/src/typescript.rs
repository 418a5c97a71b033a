//! TypeScript declarations for a worker's `env`, generated from the
//! interface schemas of its bindings: what `caplet types` prints and
//! `Broker.types` answers, written for models to read, so compact.
//!
//! The declarations are a global script (no `import`/`export`): a worker
//! written in TypeScript names `Env` and `WorkerModule` once the file is
//! among `tsc`'s inputs. They follow the codec's mapping (crate docs):
//!
//! * an interface becomes a TS `interface` extending `Capability`; each
//!   method takes its params object and returns `Promise<Results>`. When the
//!   results hold capabilities (directly or in struct fields), the return
//!   type also carries those fields (`Promise<R> & { dir: Dir }`), so a
//!   pipelined chain such as `env.fs.open({ path }).dir.read({ name })`
//!   type-checks without an `await` between the calls;
//! * `Int64`/`UInt64` are `bigint` (a params field also takes a `number`),
//!   `Data` is `Uint8Array`, an enum is the union of its enumerants' names,
//!   a union is a union of one-member objects, a group a nested object;
//! * a params field with an explicit default in the schema is optional;
//!   a struct field of results may be `null` (a null pointer);
//! * method param and result structs are written inline; named structs once
//!   each, under their name (prefixed with their file's name when two share
//!   one);
//! * doc comments (a `CodeGeneratorRequest`'s `sourceInfo`, see
//!   [`SchemaSet::doc`]) become JSDoc.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use capnp::schema_capnp::{field, node};

use crate::schema::{SchemaError, SchemaSet, Type, MAX_SCHEMA_DEPTH};

/// One binding of a worker's `env`.
#[derive(Debug, Clone, Copy)]
pub struct EnvBinding<'a> {
    /// The property name under `env`.
    pub name: &'a str,
    /// The schema the binding's interface is in.
    pub schema: &'a SchemaSet,
    /// The interface the binding implements.
    pub interface_id: u64,
}

/// Declarations added to the generated ones for bindings that are not
/// Cap'n Proto interfaces (e.g. upstream MCP servers): `env.NAME: TYPE`,
/// with `decls` (whole declarations) written after the interfaces.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// `(binding, TS type, doc)` lines of `Env`.
    pub env: Vec<(String, String, String)>,
    /// Whole declarations, written as they are.
    pub decls: String,
}

/// The head of every declaration file: the worker's shape and caplet's
/// globals (ECMAScript's are referenced from TypeScript's own libraries).
const PRELUDE: &str = r#"/// <reference lib="es2022" />
/// <reference lib="esnext.disposable" />
/** A capability stub. Released by `[Symbol.dispose]()` or when the invocation ends. */
interface Capability { [Symbol.dispose](): void }
/** A failed capability call. */
declare class RpcError extends Error {
  private constructor();
  readonly type: "failed" | "overloaded" | "disconnected" | "unimplemented";
}
interface Console { log(...data: any[]): void; info(...data: any[]): void; warn(...data: any[]): void; error(...data: any[]): void; debug(...data: any[]): void }
declare var console: Console;
/** A worker's main module: `export default { async run(input, env, ctx) { … } } satisfies WorkerModule`. The result is returned as JSON. */
type WorkerModule = { run(input: any, env: Env, ctx: object): unknown } | ((input: any, env: Env, ctx: object) => unknown);
"#;

/// The global `fetch` of a worker granted an http gateway as `env.fetch`.
const FETCH: &str = r#"/** Fetch through `env.fetch` (its egress policy applies). */
declare function fetch(url: string, init?: { method?: string; headers?: Record<string, string> | [string, string][]; body?: string | Uint8Array | ArrayBuffer; redirect?: "follow" | "manual" | "error" }): Promise<FetchResponse>;
interface FetchResponse {
  status: number; ok: boolean; statusText: string; url: string; redirected: boolean;
  headers: { get(name: string): string | null; has(name: string): boolean };
  text(): Promise<string>; json(): Promise<any>; arrayBuffer(): Promise<ArrayBuffer>; bytes(): Promise<Uint8Array>;
}
"#;

/// The display name of the interface that gives a worker a global `fetch`
/// when granted as `env.fetch`.
const GATEWAY: &str = "http.capnp:Gateway";

/// Names the generated types never take.
/// (Also the globals of TypeScript's `dom` and `webworker` libraries, which
/// `tsc` may load too: an interface of the same name would merge with them.)
const RESERVED: &[&str] = &[
    "Request",
    "Response",
    "Headers",
    "Body",
    "URL",
    "URLSearchParams",
    "Blob",
    "File",
    "FormData",
    "Event",
    "EventTarget",
    "AbortSignal",
    "AbortController",
    "ReadableStream",
    "WritableStream",
    "TextEncoder",
    "TextDecoder",
    "Crypto",
    "Console",
    "Worker",
    "Storage",
    "Cache",
    "Location",
    "Navigator",
    "Node",
    "Document",
    "Element",
    "Text",
    "Range",
    "Selection",
    "Notification",
    "Performance",
    "Lock",
    "Window",
    "Client",
    "Clients",
    "MessagePort",
    "Env",
    "Capability",
    "RpcError",
    "WorkerModule",
    "FetchResponse",
    "Promise",
    "Error",
    "Record",
    "Uint8Array",
    "ArrayBuffer",
    "Object",
    "Array",
    "Map",
    "Set",
    "String",
    "Number",
    "Boolean",
    "Symbol",
    "Date",
    "JSON",
    "Math",
];

/// Which way a value travels, for the few types that differ.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dir {
    /// Params: written by JS.
    In,
    /// Results: read by JS.
    Out,
    /// A named struct, used both ways.
    Both,
}

/// Generates the declarations for `bindings` (plus `extra`). Doc comments
/// are looked up in each binding's schema, then in `doc_sources` (node ids
/// are unique, so a binding sent as compiled nodes still gets the docs of
/// a schema the caller knows, such as the built-ins').
pub fn declarations(
    bindings: &[EnvBinding<'_>],
    extra: &Extra,
    doc_sources: &[&SchemaSet],
) -> Result<String, SchemaError> {
    let mut gen = Gen {
        doc_sources,
        names: HashMap::new(),
        order: Vec::new(),
        seen: HashSet::new(),
    };
    for b in bindings {
        gen.collect_interface(b.schema, b.interface_id, 0)?;
    }
    gen.assign_names()?;

    let mut out = String::from(PRELUDE);
    let mut env = String::from(
        "/** The capabilities granted to this worker: all it can reach. */\ninterface Env {\n",
    );
    let mut fetch = false;
    for b in bindings {
        let name = gen.names[&b.interface_id].clone();
        let _ = writeln!(env, "  {}: {name};", prop(b.name));
        let display = b.schema.interface(b.interface_id)?.display_name.clone();
        fetch |= b.name == "fetch" && &*display == GATEWAY;
    }
    for (name, ty, doc) in &extra.env {
        jsdoc(&mut env, Some(doc), 1);
        let _ = writeln!(env, "  {}: {ty};", prop(name));
    }
    env.push_str("}\n");
    out.push_str(&env);
    if fetch {
        out.push_str(FETCH);
    }
    for &(id, schema) in &gen.order.clone() {
        gen.declare(&mut out, schema, id)?;
    }
    out.push_str(&extra.decls);
    Ok(out)
}

struct Gen<'a> {
    doc_sources: &'a [&'a SchemaSet],
    /// TS name of every named node (interfaces, named structs).
    names: HashMap<u64, String>,
    /// Named nodes in the order they were reached, with their schema.
    order: Vec<(u64, &'a SchemaSet)>,
    seen: HashSet<u64>,
}

/// Whether a struct is a method's implicit params/results struct
/// (`read$Params`), written inline.
pub(crate) fn is_implicit(schema: &SchemaSet, id: u64) -> Result<bool, SchemaError> {
    let reader = schema.node(id)?;
    let n = reader.get()?;
    Ok(n.get_scope_id() == 0 && n.get_display_name()?.as_bytes().contains(&b'$'))
}

/// The raw fields of struct or group `id`, in code order, with their index
/// in `Node.struct.fields` (the index of their doc comment).
pub(crate) fn fields_of(
    schema: &SchemaSet,
    id: u64,
) -> Result<Vec<(usize, FieldDesc)>, SchemaError> {
    let reader = schema.node(id)?;
    let n = reader.get()?;
    let node::Struct(s) = n.which()? else {
        return Err(SchemaError::Invalid(format!("{id:#018x} is not a struct")));
    };
    let mut fields = Vec::new();
    for (index, f) in s.get_fields()?.iter().enumerate() {
        let name: String = f.get_name()?.to_str().map_err(capnp::Error::from)?.into();
        let union_member = f.get_discriminant_value() != field::NO_DISCRIMINANT;
        let kind = match f.which()? {
            field::Slot(slot) => FieldType::Slot {
                ty: Type::from_reader(slot.get_type()?, 0)?,
                explicit_default: slot.get_had_explicit_default(),
            },
            field::Group(g) => FieldType::Group(g.get_type_id()),
        };
        fields.push((
            f.get_code_order(),
            index,
            FieldDesc {
                name,
                union_member,
                kind,
            },
        ));
    }
    fields.sort_by_key(|f| f.0);
    Ok(fields.into_iter().map(|(_, i, f)| (i, f)).collect())
}

pub(crate) struct FieldDesc {
    pub(crate) name: String,
    pub(crate) union_member: bool,
    pub(crate) kind: FieldType,
}

pub(crate) enum FieldType {
    Slot { ty: Type, explicit_default: bool },
    Group(u64),
}

impl<'a> Gen<'a> {
    /// The doc comment of node `id`: from its own schema, else from the
    /// doc sources.
    fn doc<'s>(&'s self, schema: &'s SchemaSet, id: u64) -> Option<&'s str> {
        schema
            .doc(id)
            .or_else(|| self.doc_sources.iter().find_map(|s| s.doc(id)))
    }

    /// The doc comment of member `index` of node `id` (as [`Self::doc`]).
    fn member_doc<'s>(&'s self, schema: &'s SchemaSet, id: u64, index: usize) -> Option<&'s str> {
        schema.member_doc(id, index).or_else(|| {
            self.doc_sources
                .iter()
                .find_map(|s| s.member_doc(id, index))
        })
    }

    fn collect_interface(
        &mut self,
        schema: &'a SchemaSet,
        id: u64,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if !self.seen.insert(id) {
            return Ok(());
        }
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Invalid("interfaces nest too deep".into()));
        }
        self.order.push((id, schema));
        let info = schema.interface(id)?;
        for &sup in &info.superclasses {
            if schema.interface(sup).is_ok() {
                self.collect_interface(schema, sup, depth + 1)?;
            }
        }
        for m in &info.own_methods {
            for sid in [m.param_struct, m.result_struct] {
                if is_implicit(schema, sid)? {
                    self.collect_struct_fields(schema, sid, depth + 1)?;
                } else {
                    self.collect_struct(schema, sid, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    fn collect_struct(
        &mut self,
        schema: &'a SchemaSet,
        id: u64,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if !self.seen.insert(id) {
            return Ok(());
        }
        self.order.push((id, schema));
        self.collect_struct_fields(schema, id, depth + 1)
    }

    fn collect_struct_fields(
        &mut self,
        schema: &'a SchemaSet,
        id: u64,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(SchemaError::Invalid("structs nest too deep".into()));
        }
        for (_, f) in fields_of(schema, id)? {
            match f.kind {
                FieldType::Group(g) => self.collect_struct_fields(schema, g, depth + 1)?,
                FieldType::Slot { ty, .. } => self.collect_type(schema, &ty, depth + 1)?,
            }
        }
        Ok(())
    }

    fn collect_type(
        &mut self,
        schema: &'a SchemaSet,
        ty: &Type,
        depth: usize,
    ) -> Result<(), SchemaError> {
        match ty {
            Type::List(inner) => self.collect_type(schema, inner, depth + 1),
            Type::Struct(id) => self.collect_struct(schema, *id, depth),
            Type::Interface(id) => self.collect_interface(schema, *id, depth),
            _ => Ok(()),
        }
    }

    /// Gives every named node its TS name: the display name's path with the
    /// dots removed (`Entry.Kind` → `EntryKind`), prefixed with the file's
    /// stem (`KvEntry`) when two nodes, or a reserved name, would share it.
    fn assign_names(&mut self) -> Result<(), SchemaError> {
        let mut plain: Vec<(u64, String, String)> = Vec::new();
        for &(id, schema) in &self.order {
            let reader = schema.node(id)?;
            let display = reader.get()?.get_display_name()?;
            let display = display.to_str().map_err(capnp::Error::from)?;
            let (file, path) = display.split_once(':').unwrap_or(("", display));
            let base: String = path.split('.').collect();
            let stem = file
                .rsplit('/')
                .next()
                .unwrap_or(file)
                .trim_end_matches(".capnp");
            plain.push((id, ident(&base), ident(&pascal(stem))));
        }
        let mut count: HashMap<&str, usize> = HashMap::new();
        for (_, base, _) in &plain {
            *count.entry(base.as_str()).or_default() += 1;
        }
        let mut taken: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
        for (id, base, stem) in &plain {
            let mut name = if count[base.as_str()] > 1 || RESERVED.contains(&base.as_str()) {
                format!("{stem}{base}")
            } else {
                base.clone()
            };
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{base}{n}");
                n += 1;
            }
            taken.insert(name.clone());
            self.names.insert(*id, name);
        }
        Ok(())
    }

    /// Writes the declaration of named node `id`.
    fn declare(&self, out: &mut String, schema: &SchemaSet, id: u64) -> Result<(), SchemaError> {
        let name = &self.names[&id];
        jsdoc(out, self.doc(schema, id), 0);
        if let Ok(info) = schema.interface(id) {
            let mut supers: Vec<&str> = info
                .superclasses
                .iter()
                .filter_map(|s| self.names.get(s).map(String::as_str))
                .collect();
            if supers.is_empty() {
                supers.push("Capability");
            }
            let _ = writeln!(out, "interface {name} extends {} {{", supers.join(", "));
            for (ordinal, m) in info.own_methods.iter().enumerate() {
                let doc = self.member_doc(schema, id, ordinal);
                jsdoc(out, doc, 1);
                let params = if is_implicit(schema, m.param_struct)? {
                    let body = self.object(schema, m.param_struct, Dir::In, 1)?;
                    (body != "{}").then(|| {
                        let optional = fields_of(schema, m.param_struct)
                            .map(|fs| {
                                fs.iter().all(|(_, f)| {
                                    matches!(
                                        f.kind,
                                        FieldType::Slot {
                                            explicit_default: true,
                                            ..
                                        }
                                    )
                                })
                            })
                            .unwrap_or(false);
                        format!("params{}: {body}", if optional { "?" } else { "" })
                    })
                } else {
                    Some(format!("params: {}", self.names[&m.param_struct]))
                };
                let results = if is_implicit(schema, m.result_struct)? {
                    self.object(schema, m.result_struct, Dir::Out, 1)?
                } else {
                    self.names[&m.result_struct].clone()
                };
                let pipeline = self.pipeline(schema, m.result_struct, 0)?;
                let ret = match pipeline {
                    Some(p) => format!("Promise<{results}> & {p}"),
                    None => format!("Promise<{results}>"),
                };
                let _ = writeln!(
                    out,
                    "  {}({}): {ret};",
                    prop(&m.name),
                    params.unwrap_or_default()
                );
            }
            out.push_str("}\n");
        } else {
            let body = self.object(schema, id, Dir::Both, 0)?;
            if body.starts_with('{') && !body.contains("} | {") {
                let _ = writeln!(out, "interface {name} {body}");
            } else {
                let _ = writeln!(out, "type {name} = {body};");
            }
        }
        Ok(())
    }

    /// The object type of struct or group `id`, written at `indent`.
    fn object(
        &self,
        schema: &SchemaSet,
        id: u64,
        dir: Dir,
        indent: usize,
    ) -> Result<String, SchemaError> {
        let fields = fields_of(schema, id)?;
        let mut common = Vec::new();
        let mut members = Vec::new();
        let mut documented = false;
        for (index, f) in &fields {
            let doc = self.member_doc(schema, id, *index);
            documented |= doc.is_some();
            let (ty, optional) = match &f.kind {
                FieldType::Group(g) => (self.object(schema, *g, dir, indent + 1)?, false),
                FieldType::Slot {
                    ty,
                    explicit_default,
                } => {
                    let mut t = self.ty(ty, dir)?;
                    if dir == Dir::Out && matches!(ty, Type::Struct(_) | Type::Interface(_)) {
                        t.push_str(" | null");
                    }
                    (t, *explicit_default && dir != Dir::Out)
                }
            };
            let q = if optional { "?" } else { "" };
            let line = (doc, format!("{}{q}: {ty}", prop(&f.name)));
            if f.union_member {
                members.push(line);
            } else {
                common.push(line);
            }
        }
        let block = |lines: &[(Option<&str>, String)]| -> String {
            if lines.is_empty() {
                return "{}".into();
            }
            if !documented && lines.iter().map(|l| l.1.len() + 2).sum::<usize>() < 80 {
                let items: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
                return format!("{{ {} }}", items.join("; "));
            }
            let mut s = String::from("{\n");
            for (doc, line) in lines {
                jsdoc(&mut s, *doc, indent + 1);
                let _ = writeln!(s, "{}{line};", "  ".repeat(indent + 1));
            }
            let _ = write!(s, "{}}}", "  ".repeat(indent));
            s
        };
        let union: Vec<String> = members
            .iter()
            .map(|m| block(std::slice::from_ref(m)))
            .collect();
        Ok(match (common.is_empty(), union.is_empty()) {
            (_, true) => block(&common),
            (true, false) => union.join(" | "),
            (false, false) => format!("{} & ({})", block(&common), union.join(" | ")),
        })
    }

    /// The capability fields of results struct `id` (and of its struct
    /// fields), as an object type, or `None` when it holds none.
    fn pipeline(
        &self,
        schema: &SchemaSet,
        id: u64,
        depth: usize,
    ) -> Result<Option<String>, SchemaError> {
        if depth > 8 {
            return Ok(None);
        }
        let mut parts = Vec::new();
        for (_, f) in fields_of(schema, id)? {
            if f.union_member {
                continue;
            }
            let part = match &f.kind {
                FieldType::Slot {
                    ty: Type::Interface(i),
                    ..
                } => Some(self.names[i].clone()),
                FieldType::Slot {
                    ty: Type::Struct(s),
                    ..
                } => self.pipeline(schema, *s, depth + 1)?,
                FieldType::Group(g) => self.pipeline(schema, *g, depth + 1)?,
                FieldType::Slot { .. } => None,
            };
            if let Some(part) = part {
                parts.push(format!("{}: {part}", prop(&f.name)));
            }
        }
        Ok((!parts.is_empty()).then(|| format!("{{ {} }}", parts.join("; "))))
    }

    fn ty(&self, ty: &Type, dir: Dir) -> Result<String, SchemaError> {
        Ok(match ty {
            Type::Void => "null".into(),
            Type::Bool => "boolean".into(),
            Type::Int8
            | Type::Int16
            | Type::Int32
            | Type::UInt8
            | Type::UInt16
            | Type::UInt32
            | Type::Float32
            | Type::Float64 => "number".into(),
            Type::Int64 | Type::UInt64 if dir == Dir::In => "bigint | number".into(),
            Type::Int64 | Type::UInt64 => "bigint".into(),
            Type::Text => "string".into(),
            Type::Data => "Uint8Array".into(),
            Type::List(inner) => {
                let t = self.ty(inner, dir)?;
                if t.contains(' ') {
                    format!("({t})[]")
                } else {
                    format!("{t}[]")
                }
            }
            Type::Enum(id) => {
                let mut names = Vec::new();
                for s in self.enum_names(*id)? {
                    names.push(format!("{s:?}"));
                }
                names.join(" | ")
            }
            Type::Struct(id) | Type::Interface(id) => self
                .names
                .get(id)
                .cloned()
                .unwrap_or_else(|| "unknown".into()),
            Type::Unsupported(_) => "unknown".into(),
        })
    }

    fn enum_names(&self, id: u64) -> Result<Vec<String>, SchemaError> {
        for &(_, schema) in &self.order {
            if let Ok(e) = schema.enum_info(id) {
                return Ok(e.enumerants.iter().map(|s| s.to_string()).collect());
            }
        }
        Err(SchemaError::UnknownNode {
            id,
            place: "enum".into(),
        })
    }
}

/// Writes `doc` as JSDoc at `indent` (nothing if there is none).
fn jsdoc(out: &mut String, doc: Option<&str>, indent: usize) {
    let Some(doc) = doc.map(str::trim).filter(|d| !d.is_empty()) else {
        return;
    };
    let pad = "  ".repeat(indent);
    let doc = doc.replace("*/", "*\\/");
    let lines: Vec<&str> = doc.lines().map(str::trim_end).collect();
    if lines.len() == 1 {
        let _ = writeln!(out, "{pad}/** {} */", lines[0].trim());
        return;
    }
    let _ = writeln!(out, "{pad}/**");
    for line in lines {
        if line.trim().is_empty() {
            let _ = writeln!(out, "{pad} *");
        } else {
            // capnp doc comments keep one leading space per line.
            let _ = writeln!(out, "{pad} * {}", line.strip_prefix(' ').unwrap_or(line));
        }
    }
    let _ = writeln!(out, "{pad} */");
}

/// A property name, quoted when it is not an identifier.
fn prop(name: &str) -> String {
    if is_ident(name) {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `name` made a TS identifier (anything else becomes `_`).
fn ident(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        format!("_{s}")
    } else {
        s
    }
}

/// `http-api` → `HttpApi`.
fn pascal(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}
