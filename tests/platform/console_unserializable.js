// Console arguments JSON cannot take: a cycle (also through an array, and
// an object without a prototype) prints "[Circular]" where it closes, while
// an object merely seen twice prints twice; a BigInt inside prints as
// "12n"; a toJSON that throws falls back to String(value). What the
// worker's code threw while formatting is dropped: it must not surface in
// later, unrelated code (here `new URL`, which once failed with
// "TypeError: circular reference").
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
  return new URL("http://a/b").pathname;
}
