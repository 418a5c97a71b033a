// Intl.NumberFormat.prototype.formatToParts (ECMA-402 §15.5.4): the part
// types of every style and sign in the promised locales, and format() equal
// to the parts joined. Expected output: Node.js 20 (ICU 78, CLDR 48).
// Left out, as ICU4X's data differs from ICU's there (see intl_currency.js):
// the symbol of USD in it, pl and uk, of EUR in uk, of JPY in fr, es, it
// and pl (ICU: the ISO code, which these locales' CLDR data spells out;
// ICU4X: the root locale's symbol).
const nf = (l, o) => new Intl.NumberFormat(l, o);
const parts = (f, x) => f.formatToParts(x).map((p) => `${p.type}:${p.value}`).join("|");
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const out = [];
for (const l of locales) {
  out.push(parts(nf(l), -1234567.891));
  if (l !== "uk") out.push(parts(nf(l, { style: "currency", currency: "EUR" }), -1234.5));
  if (!["fr", "es", "it", "pl"].includes(l)) out.push(parts(nf(l, { style: "currency", currency: "JPY" }), 1234));
  if (!["it", "pl", "uk"].includes(l)) out.push(parts(nf(l, { style: "currency", currency: "USD", currencySign: "accounting" }), -1234.5));
  out.push(parts(nf(l, { style: "percent", signDisplay: "always" }), 0.256));
  out.push(parts(nf(l, { notation: "compact" }), 1234567));
  out.push(parts(nf(l, { notation: "compact", compactDisplay: "long" }), 1234567));
  out.push(parts(nf(l, { maximumFractionDigits: 2, minimumIntegerDigits: 2 }), 5.125));
}
// Compact money: ICU4X composes the currency pattern with the compact
// number, as ICU does; compactDisplay "long" changes only named currencies.
// A compacted amount takes its sign before the whole (the compact pattern
// has no negative form), as ICU: nl `-€ 99 mln.`. Left out: uk symbols
// (EUR, as above).
for (const l of ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"]) {
  for (const currencyDisplay of ["symbol", "code", "name", "narrowSymbol"]) {
    for (const compactDisplay of ["short", "long"]) {
      const f = nf(l, { style: "currency", currency: "EUR", notation: "compact", currencyDisplay, compactDisplay });
      if (l === "uk" && currencyDisplay === "symbol") continue;
      const values = [0.5, 999, 1234, 1234567, -98765432];
      out.push(`${l} ${currencyDisplay} ${compactDisplay}: ${values.map((x) => parts(f, x)).join(" ; ")}`);
    }
  }
}
// ECMA-402's signDisplay table, and the special values.
for (const signDisplay of ["auto", "always", "exceptZero", "negative", "never"]) {
  out.push(signDisplay + " " + [-1, -0, 0, 1, NaN, -Infinity].map((x) => nf("en", { signDisplay }).format(x)).join(" "));
}
out.push(parts(nf("en", { style: "currency", currency: "USD" }), -Infinity));
out.push(parts(nf("en", { style: "percent" }), Infinity));
out.push(parts(nf("de"), NaN));
out.push(parts(nf("en", { notation: "compact" }), 999999));
out.push(parts(nf("en", { notation: "compact", maximumFractionDigits: 2 }), 1234567));
out.push(parts(nf("en", { notation: "compact", minimumFractionDigits: 2 }), 1500));
out.push(parts(nf("en", { notation: "compact" }), -0.5));
out.push(parts(nf("en", { style: "currency", currency: "USD", currencyDisplay: "name" }), 1234.5));
out.push(parts(nf("en", { style: "currency", currency: "EUR", currencyDisplay: "code", currencySign: "accounting" }), -5));
out.push(parts(nf("de", { useGrouping: false }), 1234567.5));
// Currencies whose CLDR digits differ from ISO 4217's (ICU4X rounds to CLDR's).
for (const currency of ["AFN", "IDR", "HUF", "IQD"]) {
  out.push(parts(nf("en", { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 }), 1234.5));
}
out.push(parts(nf("en"), 123456789012345678901234567890n));
out.push(parts(nf("en"), "-1234.5000"));
// format() is the parts joined, for every kind above.
const f = nf("ar", { style: "currency", currency: "EUR", currencySign: "accounting" });
out.push(String(f.format(-1234.5) === f.formatToParts(-1234.5).map((p) => p.value).join("")));
const resolved = nf("en", { style: "currency", currency: "usd", currencySign: "accounting" }).resolvedOptions();
out.push(Object.keys(resolved).sort().map((k) => `${k}=${resolved[k]}`).join(" "));
// roundingPriority on a tie of the two roundings' magnitudes (a currency's
// two fraction digits, three significant digits, at 1): the significant
// digits win with morePrecision, the fraction digits with lessPrecision.
for (const roundingPriority of ["morePrecision", "lessPrecision"]) {
  const money = nf("en", { style: "currency", currency: "USD", maximumSignificantDigits: 3, roundingPriority });
  const plain = nf("de", { minimumFractionDigits: 2, maximumFractionDigits: 2, maximumSignificantDigits: 3, roundingPriority });
  out.push([0, 1, 1.5, 12.3].map((x) => `${money.format(x)} ${plain.format(x)}`).join(" | "));
}
globalThis.out = out;
export default () => globalThis.out;
