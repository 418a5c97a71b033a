// Intl.NumberFormat edge values (negative zero, tiny and huge numbers,
// BigInt and exact decimal strings) through every style's formatToParts,
// in en, de, hi (lakh grouping) and ar (bidi marks). Expected output:
// Node.js 20 (ICU 78, CLDR 48).
const parts = (l, o, x) => {
  try {
    return new Intl.NumberFormat(l, o).formatToParts(x).map((p) => `${p.type}:${p.value}`).join("|");
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
};
const options = [
  {}, { maximumSignificantDigits: 3 }, { style: "percent" }, { notation: "compact" },
  { style: "currency", currency: "CHF", currencySign: "accounting" },
  { style: "unit", unit: "gallon", unitDisplay: "long" }, { signDisplay: "negative" },
  { minimumFractionDigits: 4 }, { useGrouping: false, style: "currency", currency: "EUR" },
];
const out = [];
for (const x of [-0, 0.000001234, 1e21, -12345678901234567890n, "-0.00", "12345.6789", 1e-7, 123.456]) {
  for (const o of options) {
    for (const l of ["en", "de", "hi", "ar"]) out.push(`${l} ${JSON.stringify(o)} ${String(x)}: ${parts(l, o, x)}`);
  }
}
globalThis.out = out;
export default () => globalThis.out;
