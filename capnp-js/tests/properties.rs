//! Property tests of the hostile-schema boundary (proptest).
//!
//! Random schemas (structs, named and unnamed unions, groups, lists nested
//! up to three deep, enums, defaults) are written as `.capnp` text and
//! compiled with the embedded compiler, as a client's schema would be.
//! Then:
//!
//! * random values of those schemas round-trip through the codec (JS →
//!   Cap'n Proto bytes → JS in a real QuickJS runtime) unchanged; a field
//!   left out reads back as its default;
//! * random byte strings, and random mutations of valid messages, read
//!   against those schemas without panicking; what reads back writes again
//!   and reads back the same;
//! * random mutations of the compiled schema nodes (struct sizes, field
//!   offsets, discriminant offsets) either fail to build a `SchemaSet` or
//!   build one the codec writes and reads without ever reaching a write
//!   outside a struct: `codec::raw`'s own bounds check (a second line of
//!   defence) must never be what stops it.
//!
//! The case count is fixed so `cargo test` stays fast; set `PROPTEST_CASES`
//! for a longer run (README, "Tests").

use std::fmt::Write as _;

use caplet_capnp_js::codec::{self, CodecError, NoCaps, Path};
use caplet_capnp_js::compile;
use caplet_capnp_js::schema::SchemaSet;
use capnp::any_pointer;
use capnp::message::{self, ReaderOptions};
use capnp::schema_capnp::{code_generator_request, field, node, type_};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rquickjs::{Context, Ctx, Object, Runtime, Value};

// ---------------------------------------------------------------------------
// The schema model and its `.capnp` text
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Int {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

impl Int {
    fn name(self) -> &'static str {
        match self {
            Int::I8 => "Int8",
            Int::I16 => "Int16",
            Int::I32 => "Int32",
            Int::I64 => "Int64",
            Int::U8 => "UInt8",
            Int::U16 => "UInt16",
            Int::U32 => "UInt32",
            Int::U64 => "UInt64",
        }
    }

    fn range(self) -> (i128, i128) {
        match self {
            Int::I8 => (i8::MIN.into(), i8::MAX.into()),
            Int::I16 => (i16::MIN.into(), i16::MAX.into()),
            Int::I32 => (i32::MIN.into(), i32::MAX.into()),
            Int::I64 => (i64::MIN.into(), i64::MAX.into()),
            Int::U8 => (0, u8::MAX.into()),
            Int::U16 => (0, u16::MAX.into()),
            Int::U32 => (0, u32::MAX.into()),
            Int::U64 => (0, u64::MAX.into()),
        }
    }

    /// 64-bit integers read back as BigInt.
    fn big(self) -> bool {
        matches!(self, Int::I64 | Int::U64)
    }
}

#[derive(Clone, Debug)]
enum Ty {
    Void,
    Bool,
    Int(Int),
    F32,
    F64,
    Text,
    Data,
    /// Enum `E{n}` (every schema has [`ENUMS`] enums).
    Enum(usize),
    /// Struct `S{i}` of the schema; only structs after the one that holds
    /// the field are referenced (values stay finite).
    Struct(usize),
    List(Box<Ty>),
}

/// A field's default, as written in the schema.
#[derive(Clone, Debug)]
enum Lit {
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(String),
    Data(Vec<u8>),
    Enum(usize),
}

#[derive(Clone, Debug)]
enum Member {
    Field(Ty, Option<Lit>),
    Group(Vec<Member>),
    /// A named union (at least two members).
    Union(Vec<Member>),
}

#[derive(Clone, Debug)]
struct Struct {
    members: Vec<Member>,
    /// The struct's own unnamed union, if any (at least two members).
    union: Vec<Member>,
}

#[derive(Clone, Debug)]
struct Schema {
    structs: Vec<Struct>,
}

/// Enumerant counts of `E0`, `E1`, `E2`.
const ENUMS: [usize; 3] = [1, 3, 5];

fn ty_text(ty: &Ty) -> String {
    match ty {
        Ty::Void => "Void".into(),
        Ty::Bool => "Bool".into(),
        Ty::Int(i) => i.name().into(),
        Ty::F32 => "Float32".into(),
        Ty::F64 => "Float64".into(),
        Ty::Text => "Text".into(),
        Ty::Data => "Data".into(),
        Ty::Enum(e) => format!("E{e}"),
        Ty::Struct(s) => format!("S{s}"),
        Ty::List(t) => format!("List({})", ty_text(t)),
    }
}

fn lit_text(lit: &Lit) -> String {
    match lit {
        Lit::Bool(b) => b.to_string(),
        Lit::Int(n) => n.to_string(),
        Lit::Float(f) => format!("{f:?}"),
        Lit::Text(s) => format!("\"{s}\""),
        Lit::Data(d) => {
            let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x\"{hex}\"")
        }
        Lit::Enum(i) => format!("e{i}"),
    }
}

/// Names members `f{n}` (fields) and `g{n}` (groups, unions) in order, so
/// the text and the values agree on them.
struct Namer {
    ordinal: u32,
    next: u32,
}

impl Namer {
    fn name(&mut self, prefix: char) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next - 1)
    }
}

fn members_text(out: &mut String, members: &[Member], namer: &mut Namer, indent: usize) {
    let pad = " ".repeat(indent);
    for m in members {
        match m {
            Member::Field(ty, default) => {
                let name = namer.name('f');
                let _ = write!(out, "{pad}{name} @{} :{}", namer.ordinal, ty_text(ty));
                namer.ordinal += 1;
                if let Some(lit) = default {
                    let _ = write!(out, " = {}", lit_text(lit));
                }
                out.push_str(";\n");
            }
            Member::Group(inner) => {
                let _ = writeln!(out, "{pad}{} :group {{", namer.name('g'));
                members_text(out, inner, namer, indent + 2);
                let _ = writeln!(out, "{pad}}}");
            }
            Member::Union(inner) => {
                let _ = writeln!(out, "{pad}{} :union {{", namer.name('g'));
                members_text(out, inner, namer, indent + 2);
                let _ = writeln!(out, "{pad}}}");
            }
        }
    }
}

fn schema_text(schema: &Schema) -> String {
    let mut out = String::from("@0xd3c8a1f7a2b4c6e8;\n");
    for (e, &n) in ENUMS.iter().enumerate() {
        let _ = write!(out, "enum E{e} {{");
        for i in 0..n {
            let _ = write!(out, " e{i} @{i};");
        }
        out.push_str(" }\n");
    }
    for (i, s) in schema.structs.iter().enumerate() {
        let _ = writeln!(out, "struct S{i} {{");
        let mut namer = Namer {
            ordinal: 0,
            next: 0,
        };
        members_text(&mut out, &s.members, &mut namer, 2);
        if !s.union.is_empty() {
            out.push_str("  union {\n");
            members_text(&mut out, &s.union, &mut namer, 4);
            out.push_str("  }\n");
        }
        out.push_str("}\n");
    }
    out
}

// ---------------------------------------------------------------------------
// Strategies: schemas
// ---------------------------------------------------------------------------

fn int_kind() -> impl Strategy<Value = Int> {
    prop_oneof![
        Just(Int::I8),
        Just(Int::I16),
        Just(Int::I32),
        Just(Int::I64),
        Just(Int::U8),
        Just(Int::U16),
        Just(Int::U32),
        Just(Int::U64),
    ]
}

/// A field type of struct `at` of `count` structs.
fn ty(at: usize, count: usize) -> BoxedStrategy<Ty> {
    let mut leaf = vec![
        Just(Ty::Void).boxed(),
        Just(Ty::Bool).boxed(),
        int_kind().prop_map(Ty::Int).boxed(),
        Just(Ty::F32).boxed(),
        Just(Ty::F64).boxed(),
        Just(Ty::Text).boxed(),
        Just(Ty::Data).boxed(),
        (0..ENUMS.len()).prop_map(Ty::Enum).boxed(),
    ];
    if at + 1 < count {
        leaf.push(((at + 1)..count).prop_map(Ty::Struct).boxed());
    }
    let leaf = proptest::strategy::Union::new(leaf).boxed();
    let list = |t: Ty| Ty::List(Box::new(t));
    prop_oneof![
        8 => leaf.clone(),
        2 => leaf.clone().prop_map(list),
        1 => leaf.clone().prop_map(move |t| list(list(t))),
        1 => leaf.prop_map(move |t| list(list(list(t)))),
    ]
    .boxed()
}

fn default_for(ty: &Ty) -> BoxedStrategy<Option<Lit>> {
    let lit: BoxedStrategy<Lit> = match ty {
        Ty::Bool => any::<bool>().prop_map(Lit::Bool).boxed(),
        Ty::Int(i) => {
            let (lo, hi) = i.range();
            prop_oneof![Just(lo), Just(hi), -1000i128..1000]
                .prop_map(move |n| Lit::Int(n.clamp(lo, hi)))
                .boxed()
        }
        // Finite: the schema language's float literals.
        Ty::F32 => (-1e6f32..1e6f32)
            .prop_map(|f| Lit::Float(f64::from(f)))
            .boxed(),
        Ty::F64 => (-1e300f64..1e300f64).prop_map(Lit::Float).boxed(),
        Ty::Text => "[a-z ]{0,6}".prop_map(Lit::Text).boxed(),
        // `0x""` is not a literal the schema language has.
        Ty::Data => proptest::collection::vec(any::<u8>(), 1..4)
            .prop_map(Lit::Data)
            .boxed(),
        Ty::Enum(e) => (0..ENUMS[*e]).prop_map(Lit::Enum).boxed(),
        _ => return Just(None).boxed(),
    };
    proptest::option::weighted(0.3, lit).boxed()
}

fn field(at: usize, count: usize) -> BoxedStrategy<Member> {
    ty(at, count)
        .prop_flat_map(|t| {
            let d = default_for(&t);
            (Just(t), d)
        })
        .prop_map(|(t, d)| Member::Field(t, d))
        .boxed()
}

fn members(at: usize, count: usize) -> BoxedStrategy<Vec<Member>> {
    let member = field(at, count).prop_recursive(2, 12, 4, move |inner| {
        prop_oneof![
            3 => field(at, count),
            1 => proptest::collection::vec(inner.clone(), 1..4).prop_map(Member::Group),
            // The schema compiler refused a union placed directly in a
            // union (an error from node-translator.c++ at 300 cases), so
            // such a member goes in a group.
            1 => proptest::collection::vec(inner, 2..4).prop_map(|members| {
                Member::Union(
                    members
                        .into_iter()
                        .map(|m| match m {
                            Member::Union(_) => Member::Group(vec![m]),
                            other => other,
                        })
                        .collect(),
                )
            }),
        ]
    });
    proptest::collection::vec(member, 0..6).boxed()
}

fn schema() -> impl Strategy<Value = Schema> {
    (1usize..4).prop_flat_map(|count| {
        let structs: Vec<_> = (0..count)
            .map(|at| {
                (
                    members(at, count),
                    prop_oneof![
                        2 => Just(Vec::new()).boxed(),
                        1 => proptest::collection::vec(field(at, count), 2..4).boxed(),
                    ],
                )
                    .prop_map(|(members, union)| Struct { members, union })
            })
            .collect();
        structs.prop_map(|structs| Schema { structs })
    })
}

// ---------------------------------------------------------------------------
// Strategies: values (what JS writes, and what it must read back)
// ---------------------------------------------------------------------------

/// A JavaScript value, written out as source.
#[derive(Clone, Debug)]
enum Js {
    Null,
    Bool(bool),
    Num(f64),
    Big(i128),
    Str(String),
    Bytes(Vec<u8>),
    Arr(Vec<Js>),
    Obj(Vec<(String, Js)>),
}

impl Js {
    fn source(&self, out: &mut String) {
        match self {
            Js::Null => out.push_str("null"),
            Js::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Js::Num(f) => {
                if f.is_nan() {
                    out.push_str("NaN");
                } else if f.is_infinite() {
                    out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" });
                } else if *f == 0.0 && f.is_sign_negative() {
                    out.push_str("-0");
                } else {
                    let _ = write!(out, "{f:?}");
                }
            }
            Js::Big(n) => {
                let _ = write!(out, "{n}n");
            }
            Js::Str(s) => out.push_str(&serde_json::to_string(s).expect("a string")),
            Js::Bytes(b) => {
                let _ = write!(out, "new Uint8Array({b:?})");
            }
            Js::Arr(items) => {
                out.push('[');
                for item in items {
                    item.source(out);
                    out.push(',');
                }
                out.push(']');
            }
            Js::Obj(fields) => {
                out.push_str("({");
                for (k, v) in fields {
                    let _ = write!(out, "{k}: ");
                    v.source(out);
                    out.push(',');
                }
                out.push_str("})");
            }
        }
    }
}

/// (written, read back).
type Pair = (Js, Js);

/// Named members of an object: the name, the value written and read back
/// (`None`: left out), and what it reads as when left out.
type Parts = Vec<(String, Option<Pair>, Js)>;

fn same(js: Js) -> Pair {
    (js.clone(), js)
}

fn value(schema: &Schema, ty: &Ty) -> BoxedStrategy<Pair> {
    match ty {
        Ty::Void => Just(same(Js::Null)).boxed(),
        Ty::Bool => any::<bool>().prop_map(|b| same(Js::Bool(b))).boxed(),
        Ty::Int(i) => {
            let (lo, hi) = i.range();
            let big = i.big();
            prop_oneof![Just(lo), Just(hi), Just(0i128), lo..=hi]
                .prop_map(move |n| {
                    if big {
                        same(Js::Big(n))
                    } else {
                        same(Js::Num(n as f64))
                    }
                })
                .boxed()
        }
        Ty::F32 => any::<f32>()
            .prop_map(|f| same(Js::Num(f64::from(f))))
            .boxed(),
        Ty::F64 => any::<f64>().prop_map(|f| same(Js::Num(f))).boxed(),
        Ty::Text => any::<String>().prop_map(|s| same(Js::Str(s))).boxed(),
        Ty::Data => proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| same(Js::Bytes(b)))
            .boxed(),
        Ty::Enum(e) => (0..ENUMS[*e])
            .prop_map(|i| same(Js::Str(format!("e{i}"))))
            .boxed(),
        Ty::Struct(s) => prop_oneof![
            1 => Just(same(Js::Null)),
            3 => struct_value(schema, *s),
        ]
        .boxed(),
        Ty::List(elem) => proptest::collection::vec(list_element(schema, elem), 0..4)
            .prop_map(|items| {
                let (written, read) = items.into_iter().unzip();
                (Js::Arr(written), Js::Arr(read))
            })
            .boxed(),
    }
}

/// A list element: a struct list holds structs, never null.
fn list_element(schema: &Schema, elem: &Ty) -> BoxedStrategy<Pair> {
    match elem {
        Ty::Struct(s) => struct_value(schema, *s),
        _ => value(schema, elem),
    }
}

/// What an absent field reads as.
fn default_js(ty: &Ty, default: &Option<Lit>) -> Js {
    match (ty, default) {
        (_, Some(Lit::Bool(b))) => Js::Bool(*b),
        (Ty::Int(i), Some(Lit::Int(n))) if i.big() => Js::Big(*n),
        (_, Some(Lit::Int(n))) => Js::Num(*n as f64),
        (_, Some(Lit::Float(f))) => Js::Num(*f),
        (_, Some(Lit::Text(s))) => Js::Str(s.clone()),
        (_, Some(Lit::Data(d))) => Js::Bytes(d.clone()),
        (_, Some(Lit::Enum(i))) => Js::Str(format!("e{i}")),
        (Ty::Void, None) => Js::Null,
        (Ty::Bool, None) => Js::Bool(false),
        (Ty::Int(i), None) if i.big() => Js::Big(0),
        (Ty::Int(_) | Ty::F32 | Ty::F64, None) => Js::Num(0.0),
        (Ty::Text, None) => Js::Str(String::new()),
        (Ty::Data, None) => Js::Bytes(Vec::new()),
        (Ty::Enum(_), None) => Js::Str("e0".into()),
        (Ty::Struct(_), None) => Js::Null,
        (Ty::List(_), None) => Js::Arr(Vec::new()),
    }
}

/// Values for `members`, named from `namer`: each field is written or
/// left out; groups are always written; a union gets exactly one member.
fn members_value(schema: &Schema, members: &[Member], namer: &mut Namer) -> BoxedStrategy<Parts> {
    let mut parts: Vec<BoxedStrategy<Parts>> = Vec::new();
    for m in members {
        match m {
            Member::Field(ty, default) => {
                let name = namer.name('f');
                namer.ordinal += 1;
                let absent = default_js(ty, default);
                parts.push(
                    proptest::option::weighted(0.8, value(schema, ty))
                        .prop_map(move |v| vec![(name.clone(), v, absent.clone())])
                        .boxed(),
                );
            }
            Member::Group(inner) => {
                let name = namer.name('g');
                let inner = members_value(schema, inner, namer);
                parts.push(
                    inner
                        .prop_map(move |fields| {
                            let (w, r) = object(fields);
                            vec![(name.clone(), Some((w, r.clone())), r)]
                        })
                        .boxed(),
                );
            }
            Member::Union(inner) => {
                let name = namer.name('g');
                let one = union_value(schema, inner, namer);
                parts.push(
                    one.prop_map(move |fields| {
                        let (w, r) = object(fields);
                        vec![(name.clone(), Some((w, r.clone())), r)]
                    })
                    .boxed(),
                );
            }
        }
    }
    parts
        .prop_map(|parts| parts.into_iter().flatten().collect())
        .boxed()
}

/// Exactly one member of a union, written (a member left out would leave
/// the union unset).
fn union_value(schema: &Schema, members: &[Member], namer: &mut Namer) -> BoxedStrategy<Parts> {
    let each: Vec<BoxedStrategy<Parts>> = members
        .iter()
        .map(|m| members_value(schema, std::slice::from_ref(m), namer))
        .collect();
    let count = each.len();
    (0..count, each)
        .prop_map(|(pick, mut each)| {
            let mut chosen = each.swap_remove(pick);
            for (_, written, absent) in &mut chosen {
                if written.is_none() {
                    *written = Some((absent.clone(), absent.clone()));
                }
            }
            // Only the set member reads back.
            chosen
        })
        .boxed()
}

/// (written object, read-back object) from named parts.
fn object(fields: Parts) -> Pair {
    let mut written = Vec::new();
    let mut read = Vec::new();
    for (name, value, absent) in fields {
        match value {
            Some((w, r)) => {
                written.push((name.clone(), w));
                read.push((name, r));
            }
            None => read.push((name, absent)),
        }
    }
    (Js::Obj(written), Js::Obj(read))
}

fn struct_value(schema: &Schema, at: usize) -> BoxedStrategy<Pair> {
    let s = &schema.structs[at];
    let mut namer = Namer {
        ordinal: 0,
        next: 0,
    };
    let members = members_value(schema, &s.members, &mut namer);
    if s.union.is_empty() {
        members.prop_map(object).boxed()
    } else {
        let union = union_value(schema, &s.union, &mut namer);
        (members, union)
            .prop_map(|(mut m, u)| {
                m.extend(u);
                object(m)
            })
            .boxed()
    }
}

fn schema_and_values() -> impl Strategy<Value = (Schema, Vec<Pair>)> {
    schema().prop_flat_map(|s| {
        let values = proptest::collection::vec(struct_value(&s, 0), 1..4);
        (Just(s), values)
    })
}

// ---------------------------------------------------------------------------
// Running them
// ---------------------------------------------------------------------------

/// Cases per property in `cargo test`; `PROPTEST_CASES` overrides it.
const CASES: u32 = 24;

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    TestRunner::new(Config {
        cases,
        // Failures are reported with the schema text; regression cases
        // live in this file as tests, not in files proptest writes.
        failure_persistence: None,
        ..Config::default()
    })
}

fn compile(schema: &Schema) -> Result<(SchemaSet, String), TestCaseError> {
    let text = schema_text(schema);
    let set = compile::compile_files(&[("p.capnp", &text)])
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    Ok((set, text))
}

fn root_id(set: &SchemaSet) -> u64 {
    set.find_by_display_name("p.capnp:S0")
        .expect("S0 is compiled")
}

fn with_js<R>(f: impl FnOnce(&Ctx<'_>) -> R) -> R {
    let rt = Runtime::new().expect("a runtime");
    let ctx = Context::full(&rt).expect("a context");
    ctx.with(|ctx| {
        ctx.eval::<(), _>(SAME).expect("the helper evaluates");
        f(&ctx)
    })
}

/// `same(a, b)`: exact deep equality of the values the codec makes
/// (numbers by `Object.is`, so NaN and -0 count).
const SAME: &str = r#"
globalThis.same = function same(a, b, path = "value") {
  const fail = (why) => { throw new Error(`${path}: ${why}`); };
  if (typeof a !== "object" || a === null) {
    if (!Object.is(a, b)) fail(`expected ${String(a)} (${typeof a}), got ${String(b)} (${typeof b})`);
    return true;
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length || a.some((x, i) => x !== b[i])) fail(`expected bytes ${a}, got ${b}`);
    return true;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) fail(`expected ${a.length} elements, got ${b}`);
    a.forEach((x, i) => same(x, b[i], `${path}[${i}]`));
    return true;
  }
  if (typeof b !== "object" || b === null || Array.isArray(b)) fail(`expected an object, got ${b}`);
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) fail(`expected keys ${ka}, got ${kb}`);
  for (const k of ka) same(a[k], b[k], `${path}.${k}`);
  return true;
};
"#;

fn eval<'js>(ctx: &Ctx<'js>, js: &Js) -> Value<'js> {
    let mut src = String::new();
    js.source(&mut src);
    ctx.eval::<Value<'_>, _>(src.as_str())
        .unwrap_or_else(|e| panic!("{e}: {src}"))
}

fn encode<'js>(
    ctx: &Ctx<'js>,
    set: &SchemaSet,
    id: u64,
    value: &Value<'js>,
) -> Result<Vec<u8>, CodecError> {
    let mut msg = message::Builder::new_default();
    let root: any_pointer::Builder<'_> = msg.init_root();
    codec::write_struct(
        ctx,
        set,
        id,
        value,
        root,
        &mut NoCaps,
        &mut Path::new("value"),
    )?;
    Ok(capnp::serialize::write_message_to_words(&msg))
}

fn decode<'js>(
    ctx: &Ctx<'js>,
    set: &SchemaSet,
    id: u64,
    bytes: &[u8],
) -> Result<Object<'js>, CodecError> {
    let mut slice = bytes;
    let msg = capnp::serialize::read_message_from_flat_slice(&mut slice, ReaderOptions::new())?;
    codec::read_struct(ctx, set, id, msg.get_root()?, &mut NoCaps)
}

/// `Err` if `actual` is not `expected` (the JS `same`'s message).
fn check_same<'js>(ctx: &Ctx<'js>, expected: Value<'js>, actual: Value<'js>) -> Result<(), String> {
    let same: rquickjs::Function = ctx.globals().get("same").expect("same is defined");
    same.call::<_, bool>((expected, actual))
        .map(drop)
        .map_err(|e| match e {
            rquickjs::Error::Exception => {
                let ex = ctx.catch();
                ex.as_exception()
                    .and_then(|e| e.message())
                    .unwrap_or_else(|| format!("{ex:?}"))
            }
            other => other.to_string(),
        })
}

/// A bounds refusal by `codec::raw`: the schema checks let through an
/// offset outside its struct.
fn reached_raw_check(e: &CodecError) -> bool {
    e.message.contains("lies outside")
}

/// Reads `bytes` (whatever they are) as struct `id`; if that succeeds,
/// what was read writes again and reads back the same.
fn read_any(ctx: &Ctx<'_>, set: &SchemaSet, id: u64, bytes: &[u8]) -> Result<(), String> {
    let first = match decode(ctx, set, id, bytes) {
        Ok(v) => v,
        Err(e) if reached_raw_check(&e) => return Err(format!("raw check reached: {e}")),
        Err(_) => return Ok(()),
    };
    let again = match encode(ctx, set, id, first.as_value()) {
        Ok(b) => b,
        // E.g. a union whose discriminant this schema does not know reads
        // as no member, which cannot be written.
        Err(e) if reached_raw_check(&e) => return Err(format!("raw check reached: {e}")),
        Err(_) => return Ok(()),
    };
    let second = decode(ctx, set, id, &again).map_err(|e| format!("re-read failed: {e}"))?;
    check_same(ctx, first.into_value(), second.into_value())
        .map_err(|e| format!("read, written and read again differs: {e}"))
}

#[test]
fn random_values_of_random_schemas_round_trip_unchanged() {
    runner()
        .run(&schema_and_values(), |(schema, values)| {
            let (set, text) = compile(&schema)?;
            let id = root_id(&set);
            with_js(|ctx| {
                for (written, read) in &values {
                    let input = eval(ctx, written);
                    let bytes = encode(ctx, &set, id, &input).map_err(|e| {
                        TestCaseError::fail(format!("encode: {e}\n{text}\n{written:?}"))
                    })?;
                    let back = decode(ctx, &set, id, &bytes).map_err(|e| {
                        TestCaseError::fail(format!("decode: {e}\n{text}\n{written:?}"))
                    })?;
                    check_same(ctx, eval(ctx, read), back.into_value())
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}\n{written:?}")))?;
                }
                Ok(())
            })
        })
        .unwrap();
}

/// A change to a message: set the byte at (position mod length), or cut
/// the message there.
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(
        prop_oneof![
            8 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
            1 => any::<usize>().prop_map(Mutation::Truncate),
        ],
        1..6,
    )
}

#[test]
fn random_and_mutated_messages_read_without_panic() {
    let strategy = (
        schema_and_values(),
        proptest::collection::vec(mutations(), 8),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..96), 4),
    );
    runner()
        .run(&strategy, |((schema, values), mutations, randoms)| {
            let (set, text) = compile(&schema)?;
            let id = root_id(&set);
            with_js(|ctx| {
                let input = eval(ctx, &values[0].0);
                let valid = encode(ctx, &set, id, &input)
                    .map_err(|e| TestCaseError::fail(format!("encode: {e}\n{text}")))?;
                for changes in &mutations {
                    let mut bytes = valid.clone();
                    for change in changes {
                        match *change {
                            Mutation::Set(at, b) => {
                                let len = bytes.len();
                                if len > 0 {
                                    bytes[at % len] = b;
                                }
                            }
                            Mutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
                        }
                    }
                    read_any(ctx, &set, id, &bytes)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}\n{changes:?}")))?;
                }
                for bytes in &randoms {
                    read_any(ctx, &set, id, bytes)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}\n{bytes:?}")))?;
                }
                Ok(())
            })
        })
        .unwrap();
}

/// A change to the compiled nodes: a struct's data size or pointer count
/// (of the struct at index mod the count of non-group structs), a union's
/// discriminant offset (of the struct or group with a union at index mod
/// their count), or a slot's offset (of the non-Void slot at index mod the
/// count of all of them), set to a value.
#[derive(Clone, Debug)]
enum NodeMutation {
    DataWords(usize, u16),
    Pointers(usize, u16),
    Discriminant(usize, u32),
    Offset(usize, u32),
}

fn node_mutations() -> impl Strategy<Value = Vec<NodeMutation>> {
    // Mostly near the real sizes, where an off-by-one would hide.
    let small = prop_oneof![6 => 0u32..24, 1 => Just(u32::MAX), 1 => any::<u32>()];
    let small16 = prop_oneof![6 => 0u16..4, 1 => Just(u16::MAX), 1 => any::<u16>()];
    proptest::collection::vec(
        prop_oneof![
            1 => (any::<usize>(), small16.clone()).prop_map(|(n, v)| NodeMutation::DataWords(n, v)),
            1 => (any::<usize>(), small16).prop_map(|(n, v)| NodeMutation::Pointers(n, v)),
            1 => (any::<usize>(), small.clone()).prop_map(|(n, v)| NodeMutation::Discriminant(n, v)),
            2 => (any::<usize>(), small).prop_map(|(n, v)| NodeMutation::Offset(n, v)),
        ],
        1..4,
    )
}

/// The struct (or group) node at `i` of `list`.
fn struct_at<'a>(
    list: &'a mut capnp::struct_list::Builder<'_, node::Owned>,
    i: u32,
) -> Option<node::struct_::Builder<'a>> {
    match list.reborrow().get(i).which() {
        Ok(node::Which::Struct(s)) => Some(s),
        _ => None,
    }
}

/// The set's nodes with `changes` applied, as one message.
fn mutated_nodes(
    set: &SchemaSet,
    changes: &[NodeMutation],
) -> message::Builder<message::HeapAllocator> {
    let mut ids: Vec<u64> = set.node_ids().collect();
    ids.sort_unstable();
    let mut msg = message::Builder::new_default();
    let mut list = msg
        .init_root::<code_generator_request::Builder<'_>>()
        .init_nodes(ids.len() as u32);
    for (i, id) in ids.iter().enumerate() {
        let node = set.node(*id).expect("a node of the set");
        list.set_with_caveats(i as u32, node.get().expect("a node"))
            .expect("copied");
    }
    // Where each kind of change can land.
    let (mut structs, mut unions, mut slots) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..list.len() {
        let node = list.reborrow().get(i).into_reader();
        let Ok(node::Which::Struct(s)) = node.which() else {
            continue;
        };
        if !s.get_is_group() {
            structs.push(i);
        }
        if s.get_discriminant_count() > 0 {
            unions.push(i);
        }
        for (f, field) in s.get_fields().expect("fields").iter().enumerate() {
            if let Ok(field::Which::Slot(slot)) = field.which() {
                let void = matches!(
                    slot.get_type().and_then(|t| Ok(t.which()?)),
                    Ok(type_::Which::Void(()))
                );
                if !void {
                    slots.push((i, f as u32));
                }
            }
        }
    }
    let pick = |from: &[u32], n: usize| (!from.is_empty()).then(|| from[n % from.len()]);
    for change in changes {
        match *change {
            NodeMutation::DataWords(n, v) => {
                if let Some(mut s) = pick(&structs, n).and_then(|i| struct_at(&mut list, i)) {
                    s.set_data_word_count(v);
                }
            }
            NodeMutation::Pointers(n, v) => {
                if let Some(mut s) = pick(&structs, n).and_then(|i| struct_at(&mut list, i)) {
                    s.set_pointer_count(v);
                }
            }
            NodeMutation::Discriminant(n, v) => {
                if let Some(mut s) = pick(&unions, n).and_then(|i| struct_at(&mut list, i)) {
                    s.set_discriminant_offset(v);
                }
            }
            NodeMutation::Offset(n, v) => {
                if slots.is_empty() {
                    continue;
                }
                let (i, f) = slots[n % slots.len()];
                if let Some(s) = struct_at(&mut list, i) {
                    let field = s.get_fields().expect("fields").get(f);
                    if let Ok(field::Which::Slot(mut slot)) = field.which() {
                        slot.set_offset(v);
                    }
                }
            }
        }
    }
    msg
}

#[test]
fn mutated_schema_nodes_never_reach_the_raw_bounds_check() {
    let strategy = (
        schema_and_values(),
        node_mutations(),
        proptest::collection::vec(any::<u8>(), 0..64),
    );
    runner()
        .run(&strategy, |((schema, values), changes, random)| {
            let (set, text) = compile(&schema)?;
            let msg = mutated_nodes(&set, &changes);
            let req: code_generator_request::Reader<'_> =
                msg.get_root_as_reader().expect("a request");
            let nodes = req.get_nodes().expect("nodes");
            let Ok(hostile) = SchemaSet::from_nodes(nodes.iter()) else {
                // Refused: the checks did their work.
                return Ok(());
            };
            let Some(id) = hostile.find_by_display_name("p.capnp:S0") else {
                return Ok(());
            };
            with_js(|ctx| {
                for (written, _) in &values {
                    let input = eval(ctx, written);
                    match encode(ctx, &hostile, id, &input) {
                        Err(e) if reached_raw_check(&e) => {
                            return Err(TestCaseError::fail(format!(
                                "raw check reached on write: {e}\n{text}\n{changes:?}"
                            )))
                        }
                        Err(_) => {}
                        Ok(bytes) => read_any(ctx, &hostile, id, &bytes).map_err(|e| {
                            TestCaseError::fail(format!("{e}\n{text}\n{changes:?}"))
                        })?,
                    }
                }
                read_any(ctx, &hostile, id, &random)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{text}\n{changes:?}")))
            })
        })
        .unwrap();
}

/// `codec::raw` refuses a write outside the struct it was made with
/// (the second line of defence the property above never reaches).
#[test]
fn raw_refuses_writes_outside_the_struct() {
    use caplet_capnp_js::codec::raw::{RawPointerBuilder, StructBuilder, StructSize};
    let mut msg = message::Builder::new_default();
    let root: any_pointer::Builder<'_> = msg.init_root();
    let pointer = root.get_as::<RawPointerBuilder<'_>>().expect("a pointer").0;
    let size = StructSize {
        data: 1,
        pointers: 1,
    };
    let s = StructBuilder::init(pointer, size);
    s.set_data::<u64>(0, 7, 0).expect("word 0 is inside");
    s.set_data::<u16>(3, 1, 0).expect("bits 48..64 are inside");
    let e = s
        .set_data::<u16>(4, 1, 0)
        .expect_err("bits 64..80 are outside");
    assert!(
        e.to_string()
            .contains("data field 4 lies outside a struct of 1 data words and 1 pointers"),
        "{e}"
    );
    assert!(s.set_data::<u8>(usize::MAX, 1, 0).is_err(), "no overflow");
    assert!(s.set_bool(63, true, false).is_ok());
    assert!(s.set_bool(64, true, false).is_err());
    let mut s = s;
    assert!(s.reborrow().pointer(0).is_ok());
    assert!(s.reborrow().pointer(1).is_err());
    assert_eq!(
        s.as_reader().get_data_field::<u64>(0),
        7 | (1 << 48) | (1 << 63)
    );
}
