// HTML §2.7 structuredClone: what survives a clone, what is refused.
export default function run() {
  const out = {};
  // Cycles and shared references are kept.
  const cyclic = { name: "root" };
  cyclic.self = cyclic;
  cyclic.list = [cyclic, cyclic];
  const c = structuredClone(cyclic);
  out.cycle = [c !== cyclic, c.self === c, c.list[0] === c, c.list[1] === c, c.name];

  // Map and Set keep order, keys are cloned too.
  const key = { k: 1 };
  const map = new Map([[key, "v"], ["b", [1, 2]]]);
  const m = structuredClone(map);
  out.map = [m instanceof Map, [...m.keys()].map((k) => typeof k === "object" ? k.k : k), m.get("b"), m.has(key)];
  out.set = [...structuredClone(new Set([3, 1, 2, 3]))];

  // Dates, RegExps (lastIndex reset), wrappers, BigInt.
  const re = /a+b/gi;
  re.lastIndex = 3;
  const r = structuredClone(re);
  out.regexp = [r.source, r.flags, r.lastIndex, r !== re];
  out.date = structuredClone(new Date(Date.UTC(2020, 1, 29))).toISOString();
  out.wrappers = [typeof structuredClone(Object(1)), structuredClone(new String("s")).valueOf(),
    structuredClone(Object(10n)).valueOf() === 10n, structuredClone(2n ** 70n) === 2n ** 70n];
  out.primitives = [structuredClone(undefined) === undefined, structuredClone(null), structuredClone(-0) === 0 && 1 / structuredClone(-0),
    Number.isNaN(structuredClone(NaN)), structuredClone("text")];

  // ArrayBuffers and views; two views of one buffer still share it.
  const buffer = new ArrayBuffer(8);
  const bytes = new Uint8Array(buffer);
  bytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
  const pair = structuredClone({ a: new Uint8Array(buffer, 2, 3), b: new DataView(buffer, 4) });
  out.views = [Array.from(pair.a), pair.a.byteOffset, pair.b.getUint8(0), pair.a.buffer === pair.b.buffer,
    pair.a.buffer !== buffer, pair.a.buffer.byteLength];
  out.floats = Array.from(structuredClone(new Float64Array([1.5, -2])));
  const growable = structuredClone(new ArrayBuffer(2, { maxByteLength: 16 }));
  out.resizable = [growable.resizable, growable.maxByteLength];

  // Errors keep their type and message; unknown names become Error.
  const err = structuredClone(new RangeError("out of range", { cause: "why" }));
  class MyError extends Error { constructor() { super("mine"); this.name = "MyError"; } }
  const mine = structuredClone(new MyError());
  out.errors = [err instanceof RangeError, err.message, err.cause, Object.getPrototypeOf(mine) === Error.prototype, mine.message,
    mine.name, typeof err.stack];
  const dom = structuredClone(new DOMException("m", "NotFoundError"));
  out.domException = [dom instanceof DOMException, dom.name, dom.code];

  // Class instances clone as plain objects with their own enumerable data.
  class Point { constructor() { this.x = 1; } get y() { return 2; } }
  const p = structuredClone(new Point());
  out.instance = [Object.getPrototypeOf(p) === Object.prototype, p.x, p.y];
  const sparse = structuredClone([1, , 3]);
  out.sparse = [sparse.length, 1 in sparse];

  // Transfer detaches the buffer.
  const moving = new Uint8Array([9, 8, 7]).buffer;
  const moved = structuredClone(moving, { transfer: [moving] });
  out.transfer = [moving.byteLength, moving.detached, Array.from(new Uint8Array(moved))];

  // Refused, with DataCloneError.
  const refused = [];
  for (const value of [() => 1, Symbol("s"), { f() {} }, new Proxy({}, {}), new EventTarget(),
                       new AbortController().signal, Promise.resolve(), new WeakMap()]) {
    try { structuredClone(value); refused.push("cloned"); }
    catch (e) { refused.push(`${e.name} ${e.code}`); }
  }
  out.refused = refused;
  try { structuredClone(); } catch (e) { out.noArgument = e.constructor.name; }
  return out;
}
