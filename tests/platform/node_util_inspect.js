// node:util inspect and format as Node.js writes them: the quote a string
// needs, runs of holes in an array, accessors named without calling them,
// symbol keys, a cycle marked at both ends (<ref *1> … [Circular *1]), and
// %s using a toString the program defined.
import util from "node:util";

const out = [];
out.push(util.inspect("it's"), util.inspect('say "hi"'), util.inspect(`both ' and "`), util.inspect("all ' \" `"), util.inspect("tab\there"));
out.push(util.inspect([1, , 3]), util.inspect([, , , 4]), util.inspect(new Array(3)));
let calls = 0;
const accessors = { get g() { calls++; return 1; }, set s(v) {}, get gs() { calls++; return 2; }, set gs(v) {} };
out.push(util.inspect(accessors), String(calls));
out.push(util.inspect({ [Symbol("k")]: 1, a: 2 }), util.inspect({ [Symbol.iterator]: 0 }));
const root = { name: "root", child: { up: null } };
root.child.up = root;
out.push(util.inspect(root));
const a = { b: { c: {} } };
a.b.c.a = a;
a.b.c.b = a.b;
out.push(util.inspect(a, { depth: 4 }));
class Money { constructor(n) { this.n = n; } toString() { return `$${this.n}`; } }
out.push(util.format("%s", new Money(5)), util.format("%s", { toString() { return "own"; } }), util.format("%s", { a: 1 }), util.format("%s", [1, "x"]));
globalThis.out = out;
export default () => globalThis.out;
