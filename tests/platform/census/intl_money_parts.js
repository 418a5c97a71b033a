// formatToParts of money and percentages in the 18 promised locales, one
// case per line, for census/compare.mjs.
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const out = [];
const parts = (o, xs) => { try { const f = new Intl.NumberFormat(o.l, o); return xs.map((x) => f.formatToParts(x).map((p) => `${p.type}:${p.value}`).join("|")).join(" ; "); } catch (e) { return "ERR " + e.constructor.name + " " + e.message; } };
for (const l of locales) for (const currency of ["USD", "EUR", "JPY", "GBP", "SEK", "CHF"]) for (const currencyDisplay of ["symbol", "narrowSymbol", "code", "name"]) for (const notation of ["standard", "compact"]) for (const signDisplay of ["auto", "always"]) for (const currencySign of ["standard", "accounting"])
  out.push(`parts ${l} ${currency} ${currencyDisplay} ${notation} ${signDisplay} ${currencySign}: ${parts({ l, style: "currency", currency, currencyDisplay, notation, signDisplay, currencySign }, [-1234.5, 1234567, 0, 0.5])}`);
for (const l of locales) for (const signDisplay of ["auto", "always", "exceptZero"]) out.push(`percent ${l} ${signDisplay}: ${parts({ l, style: "percent", signDisplay }, [-0.256, 0.256, 0, 12.3])}`);
globalThis.out = out;
export default () => globalThis.out;
