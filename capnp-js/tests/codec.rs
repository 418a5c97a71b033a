//! Integration tests: compile `tests/schemas/test.capnp` at test time, round
//! trip values through real Cap'n Proto bytes in a real QuickJS runtime,
//! cross-check the wire form against capnp's generated code, and check every
//! error message.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use caplet_capnp_js::codec::raw::{CapTable, ClientHook};
use caplet_capnp_js::codec::{self, CapReader, CapWriter, CodecError, ErrorKind, NoCaps, Path};
use caplet_capnp_js::compile::{self, CompileError, SchemaCompiler};
use caplet_capnp_js::schema::{SchemaError, SchemaSet};
use capnp::any_pointer;
use capnp::message::{self, ReaderOptions};
use capnp::traits::{Imbue, ImbueMut};
use rquickjs::{Context, Ctx, Object, Runtime, Value};

const TEST_CAPNP: &str = include_str!("schemas/test.capnp");

fn test_schema() -> &'static compile::Compiled {
    static SCHEMA: OnceLock<compile::Compiled> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        compile::compile_schema(&[("test.capnp", TEST_CAPNP)], "test.capnp:Derived")
            .unwrap_or_else(|e| panic!("test.capnp does not compile: {e}"))
    })
}

fn id_of(schema: &SchemaSet, name: &str) -> u64 {
    schema
        .find_by_display_name(name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// Capabilities for tests: a JS `{cap: "name"}` becomes a broken capability
/// remembered by name; reading it back gives `{cap: "name", iface: "<interface id, hex>"}`.
#[derive(Default, Clone)]
struct TestCaps {
    names: Rc<RefCell<HashMap<usize, String>>>,
}

impl<'js> CapWriter<'js> for TestCaps {
    fn write_cap(
        &mut self,
        _ctx: &Ctx<'js>,
        _iface: u64,
        value: &Value<'js>,
    ) -> Result<Box<dyn ClientHook>, CodecError> {
        let name: String = value
            .as_object()
            .and_then(|o| o.get::<_, String>("cap").ok())
            .ok_or_else(|| CodecError::type_error("expected a capability"))?;
        let hook = capnp_rpc::new_broken_cap(capnp::Error::failed(name.clone())).hook;
        self.names.borrow_mut().insert(hook.get_ptr(), name);
        Ok(hook)
    }
}

impl<'js> CapReader<'js> for TestCaps {
    fn read_cap(
        &mut self,
        ctx: &Ctx<'js>,
        iface: u64,
        hook: Box<dyn ClientHook>,
    ) -> Result<Value<'js>, CodecError> {
        let name = self
            .names
            .borrow()
            .get(&hook.get_ptr())
            .cloned()
            .unwrap_or_else(|| "?".into());
        let obj = Object::new(ctx.clone())?;
        obj.set("cap", name)?;
        obj.set("iface", format!("{iface:x}"))?;
        Ok(obj.into_value())
    }
}

/// Encodes `value` as struct `id`, serializes to bytes (and back), decodes.
fn round_trip<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    id: u64,
    value: &Value<'js>,
) -> Result<Object<'js>, CodecError> {
    let (bytes, table, caps) = encode(ctx, schema, id, value)?;
    decode(ctx, schema, id, &bytes, &table, caps)
}

fn encode<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    id: u64,
    value: &Value<'js>,
) -> Result<(Vec<u8>, CapTable, TestCaps), CodecError> {
    let mut caps = TestCaps::default();
    let mut table = Vec::new();
    let mut msg = message::Builder::new_default();
    {
        let mut root: any_pointer::Builder<'_> = msg.init_root();
        root.imbue_mut(&mut table);
        codec::write_struct(
            ctx,
            schema,
            id,
            value,
            root,
            &mut caps,
            &mut Path::new("params"),
        )?;
    }
    Ok((capnp::serialize::write_message_to_words(&msg), table, caps))
}

fn decode<'js>(
    ctx: &Ctx<'js>,
    schema: &SchemaSet,
    id: u64,
    bytes: &[u8],
    table: &CapTable,
    mut caps: TestCaps,
) -> Result<Object<'js>, CodecError> {
    let mut slice = bytes;
    let msg = capnp::serialize::read_message_from_flat_slice(&mut slice, ReaderOptions::new())?;
    let mut root: any_pointer::Reader<'_> = msg.get_root()?;
    root.imbue(table);
    codec::read_struct(ctx, schema, id, root, &mut caps)
}

fn with_js<R>(f: impl FnOnce(Ctx<'_>) -> R) -> R {
    let rt = Runtime::new().unwrap();
    let ctx = Context::full(&rt).unwrap();
    ctx.with(|ctx| {
        ctx.eval::<(), _>(JS_HELPERS).unwrap();
        f(ctx)
    })
}

/// `same(expected, actual)`: deep comparison for the values the codec makes;
/// keys of `expected` must match, extra keys in `actual` are allowed unless
/// `exact` is set. Numbers by `Object.is` (NaN, -0).
const JS_HELPERS: &str = r#"
globalThis.same = function same(a, b, path = "value", exact = false) {
  const fail = (why) => { throw new Error(`${path}: ${why}`); };
  if (typeof a === "number") {
    if (typeof b !== "number" || !Object.is(a, b)) fail(`expected ${Object.is(a, -0) ? "-0" : a}, got ${Object.is(b, -0) ? "-0" : String(b)}`);
    return true;
  }
  if (typeof a === "bigint" || typeof a === "string" || typeof a === "boolean") {
    if (a !== b) fail(`expected ${JSON.stringify(String(a))} (${typeof a}), got ${String(b)} (${typeof b})`);
    return true;
  }
  if (a === null || a === undefined) {
    if (b !== null) fail(`expected null, got ${String(b)}`);
    return true;
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array)) fail("expected Uint8Array");
    if (a.length !== b.length) fail(`length ${a.length} vs ${b.length}`);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) fail(`byte ${i}`);
    return true;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) fail(`expected array, got ${typeof b}`);
    if (a.length !== b.length) fail(`length ${a.length} vs ${b.length}`);
    for (let i = 0; i < a.length; i++) same(a[i], b[i], `${path}[${i}]`, exact);
    return true;
  }
  if (typeof b !== "object" || b === null || Array.isArray(b)) fail(`expected object, got ${b}`);
  for (const k of Object.keys(a)) {
    if (!(k in b)) fail(`missing key ${k}`);
    same(a[k], b[k], `${path}.${k}`, exact);
  }
  if (exact) for (const k of Object.keys(b)) if (!(k in a)) fail(`unexpected key ${k}`);
  return true;
};
"#;

fn js_check<'js>(ctx: &Ctx<'js>, expected: &Value<'js>, actual: &Object<'js>, exact: bool) {
    let same: rquickjs::Function = ctx.globals().get("same").unwrap();
    if let Err(e) = same.call::<_, bool>((expected.clone(), actual.clone(), "value", exact)) {
        let msg = match e {
            rquickjs::Error::Exception => {
                let ex = ctx.catch();
                ex.as_exception()
                    .and_then(|e| e.message())
                    .unwrap_or_else(|| format!("{ex:?}"))
            }
            other => other.to_string(),
        };
        panic!("round trip mismatch: {msg}");
    }
}

fn eval<'js>(ctx: &Ctx<'js>, src: &str) -> Value<'js> {
    ctx.eval::<Value<'_>, _>(format!("({src})"))
        .unwrap_or_else(|e| {
            let ex = ctx.catch();
            panic!("eval failed: {e}: {ex:?}")
        })
}

const FULL_VALUE: &str = r#"{
  voidField: null,
  boolField: true,
  int8Field: -128,
  int16Field: 32767,
  int32Field: -2147483648,
  int64Field: -9223372036854775808n,
  uInt8Field: 255,
  uInt16Field: 65535,
  uInt32Field: 4294967295,
  uInt64Field: 18446744073709551615n,
  float32Field: -0,
  float64Field: NaN,
  textField: "héllo wörld ✓ 𝄞 😀 \u0000 end",
  dataField: new Uint8Array([0, 1, 2, 254, 255]),
  structField: {
    int64Field: 9223372036854775807n,
    float64Field: Infinity,
    float32Field: -Infinity,
    textField: "",
    dataField: new Uint8Array([]),
    enumField: "blue",
    structList: [{ int8Field: 1, shape: { none: null }, unsetA: null }, { int8Field: -1, shape: { label: "inner" }, setB: 2 }],
    shape: { poly: { sides: 6, color: "red" } },
    setB: -7,
  },
  enumField: "green",
  interfaceField: { cap: "one" },
  voidList: [null, null, null],
  boolList: [true, false, true, true, false, false, false, false, true],
  int8List: [-128, 0, 127],
  int16List: [-32768, 32767],
  int32List: [-2147483648, 2147483647, 0],
  int64List: [-9223372036854775808n, 9223372036854775807n, 0n],
  uInt8List: [0, 255],
  uInt16List: [0, 65535],
  uInt32List: [0, 4294967295],
  uInt64List: [0n, 18446744073709551615n],
  float32List: [1.5, -0, NaN, Infinity, -Infinity, 3.4028234663852886e38],
  float64List: [Number.MAX_VALUE, Number.MIN_VALUE, -0, NaN, -Infinity, 0.1],
  textList: ["", "a", "𝄞𝄞", "日本語"],
  dataList: [new Uint8Array([]), new Uint8Array([1, 2, 3])],
  structList: [{ textField: "first", shape: { none: null }, unsetA: null }, { uInt64Field: 5n, group: { a: 1, inner: { c: true } }, shape: { circle: 1 }, setB: 3 }],
  enumList: ["red", "green", "blue"],
  interfaceList: [{ cap: "two" }, null, { cap: "three" }],
  listList: [[1, 2, 3], [], [-1]],
  textListList: [["a", "b"], [], ["ccc"]],
  pointList: [{ x: 1, y: 2 }, { x: -0, y: NaN }],
  group: { a: 42, b: "grouped", inner: { c: true } },
  shape: { square: { x: 0.5, y: -0.5 } },
  unsetA: null,
}"#;

#[test]
fn full_round_trip_through_bytes() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestAllTypes");
    with_js(|ctx| {
        let v = eval(&ctx, FULL_VALUE);
        let out = round_trip(&ctx, s, id, &v).unwrap_or_else(|e| panic!("{e}"));
        js_check(&ctx, &v, &out, false);
        ctx.globals()
            .set("namedId", format!("{:x}", id_of(s, "test.capnp:Named")))
            .unwrap();
        // Capabilities came back as the integrator's objects, with the declared interface.
        let check: bool = ctx
            .globals()
            .set("out", out.clone())
            .and_then(|_| {
                ctx.eval(
                    r#"out.interfaceField.cap === "one" && out.interfaceField.iface === namedId
                    && out.interfaceList[0].cap === "two" && out.interfaceList[1] === null
                    && out.interfaceList[2].cap === "three"
                    && Object.keys(out.shape).join() === "square"
                    && Object.keys(out.structField.shape).join() === "poly"
                    && out.structField.shape.poly.color === "red"
                    && !("setB" in out) && out.unsetA === null
                    && out.structField.setB === -7 && !("unsetA" in out.structField)
                    && out.structField.structList[1].shape.label === "inner"
                    && Object.keys(out.structField.structList[0].shape).join() === "none"
                    && out.structField.structList[0].shape.none === null"#,
                )
            })
            .unwrap();
        assert!(check, "capability / union shape check failed");
    });
}

#[test]
fn edge_values_and_large_lists() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestAllTypes");
    with_js(|ctx| {
        let v = eval(
            &ctx,
            r#"{
                int32List: Array.from({length: 10000}, (_, i) => i * 7 - 35000),
                textList: Array.from({length: 10000}, (_, i) => "item " + i + " 😀"),
                structList: Array.from({length: 10000}, (_, i) => ({ int64Field: BigInt(i) * 1000000007n, textField: String(i), shape: { circle: i / 7 }, setB: i & 0x7fff })),
                boolList: Array.from({length: 10000}, (_, i) => i % 3 === 0),
                dataField: new Uint8Array(100000).map((_, i) => i & 255),
                textField: "\u{10FFFF}\u{1F600}\uFFFF" + "x".repeat(100000),
                int64Field: -9007199254740991,
                uInt64Field: 9007199254740991,
                float32Field: 1e-45,
                voidList: [],
                setB: 0,
                shape: { none: null },
            }"#,
        );
        let out = round_trip(&ctx, s, id, &v).unwrap_or_else(|e| panic!("{e}"));
        // Safe-integer numbers for 64-bit fields come back as BigInt.
        ctx.globals().set("out", out.clone()).unwrap();
        let ok: bool = ctx
            .eval("out.int64Field === -9007199254740991n && out.uInt64Field === 9007199254740991n && out.float32Field === Math.fround(1e-45)")
            .unwrap();
        assert!(ok);
        let v: Object = v.into_object().unwrap();
        v.remove("int64Field").unwrap();
        v.remove("uInt64Field").unwrap();
        v.remove("float32Field").unwrap();
        js_check(&ctx, &v.into_value(), &out, false);
    });
}

#[test]
fn typed_arrays_and_array_buffers_are_data() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestAllTypes");
    with_js(|ctx| {
        for (src, expected) in [
            ("new Uint8Array([1,2,3]).buffer", "[1,2,3]"),
            ("new Uint16Array([0x0201, 0x0403])", "[1,2,3,4]"),
            ("new Uint8Array([9,1,2,3,9]).subarray(1, 4)", "[1,2,3]"),
            ("new Int8Array([-1])", "[255]"),
            ("new ArrayBuffer(0)", "[]"),
            (
                "new Float64Array(new ArrayBuffer(16), 8, 1)",
                "[0,0,0,0,0,0,0,0]",
            ),
        ] {
            let v = eval(
                &ctx,
                &format!("{{ dataField: {src}, setB: 0, shape: {{ none: null }} }}"),
            );
            let out = round_trip(&ctx, s, id, &v).unwrap();
            ctx.globals().set("out", out).unwrap();
            let got: String = ctx.eval("JSON.stringify(Array.from(out.dataField)) + (out.dataField instanceof Uint8Array)").unwrap();
            assert_eq!(got, format!("{expected}true"), "for {src}");
        }
    });
}

#[test]
fn empty_message_reads_all_schema_defaults() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestDefaults");
    with_js(|ctx| {
        // A message whose root pointer is null, and one with an empty struct.
        let mut empty = message::Builder::new_default();
        empty.init_root::<any_pointer::Builder<'_>>();
        let empty = capnp::serialize::write_message_to_words(&empty);
        let table = Vec::new();
        let expected = eval(
            &ctx,
            r#"{
                voidField: null, boolField: true, int8Field: -123, int16Field: -12345,
                int32Field: -12345678, int64Field: -123456789012345n, uInt8Field: 234,
                uInt16Field: 45678, uInt32Field: 3456789012, uInt64Field: 12345678901234567890n,
                float32Field: 1234.5, float64Field: -123e45, textField: "foo",
                dataField: new Uint8Array([0x62, 0x61, 0x72]), structField: { x: 1.5, y: -2.5 },
                enumField: "blue", boolList: [true, false, false, true], int32List: [-1, 2, -3],
                int64List: [-9223372036854775808n, 9223372036854775807n],
                textList: ["plugh", "xyzzy", "thud"], dataList: [new Uint8Array([0, 255]), new Uint8Array([])],
                enumList: ["blue", "red"], pointList: [{ x: 1, y: 2 }, { x: 3, y: 0 }],
                listList: [[1, 2], [], [3]], nan: NaN, negInf: -Infinity,
                group: { a: 77, b: "in group" }, shape: { circle: 2.5 },
            }"#,
        );
        let out = decode(&ctx, s, id, &empty, &table, TestCaps::default()).unwrap();
        js_check(&ctx, &expected, &out, true);
        // Writing `{}` (every field omitted) also reads back the defaults...
        // except the union, which must be set explicitly.
        let err = round_trip(&ctx, s, id, &eval(&ctx, "{}")).err().unwrap();
        assert_eq!(
            err.to_string(),
            "params.shape: exactly one of circle, label must be set"
        );
        let out = round_trip(&ctx, s, id, &eval(&ctx, "{ shape: { circle: 2.5 } }")).unwrap();
        js_check(&ctx, &expected, &out, true);
        // Explicit values equal to, and different from, the defaults.
        let v = eval(
            &ctx,
            r#"{ boolField: false, int8Field: 0, uInt64Field: 0n, float32Field: 0, float64Field: -0,
                 textField: "", dataField: new Uint8Array([]), int32List: [], textList: [],
                 enumField: "red", nan: 1, negInf: Infinity, group: { a: 0, b: "" },
                 shape: { label: "set" }, structField: { x: 0, y: 0 } }"#,
        );
        let out = round_trip(&ctx, s, id, &v).unwrap();
        js_check(&ctx, &v, &out, false);
        ctx.globals().set("out", out).unwrap();
        assert!(ctx
            .eval::<bool, _>("Object.keys(out.shape).join() === 'label'")
            .unwrap());
    });
}

/// The data section really is XORed with defaults: a `false` for a field
/// whose default is `true` is a set bit on the wire, and an omitted field is
/// all zeros.
#[test]
fn defaults_are_xor_encoded_on_the_wire() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestDefaults");
    let info = s.struct_info(id).unwrap();
    let field = |name: &str| match &info.layout.field(name).unwrap().kind {
        caplet_capnp_js::schema::FieldKind::Slot { offset, .. } => *offset as usize,
        _ => unreachable!(),
    };
    with_js(|ctx| {
        let v = eval(
            &ctx,
            "{ boolField: false, int8Field: -123, uInt32Field: 1, shape: { circle: 2.5 } }",
        );
        let (bytes, _, _) = encode(&ctx, s, id, &v).unwrap();
        let mut slice = &bytes[..];
        let msg = capnp::serialize::read_message_from_flat_slice(&mut slice, ReaderOptions::new())
            .unwrap();
        let root: any_pointer::Reader<'_> = msg.get_root().unwrap();
        let sr = root
            .get_as::<codec::RawPointerReader<'_>>()
            .unwrap()
            .0
            .get_struct(None)
            .unwrap();
        assert!(
            sr.get_bool_field(field("boolField")),
            "false XOR true default is 1 on the wire"
        );
        assert_eq!(
            sr.get_data_field::<i8>(field("int8Field")),
            0,
            "default value is 0 on the wire"
        );
        assert_eq!(
            sr.get_data_field::<u32>(field("uInt32Field")),
            1 ^ 3456789012
        );
        assert_eq!(
            sr.get_data_field::<u16>(field("int16Field")),
            0,
            "omitted is 0 on the wire"
        );
        assert!(
            sr.get_pointer_field(field("textField")).is_null(),
            "omitted pointer stays null"
        );
    });
}

// ---------------------------------------------------------------------------
// Cross-check against capnp's generated code, using schema.capnp itself
// ---------------------------------------------------------------------------

fn schema_capnp_set() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| {
        compile::compile_files(&[(
            "xcheck.capnp",
            "@0xa1b2c3d4e5f60718;\nusing Schema = import \"/capnp/schema.capnp\";\nstruct Wrap { node @0 :Schema.Node; }\n",
        )])
        .unwrap()
    })
}

/// The codec writes a `schema.capnp` `Node` from JS; capnp's generated
/// `node::Reader` reads it back field by field, and its canonical bytes equal
/// those of the same node built with the generated `node::Builder`.
#[test]
fn encoding_matches_generated_code() {
    use capnp::schema_capnp::{field, node, type_};
    let s = schema_capnp_set();
    let node_id = id_of(s, "capnp/schema.capnp:Node");
    with_js(|ctx| {
        let v = eval(
            &ctx,
            r#"{
                id: 0x1234567890abcdefn,
                displayName: "demo.capnp:Thing",
                displayNamePrefixLength: 11,
                scopeId: 42n,
                nestedNodes: [{ name: "Inner", id: 7n }],
                struct: {
                    dataWordCount: 2, pointerCount: 1, preferredListEncoding: "inlineComposite",
                    isGroup: false, discriminantCount: 0, discriminantOffset: 0,
                    fields: [
                        { name: "a", codeOrder: 0, slot: { offset: 3, type: { int32: null }, hadExplicitDefault: false },
                          ordinal: { explicit: 0 } },
                        { name: "b", codeOrder: 1, discriminantValue: 2, group: { typeId: 99n }, ordinal: { implicit: null } },
                        { name: "c", codeOrder: 2, slot: { offset: 0, type: { list: { elementType: { text: null } } } },
                          ordinal: { explicit: 2 } },
                    ],
                },
                isGeneric: true,
            }"#,
        );
        let (bytes, _, _) = encode(&ctx, s, node_id, &v).unwrap();
        let mut slice = &bytes[..];
        let msg = capnp::serialize::read_message_from_flat_slice(&mut slice, ReaderOptions::new())
            .unwrap();
        let n: node::Reader<'_> = msg.get_root().unwrap();
        assert_eq!(n.get_id(), 0x1234567890abcdef);
        assert_eq!(n.get_display_name().unwrap(), "demo.capnp:Thing");
        assert_eq!(n.get_display_name_prefix_length(), 11);
        assert_eq!(n.get_scope_id(), 42);
        assert!(n.get_is_generic());
        let nested = n.get_nested_nodes().unwrap();
        assert_eq!(nested.len(), 1);
        assert_eq!(nested.get(0).get_name().unwrap(), "Inner");
        assert_eq!(nested.get(0).get_id(), 7);
        let node::Struct(st) = n.which().unwrap() else {
            panic!("not a struct node")
        };
        assert_eq!(st.get_data_word_count(), 2);
        assert_eq!(st.get_pointer_count(), 1);
        assert_eq!(
            st.get_preferred_list_encoding().unwrap(),
            capnp::schema_capnp::ElementSize::InlineComposite
        );
        let fields = st.get_fields().unwrap();
        assert_eq!(fields.len(), 3);
        let a = fields.get(0);
        assert_eq!(a.get_name().unwrap(), "a");
        assert_eq!(
            a.get_discriminant_value(),
            0xffff,
            "omitted field takes its schema default 0xffff"
        );
        let field::Slot(slot) = a.which().unwrap() else {
            panic!()
        };
        assert_eq!(slot.get_offset(), 3);
        assert!(matches!(
            slot.get_type().unwrap().which().unwrap(),
            type_::Int32(())
        ));
        assert!(matches!(
            a.get_ordinal().which().unwrap(),
            field::ordinal::Explicit(0)
        ));
        let b = fields.get(1);
        assert_eq!(b.get_discriminant_value(), 2);
        let field::Group(g) = b.which().unwrap() else {
            panic!()
        };
        assert_eq!(g.get_type_id(), 99);
        assert!(matches!(
            b.get_ordinal().which().unwrap(),
            field::ordinal::Implicit(())
        ));
        let c = fields.get(2);
        let field::Slot(slot) = c.which().unwrap() else {
            panic!()
        };
        let type_::List(l) = slot.get_type().unwrap().which().unwrap() else {
            panic!()
        };
        assert!(matches!(
            l.get_element_type().unwrap().which().unwrap(),
            type_::Text(())
        ));

        // The same node built by generated code: canonical bytes must match.
        let mut expected = message::Builder::new_default();
        {
            let mut n: node::Builder<'_> = expected.init_root();
            n.set_id(0x1234567890abcdef);
            n.set_display_name("demo.capnp:Thing");
            n.set_display_name_prefix_length(11);
            n.set_scope_id(42);
            n.set_is_generic(true);
            let mut nn = n.reborrow().init_nested_nodes(1);
            nn.reborrow().get(0).set_name("Inner");
            nn.reborrow().get(0).set_id(7);
            let mut st = n.init_struct();
            st.set_data_word_count(2);
            st.set_pointer_count(1);
            st.set_preferred_list_encoding(capnp::schema_capnp::ElementSize::InlineComposite);
            let mut fs = st.init_fields(3);
            {
                let mut a = fs.reborrow().get(0);
                a.set_name("a");
                a.set_code_order(0);
                let mut slot = a.reborrow().init_slot();
                slot.set_offset(3);
                slot.reborrow().init_type().set_int32(());
                a.reborrow().init_ordinal().set_explicit(0);
            }
            {
                let mut b = fs.reborrow().get(1);
                b.set_name("b");
                b.set_code_order(1);
                b.set_discriminant_value(2);
                b.reborrow().init_group().set_type_id(99);
                b.reborrow().init_ordinal().set_implicit(());
            }
            {
                let mut c = fs.reborrow().get(2);
                c.set_name("c");
                c.set_code_order(2);
                let mut slot = c.reborrow().init_slot();
                slot.reborrow()
                    .init_type()
                    .init_list()
                    .init_element_type()
                    .set_text(());
                c.reborrow().init_ordinal().set_explicit(2);
            }
        }
        let theirs: node::Reader<'_> = expected.get_root_as_reader().unwrap();
        let ours: node::Reader<'_> = msg.get_root().unwrap();
        let canon = |r: node::Reader<'_>| {
            let mut m = message::Builder::new_default();
            m.set_root_canonical(r).unwrap();
            m.get_segments_for_output()[0].to_vec()
        };
        assert_eq!(
            canon(ours),
            canon(theirs),
            "canonical bytes differ from generated code"
        );
    });
}

/// The generated `node::Builder` writes a node; the codec reads it into JS.
#[test]
fn decoding_matches_generated_code() {
    use capnp::schema_capnp::node;
    let s = schema_capnp_set();
    let node_id = id_of(s, "capnp/schema.capnp:Node");
    let mut msg = message::Builder::new_default();
    {
        let mut n: node::Builder<'_> = msg.init_root();
        n.set_id(u64::MAX);
        n.set_display_name("x.capnp:E");
        let mut e = n.init_enum().init_enumerants(2);
        e.reborrow().get(0).set_name("alpha");
        e.reborrow().get(0).set_code_order(1);
        e.reborrow().get(1).set_name("beta");
    }
    let bytes = capnp::serialize::write_message_to_words(&msg);
    with_js(|ctx| {
        let out = decode(&ctx, s, node_id, &bytes, &Vec::new(), TestCaps::default()).unwrap();
        let expected = eval(
            &ctx,
            r#"{ id: 18446744073709551615n, displayName: "x.capnp:E", displayNamePrefixLength: 0,
                 scopeId: 0n, nestedNodes: [], annotations: [], parameters: [], isGeneric: false,
                 enum: { enumerants: [ { name: "alpha", codeOrder: 1, annotations: [] },
                                       { name: "beta", codeOrder: 0, annotations: [] } ] } }"#,
        );
        js_check(&ctx, &expected, &out, false);
        ctx.globals().set("out", out).unwrap();
        // Only the active union member (`enum`) of the node's union is present.
        let ok: bool = ctx
            .eval(r#"!("struct" in out) && !("file" in out) && !("interface" in out)"#)
            .unwrap();
        assert!(ok);
    });
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn wrong_inputs_give_exact_errors() {
    let c = test_schema();
    let s = &c.schema;
    let params = id_of(s, "test.capnp:Params");
    let all = id_of(s, "test.capnp:TestAllTypes");
    let table: &[(u64, &str, &str, ErrorKind)] = &[
        (params, r#"{ items: [{}, {}, {}, { price: "9.99" }], shape: { circle: 1 } }"#,
            "params.items[3].price: expected number, got string", ErrorKind::Type),
        (params, "{ count: 300, shape: { circle: 1 } }", "params.count: 300 out of range for UInt8", ErrorKind::Range),
        (params, "{ count: -1, shape: { circle: 1 } }", "params.count: -1 out of range for UInt8", ErrorKind::Range),
        (params, "{ count: 1.5, shape: { circle: 1 } }", "params.count: expected an integer for UInt8, got 1.5", ErrorKind::Range),
        (params, "{ count: NaN, shape: { circle: 1 } }", "params.count: expected an integer for UInt8, got NaN", ErrorKind::Range),
        (params, "{ count: Infinity, shape: { circle: 1 } }", "params.count: expected an integer for UInt8, got Infinity", ErrorKind::Range),
        (params, "{ count: 1n, shape: { circle: 1 } }", "params.count: expected number, got bigint", ErrorKind::Type),
        (params, r#"{ kind: "blue", shape: { circle: 1 } }"#, "", ErrorKind::Type), // valid: placeholder replaced below
        (params, r#"{ kind: "purple", shape: { circle: 1 } }"#, r#"params.kind: unknown enumerant "purple" for enum Color"#, ErrorKind::Type),
        (params, r#"{ kind: true, shape: { circle: 1 } }"#, "params.kind: expected enumerant name of Color, got boolean", ErrorKind::Type),
        (params, "{}", "params.shape: exactly one of circle, square must be set", ErrorKind::Type),
        (params, "{ shape: {} }", "params.shape: exactly one of circle, square must be set", ErrorKind::Type),
        (params, "{ shape: { circle: 1, square: 2 } }", "params.shape: exactly one of circle, square must be set", ErrorKind::Type),
        (params, "{ shape: { circle: 1, square: undefined } }", "", ErrorKind::Type),
        (params, "{ extra: 1, shape: { circle: 1 } }", "params.extra: no such field in Params", ErrorKind::Type),
        (params, "{ shape: { circle: 1, triangle: 3 } }", "params.shape.triangle: no such field in shape", ErrorKind::Type),
        (params, "{ big: 9223372036854775808n, shape: { circle: 1 } }", "params.big: 9223372036854775808 out of range for Int64", ErrorKind::Range),
        (params, "{ big: -9223372036854775809n, shape: { circle: 1 } }", "params.big: -9223372036854775809 out of range for Int64", ErrorKind::Range),
        (params, "{ ubig: -1n, shape: { circle: 1 } }", "params.ubig: -1 out of range for UInt64", ErrorKind::Range),
        (params, "{ ubig: 18446744073709551616n, shape: { circle: 1 } }", "params.ubig: 18446744073709551616 out of range for UInt64", ErrorKind::Range),
        (params, "{ ubig: -1, shape: { circle: 1 } }", "params.ubig: -1 out of range for UInt64", ErrorKind::Range),
        (params, "{ big: 2 ** 53, shape: { circle: 1 } }", "params.big: 9007199254740992 is not a safe integer; use a BigInt for Int64", ErrorKind::Range),
        (params, r#"{ big: "1", shape: { circle: 1 } }"#, "params.big: expected bigint, got string", ErrorKind::Type),
        (params, "{ f32: 1e300, shape: { circle: 1 } }", "params.f32: 1e300 out of range for Float32", ErrorKind::Range),
        (params, "{ f32: 1n, shape: { circle: 1 } }", "params.f32: expected number, got bigint", ErrorKind::Type),
        (params, "{ name: 5, shape: { circle: 1 } }", "params.name: expected string, got number", ErrorKind::Type),
        (params, r#"{ name: "\ud800", shape: { circle: 1 } }"#, "params.name: string contains a lone surrogate and cannot be encoded as UTF-8", ErrorKind::Type),
        (params, r#"{ blob: "abc", shape: { circle: 1 } }"#, "params.blob: expected Uint8Array, got string", ErrorKind::Type),
        (params, "{ blob: [1, 2], shape: { circle: 1 } }", "params.blob: expected Uint8Array, got array", ErrorKind::Type),
        (params, "{ flag: 1, shape: { circle: 1 } }", "params.flag: expected boolean, got number", ErrorKind::Type),
        (params, "{ point: 5, shape: { circle: 1 } }", "params.point: expected object, got number", ErrorKind::Type),
        (params, "{ point: [], shape: { circle: 1 } }", "params.point: expected object, got array", ErrorKind::Type),
        (params, "{ point: { x: 1, z: 2 }, shape: { circle: 1 } }", "params.point.z: no such field in Point", ErrorKind::Type),
        (params, "{ items: {}, shape: { circle: 1 } }", "params.items: expected array, got object", ErrorKind::Type),
        (params, "{ items: [null], shape: { circle: 1 } }", "params.items[0]: expected object, got null", ErrorKind::Type),
        (params, "{ ints: [1, 2, 2147483648], shape: { circle: 1 } }", "params.ints[2]: 2147483648 out of range for Int32", ErrorKind::Range),
        (params, "{ ints: [1, , 3], shape: { circle: 1 } }", "params.ints[1]: expected number, got undefined", ErrorKind::Type),
        (params, "{ count: null, shape: { circle: 1 } }", "params.count: expected number, got null", ErrorKind::Type),
        (params, "5", "params: expected object, got number", ErrorKind::Type),
        (params, "null", "params: expected object, got null", ErrorKind::Type),
        (all, "{ voidField: 0, setB: 1 }", "params.voidField: expected null, got number", ErrorKind::Type),
        (all, "{ setB: 1 }", "params.shape: exactly one of none, circle, square, label, poly must be set", ErrorKind::Type),
        (all, "{ shape: { none: null } }", "params: exactly one of unsetA, setB must be set", ErrorKind::Type),
        (all, "{ setB: 1, shape: { none: null, circle: undefined } }", "", ErrorKind::Type),
        (all, "{ setB: 1, listList: [[1], [2, \"x\"]] }", "params.listList[1][1]: expected number, got string", ErrorKind::Type),
        (all, "{ setB: 1, textListList: [[\"a\"], 3] }", "params.textListList[1]: expected array, got number", ErrorKind::Type),
        (all, "{ setB: 1, textList: [\"a\", , \"b\"] }", "params.textList[1]: expected string, got undefined", ErrorKind::Type),
        (all, "{ setB: 1, shape: { none: null }, textList: [\"a\", null], dataList: [null], listList: [null] }", "", ErrorKind::Type),
        (all, "{ setB: 1, enumList: [\"red\", \"mauve\"] }", "params.enumList[1]: unknown enumerant \"mauve\" for enum Color", ErrorKind::Type),
        (all, "{ setB: 1, group: { inner: { c: 1 } } }", "params.group.inner.c: expected boolean, got number", ErrorKind::Type),
        (all, "{ setB: 1, group: 3 }", "params.group: expected object, got number", ErrorKind::Type),
        (all, "{ setB: 1, shape: { poly: { sides: 256 } } }", "params.shape.poly.sides: 256 out of range for UInt8", ErrorKind::Range),
        (all, "{ setB: 1, unsetA: null }", "params: exactly one of unsetA, setB must be set", ErrorKind::Type),
        (all, "{ setB: 1, structField: { int8Field: 1 } }",
            "params.structField: exactly one of unsetA, setB must be set", ErrorKind::Type),
        (all, "{ setB: 1, structField: { setB: 1, structList: [{ setB: 1, shape: { none: null } }, { setB: 1, int8Field: 128 }] } }",
            "params.structField.structList[1].int8Field: 128 out of range for Int8", ErrorKind::Range),
        (all, "{ setB: 1, structField: { setB: 1, shape: { none: null }, structList: [{ setB: 1 }] } }",
            "params.structField.structList[0].shape: exactly one of none, circle, square, label, poly must be set", ErrorKind::Type),
        (all, "{ setB: 1, interfaceField: 5 }", "params.interfaceField: expected a capability", ErrorKind::Type),
        (all, "(() => { const o = { setB: 1 }; o.structField = o; return o; })()",
            "nesting deeper than 64 (cyclic object?)", ErrorKind::Limit),
        (all, "{ setB: 1, get int8Field() { throw new Error('boom'); } }", "", ErrorKind::Js),
    ];
    with_js(|ctx| {
        for (id, src, expected, kind) in table {
            let v = eval(&ctx, src);
            let result = encode(&ctx, s, *id, &v);
            if expected.is_empty() && *kind != ErrorKind::Js {
                assert!(
                    result.is_ok(),
                    "{src} should be accepted: {:?}",
                    result.err()
                );
                continue;
            }
            let err = match result {
                Ok(_) => panic!("{src} was accepted, expected {expected:?}"),
                Err(e) => e,
            };
            if *kind == ErrorKind::Js {
                assert_eq!(err.kind, ErrorKind::Js, "{src}: {err}");
                let ex = ctx.catch();
                assert!(
                    ex.as_exception()
                        .and_then(|e| e.message())
                        .is_some_and(|m| m == "boom"),
                    "{src}: {ex:?}"
                );
                continue;
            }
            if expected.starts_with("nesting") {
                assert!(err.to_string().ends_with(expected), "{src}: {err}");
                assert_eq!(err.kind, *kind);
                continue;
            }
            assert_eq!(err.to_string(), *expected, "for {src}");
            assert_eq!(err.kind, *kind, "kind for {src}");
        }
    });
}

#[test]
fn errors_are_thrown_as_js_errors() {
    let c = test_schema();
    let s = &c.schema;
    let params = id_of(s, "test.capnp:Params");
    with_js(|ctx| {
        let v = eval(&ctx, r#"{ kind: "purple", shape: { circle: 1 } }"#);
        let err = encode(&ctx, s, params, &v).err().unwrap();
        let thrown = err.throw(&ctx);
        assert!(matches!(thrown, rquickjs::Error::Exception));
        let ex = ctx.catch();
        let ex = ex.as_exception().unwrap();
        assert_eq!(
            ex.message().unwrap(),
            r#"params.kind: unknown enumerant "purple" for enum Color"#
        );
        let is_type_error: bool = ctx
            .globals()
            .set("ex", ex.clone())
            .and_then(|_| ctx.eval("ex instanceof TypeError"))
            .unwrap();
        assert!(is_type_error);
        let v = eval(&ctx, "{ count: 300, shape: { circle: 1 } }");
        let err = encode(&ctx, s, params, &v).err().unwrap();
        let _ = err.throw(&ctx);
        let ex = ctx.catch();
        let is_range: bool = ctx
            .globals()
            .set("ex", ex)
            .and_then(|_| ctx.eval("ex instanceof RangeError"))
            .unwrap();
        assert!(is_range);
    });
}

#[test]
fn unknown_enumerant_ordinals_read_as_numbers() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestAllTypes");
    with_js(|ctx| {
        let v = eval(
            &ctx,
            "{ setB: 1, shape: { none: null }, enumField: 7, enumList: [0, 9, \"blue\"] }",
        );
        let out = round_trip(&ctx, s, id, &v).unwrap();
        let expected = eval(&ctx, "{ enumField: 7, enumList: [\"red\", 9, \"blue\"] }");
        js_check(&ctx, &expected, &out, false);
    });
}

#[test]
fn message_size_and_depth_are_limited() {
    let c = test_schema();
    let s = &c.schema;
    let id = id_of(s, "test.capnp:TestAllTypes");
    with_js(|ctx| {
        let limits = codec::Limits {
            max_words: 1000,
            max_depth: 2,
        };
        let write = |src: &str| {
            let v = eval(&ctx, src);
            let mut msg = message::Builder::new_default();
            codec::write_struct_with(
                &ctx,
                s,
                id,
                &v,
                msg.init_root(),
                &mut NoCaps,
                &mut Path::new("params"),
                limits,
            )
        };
        let err = write("{ setB: 1, shape: { none: null }, int64List: new Array(2000).fill(0n) }")
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
        assert_eq!(
            err.to_string(),
            "params.int64List: message too large (more than 1000 words)"
        );
        let err = write(
            r#"{ setB: 1, shape: { none: null }, textList: new Array(100).fill("x".repeat(100)) }"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "params.textList[66]: message too large (more than 1000 words)"
        );
        write("{ setB: 1, shape: { none: null }, listList: [[1]] }").unwrap();
        let err = write("{ setB: 1, shape: { none: null }, textListList: [[\"a\"]], structField: { setB: 1, shape: { none: null }, listList: [[1]] } }").unwrap_err();
        assert_eq!(
            err.to_string(),
            "params.structField.listList[0]: nesting deeper than 2 (cyclic object?)"
        );
        // An array-like that is not an array is refused as a type error.
        let err = write("{ setB: 1, shape: { none: null }, voidList: { length: 2 ** 32 - 1 } }")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "params.voidList: expected array, got object"
        );
    });
}

#[test]
fn method_params_and_results_helpers() {
    let c = test_schema();
    let s = &c.schema;
    let shop = id_of(s, "test.capnp:Shop");
    with_js(|ctx| {
        let v = eval(
            &ctx,
            r#"{ count: 3, kind: "green", items: [{ price: 1.25, name: "a" }], shape: { square: 2 } }"#,
        );
        let mut msg = message::Builder::new_default();
        codec::write_params(&ctx, s, shop, 0, &v, msg.init_root(), &mut NoCaps).unwrap();
        let reader = msg.get_root_as_reader::<any_pointer::Reader<'_>>().unwrap();
        let out = codec::read_params(&ctx, s, shop, 0, reader, &mut NoCaps).unwrap();
        js_check(&ctx, &v, &out, false);

        let r = eval(&ctx, r#"{ price: 2.5, name: "item" }"#);
        let mut msg = message::Builder::new_default();
        codec::write_results(&ctx, s, shop, 0, &r, msg.init_root(), &mut NoCaps).unwrap();
        let reader = msg.get_root_as_reader::<any_pointer::Reader<'_>>().unwrap();
        let out = codec::read_results(&ctx, s, shop, 0, reader, &mut NoCaps).unwrap();
        js_check(&ctx, &r, &out, true);

        let bad = eval(&ctx, r#"{ price: "x" }"#);
        let mut msg = message::Builder::new_default();
        let err =
            codec::write_results(&ctx, s, shop, 0, &bad, msg.init_root(), &mut NoCaps).unwrap_err();
        assert_eq!(
            err.to_string(),
            "results.price: expected number, got string"
        );
        let err =
            codec::write_params(&ctx, s, shop, 5, &v, msg.init_root(), &mut NoCaps).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid schema: interface Shop has no method @5"
        );

        // Capabilities refused by NoCaps, with the path.
        let derived = c.interface_id;
        let find = s
            .interface(derived)
            .unwrap()
            .method_by_name("find")
            .unwrap()
            .clone();
        let res = eval(&ctx, r#"{ names: [{ cap: "x" }] }"#);
        let err = codec::write_results(
            &ctx,
            s,
            derived,
            find.ordinal,
            &res,
            msg.init_root(),
            &mut NoCaps,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "results.names[0]: capabilities cannot be sent here"
        );

        // Params defaults: `limit :UInt8 = 10`.
        let mut msg = message::Builder::new_default();
        codec::write_params(
            &ctx,
            s,
            derived,
            find.ordinal,
            &eval(&ctx, r#"{ filter: "f" }"#),
            msg.init_root(),
            &mut NoCaps,
        )
        .unwrap();
        let reader = msg.get_root_as_reader::<any_pointer::Reader<'_>>().unwrap();
        let out = codec::read_params(&ctx, s, derived, find.ordinal, reader, &mut NoCaps).unwrap();
        js_check(
            &ctx,
            &eval(&ctx, r#"{ filter: "f", limit: 10 }"#),
            &out,
            true,
        );
    });
}

// ---------------------------------------------------------------------------
// Schema: interfaces, inheritance, checks
// ---------------------------------------------------------------------------

#[test]
fn interfaces_expose_inherited_methods() {
    let c = test_schema();
    let s = &c.schema;
    let derived = s.interface(c.interface_id).unwrap();
    assert_eq!(&*derived.name, "Derived");
    let base = id_of(s, "test.capnp:Base");
    let names: Vec<(&str, u64, u16)> = derived
        .methods
        .iter()
        .map(|m| (&*m.name, m.interface_id, m.ordinal))
        .collect();
    assert_eq!(
        names,
        vec![
            ("echo", c.interface_id, 0),
            ("find", c.interface_id, 1),
            ("nested", c.interface_id, 2),
            ("ping", base, 0),
            ("describe", base, 1),
        ]
    );
    let ping = derived.method_by_name("ping").unwrap();
    assert_eq!(&*ping.interface_name, "Base");
    assert_eq!(s.struct_info(ping.param_struct).unwrap().name(), "Params");
    let inner_api = id_of(s, "test.capnp:Outer.InnerApi");
    let methods: Vec<&str> = s
        .interface(inner_api)
        .unwrap()
        .methods
        .iter()
        .map(|m| &*m.name)
        .collect();
    assert_eq!(methods, vec!["call", "name"]);
    s.check_interface(inner_api).unwrap();
    s.check_interface(id_of(s, "test.capnp:Shop")).unwrap();
}

fn check_error(src: &str, iface: &str) -> String {
    match compile::compile_schema(&[("t.capnp", src)], iface) {
        Ok(_) => panic!("{iface} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn check_interface_rejects_anypointer_and_generics() {
    let head = "@0xe1a2b3c4d5e6f708;\n";
    let cases = [
        ("interface Inventory { find @0 (filter :AnyPointer) -> (); }",
         "Inventory.find: params.filter: AnyPointer is not supported"),
        ("struct Q { p @0 :AnyPointer; }\ninterface Inventory { find @0 () -> (items :List(Q)); }",
         "Inventory.find: results.items[].p: AnyPointer is not supported"),
        ("struct Q { inner :group { any @0 :AnyStruct; } }\ninterface Inventory { find @0 (q :Q) -> (); }",
         "Inventory.find: params.q.inner.any: AnyStruct is not supported"),
        ("struct Q { cap @0 :Capability; }\ninterface Inventory { find @0 (qs :List(List(Q))) -> (); }",
         "Inventory.find: params.qs[][].cap: Capability (untyped interface) is not supported"),
        ("struct Box(T) { v @0 :T; }\ninterface Inventory { find @0 (b :Box(Text)) -> (); }",
         "Inventory.find: params.b: generic types (brands, type parameters) are not supported"),
        ("interface Inventory(T) { find @0 (t :T) -> (); }",
         "Inventory: generic interfaces are not supported"),
        ("interface Inventory { find @0 [T] (t :T) -> (); }",
         "Inventory.find: generic types (brands, type parameters) are not supported"),
        ("interface Other { bad @0 (x :AnyList) -> (); }\ninterface Inventory { get @0 () -> (o :Other); }",
         "Other.bad: params.x: AnyList is not supported"),
        ("interface Base(T) { get @0 () -> (t :T); }\ninterface Inventory extends(Base(Text)) {}",
         "Inventory: extends a generic interface instantiation; generic types (brands, type parameters) are not supported"),
        ("interface Base { bad @0 (x :AnyPointer) -> (); }\ninterface Inventory extends(Base) {}",
         "Base.bad: params.x: AnyPointer is not supported"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            check_error(&format!("{head}{body}"), "t.capnp:Inventory"),
            expected,
            "for {body}"
        );
    }
    // Recursive structs are fine and do not loop.
    let ok = format!("{head}struct A {{ children @0 :List(A); b @1 :B; }}\nstruct B {{ a @0 :A; }}\ninterface Inventory {{ f @0 (a :A) -> (b :B); g @1 () -> (i :Inventory); }}");
    compile::compile_schema(&[("t.capnp", &ok)], "t.capnp:Inventory").unwrap();
}

#[test]
fn compile_errors_name_file_line_col() {
    let err = compile::compile_schema(
        &[
            ("good.capnp", "@0xe1a2b3c4d5e6f709;\nstruct Ok {}\n"),
            (
                "bad.capnp",
                "@0xe1a2b3c4d5e6f70a;\n\nstruct X {\n  a @0 :Txt;\n}\n",
            ),
        ],
        "bad.capnp:X",
    )
    .unwrap_err();
    assert!(matches!(err, CompileError::Syntax(_)));
    assert_eq!(err.to_string(), "bad.capnp:4:9: Not defined: Txt");
    let err = compile::compile_schema(
        &[("dir/p.capnp", "@0xe1a2b3c4d5e6f70b;\nstruct {\n")],
        "dir/p.capnp:X",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "dir/p.capnp:3:1: Parse error.");
    // Two errors: the first is reported, with a count.
    let err = compile::compile_schema(
        &[(
            "m.capnp",
            "@0xe1a2b3c4d5e6f70c;\nstruct A { a @0 :Nope1; }\nstruct B { b @0 :Nope2; }\n",
        )],
        "m.capnp:A",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "m.capnp:2:18: Not defined: Nope1 (and 1 more error)"
    );
    // Interface resolution errors.
    let files = [(
        "i.capnp",
        "@0xe1a2b3c4d5e6f70d;\nstruct S {}\ninterface I { struct N {} interface J {} }\n",
    )];
    assert_eq!(
        compile::compile_schema(&files, "i.capnp:S")
            .unwrap_err()
            .to_string(),
        "S in i.capnp is not an interface"
    );
    assert_eq!(
        compile::compile_schema(&files, "i.capnp:Z")
            .unwrap_err()
            .to_string(),
        "no Z in i.capnp"
    );
    assert_eq!(
        compile::compile_schema(&files, "o.capnp:I")
            .unwrap_err()
            .to_string(),
        "no schema file \"o.capnp\""
    );
    assert!(compile::compile_schema(&files, "I")
        .unwrap_err()
        .to_string()
        .contains("must look like"));
    compile::compile_schema(&files, "i.capnp:I.J").unwrap();
    // Imports among the given files work; others are refused before compiling.
    compile::compile_schema(
        &[
            ("a/x.capnp", "@0xe1a2b3c4d5e6f70e;\nusing Y = import \"../b/y.capnp\";\ninterface X { f @0 (y :Y.Y) -> (); }\n"),
            ("b/y.capnp", "@0xe1a2b3c4d5e6f70f;\nstruct Y { t @0 :Text; }\n"),
        ],
        "a/x.capnp:X",
    )
    .unwrap();
    let err = compile::compile_schema(
        &[(
            "x.capnp",
            "@0xe1a2b3c4d5e6f710;\nconst secret :Data = embed \"/etc/passwd\";\n",
        )],
        "x.capnp:X",
    )
    .unwrap_err();
    assert!(matches!(err, CompileError::ForbiddenImport(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "x.capnp:2:22: embed \"/etc/passwd\": only the standard /capnp/*.capnp schemas can be imported by absolute path"
    );
    let err = compile::compile_schema(&[("../x.capnp", "")], "x.capnp:X").unwrap_err();
    assert!(matches!(err, CompileError::BadFileName(..)), "{err}");
}

#[test]
fn compiler_cache_hits_by_content() {
    let compiler = SchemaCompiler::new(2);
    let a = [(
        "a.capnp",
        "@0xe1a2b3c4d5e6f711;\ninterface A { f @0 () -> (); }\n",
    )];
    let b = [(
        "b.capnp",
        "@0xe1a2b3c4d5e6f712;\ninterface B { f @0 () -> (); }\n",
    )];
    let c = [(
        "c.capnp",
        "@0xe1a2b3c4d5e6f713;\ninterface C { f @0 () -> (); }\n",
    )];
    let first = compiler.compile(&a, "a.capnp:A").unwrap();
    let again = compiler.compile(&a, "a.capnp:A").unwrap();
    assert!(
        Arc::ptr_eq(&first.schema, &again.schema),
        "second compile is served from the cache"
    );
    compiler.compile(&b, "b.capnp:B").unwrap();
    compiler.compile(&c, "c.capnp:C").unwrap();
    assert_eq!(compiler.cached(), 2);
    // `a` was least recently used and got evicted.
    let third = compiler.compile(&a, "a.capnp:A").unwrap();
    assert!(!Arc::ptr_eq(&first.schema, &third.schema));
    // Failures are not cached and still come back as errors.
    assert!(compiler
        .compile(&[("e.capnp", "nonsense")], "e.capnp:E")
        .is_err());
}

// ---------------------------------------------------------------------------
// Hostile node lists
// ---------------------------------------------------------------------------

/// Builds a node list by hand (as a hostile client could) and feeds it to
/// `SchemaSet::from_nodes`.
fn nodes_message(
    build: impl FnOnce(capnp::struct_list::Builder<'_, capnp::schema_capnp::node::Owned>),
) -> message::Builder<message::HeapAllocator> {
    let mut msg = message::Builder::new_default();
    {
        let root: capnp::schema_capnp::code_generator_request::Builder<'_> = msg.init_root();
        build(root.init_nodes(3));
    }
    msg
}

fn from_nodes(msg: &message::Builder<message::HeapAllocator>) -> Result<SchemaSet, SchemaError> {
    let req: capnp::schema_capnp::code_generator_request::Reader<'_> =
        msg.get_root_as_reader().unwrap();
    SchemaSet::from_nodes(req.get_nodes().unwrap().iter())
}

#[test]
fn hostile_nodes_are_refused_cleanly() {
    // A field whose offset lies outside its struct.
    let msg = nodes_message(|mut nodes| {
        let mut n = nodes.reborrow().get(0);
        n.set_id(1);
        n.set_display_name("h.capnp:S");
        n.set_display_name_prefix_length(8);
        let mut st = n.init_struct();
        st.set_data_word_count(1);
        let mut f = st.init_fields(1).get(0);
        f.set_name("x");
        f.set_discriminant_value(0xffff);
        let mut slot = f.init_slot();
        slot.set_offset(2);
        slot.init_type().set_int64(());
        nodes.reborrow().get(1).set_id(2);
        nodes.reborrow().get(2).set_id(3);
    });
    assert_eq!(
        from_nodes(&msg).unwrap_err().to_string(),
        "invalid schema: S: field x lies outside the data section"
    );

    // A group that contains itself, and an interface extending itself with a
    // method whose params are a missing node.
    let msg = nodes_message(|mut nodes| {
        let mut n = nodes.reborrow().get(0);
        n.set_id(10);
        n.set_display_name("h.capnp:G");
        let mut st = n.init_struct();
        st.set_is_group(true);
        let mut f = st.init_fields(1).get(0);
        f.set_name("me");
        f.set_discriminant_value(0xffff);
        f.init_group().set_type_id(10);
        let mut n = nodes.reborrow().get(1);
        n.set_id(11);
        n.set_display_name("h.capnp:Holder");
        let mut f = n.init_struct().init_fields(1).get(0);
        f.set_name("g");
        f.set_discriminant_value(0xffff);
        f.init_group().set_type_id(10);
        nodes.reborrow().get(2).set_id(12);
    });
    let err = from_nodes(&msg).unwrap_err().to_string();
    assert!(err.contains("nests recursively"), "{err}");

    let msg = nodes_message(|mut nodes| {
        let mut n = nodes.reborrow().get(0);
        n.set_id(20);
        n.set_display_name("h.capnp:I");
        n.set_display_name_prefix_length(8);
        let mut i = n.init_interface();
        i.reborrow().init_superclasses(1).get(0).set_id(20);
        let mut m = i.init_methods(1).get(0);
        m.set_name("m");
        m.set_param_struct_type(0xdead);
        m.set_result_struct_type(21);
        let mut n = nodes.reborrow().get(1);
        n.set_id(21);
        n.set_display_name("h.capnp:R");
        n.set_display_name_prefix_length(8);
        let mut st = n.init_struct();
        st.set_data_word_count(1);
        let mut f = st.init_fields(1).get(0);
        f.set_name("e");
        f.set_discriminant_value(0xffff);
        f.init_slot().init_type().init_enum().set_type_id(0xbeef);
        nodes.reborrow().get(2).set_id(22);
    });
    let set = from_nodes(&msg).unwrap();
    assert_eq!(
        set.interface(20).unwrap().methods.len(),
        1,
        "self-extension does not loop"
    );
    assert_eq!(
        set.check_interface(20).unwrap_err().to_string(),
        "I.m: params: unknown node id 0x000000000000dead"
    );
    assert_eq!(
        set.check_interface(99).unwrap_err().to_string(),
        "unknown node id 0x0000000000000063"
    );
    assert!(matches!(set.struct_info(20), Err(SchemaError::Invalid(_))));
}

/// A client can send compiled nodes instead of source (`CompiledSchema`):
/// the same nodes, copied into a node list, give an equivalent set.
#[test]
fn schema_from_a_client_node_list_works_like_compiled_source() {
    let c = test_schema();
    let ids: Vec<u64> = c.schema.node_ids().collect();
    let mut msg = message::Builder::new_default();
    {
        let root: capnp::schema_capnp::code_generator_request::Builder<'_> = msg.init_root();
        let mut list = root.init_nodes(ids.len() as u32);
        for (i, id) in ids.iter().enumerate() {
            let node = c.schema.node(*id).unwrap();
            list.set_with_caveats(i as u32, node.get().unwrap())
                .unwrap();
        }
    }
    let req: capnp::schema_capnp::code_generator_request::Reader<'_> =
        msg.get_root_as_reader().unwrap();
    let set = SchemaSet::from_nodes(req.get_nodes().unwrap().iter()).unwrap();
    set.check_interface(c.interface_id).unwrap();
    let id = id_of(&set, "test.capnp:TestAllTypes");
    with_js(|ctx| {
        let v = eval(&ctx, FULL_VALUE);
        let out = round_trip(&ctx, &set, id, &v).unwrap();
        js_check(&ctx, &v, &out, false);
    });
}

/// Compiles on several threads at once each get their own diagnostics.
#[test]
fn concurrent_compiles_keep_their_diagnostics() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let text = format!(
                    "@0xe1a2b3c4d5e6f7{:02x};\nstruct S{i} {{ a @0 :Missing{i}; }}\n",
                    0x20 + i
                );
                let name = format!("f{i}.capnp");
                compile::compile_schema(&[(&name, &text)], &format!("{name}:S{i}"))
                    .unwrap_err()
                    .to_string()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let col = 18 + i.to_string().len();
        assert_eq!(
            h.join().unwrap(),
            format!("f{i}.capnp:2:{col}: Not defined: Missing{i}")
        );
    }
}
