// Intl.NumberFormat currency and percent output in the 18 promised locales,
// one case per line; compared line by line with Node 20 (ICU 78, CLDR 48).
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const currencies = ["USD", "EUR", "JPY", "GBP", "CNY", "AUD", "CAD", "CHF", "HKD", "SGD", "SEK", "KRW", "NOK", "NZD", "INR", "MXN", "TWD", "ZAR", "BRL", "DKK"];
const out = [];
const show = (o, xs) => { try { const f = new Intl.NumberFormat(o.l, o); return xs.map((x) => f.format(x)).join(" ; "); } catch (e) { return "ERR " + e.constructor.name; } };
// 1. every currencyDisplay of the 20 currencies (1440 cases)
for (const l of locales) for (const currency of currencies) for (const currencyDisplay of ["symbol", "narrowSymbol", "code", "name"])
  out.push(`display ${l} ${currency} ${currencyDisplay}: ${show({ l, style: "currency", currency, currencyDisplay }, [1234.5, -1, 1, 0])}`);
// 2. signs and accounting, plain and compact (720 cases)
for (const l of locales) for (const currencySign of ["standard", "accounting"]) for (const notation of ["standard", "compact"]) for (const signDisplay of ["auto", "always", "exceptZero", "negative", "never"]) for (const currencyDisplay of ["symbol", "code", "name"])
  out.push(`sign ${l} ${currencySign} ${notation} ${signDisplay} ${currencyDisplay}: ${show({ l, style: "currency", currency: "EUR", currencySign, notation, signDisplay, currencyDisplay }, [-98765432, -1234.5, 1234.5, 0, -0, -0.5])}`);
// 3. digits (324 cases)
for (const l of locales) for (const currency of ["USD", "JPY", "BHD"]) for (const o of [{ maximumFractionDigits: 0 }, { minimumFractionDigits: 3 }, { maximumSignificantDigits: 2 }, { trailingZeroDisplay: "stripIfInteger" }, { useGrouping: false }, { roundingIncrement: 5, maximumFractionDigits: 2, minimumFractionDigits: 2 }])
  for (const currencyDisplay of ["symbol", "name"]) out.push(`digits ${l} ${currency} ${currencyDisplay} ${JSON.stringify(o)}: ${show({ l, style: "currency", currency, currencyDisplay, ...o }, [1, 1234.567, -0.5])}`);
// 4. percent (180 cases)
for (const l of locales) for (const signDisplay of ["auto", "always", "exceptZero", "negative", "never"]) for (const o of [{}, { maximumFractionDigits: 1 }])
  out.push(`percent ${l} ${signDisplay} ${JSON.stringify(o)}: ${show({ l, style: "percent", signDisplay, ...o }, [0.256, -0.256, 0, 12.3])}`);
globalThis.out = out;
export default () => globalThis.out;
