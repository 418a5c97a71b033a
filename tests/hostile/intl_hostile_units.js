// Intl's units, parts and value lists given hostile input: each is a
// RangeError or TypeError naming the cause, never a host crash, and a loop
// over Intl.supportedValuesOf stays cheap (each list is computed once per
// host).
// expect: ok ["RangeError","RangeError","RangeError","RangeError","RangeError","RangeError","RangeError","TypeError","ok 200"]
const name = (f) => { try { f(); return "none"; } catch (e) { return e.name; } };
export default () => {
  const out = [
    name(() => new Intl.NumberFormat("en", { style: "unit", unit: "kilometer-per-".repeat(10000) + "hour" })),
    name(() => new Intl.NumberFormat("en", { style: "unit", unit: "\u0000" })),
    name(() => new Intl.NumberFormat("en").formatToParts(10n ** 40000n)),
    name(() => new Intl.NumberFormat("en", { notation: "compact" }).formatToParts("9".repeat(1 << 16))),
    name(() => new Intl.DisplayNames("en", { type: "currency" }).of("\ud800\ud800\ud800")),
    name(() => Intl.supportedValuesOf("timeZone".repeat(1 << 14))),
    name(() => new Intl.DateTimeFormat("en").formatToParts(8.64e15 + 1)),
    name(() => new Intl.NumberFormat("en", { style: "unit", unit: { toString() { return Symbol("x"); } } })),
  ];
  let n = 0;
  for (let i = 0; i < 200; i++) n += Intl.supportedValuesOf(["unit", "calendar", "numberingSystem"][i % 3]).length > 0 ? 1 : 0;
  out.push(`ok ${n}`);
  return out;
};
