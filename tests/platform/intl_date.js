// Intl.DateTimeFormat and the Date locale methods: default locale en-US,
// default time zone UTC, IANA zones from the tz database. Expected output is
// Node.js's (V8) except where ICU4X's CLDR skeletons pad numeric days and
// months ("10.03.2024" in de, "2024/03/10" in ja; V8: "10.3.2024", "2024/3/10").
const d = new Date(Date.UTC(2024, 2, 10, 15, 4, 5)); // Sun 10 March 2024 15:04:05 UTC
const f = (l, o) => new Intl.DateTimeFormat(l, o).format(d);
globalThis.out = [
  d.toLocaleString(),
  d.toLocaleDateString(),
  d.toLocaleTimeString(),
  d.toLocaleDateString("de-DE"),
  d.toLocaleDateString("en-GB"),
  d.toLocaleDateString("ja-JP"),
  f("en-US", { dateStyle: "full" }),
  f("en-US", { dateStyle: "long" }),
  f("en-US", { dateStyle: "medium" }),
  f("en-US", { dateStyle: "short" }),
  f("fr-FR", { dateStyle: "full" }),
  f("en-US", { timeStyle: "short" }),
  f("en-US", { year: "numeric", month: "long", day: "numeric" }),
  f("en-US", { weekday: "long" }),
  f("en-US", { month: "short", day: "numeric" }),
  f("en-US", { hour: "numeric", minute: "2-digit", timeZone: "America/New_York" }),
  f("en-US", { hour: "numeric", minute: "2-digit", timeZone: "Asia/Kolkata" }),
  f("en-US", { hour: "numeric", minute: "2-digit", hour12: false }),
  f("de-DE", { hour: "numeric", minute: "2-digit", timeZone: "Europe/Berlin" }),
  new Intl.DateTimeFormat("en", { timeZone: "asia/tokyo" }).resolvedOptions().timeZone,
  new Intl.DateTimeFormat().resolvedOptions().timeZone,
  new Intl.DateTimeFormat().resolvedOptions().locale,
  new Date(NaN).toLocaleString(),
];
export default () => globalThis.out;
