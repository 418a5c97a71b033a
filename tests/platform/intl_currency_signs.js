// The signs of money and percentages (ECMA-402 signDisplay, currencySign),
// plain and compact, in the promised locales. Expected output: Node.js 20
// (ICU 78, CLDR 48), written by expected_from_node.mjs.
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const out = [];
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
        // uk: the code, as its EUR symbol is left out (see intl_currency.js).
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
// Zero given with fraction digits (a string keeps them) is 0 once compacted.
for (const l of ["en", "de", "ja", "ar"]) {
  const f = new Intl.NumberFormat(l, { style: "currency", currency: "EUR", notation: "compact" });
  const named = new Intl.NumberFormat(l, { style: "currency", currency: "EUR", currencyDisplay: "name", notation: "compact" });
  out.push(["0.000", "-0.000", "0.00100"].flatMap((x) => [f.format(x), named.format(x)]).join(" | "));
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
