// Intl and the locale methods given hostile locale strings and option bags:
// each is a RangeError or TypeError naming the cause, never a host crash.
// expect: ok ["RangeError","RangeError","RangeError","RangeError","RangeError","TypeError","RangeError","RangeError","RangeError","RangeError","RangeError","Error"]
const name = (f) => { try { f(); return "none"; } catch (e) { return e.name; } };
const huge = "en-" + "a".repeat(1 << 16);
export default () => [
  name(() => new Intl.NumberFormat(huge)),
  name(() => (1).toLocaleString("x".repeat(1 << 16))),
  name(() => "a".localeCompare("b", "en-" + "-".repeat(1000))),
  name(() => new Date(0).toLocaleString("en-u-" + "ca-".repeat(10000))),
  name(() => Intl.getCanonicalLocales({ length: 2 ** 32 - 1 })),
  name(() => new Intl.Collator([Symbol("x")])),
  name(() => new Intl.DateTimeFormat("en", { timeZone: "A/".repeat(100000) })),
  name(() => new Intl.NumberFormat("en", { style: "currency", currency: "\u0000\u0000\u0000" })),
  name(() => new Intl.PluralRules("en", { maximumFractionDigits: 1e9 })),
  name(() => new Intl.Segmenter("\ud800")),
  name(() => "x".toLocaleUpperCase("tr-" + "x".repeat(300))),
  name(() => new Intl.NumberFormat("en", { get style() { throw new Error("getter"); } })),
];
