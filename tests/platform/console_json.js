// Console arguments print as JSON, with what JSON would drop or throw on
// shown: a cycle (also through an array, and an object without a
// prototype) prints "[Circular]" where it closes, while an object merely
// seen twice prints twice; a BigInt prints as "12n"; a Map as an object (or
// as [key, value] pairs when a key is not a string or number), a Set and a
// typed array as lists, Headers as an object, a RegExp, URLSearchParams and
// an error inside an object as text; an object whose JSON is a string (a
// Date, a URL) prints as that text, unquoted. A toJSON that throws falls back to
// String(value). What the worker's code threw while formatting is dropped:
// it must not surface in later, unrelated code (here `new URL`, which once
// failed with "TypeError: circular reference").
export default function run() {
  const cyc = { name: "root", list: [1] };
  cyc.self = cyc;
  cyc.list.push(cyc);
  const shared = { s: 1 };
  console.log("cyclic", cyc, { a: shared, b: shared });
  console.log({ big: 12n, nested: [3n] });
  console.log({ toJSON() { throw new Error("from toJSON"); } });
  const bare = Object.create(null);
  bare.me = bare;
  console.log(bare);
  const unprintable = Object.create(null);
  unprintable.toJSON = () => { throw new Error("no"); };
  console.log(unprintable);
  console.table([{ c: cyc }]);
  const self = new Map();
  self.set("me", self);
  console.log(new Map([["a", 1], [2, { b: new Set(["x"]) }]]), new Map([[{ k: 1 }, "object key"]]), self);
  console.log(new Set([1, "a", [2]]), new Uint8Array([1, 2, 255]), /a+b/gi, { error: new TypeError("inside") });
  console.log(new Headers({ "X-A": "1", accept: "*/*" }), new URLSearchParams({ q: "a b", n: "1" }));
  console.log("at", new Date(0), new URL("https://example.com/a?b"), { when: new Date(0) });
  return new URL("http://a/b").pathname;
}
