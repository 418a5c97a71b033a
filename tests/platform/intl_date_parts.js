// Intl.DateTimeFormat.prototype.formatToParts (ECMA-402 §11.5.5): the part
// types (weekday, day, month, year, hour, minute, second, fractionalSecond,
// dayPeriod, timeZoneName, literal) in the promised locales; format() is
// the parts joined. Expected output: Node.js 20 (ICU 78, CLDR 48).
// Left out where ICU4X's patterns differ from ICU's: es ("a las"), hi
// (a comma), ko (the day period), zh-Hant (a space), and time zone names
// outside en (intl_time_zone_names.js has them). As V8 in Chrome, Deno and Workers, a plain space stands
// before AM/PM (Node's ICU writes U+202F).
const d = new Date(Date.UTC(2024, 2, 10, 15, 4, 5, 123)); // Sun 10 March 2024 15:04:05.123 UTC
const parts = (l, o) => new Intl.DateTimeFormat(l, o).formatToParts(d).map((p) => `${p.type}:${p.value.replace(/\u202f/g, " ")}`).join("|");
const locales = ["en", "de", "fr", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "ja", "zh-Hans"];
const out = [];
for (const l of locales) {
  out.push(parts(l, { dateStyle: "full", timeStyle: "medium", timeZone: "America/New_York" }));
  out.push(parts(l, { hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, timeZone: "Asia/Tokyo" }));
  out.push(parts(l, { dateStyle: "short" }));
}
out.push(parts("en", { hour: "numeric", minute: "2-digit", hour12: false }));
out.push(parts("en", { dateStyle: "long", timeStyle: "long", timeZone: "Europe/Berlin" }));
const f = new Intl.DateTimeFormat("de", { dateStyle: "long", timeStyle: "short" });
out.push(String(f.format(d) === f.formatToParts(d).map((p) => p.value).join("")));
out.push(String(new Intl.DateTimeFormat("en").formatToParts(0).length));
globalThis.out = out;
export default () => globalThis.out;
