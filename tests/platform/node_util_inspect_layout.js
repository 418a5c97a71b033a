// node:util inspect as Node.js writes promises and long arrays: a promise
// shows its state (Promise { 1 }, Promise { <pending> }, Promise {
// <rejected> 42 }), an array or typed array over six items is laid out in
// aligned columns (numbers to the right, other items to the left), and
// only its first 100 items are shown, then "... N more items". Expected
// output from Node.js 20 (expected_from_node.mjs).
import util from "node:util";

const out = [];
const rejected = Promise.reject(42);
rejected.catch(() => {});
out.push(
  util.inspect(Promise.resolve(1)),
  util.inspect(new Promise(() => {})),
  util.inspect(rejected),
  util.inspect(Promise.resolve({ a: [1, 2] })),
  util.inspect(Promise.resolve("s")),
  util.inspect({ p: Promise.resolve(2) }),
  util.inspect({ a: { b: { c: { d: Promise.resolve(1) } } } }),
);
out.push(
  util.inspect(Array.from({ length: 150 }, (_, i) => i)),
  util.inspect(Array.from({ length: 120 }, () => "ab")),
  util.inspect(Array.from({ length: 7 }, (_, i) => i * 1000)),
  util.inspect(Array.from({ length: 101 }, () => ({}))),
  util.inspect(new Uint8Array(120)),
  util.inspect(["a", "bb", "ccc", "dddd", "e", "f", "g"]),
  util.inspect({ list: Array.from({ length: 30 }, (_, i) => i * i), name: "x" }),
  util.inspect([1, , 3, 4, 5, 6, 7, 8]),
  util.inspect(Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(i % 5 + 1))),
  util.inspect([10n, 200n, 3n, 4n, 5n, 6n, 7n]),
  util.inspect(Array.from({ length: 8 }, (_, i) => "x".repeat(i * 3))),
  util.inspect([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3]]),
  util.inspect(new Float64Array([1.5, -2, 3.25, 4, 5, 6, 7])),
);
globalThis.out = out;
export default () => globalThis.out;
