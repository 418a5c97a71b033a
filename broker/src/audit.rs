//! What a set of grants can reach (`caplet audit`): the transitive closure
//! of interfaces through capability-typed params, results, struct fields,
//! lists and unions; the effective policies of built-ins; the worker's
//! limits against the broker's maxima; the principal's quotas. And the
//! difference between two such reports, for gating changes in CI.
//!
//! The report is JSON of a stable shape (documented in the README,
//! "Auditing what a worker can reach"); [`markdown`] renders it for people.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use caplet_capnp_js::schema::{FieldKind, Layout, SchemaSet, Type, Unsupported};
use egress::{HostPattern, Policy};
use serde_json::{json, Value};

use crate::limits::LimitPolicy;
use crate::quota::Quotas;

use caplet_egress as egress;

/// What a built-in grant is, for its policy in the report.
#[derive(Debug, Clone)]
pub enum BuiltinPolicy {
    /// A volume: its name, whether read-only, its quota.
    Fs {
        volume: String,
        read_only: bool,
        max_bytes: u64,
        max_entries: u64,
    },
    /// A key/value store.
    Kv { store: String },
    /// An http gateway bound to a named policy.
    Http { name: String, policy: Box<Policy> },
    /// An upstream MCP server: its name, its command and the names of the
    /// variables set for it, or its URL and the names of the headers sent
    /// to it (never their values) and, when it was asked, its tools as
    /// `{name, description, input_schema}`.
    Mcp {
        server: String,
        command: Vec<String>,
        env: Vec<String>,
        url: Option<String>,
        headers: Vec<String>,
        tools: Vec<Value>,
    },
}

/// One binding to audit.
#[derive(Debug, Clone)]
pub struct AuditBinding {
    pub name: String,
    pub schema: Arc<SchemaSet>,
    pub interface_id: u64,
    pub builtin: Option<BuiltinPolicy>,
    /// `Binding.budget` as `Grant::budget` describes it (`None`: none).
    pub budget: Option<Value>,
}

/// The report of everything `bindings` can reach, with `limits` (the
/// worker's effective limits, checked against `policy`'s maxima) and the
/// principal's `quotas`.
pub fn report(
    bindings: &[AuditBinding],
    limits: &crate::limits::Limits,
    policy: &LimitPolicy,
    quotas: &Quotas,
) -> Value {
    let mut walk = Walk::default();
    let mut out_bindings = Vec::new();
    for binding in bindings {
        let mut entry = json!({
            "name": binding.name,
            "interface": interface_name(&binding.schema, binding.interface_id),
        });
        if let Some(builtin) = &binding.builtin {
            let (kind, policy) = builtin_json(builtin);
            entry["kind"] = json!(kind);
            entry["policy"] = policy;
        }
        if let Some(budget) = &binding.budget {
            entry["budget"] = budget.clone();
        }
        out_bindings.push(entry);
        walk.queue.push_back((
            binding.schema.clone(),
            binding.interface_id,
            format!("env.{}", binding.name),
        ));
    }
    walk.run();
    let (l, m) = (limits, &policy.maxima);
    let limit = |value: u64, max: u64| json!({ "value": value, "max": max });
    json!({
        "bindings": out_bindings,
        "interfaces": walk.interfaces,
        "flags": walk.flags,
        "limits": {
            "memoryBytes": limit(l.memory_bytes, m.memory_bytes),
            "cpuTimeMs": limit(l.cpu_time_ms.into(), m.cpu_time_ms.into()),
            "wallTimeMs": limit(l.wall_time_ms.into(), m.wall_time_ms.into()),
            "stackBytes": limit(l.stack_bytes.into(), m.stack_bytes.into()),
            "moduleBytes": limit(l.module_bytes, m.module_bytes),
            "outputBytes": limit(l.output_bytes, m.output_bytes),
            "logBytes": limit(l.log_bytes, m.log_bytes),
            "subrequests": limit(l.subrequests.into(), m.subrequests.into()),
            "callsInFlight": limit(l.calls_in_flight.into(), m.calls_in_flight.into()),
            "pendingTimers": limit(l.pending_timers.into(), m.pending_timers.into()),
        },
        "quotas": {
            "workers": quotas.workers,
            "cached_ids": quotas.cached_ids,
            "memory_bytes": quotas.memory_bytes,
            "connections": quotas.connections,
        },
    })
}

fn builtin_json(builtin: &BuiltinPolicy) -> (&'static str, Value) {
    match builtin {
        BuiltinPolicy::Fs {
            volume,
            read_only,
            max_bytes,
            max_entries,
        } => (
            "fs",
            json!({
                "volume": volume,
                "read_only": read_only,
                "quota": { "max_bytes": max_bytes, "max_entries": max_entries },
            }),
        ),
        BuiltinPolicy::Kv { store } => ("kv", json!({ "store": store })),
        BuiltinPolicy::Mcp {
            server,
            command,
            env,
            url: Some(url),
            headers,
            tools,
        } if command.is_empty() && env.is_empty() => (
            "mcp",
            json!({ "server": server, "url": url, "headers": headers, "tools": tools }),
        ),
        BuiltinPolicy::Mcp {
            server,
            command,
            env,
            tools,
            ..
        } => (
            "mcp",
            json!({ "server": server, "command": command, "env": env, "tools": tools }),
        ),
        BuiltinPolicy::Http { name, policy } => {
            let host = |h: &HostPattern| match h {
                HostPattern::Exact(name) => name.clone(),
                HostPattern::Subdomains(suffix) => format!("*.{suffix}"),
                HostPattern::Any => "*".to_string(),
            };
            let l = &policy.limits;
            (
                "http",
                json!({
                    "policy": name,
                    "hosts": policy.hosts.iter().map(host).collect::<Vec<_>>(),
                    "ports": policy.ports,
                    "methods": policy.methods,
                    "path_prefixes": policy.path_prefixes,
                    "allow_ranges": policy.allowed_ranges.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                    // Names only: values stay in the broker.
                    "credentials": policy.credentials.iter().map(|c| json!({
                        "host": host(&c.host),
                        "header": c.header.as_str(),
                    })).collect::<Vec<_>>(),
                    "extra_ca_certificates": policy.ca_certificates.len(),
                    "limits": {
                        "max_response_bytes": l.max_response_bytes,
                        "max_request_bytes": l.max_request_bytes,
                        "max_response_headers": l.max_response_headers,
                        "max_request_headers": l.max_request_headers,
                        "total_time_ms": l.total_time.as_millis() as u64,
                        "max_redirects": l.max_redirects,
                    },
                }),
            )
        }
    }
}

fn interface_name(schema: &SchemaSet, id: u64) -> String {
    schema
        .interface(id)
        .map(|i| i.display_name.to_string())
        .unwrap_or_else(|_| format!("{id:#x}"))
}

/// The breadth-first walk over interfaces.
#[derive(Default)]
struct Walk {
    queue: VecDeque<(Arc<SchemaSet>, u64, String)>,
    seen: HashSet<u64>,
    /// Interfaces flagged for having no schema (once each).
    unknown: HashSet<u64>,
    interfaces: Vec<Value>,
    flags: Vec<Value>,
}

impl Walk {
    fn flag(&mut self, kind: &str, place: String) {
        self.flags.push(json!({ "kind": kind, "where": place }));
    }

    fn run(&mut self) {
        while let Some((schema, id, path)) = self.queue.pop_front() {
            if self.seen.contains(&id) {
                continue;
            }
            let Ok(info) = schema.interface(id) else {
                // Another binding's schema may still describe it.
                if self.unknown.insert(id) {
                    self.flag(
                        "untyped_capability",
                        format!("{path}: interface {id:#x} has no schema"),
                    );
                }
                continue;
            };
            self.seen.insert(id);
            for superclass in &info.superclasses {
                if schema.interface(*superclass).is_err() {
                    self.flag(
                        "untyped_capability",
                        format!("{path}: superclass {superclass:#x} has no schema"),
                    );
                }
            }
            let name = info.display_name.to_string();
            if info.generic || info.generic_superclass {
                self.flag("generic", name.clone());
            }
            let mut methods = Vec::new();
            for method in &info.methods {
                let place = format!("{}.{}", method.interface_name, method.name);
                let doc = schema.member_doc(method.interface_id, method.ordinal.into());
                if doc.is_none() {
                    self.flag("undocumented_method", place.clone());
                }
                if method.generic {
                    self.flag("generic", place.clone());
                }
                let call = format!("{path}.{}", method.name);
                let params = self.fields(
                    &schema,
                    method.param_struct,
                    &format!("{call}(params)"),
                    &place,
                );
                let results =
                    self.fields(&schema, method.result_struct, &format!("{call}()"), &place);
                methods.push(json!({
                    "name": method.name.to_string(),
                    "params": params,
                    "results": results,
                    "doc": doc.unwrap_or_default(),
                }));
            }
            self.interfaces.push(json!({
                "name": name,
                "id": format!("{id:#018x}"),
                "doc": schema.doc(id).unwrap_or_default(),
                "methods": methods,
                "reached_by": path,
            }));
        }
    }

    /// The signature of struct `id`'s fields, `(a :Text, b :Dir)`; queues
    /// every interface reachable through them (at any depth) with its path.
    fn fields(&mut self, schema: &Arc<SchemaSet>, id: u64, path: &str, place: &str) -> String {
        let Ok(info) = schema.struct_info(id) else {
            return "(?)".into();
        };
        let signature = render_layout(schema, &info.layout);
        let mut structs = HashSet::from([id]);
        self.reach_layout(schema, &info.layout, path, place, &mut structs);
        signature
    }

    fn reach_layout(
        &mut self,
        schema: &Arc<SchemaSet>,
        layout: &Layout,
        path: &str,
        place: &str,
        structs: &mut HashSet<u64>,
    ) {
        for field in &layout.fields {
            let path = format!("{path}.{}", field.name);
            match &field.kind {
                FieldKind::Group(group) => self.reach_layout(schema, group, &path, place, structs),
                FieldKind::Slot { ty, .. } => self.reach_type(schema, ty, &path, place, structs),
            }
        }
    }

    fn reach_type(
        &mut self,
        schema: &Arc<SchemaSet>,
        ty: &Type,
        path: &str,
        place: &str,
        structs: &mut HashSet<u64>,
    ) {
        match ty {
            Type::Interface(id) => self
                .queue
                .push_back((schema.clone(), *id, path.to_string())),
            Type::List(element) => {
                self.reach_type(schema, element, &format!("{path}[]"), place, structs)
            }
            Type::Struct(id) if structs.insert(*id) => {
                if let Ok(info) = schema.struct_info(*id) {
                    if info.generic {
                        self.flag("generic", format!("{place}: {path}"));
                    }
                    let layout = info.layout.clone();
                    self.reach_layout(schema, &layout, path, place, structs);
                }
            }
            Type::Unsupported(Unsupported::Generic) => {
                self.flag("generic", format!("{place}: {path}"))
            }
            Type::Unsupported(_) => self.flag("untyped_capability", format!("{place}: {path}")),
            _ => {}
        }
    }
}

fn render_layout(schema: &SchemaSet, layout: &Layout) -> String {
    let fields: Vec<String> = layout
        .fields
        .iter()
        .map(|f| match &f.kind {
            FieldKind::Group(group) => format!("{} :{}", f.name, render_layout(schema, group)),
            FieldKind::Slot { ty, .. } => format!("{} :{}", f.name, render_type(schema, ty)),
        })
        .collect();
    format!("({})", fields.join(", "))
}

fn render_type(schema: &SchemaSet, ty: &Type) -> String {
    match ty {
        Type::List(element) => format!("List({})", render_type(schema, element)),
        Type::Enum(id) | Type::Struct(id) | Type::Interface(id) => schema
            .name(*id)
            .map_or_else(|| format!("{id:#x}"), str::to_string),
        Type::Unsupported(u) => match u {
            Unsupported::AnyPointer => "AnyPointer",
            Unsupported::AnyStruct => "AnyStruct",
            Unsupported::AnyList => "AnyList",
            Unsupported::Capability => "Capability",
            Unsupported::Generic => "generic",
        }
        .to_string(),
        primitive => primitive.name().to_string(),
    }
}

/// The report as Markdown, for people.
pub fn markdown(report: &Value) -> String {
    let mut out = String::from("# What these grants can reach\n\n## Bindings\n\n");
    for b in report["bindings"].as_array().into_iter().flatten() {
        out += &format!("- `env.{}`: `{}`", s(&b["name"]), s(&b["interface"]));
        if let Some(kind) = b["kind"].as_str() {
            out += &format!(" (built-in `{kind}`)\n  - policy: `{}`", b["policy"]);
        }
        out += "\n";
    }
    out += "\n## Interfaces\n";
    for i in report["interfaces"].as_array().into_iter().flatten() {
        out += &format!(
            "\n### `{}`\n\nReached by `{}`.{}\n\n",
            s(&i["name"]),
            s(&i["reached_by"]),
            doc_line(&i["doc"])
        );
        for m in i["methods"].as_array().into_iter().flatten() {
            out += &format!(
                "- `{}{} -> {}`",
                s(&m["name"]),
                s(&m["params"]),
                s(&m["results"])
            );
            out += &match m["doc"].as_str() {
                Some(doc) if !doc.is_empty() => format!(": {}\n", one_line(doc)),
                _ => " (undocumented)\n".into(),
            };
        }
    }
    out += "\n## Flags\n\n";
    let flags = report["flags"].as_array().cloned().unwrap_or_default();
    if flags.is_empty() {
        out += "None: the surface is closed and documented.\n";
    }
    for f in flags {
        out += &format!("- {}: `{}`\n", s(&f["kind"]), s(&f["where"]));
    }
    out += "\n## Limits (value / broker maximum)\n\n";
    if let Some(limits) = report["limits"].as_object() {
        for (name, l) in limits {
            out += &format!("- {name}: {} / {}\n", l["value"], l["max"]);
        }
    }
    out += "\n## Quotas of the principal\n\n";
    if let Some(quotas) = report["quotas"].as_object() {
        for (name, q) in quotas {
            out += &format!("- {name}: {q}\n");
        }
    }
    out
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn doc_line(doc: &Value) -> String {
    match doc.as_str() {
        Some(d) if !d.is_empty() => format!(" {}", one_line(d)),
        _ => String::new(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What grew and what shrank between two reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub grew: Vec<String>,
    pub shrank: Vec<String>,
}

impl Diff {
    /// The difference from `old` to `new`.
    pub fn between(old: &Value, new: &Value) -> Diff {
        let mut diff = Diff::default();
        let set = |v: &Value| -> BTreeSet<String> { items(v) };
        let (old_items, new_items) = (set(old), set(new));
        diff.grew
            .extend(new_items.difference(&old_items).map(|i| format!("+ {i}")));
        diff.shrank
            .extend(old_items.difference(&new_items).map(|i| format!("- {i}")));
        if let Some(limits) = new["limits"].as_object() {
            for (name, value) in limits {
                let before = &old["limits"][name.as_str()]["value"];
                diff.number(format!("limits {name}"), before, &value["value"]);
            }
        }
        if let Some(quotas) = new["quotas"].as_object() {
            for (name, value) in quotas {
                diff.number(
                    format!("quotas {name}"),
                    &old["quotas"][name.as_str()],
                    value,
                );
            }
        }
        let by_name = |report: &Value, name: &str| -> Value {
            report["bindings"]
                .as_array()
                .and_then(|b| b.iter().find(|b| b["name"] == name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        for b in new["bindings"].as_array().into_iter().flatten() {
            let name = s(&b["name"]);
            let before = by_name(old, name);
            if before.is_null() {
                continue; // a new binding is growth already
            }
            for key in ["calls", "bytes", "expires_in_ms"] {
                // No budget at all is unlimited too.
                diff.number(
                    format!("env.{name} budget {key}"),
                    &before["budget"][key],
                    &b["budget"][key],
                );
            }
            let methods = |v: &Value| -> Option<BTreeSet<String>> {
                v.as_array()
                    .map(|m| m.iter().map(|x| s(x).to_string()).collect())
            };
            match (
                methods(&before["budget"]["methods"]),
                methods(&b["budget"]["methods"]),
            ) {
                (Some(_), None) => diff
                    .grew
                    .push(format!("+ env.{name} method allowlist removed")),
                (None, Some(_)) => diff
                    .shrank
                    .push(format!("- env.{name} method allowlist added")),
                (Some(a), Some(c)) => {
                    diff.grew.extend(
                        c.difference(&a)
                            .map(|m| format!("+ env.{name} allows method {m}")),
                    );
                    diff.shrank.extend(
                        a.difference(&c)
                            .map(|m| format!("- env.{name} allows method {m}")),
                    );
                }
                (None, None) => {}
            }
            let (policy, old_policy) = (&b["policy"], &before["policy"]);
            for key in ["max_bytes", "max_entries"] {
                if !policy["quota"][key].is_null() {
                    diff.number(
                        format!("env.{name} quota {key}"),
                        &old_policy["quota"][key],
                        &policy["quota"][key],
                    );
                }
            }
            if let Some(limits) = policy["limits"].as_object() {
                for (key, value) in limits {
                    diff.number(
                        format!("env.{name} http limit {key}"),
                        &old_policy["limits"][key.as_str()],
                        value,
                    );
                }
            }
        }
        diff
    }

    /// Compares one number of the surface: larger is growth, and so is a
    /// limit that went away (`null` or missing is unlimited).
    fn number(&mut self, label: String, old: &Value, new: &Value) {
        let (a, b) = (old.as_u64(), new.as_u64());
        let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
        let grew = match (a, b) {
            (Some(a), Some(b)) => b > a,
            (Some(_), None) => true,
            _ => false,
        };
        let shrank = match (a, b) {
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => true,
            _ => false,
        };
        let line = format!("{label}: {} -> {}", show(a), show(b));
        if grew {
            self.grew.push(format!("+ {line}"));
        } else if shrank {
            self.shrank.push(format!("- {line}"));
        }
    }

    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.grew.is_empty() && self.shrank.is_empty()
    }

    /// As JSON: `{"grew": [...], "shrank": [...]}`.
    pub fn json(&self) -> Value {
        json!({ "grew": self.grew, "shrank": self.shrank })
    }

    /// As Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Surface diff\n\n");
        if self.is_empty() {
            out += "No change.\n";
        }
        for (title, lines) in [("Grew", &self.grew), ("Shrank", &self.shrank)] {
            if !lines.is_empty() {
                out += &format!("## {title}\n\n");
                for line in lines {
                    out += &format!("- `{line}`\n");
                }
                out += "\n";
            }
        }
        out
    }
}

/// Every item of the surface whose presence matters: bindings, interfaces,
/// methods (with signatures), hosts, ports, methods allowed, path prefixes,
/// ranges, credentials, write access and built-in quotas.
fn items(report: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for b in report["bindings"].as_array().into_iter().flatten() {
        let name = s(&b["name"]);
        out.insert(format!("binding env.{name}: {}", s(&b["interface"])));
        let p = &b["policy"];
        for (key, what) in [
            ("volume", "volume"),
            ("store", "store"),
            ("policy", "http policy"),
        ] {
            if let Some(value) = p[key].as_str() {
                out.insert(format!("env.{name} {what} {value}"));
            }
        }
        match b["kind"].as_str() {
            Some("fs") if p["read_only"] == json!(false) => {
                out.insert(format!(
                    "env.{name} write access to volume {}",
                    s(&p["volume"])
                ));
            }
            Some("http") => {
                for key in ["hosts", "ports", "methods", "path_prefixes", "allow_ranges"] {
                    for v in p[key].as_array().into_iter().flatten() {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        out.insert(format!("env.{name} http {key}: {v}"));
                    }
                }
                for c in p["credentials"].as_array().into_iter().flatten() {
                    out.insert(format!(
                        "env.{name} credential {} for {}",
                        s(&c["header"]),
                        s(&c["host"])
                    ));
                }
            }
            _ => {}
        }
    }
    for i in report["interfaces"].as_array().into_iter().flatten() {
        let iname = s(&i["name"]);
        out.insert(format!("interface {iname}"));
        for m in i["methods"].as_array().into_iter().flatten() {
            out.insert(format!(
                "method {iname}.{}{} -> {}",
                s(&m["name"]),
                s(&m["params"]),
                s(&m["results"])
            ));
        }
    }
    for f in report["flags"].as_array().into_iter().flatten() {
        out.insert(format!("flag {}: {}", s(&f["kind"]), s(&f["where"])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
@0xd1c2d3e4f5a69711;
interface Root @0xaa00000000000001 {
  # The entry point.
  open @0 (name :Text) -> (dir :Dir);
  # Opens a directory.
  holders @1 () -> (list :List(Holder), pick :Pick);
  # Structs, lists and unions.
  give @2 (cb :Callback) -> ();
  # Takes a callback.
  raw @3 () -> (cap :Capability, any :AnyPointer);
  # Untyped.
  nodoc @4 () -> ();
}
interface Dir @0xaa00000000000002 {
  # A directory.
  parent @0 () -> (up :Dir, root :Root);
  # A cycle back to Root.
}
interface Leaf @0xaa00000000000003 {
  # Reached through a list of structs.
  touch @0 () -> ();
  # Does nothing.
}
interface Chosen @0xaa00000000000004 {
  # Reached through a union.
  pick @0 () -> ();
  # Picks.
}
interface Callback @0xaa00000000000005 {
  # Passed in by the worker.
  call @0 (n :Int32) -> ();
  # Calls back.
}
struct Holder { leaf @0 :Leaf; inner :group { more @1 :List(Leaf); } }
struct Pick { union { chosen @0 :Chosen; none @1 :Void; } }
"#;

    fn binding() -> AuditBinding {
        let schema = caplet_capnp_js::compile::compile_files(&[("t.capnp", SCHEMA)]).unwrap();
        AuditBinding {
            name: "root".into(),
            schema: Arc::new(schema),
            interface_id: 0xaa00000000000001,
            builtin: None,
            budget: None,
        }
    }

    fn the_report() -> Value {
        report(
            &[binding()],
            &LimitPolicy::default().defaults,
            &LimitPolicy::default(),
            &Quotas::DEFAULTS,
        )
    }

    #[test]
    fn the_closure_goes_through_results_fields_lists_unions_and_params() {
        let report = the_report();
        let reached: Vec<(&str, &str)> = report["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (s(&i["name"]), s(&i["reached_by"])))
            .collect();
        assert_eq!(
            reached,
            [
                ("t.capnp:Root", "env.root"),
                ("t.capnp:Dir", "env.root.open().dir"),
                ("t.capnp:Leaf", "env.root.holders().list[].leaf"),
                ("t.capnp:Chosen", "env.root.holders().pick.chosen"),
                ("t.capnp:Callback", "env.root.give(params).cb"),
            ]
        );
        let root = &report["interfaces"][0];
        assert_eq!(root["methods"][0]["params"], "(name :Text)");
        assert_eq!(root["methods"][0]["results"], "(dir :Dir)");
        assert_eq!(root["methods"][0]["doc"], "Opens a directory.");
        assert_eq!(root["doc"], "The entry point.");
        let flags: Vec<(&str, &str)> = report["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (s(&f["kind"]), s(&f["where"])))
            .collect();
        assert_eq!(
            flags,
            [
                ("untyped_capability", "Root.raw: env.root.raw().cap"),
                ("untyped_capability", "Root.raw: env.root.raw().any"),
                ("undocumented_method", "Root.nodoc"),
            ]
        );
        assert_eq!(report["limits"]["cpuTimeMs"]["value"], 1000);
        assert_eq!(report["quotas"]["workers"], Quotas::DEFAULTS.workers);
        let text = markdown(&report);
        assert!(
            text.contains("### `t.capnp:Leaf`\n\nReached by `env.root.holders().list[].leaf`."),
            "{text}"
        );
        assert!(text.contains("- `nodoc() -> ()` (undocumented)"), "{text}");
    }

    #[test]
    fn a_diff_reports_growth_and_shrinkage() {
        let old = the_report();
        let mut new = old.clone();
        assert!(Diff::between(&old, &new).is_empty());
        new["limits"]["cpuTimeMs"]["value"] = json!(2000);
        new["interfaces"][1]["methods"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "extra", "params": "()", "results": "()", "doc": ""}));
        let diff = Diff::between(&old, &new);
        assert_eq!(
            diff.grew,
            [
                "+ method t.capnp:Dir.extra() -> ()",
                "+ limits cpuTimeMs: 1000 -> 2000"
            ]
        );
        assert!(diff.shrank.is_empty());
        let back = Diff::between(&new, &old);
        assert_eq!(back.shrank.len(), 2, "{back:?}");
        assert!(back.grew.is_empty());
    }
}
