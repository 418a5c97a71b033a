// Round trip of every Cap'n Proto type through a Rust echo capability.
// Returns the list of mismatches (path: sent vs received).

function same(a, b) {
  if (typeof a === "number" && typeof b === "number") {
    return Object.is(a, b); // NaN equals NaN, -0 differs from 0
  }
  return a === b;
}

function compare(sent, got, path, out) {
  if (sent instanceof Uint8Array) {
    if (!(got instanceof Uint8Array) || got.length !== sent.length || sent.some((x, i) => got[i] !== x)) {
      out.push(`${path}: bytes differ`);
    }
    return;
  }
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) {
      out.push(`${path}: list length ${sent.length} vs ${got?.length}`);
      return;
    }
    sent.forEach((x, i) => compare(x, got[i], `${path}[${i}]`, out));
    return;
  }
  if (sent !== null && typeof sent === "object") {
    if (got === null || typeof got !== "object") {
      out.push(`${path}: expected an object, got ${got}`);
      return;
    }
    for (const key of Object.keys(sent)) {
      compare(sent[key], got[key], `${path}.${key}`, out);
    }
    return;
  }
  if (!same(sent, got)) {
    out.push(`${path}: sent ${String(sent)} (${typeof sent}), got ${String(got)} (${typeof got})`);
  }
}

const big = Array.from({ length: 10000 }, (_, i) => i * 7 - 5000);

const cases = [
  { setB: 1, shape: { none: null } },
  {
    boolField: true,
    int8Field: -128,
    int16Field: 32767,
    int32Field: -2147483648,
    int64Field: -9223372036854775808n,
    uInt8Field: 255,
    uInt16Field: 65535,
    uInt32Field: 4294967295,
    uInt64Field: 18446744073709551615n,
    float32Field: 1.5,
    float64Field: -0,
    textField: "héllo, 世界 🦀",
    dataField: new Uint8Array([0, 1, 254, 255]),
    enumField: "blue",
    setB: -32768,
    shape: { circle: 2.25 },
  },
  {
    int64Field: 9223372036854775807n,
    float64Field: NaN,
    float32Field: -Infinity,
    textField: "",
    dataField: new Uint8Array([]),
    unsetA: null,
    shape: { square: { x: 1e300, y: -1e-300 } },
    group: { a: 7, b: "grouped", inner: { c: true } },
  },
  {
    boolList: [true, false, true, true, false, false, false, true, true],
    int8List: [-128, 0, 127],
    int16List: [-32768, 32767],
    int32List: big,
    int64List: [0n, -1n, 9223372036854775807n],
    uInt8List: [0, 255],
    uInt16List: [0, 65535],
    uInt32List: [0, 4294967295],
    uInt64List: [18446744073709551615n],
    float32List: [0.5, Infinity],
    float64List: [NaN, -0, 1e308],
    textList: ["a", "", "ünïcödé", "🦀🦀"],
    dataList: [new Uint8Array([1]), new Uint8Array([])],
    enumList: ["red", "green", "blue"],
    voidList: [null, null, null],
    listList: [[1, 2, 3], [], [-1]],
    textListList: [["x"], [], ["y", "z"]],
    pointList: [{ x: 1, y: 2 }, { x: -3, y: 0.5 }],
    setB: 0,
    shape: { label: "a label" },
  },
  {
    structField: { int32Field: 42, textField: "nested", setB: 2, shape: { poly: { sides: 6, color: "red" } } },
    structList: [
      { int8Field: 1, setB: 3, shape: { none: null } },
      { textField: "second", unsetA: null, shape: { circle: 0 } },
    ],
    setB: 5,
    shape: { poly: { sides: 3, color: "blue" } },
  },
  { int32List: [], textList: [], structList: [], listList: [], setB: 9, shape: { none: null } },
];

export default {
  async run(input, env) {
    const mismatches = [];
    let checked = 0;
    for (const [i, value] of cases.entries()) {
      const back = await env.echo.echo({ value });
      compare(value, back.value, `case${i}`, mismatches);
      checked++;
    }
    // A TestDefaults with nothing else set reads back with every schema default.
    // (A union must always have one member set, so `shape` is sent.)
    const d = (await env.echo.defaults({ value: { shape: { circle: 2.5 } } })).value;
    const expected = {
      boolField: true, int8Field: -123, int16Field: -12345, int32Field: -12345678,
      int64Field: -123456789012345n, uInt8Field: 234, uInt16Field: 45678, uInt32Field: 3456789012,
      uInt64Field: 12345678901234567890n, float32Field: 1234.5, float64Field: -123e45,
      textField: "foo", dataField: new Uint8Array([0x62, 0x61, 0x72]), structField: { x: 1.5, y: -2.5 },
      enumField: "blue", boolList: [true, false, false, true], int32List: [-1, 2, -3],
      int64List: [-9223372036854775808n, 9223372036854775807n], textList: ["plugh", "xyzzy", "thud"],
      dataList: [new Uint8Array([0, 255]), new Uint8Array([])], enumList: ["blue", "red"],
      pointList: [{ x: 1, y: 2 }, { x: 3, y: 0 }], listList: [[1, 2], [], [3]],
      nan: NaN, negInf: -Infinity, group: { a: 77, b: "in group" }, shape: { circle: 2.5 },
    };
    const defaultMismatches = [];
    compare(expected, d, "defaults", defaultMismatches);
    return {
      cases: cases.length,
      checked,
      mismatches,
      defaults: defaultMismatches.length === 0 ? "ok" : defaultMismatches,
    };
  },
};
