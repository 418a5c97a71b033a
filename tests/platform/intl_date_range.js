// Intl.DateTimeFormat.prototype.formatRangeToParts (ECMA-402 §11.3.6): the
// range from one date to another with CLDR's interval formats (ICU4X), in
// the promised locales, for ends that differ in minutes, hours, the day
// period, days, months, years, or not at all (a range of equal dates is
// the date alone, all `shared`; times alone on different days show the
// dates too); each part's source as ICU gives V8.
// Expected output: Node.js 20 (ICU 78, CLDR 48). As V8 in Chrome, Deno and
// Workers, a plain space stands before AM/PM (Node's ICU writes U+202F).
// The option sets listed per locale are those where caplet matches V8 for
// every end. Left out: sets where the single date already differs
// (intl_date.js), where ICU4X's interval patterns differ from ICU's (the
// separator's spaces in es/pt/de/fr time ranges, ru's dash, uk/he/ja/zh
// patterns), and what caplet refuses with a RangeError (README Intl row):
// a long or full date (ICU4X's range patterns need names it has not
// loaded), a short date's year (ICU4X writes it in full), a long or full
// time style on different days, a year or month that differs but is not shown.
const start = new Date(Date.UTC(2024, 2, 10, 15, 4, 5));
const ends = {
  same: start,
  minutes: new Date(start.getTime() + 35 * 60e3),
  hours: new Date(start.getTime() + 5 * 3600e3),
  ampm: new Date(start.getTime() + 10 * 3600e3),
  days: new Date(start.getTime() + 3 * 86400e3),
  months: new Date(Date.UTC(2024, 5, 2, 9)),
  years: new Date(Date.UTC(2025, 0, 20, 9)),
};
const options = {
  default: {},
  dateShort: { dateStyle: "short" },
  dateMedium: { dateStyle: "medium" },
  dateLong: { dateStyle: "long" },
  timeShort: { timeStyle: "short" },
  dtShort: { dateStyle: "short", timeStyle: "short" },
  dtMedium: { dateStyle: "medium", timeStyle: "short" },
  ymd: { year: "numeric", month: "short", day: "numeric" },
  ym: { year: "numeric", month: "long" },
  hm: { hour: "numeric", minute: "2-digit" },
  hm23: { hour: "numeric", minute: "2-digit", hour12: false },
  ymdhm: { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "2-digit" },
};
const asserted = {
  en: ["default", "dateMedium", "timeShort", "dtShort", "dtMedium", "ymd", "ym", "hm", "hm23", "ymdhm"],
  de: ["dateMedium", "ym"],
  fr: ["default", "dateShort", "dateMedium", "timeShort", "dtMedium", "ymd", "ym", "hm", "hm23"],
  es: ["default", "dateMedium", "dateLong", "ymd", "ym"],
  it: ["default", "timeShort", "dtShort", "dtMedium", "ym", "hm", "hm23", "ymdhm"],
  pt: ["default", "dateShort", "dateMedium", "ymd"],
  nl: ["dateShort", "dateMedium", "dtShort", "dtMedium", "ymd", "ym"],
  pl: ["default", "dateShort", "dateMedium", "dateLong", "dtMedium", "ymd"],
  uk: ["timeShort", "dtShort", "dtMedium", "hm", "hm23", "ymdhm"],
  tr: ["dateMedium", "dtShort", "dtMedium", "ymd", "ym"],
  ar: ["default", "dateShort", "timeShort", "dtShort", "dtMedium", "ym", "hm", "hm23", "ymdhm"],
  he: ["default", "dateShort", "timeShort", "dtShort", "dtMedium", "ym", "hm", "hm23", "ymdhm"],
  hi: ["default", "dateMedium", "timeShort", "dtShort", "dtMedium", "ymd", "ym", "hm", "hm23", "ymdhm"],
  ja: ["dateShort", "dateMedium", "dtShort", "dtMedium"],
  ko: ["ym"],
  "zh-Hans": ["default", "dateShort", "timeShort", "dtShort", "hm", "hm23", "ymdhm"],
  "zh-Hant": ["default", "dateShort"],
};
const source = { startRange: "S", endRange: "E", shared: "-" };
const out = [];
for (const [l, sets] of Object.entries(asserted)) {
  for (const o of sets) {
    const f = new Intl.DateTimeFormat(l, { ...options[o], timeZone: "UTC" });
    for (const [e, end] of Object.entries(ends)) {
      const parts = f.formatRangeToParts(start, end);
      const text = parts.map((p) => `${p.type}:${p.value}:${source[p.source]}`).join("|").replace(/\u202f/g, " ");
      out.push(`${l} ${o} ${e}: ${text}`);
    }
  }
}
// formatRange is the parts joined; numbers are time values; the end may
// come first.
const en = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeZone: "UTC" });
out.push(en.formatRange(start, ends.days));
out.push(String(en.formatRange(start, ends.months) === en.formatRangeToParts(start, ends.months).map((p) => p.value).join("")));
out.push(en.formatRange(start.getTime(), ends.years.getTime()));
out.push(en.formatRange(ends.days, start));
out.push(new Intl.DateTimeFormat("en", { dateStyle: "medium", timeZone: "America/New_York" }).formatRange(Date.UTC(2024, 2, 10, 3), Date.UTC(2024, 2, 10, 6)));
for (const bad of [[start], [undefined, start]]) {
  try {
    en.formatRange(...bad);
  } catch (e) {
    out.push(e.name);
  }
}
try {
  en.formatRange(start, NaN);
} catch (e) {
  out.push(e.name);
}
// Dates that look the same where the one-date pattern has month names
// ICU4X's interval pattern writes as numbers (de, ja, ar medium): the start
// date alone, as format() writes it (ECMA-402, ICU's DateIntervalFormat).
for (const l of ["de", "ja", "ar"]) for (const o of [{ year: "numeric", month: "short", day: "numeric" }, { year: "numeric", month: "short" }]) {
  const f = new Intl.DateTimeFormat(l, { ...o, timeZone: "UTC" });
  out.push(JSON.stringify([f.formatRange(start, ends.hours), f.formatRangeToParts(start, ends.minutes), o.day ? "" : f.formatRange(start, ends.days)]));
}
globalThis.out = out;
export default () => globalThis.out;
