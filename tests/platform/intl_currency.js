// Intl.NumberFormat style "currency" (ECMA-402 §15.5) with every
// currencyDisplay for the 20 most traded currencies (BIS 2022) in the
// promised locales (more money in intl_currency_more.js,
// intl_currency_names.js and intl_currency_signs.js). Expected output: Node.js 20 (ICU 78, CLDR 48),
// written by expected_from_node.mjs.
//
// Left out, as ICU4X's data differs from V8's there (intl_currency.rs checks
// that each case below still does, so this list stays exact):
// - a symbol the locale's CLDR data spells as the ISO code itself (V8
//   writes the code): ICU4X's datagen drops such a symbol
//   (icu4x provider/source/src/currency/symbols.rs), and its locale
//   fallback then finds the root's: AUD es pl uk; BRL es it uk; CAD es pl
//   uk; CNY fr es pl uk; EUR uk; GBP es pl uk; HKD fr es it pl uk; INR es
//   it pl uk; JPY fr es it pl; KRW es it pl uk; MXN es it pl uk; NZD es pl
//   uk; TWD fr es it pl uk; USD it pl uk.
// - CHF's narrow symbol in every locale: ICU4X's data (CLDR 49) has `Fr.`
//   in the root (fr `fr.`), CLDR 48 none, so V8 writes `CHF`.
// The first nine locales (intl_currency_more.js has the others).
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru"];
const currencies = ["USD", "EUR", "JPY", "GBP", "CNY", "AUD", "CAD", "CHF", "HKD", "SGD", "SEK", "KRW", "NOK", "NZD", "INR", "MXN", "TWD", "ZAR", "BRL", "DKK"];
const isoSymbol = {
  AUD: "es pl uk", BRL: "es it uk", CAD: "es pl uk", CNY: "fr es pl uk", EUR: "uk", GBP: "es pl uk",
  HKD: "fr es it pl uk", INR: "es it pl uk", JPY: "fr es it pl", KRW: "es it pl uk", MXN: "es it pl uk",
  NZD: "es pl uk", TWD: "fr es it pl uk", USD: "it pl uk",
};
const leftOut = (l, c, display) =>
  (display === "symbol" && (isoSymbol[c] ?? "").split(" ").includes(l)) ||
  (display === "narrowSymbol" && c === "CHF");
const out = [];
for (const l of locales) {
  for (const c of currencies) {
    const shown = [];
    for (const currencyDisplay of ["symbol", "narrowSymbol", "code", "name"]) {
      if (leftOut(l, c, currencyDisplay)) continue;
      const f = new Intl.NumberFormat(l, { style: "currency", currency: c, currencyDisplay });
      shown.push([-1234.5, 1].map((x) => f.format(x)).join(" | "));
    }
    const accounting = new Intl.NumberFormat(l, { style: "currency", currency: c, currencySign: "accounting", currencyDisplay: leftOut(l, c, "symbol") ? "code" : "symbol" });
    shown.push(accounting.format(-1234.5));
    out.push(`${l} ${c}: ${shown.join(" ; ")}`);
  }
}
globalThis.out = out;
export default () => globalThis.out;
