// Hostile and unsupported input: RangeError or TypeError naming the cause,
// never a crash and never a silently ignored option.
const attempt = (f) => { try { return "ok: " + f(); } catch (e) { return e.name + ": " + e.message; } };
globalThis.out = [
  attempt(() => new Intl.NumberFormat("en_US!")),
  attempt(() => new Intl.NumberFormat("x".repeat(100000))),
  attempt(() => (1).toLocaleString("a".repeat(300))),
  attempt(() => new Intl.NumberFormat(Array(100).fill("en"))),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "meter" })),
  attempt(() => new Intl.NumberFormat("en", { notation: "scientific" })),
  attempt(() => new Intl.NumberFormat("en", { style: "currency" })),
  attempt(() => new Intl.NumberFormat("en", { style: "currency", currency: "dollars" })),
  attempt(() => new Intl.NumberFormat("en", { maximumFractionDigits: 101 })),
  attempt(() => new Intl.DateTimeFormat("en", { timeZone: "Mars/Olympus" })),
  attempt(() => new Intl.DateTimeFormat("en", { dateStyle: "long", year: "numeric" })),
  attempt(() => new Intl.DateTimeFormat("en", { calendar: "hebrew" })),
  attempt(() => new Intl.DateTimeFormat("en").format(8.64e15 + 1)),
  attempt(() => new Intl.RelativeTimeFormat("en").format(1, "fortnight")),
  attempt(() => new Intl.DisplayNames("en", { type: "currency" })),
  attempt(() => Intl.NumberFormat.prototype.format.call({})),
  attempt(() => "a".localeCompare("b", "\u0000")),
];
export default () => globalThis.out;
