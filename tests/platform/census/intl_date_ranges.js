// A census of DateTimeFormat formatRange against Node (compare.mjs): 20 option
// sets in the 18 locales, from one start to ends that differ in minutes, hours,
// the day period, days, months and years. Refusals (RangeError) count as
// differences.
const out = [];
const t = (label, f) => { try { out.push(label + " => " + String(f())); } catch (e) { out.push(label + " => " + (e && e.name) + ": " + (e && e.message)); } };
const start = new Date(Date.UTC(2024, 2, 10, 15, 4, 5));
const ends = { minutes: new Date(start.getTime() + 35 * 60e3), hours: new Date(start.getTime() + 5 * 3600e3), ampm: new Date(start.getTime() + 10 * 3600e3), days: new Date(start.getTime() + 3 * 86400e3), months: new Date(Date.UTC(2024, 5, 2, 9)), years: new Date(Date.UTC(2025, 0, 20, 9)) };
const opts = { default: {}, dateShort: { dateStyle: "short" }, dateMedium: { dateStyle: "medium" }, timeShort: { timeStyle: "short" }, timeMedium: { timeStyle: "medium" }, dtShort: { dateStyle: "short", timeStyle: "short" }, dtMedium: { dateStyle: "medium", timeStyle: "short" }, md: { month: "short", day: "numeric" }, mdl: { month: "long", day: "numeric" }, ymd: { year: "numeric", month: "short", day: "numeric" }, ymdl: { year: "numeric", month: "long", day: "numeric" }, ym: { year: "numeric", month: "long" }, yms: { year: "numeric", month: "short" }, wmd: { weekday: "short", month: "short", day: "numeric" }, hm: { hour: "numeric", minute: "2-digit" }, h: { hour: "numeric" }, ymdn: {year:"numeric", month:"numeric", day:"numeric"}, md2: {month:"2-digit", day:"2-digit"}, y: {year:"numeric"}, mdhm: {month:"short", day:"numeric", hour:"numeric", minute:"2-digit"} };
for (const l of ["en","de","fr","es","it","pt","nl","pl","ru","uk","tr","ar","he","hi","ja","ko","zh","zh-Hant"]) for (const [on, o] of Object.entries(opts)) for (const [en, e] of Object.entries(ends)) {
  t(`${l} ${on} ${en}`, () => new Intl.DateTimeFormat(l, { timeZone: "UTC", ...o }).formatRange(start, e));
}
export default () => out;
