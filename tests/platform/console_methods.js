// WHATWG Console Standard: grouping, counting, timing, assert, table, dir,
// format specifiers. Timers read the frozen clock: no I/O, no time passes.
export default function run() {
  console.log("plain", 1, { a: 1 });
  console.group("outer");
  console.info("inside");
  console.group();
  console.warn("deeper");
  console.groupEnd();
  console.groupEnd();
  console.groupEnd();
  console.log("back");
  console.count();
  console.count();
  console.count("x");
  console.countReset();
  console.count();
  console.countReset("nope");
  console.assert(true, "not shown");
  console.assert(false, "shown %s", "x");
  console.assert(false);
  console.assert(0, { n: 1 });
  console.time("t");
  console.timeLog("t", "mid");
  console.timeEnd("t");
  console.timeEnd("t");
  console.time("t2");
  console.time("t2");
  console.table([{ a: 1, b: "Y" }, { a: "Z", c: true }]);
  console.table([1, "two"]);
  console.table("not tabular");
  console.dir({ d: 1 });
  console.log("%s is %d years, %i%% sure, pi %f %o", "Bob", 42.5, "99", "3.14", [1], "extra");
  console.log("%c styled", "color: red");
  console.log("100%");
  return String(console);
}
