// Intl.DateTimeFormat `timeZoneName` (ECMA-402 §11.1.2): the six styles in
// the promised locales for six zones, in winter and summer; the value of
// the timeZoneName part. Expected output: Node.js 20 (ICU 78, CLDR 48).
// As ICU does (icu4c tzgnames.cpp, tzfmt.cpp), a generic name is the
// standard one for a zone without daylight time near the date (Asia/Tokyo
// longGeneric "Japan Standard Time"), and UTC's generic name is its offset.
// Left out where ICU4X 2.4's data or formatter differ from ICU's (README
// Intl row), each listed in `leftOut` below.
const zones = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "Asia/Kolkata", "UTC", "Europe/London"];
const styles = ["short", "long", "shortOffset", "longOffset", "shortGeneric", "longGeneric"];
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const dates = [new Date(Date.UTC(2024, 2, 10, 15, 4, 5)), new Date(Date.UTC(2024, 6, 10, 15, 4, 5))];
const offsetStyles = ["short", "shortOffset", "longOffset"];
const generic = (s) => s === "shortGeneric" || s === "longGeneric";
// Why a case is left out, or "" if it is asserted.
function leftOut(l, s, z, month) {
  // ICU4X writes an offset with the locale's number signs and its GMT
  // pattern, not CLDR's hourFormat as ICU: fr U+2212 and he's bidi marks
  // (negative offsets), ar's bidi mark, pt's "{0} GMT" pattern.
  const offset = offsetStyles.includes(s) || (z === "UTC" && generic(s));
  if ((l === "fr" || l === "he") && offset && z === "America/New_York") return "offset signs";
  if (l === "ar" && offset && !(s === "short" && z === "UTC")) return "offset signs";
  if (l === "pt" && offset && !(s === "short" && z === "UTC")) return "offset pattern";
  // Europe/London's generic name: ICU's location format ("United Kingdom
  // Time"), ICU4X's own name ("British Time", "UK Time") except in
  // ko/zh (both) and pt/uk/ar/he (short).
  const sameLondon = ["ko", "zh-Hans", "zh-Hant"].concat(s === "shortGeneric" ? ["pt", "uk", "ar", "he"] : []);
  if (z === "Europe/London" && generic(s) && !sameLondon.includes(l)) return "London generic";
  // Names ICU has and ICU4X's data lacks or words otherwise.
  if (z === "Europe/London" && s === "short" && month === 2 && ["en", "es", "nl", "zh-Hant"].includes(l)) return "GMT";
  if ((l === "nl" || l === "zh-Hant") && z === "America/New_York" && (s === "short" || s === "shortGeneric")) return "EDT/ET";
  if ((l === "fr" || l === "ar") && z === "UTC" && s === "short") return "UTC short";
  if (l === "uk" && z === "America/New_York" && (s === "long" || s === "longGeneric")) return "uk eastern";
  if ((l === "pl" || l === "he") && z === "Europe/London" && s === "long" && month === 6) return "London summer";
  return "";
}
const out = [];
let left = 0;
for (const l of locales) {
  for (const s of styles) {
    for (const z of zones) {
      for (const d of dates) {
        if (leftOut(l, s, z, d.getUTCMonth())) {
          left += 1;
          continue;
        }
        const f = new Intl.DateTimeFormat(l, { timeZoneName: s, timeZone: z });
        const name = f.formatToParts(d).find((p) => p.type === "timeZoneName").value;
        out.push(`${l} ${s} ${z} ${d.getUTCMonth() + 1}: ${name}`);
      }
    }
  }
}
out.push(`left out: ${left} of ${locales.length * styles.length * zones.length * dates.length}`);
// The time zone alone in each style (no date): the same names.
for (const s of styles) {
  out.push(new Intl.DateTimeFormat("en", { timeZoneName: s, timeZone: "Asia/Tokyo", hour: "numeric" }).formatToParts(dates[0]).find((p) => p.type === "timeZoneName").value);
}
globalThis.out = out;
export default () => globalThis.out;
