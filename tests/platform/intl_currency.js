// Intl.NumberFormat style "currency" (ECMA-402 §15.5) with every
// currencyDisplay for the 20 most traded currencies (BIS 2022) in the
// promised locales, and style "percent" with every signDisplay. Expected
// output: Node.js 20 (ICU 78, CLDR 48), written by expected_from_node.mjs.
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
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
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
      shown.push([1234.5, -1, 1, 0].map((x) => f.format(x)).join(" | "));
    }
    const accounting = new Intl.NumberFormat(l, { style: "currency", currency: c, currencySign: "accounting", currencyDisplay: leftOut(l, c, "symbol") ? "code" : "symbol" });
    shown.push(accounting.format(-1234.5));
    out.push(`${l} ${c}: ${shown.join(" ; ")}`);
  }
}
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
// The signs of money, as ICU writes them: a plus sign takes the minus
// sign's place in an explicit negative pattern (nl `€ +1,00`); an amount
// the compact patterns abbreviate takes its sign before the whole and no
// accounting form (nl `-€ 99 mln.`); signDisplay "never" writes the
// standard patterns even with currencySign "accounting".
for (const l of locales) {
  for (const currencySign of ["standard", "accounting"]) {
    for (const notation of ["standard", "compact"]) {
      const shown = [];
      for (const signDisplay of ["auto", "always", "exceptZero", "negative", "never"]) {
        const f = new Intl.NumberFormat(l, { style: "currency", currency: "EUR", currencyDisplay: l === "uk" ? "code" : "symbol", currencySign, signDisplay, notation });
        shown.push([-98765432, -1234.5, 1234.5, 0, -0, -0.5].map((x) => f.format(x)).join(" "));
      }
      out.push(`${l} ${currencySign} ${notation}: ${shown.join(" ; ")}`);
    }
  }
  for (const notation of ["standard", "compact"]) {
    const f = new Intl.NumberFormat(l, { style: "currency", currency: "USD", currencyDisplay: "code", signDisplay: "always", notation });
    out.push([-98765432, 1234.5].map((x) => f.formatToParts(x).map((p) => `${p.type}:${p.value}`).join("|")).join(" ; "));
  }
}
// The compact suffix of money's parts is the one next to the number, not a
// letter of the code (`SEK 1.2K`, tr `GBP 1,2 B`).
for (const l of ["en", "tr", "nl", "he"]) {
  for (const currency of ["SEK", "GBP"]) {
    const f = new Intl.NumberFormat(l, { style: "currency", currency, currencyDisplay: "code", notation: "compact" });
    out.push([-1234.5, 98765432].map((x) => f.formatToParts(x).map((p) => `${p.type}:${p.value}`).join("|")).join(" ; "));
  }
}
// A compact amount its locale does not abbreviate keeps the compact digits
// in the currency's own pattern (ICU4X would round ¥0.5 to ¥1).
for (const l of ["en", "ja", "de", "ar"]) {
  const f = new Intl.NumberFormat(l, { style: "currency", currency: "JPY", notation: "compact" });
  out.push([0.5, -0.005, 999, 1234].map((x) => f.format(x)).join(" | "));
}
// A currency's default digits are CLDR's, as V8's (not ISO 4217's: AFN,
// HUF, IDR, IQD … 0; CLF 4; ESP 0). Left out: PKR (ICU4X's CLDR 49: 2,
// CLDR 48: 0).
for (const currency of ["AFN", "ALL", "BHD", "CLF", "CLP", "COP", "ESP", "EUR", "HUF", "IDR", "IQD", "IRR", "ISK", "JPY", "KPW", "KRW", "KWD", "LAK", "LBP", "MGA", "MMK", "SLL", "SOS", "SYP", "TND", "UYW", "VND", "XAU", "XXX", "YER", "ZZZ"]) {
  const f = new Intl.NumberFormat("en", { style: "currency", currency, currencyDisplay: "code" });
  const r = f.resolvedOptions();
  out.push(`${currency} ${r.minimumFractionDigits}-${r.maximumFractionDigits}: ${f.format(1234.5678)}`);
}
// Percent: every signDisplay, and the parts of a signed percentage.
for (const l of locales) {
  const shown = [];
  for (const signDisplay of ["auto", "always", "exceptZero", "negative", "never"]) {
    const f = new Intl.NumberFormat(l, { style: "percent", signDisplay });
    shown.push([0.256, -0.256, 0, -0, 12].map((x) => f.format(x)).join(" "));
  }
  out.push(`${l} %: ${shown.join(" ; ")}`);
  const f = new Intl.NumberFormat(l, { style: "percent", signDisplay: "always", maximumFractionDigits: 1 });
  out.push(f.formatToParts(0.2567).map((p) => `${p.type}:${p.value}`).join("|"));
  const u = new Intl.NumberFormat(l, { style: "unit", unit: "percent", signDisplay: "exceptZero" });
  out.push(u.format(25.6));
}
globalThis.out = out;
export default () => globalThis.out;
