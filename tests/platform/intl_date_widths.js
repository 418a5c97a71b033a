// Intl.DateTimeFormat fields at the width each option asks (ECMA-402
// §11.1.2 with ICU's DateTimePatternGenerator field adjustment): narrow
// names, a long era, a 2-digit day, month, year, hour, minute and second,
// an unpadded numeric hour beside a 2-digit minute, month names where the
// locale's medium pattern is numeric (de, ar, ja), and a weekday and month
// names of different lengths. Expected output: Node.js 20 (ICU 78, CLDR
// 48), at an instant whose day, month and hour have one digit. Left out
// where ICU4X's CLDR patterns differ from ICU's (README, "What a worker
// can use"): ko's numeric dates ("2024/03/05", V8 "2024. 03. 05.") and
// AM/PM ("오전", V8 "AM"), zh-Hant's day periods ("清晨", V8 "上午"), the
// fr hour ("05", V8 "05 h") and fr's "5 5:04" (V8 "5 à 5:04"), es 2-digit
// month and day (V8 "5/3", as CLDR's es "MMdd" pattern has it), es's hour
// beside a numeric second (V8 "5:04:05"), and numeric days and months
// beside a 2-digit year in de, nl, pl, tr and ja (zero-padded otherwise
// than V8). A weekday and month names of different lengths where ICU4X's
// patterns disagree are refused (intl_errors.js).
const d = new Date(Date.UTC(2024, 2, 5, 5, 4, 5)); // Tue 5 March 2024 05:04:05 UTC
const all = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const except = (...l) => all.filter((x) => !l.includes(x));
const cases = [
  [all, { weekday: "narrow" }],
  [all, { month: "narrow" }],
  [all, { month: "narrow", day: "numeric" }],
  [all, { year: "numeric", month: "narrow", day: "numeric" }],
  [all, { era: "long", year: "numeric" }],
  [all, { era: "narrow", year: "numeric" }],
  [all, { era: "short", year: "numeric" }],
  [all, { day: "2-digit" }],
  [all, { month: "2-digit" }],
  [all, { year: "2-digit" }],
  [all, { year: "2-digit", month: "long" }],
  [all, { year: "2-digit", month: "short", day: "numeric" }],
  [all, { year: "numeric", month: "short" }],
  [all, { month: "short", day: "numeric" }],
  [except("ko"), { year: "numeric", month: "2-digit", day: "2-digit" }],
  [except("ko"), { year: "2-digit", month: "2-digit", day: "2-digit" }],
  [except("es"), { month: "2-digit", day: "2-digit" }],
  [except("de", "nl", "pl", "tr", "ja", "ko"), { year: "2-digit", month: "numeric", day: "numeric" }],
  [except("ko", "zh-Hant"), { hour: "2-digit", minute: "2-digit" }],
  [except("ko", "zh-Hant"), { hour: "2-digit", minute: "2-digit", second: "2-digit" }],
  [except("ko", "zh-Hant", "fr"), { hour: "2-digit" }],
  [except("ko", "zh-Hant"), { weekday: "short", hour: "2-digit", minute: "2-digit" }],
  // A numeric hour with a 2-digit minute: unpadded, as ICU adjusts V8's
  // "jmm" (no CLDR skeleton); a weekday alone keeps the locale's "EHm".
  [except("ko", "zh-Hant"), { hour: "numeric", minute: "2-digit" }],
  [except("ko", "zh-Hant"), { hour: "numeric", minute: "2-digit", second: "2-digit" }],
  [except("ko", "zh-Hant", "fr"), { day: "numeric", hour: "numeric", minute: "2-digit" }],
  [except("ko", "zh-Hant"), { weekday: "short", hour: "numeric", minute: "2-digit" }],
  [except("ko", "zh-Hant", "es"), { hour: "numeric", minute: "2-digit", second: "numeric" }],
  // With a time zone name and a 24-hour clock V8 keeps CLDR's "HH" of its
  // "Hmv" skeletons beside a minute (es and he differ, README; the zone
  // names of fr, pt and ar differ, intl_time_zone_names.js).
  [except("fr", "es", "ar", "he", "ko", "zh-Hant"), { hour: "numeric", minute: "2-digit", timeZoneName: "short", timeZone: "UTC" }],
  [except("es", "pt", "ar", "he", "ko", "zh-Hant"), { hour: "numeric", minute: "2-digit", timeZoneName: "shortOffset", timeZone: "Europe/London" }],
  [except("fr", "ar", "ko", "zh-Hant"), { hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "short", timeZone: "UTC" }],
  // pt's long month and year: ICU4X's formatter lacks the digits' data
  // for the pattern it chose; the pattern is written with its names.
  [all, { year: "numeric", month: "long" }],
  [except("es", "ru", "ko"), { weekday: "long", month: "short", day: "numeric" }],
  [except("de", "es", "ar", "hi", "ja", "ko"), { weekday: "short", year: "numeric", month: "long", day: "numeric" }],
  [except("es", "ru", "ja", "ko"), { weekday: "narrow", month: "long", day: "numeric" }],
];
const out = [];
for (const [locales, o] of cases) {
  for (const l of locales) out.push(`${l} ${JSON.stringify(o)}: ${new Intl.DateTimeFormat(l, o).format(d).replace(/\u202f/g, " ")}`);
}
const parts = (l, o) => new Intl.DateTimeFormat(l, o).formatToParts(d).map((p) => `${p.type}:${p.value}`).join("|");
out.push(parts("en", { weekday: "long", month: "short", day: "numeric" }));
out.push(parts("de", { year: "numeric", month: "short", day: "numeric" }));
out.push(parts("en", { era: "long", year: "numeric" }));
out.push(parts("fr", { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
out.push(new Date(Date.UTC(2024, 2, 10, 15, 4)).toLocaleString("de", { weekday: "long", hour: "numeric", minute: "2-digit" }));
out.push(d.toLocaleDateString("en-US", { weekday: "long", month: "short", day: "numeric" }));
out.push(d.toLocaleDateString("en-US", { year: "2-digit", month: "2-digit", day: "2-digit" }));
out.push(new Date(Date.UTC(1905, 0, 1)).toLocaleDateString("en-US", { year: "2-digit", month: "short", day: "numeric" }));
globalThis.out = out;
export default () => globalThis.out;
