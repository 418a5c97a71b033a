// Intl.NumberFormat style "currency" with currencyDisplay "name" (plural
// forms, parts, NaN and Infinity, compact) and each currency's default
// digits. Expected output: Node.js 20 (ICU 78, CLDR 48), written by
// expected_from_node.mjs. What ICU4X's data has otherwise than V8's is
// listed in intl_currency.js.
const out = [];
// The plural forms of names, and their parts.
for (const l of ["en", "pl", "ru", "uk", "ar", "ja", "zh-Hans"]) {
  const f = new Intl.NumberFormat(l, { style: "currency", currency: "EUR", currencyDisplay: "name" });
  out.push(`${l} name: ${[0, 1, 2, 5, 1.5, 21, 1000000].map((x) => f.format(x)).join(" | ")}`);
  out.push(f.formatToParts(-1234.5).map((p) => `${p.type}:${p.value}`).join("|"));
  // NaN and Infinity take the name's `other` form. Left out: NaN in ru and
  // ar, which ICU writes with a word (ICU4X has no NaN symbol: `NaN`).
  const nan = ["ru", "ar"].includes(l) ? [] : [NaN];
  const g = new Intl.NumberFormat(l, { style: "currency", currency: "USD", currencyDisplay: "name", maximumFractionDigits: 0 });
  out.push([1, 2, 5, -Infinity, ...nan].map((x) => g.format(x)).join(" | "));
  const c = new Intl.NumberFormat(l, { style: "currency", currency: "USD", currencyDisplay: "name", notation: "compact", compactDisplay: "long" });
  // A compacted amount's plural form is the amount's rounded to an integer
  // (ru 1234562: `доллара`), as ICU.
  out.push([1, -0.005, 1234567, 1234562, -98765432, 1001, 2001.9, ...nan].map((x) => c.format(x)).join(" | "));
}
// NaN and Infinity next to a symbol that starts or ends with a letter: no
// space, which CLDR's currency spacing puts before a digit only (`CHFNaN`,
// `-USD∞`, but `CHF 1.00`). Left out: NaN in ru, ar and zh-Hant (a word in
// ICU; ICU4X has no NaN symbol).
for (const l of ["en", "de", "nl", "tr", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant", "ar"]) {
  for (const [currency, currencyDisplay] of [["USD", "code"], ["CHF", "symbol"], ["BHD", "symbol"], ["EUR", "symbol"]]) {
    for (const currencySign of ["standard", "accounting"]) {
      const f = new Intl.NumberFormat(l, { style: "currency", currency, currencyDisplay, currencySign });
      const values = ["zh-Hant", "ar"].includes(l) ? [-Infinity, Infinity, 1] : [NaN, -Infinity, Infinity, 1];
      out.push(`${l} ${currency} ${currencySign}: ${values.map((x) => f.format(x)).join(" ; ")} | ${f.formatToParts(-Infinity).map((p) => `${p.type}:${p.value}`).join("|")}`);
    }
  }
}
// A currency's default digits are CLDR's, as V8's (not ISO 4217's: AFN,
// HUF, IDR, IQD … 0; CLF 4; ESP 0). Left out: PKR (ICU4X's CLDR 49: 2,
// CLDR 48: 0).
for (const currency of ["AFN", "ALL", "BHD", "CLF", "CLP", "COP", "ESP", "EUR", "HUF", "IDR", "IQD", "IRR", "ISK", "JPY", "KPW", "KRW", "KWD", "LAK", "LBP", "MGA", "MMK", "SLL", "SOS", "SYP", "TND", "UYW", "VND", "XAU", "XXX", "YER", "ZZZ"]) {
  const f = new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "code" });
  const r = f.resolvedOptions();
  out.push(`${currency} ${r.minimumFractionDigits}-${r.maximumFractionDigits}: ${f.format(1234.5678)}`);
}
globalThis.out = out;
export default () => globalThis.out;
