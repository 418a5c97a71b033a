// Intl.supportedValuesOf (ECMA-402 §8.3.2) and Intl.DisplayNames of type
// currency (§12): each list sorted, without duplicates, holding the values
// every implementation has, and every value in it accepted where the key is
// used. Expected output: Node.js 20 (ICU 78, CLDR 48).
const out = [];
const sorted = (list) => list.every((v, i) => i === 0 || list[i - 1] < v);
const lists = {};
for (const key of ["calendar", "collation", "currency", "numberingSystem", "timeZone", "unit"]) {
  const list = Intl.supportedValuesOf(key);
  lists[key] = list;
  out.push(`${key}: array ${Array.isArray(list)}, sorted ${sorted(list)}, unique ${new Set(list).size === list.length}`);
}
const has = (key, values) => `${key} has ${values.join(" ")}: ${values.every((v) => lists[key].includes(v))}`;
out.push(has("calendar", ["buddhist", "gregory", "hebrew", "islamic-umalqura", "japanese", "persian"]));
out.push(has("currency", ["CHF", "EUR", "GBP", "INR", "JPY", "USD"]));
out.push(has("numberingSystem", ["arab", "deva", "latn", "thai"]));
out.push(has("timeZone", ["America/New_York", "Asia/Tokyo", "Europe/Berlin", "Australia/Sydney"]));
out.push(has("unit", ["day", "hour", "kilogram", "kilometer", "liter", "meter", "mile", "percent"]));
// Every value listed is accepted where its key is used.
const refused = (key, use) => lists[key].filter((v) => { try { use(v); return false; } catch { return true; } });
out.push(`timeZone refused: ${refused("timeZone", (tz) => new Intl.DateTimeFormat("en", { timeZone: tz }).format(0)).length}`);
out.push(`currency refused: ${refused("currency", (c) => new Intl.NumberFormat("en", { style: "currency", currency: c })).length}`);
out.push(`unit refused: ${refused("unit", (unit) => new Intl.NumberFormat("en", { style: "unit", unit }).format(1)).length}`);
out.push(`calendar refused: ${refused("calendar", (ca) => new Intl.DateTimeFormat(`en-u-ca-${ca}`).format(0)).length}`);
const names = (l) => new Intl.DisplayNames(l, { type: "currency" });
for (const l of ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"]) {
  out.push(`${l}: ${["USD", "EUR", "JPY", "gbp"].map((c) => names(l).of(c)).join(" | ")}`);
}
out.push(String(new Intl.DisplayNames("en", { type: "currency", fallback: "none" }).of("XYZ")));
out.push(new Intl.DisplayNames("en", { type: "currency" }).of("XYZ"));
out.push(JSON.stringify(new Intl.DisplayNames("en", { type: "currency" }).resolvedOptions()));
// languageDisplay: "standard" names the region apart.
out.push(new Intl.DisplayNames("en", { type: "language", languageDisplay: "standard" }).of("en-GB"));
out.push(new Intl.DisplayNames("en", { type: "language" }).of("en-GB"));
out.push(new Intl.DisplayNames("de", { type: "language", languageDisplay: "standard" }).of("pt-BR"));
globalThis.out = out;
export default () => globalThis.out;
