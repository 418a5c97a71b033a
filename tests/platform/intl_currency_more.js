// intl_currency.js for the other nine promised locales: every
// currencyDisplay of the 20 most traded currencies. Expected output:
// Node.js 20 (ICU 78, CLDR 48), written by expected_from_node.mjs. Left out
// as listed in intl_currency.js.
const locales = ["uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
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
