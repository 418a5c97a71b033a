// Intl.DateTimeFormat hourCycle (ECMA-402 §11.1.2): "h24" (hours 1 to 24,
// ICU's "k" field, which ICU4X lacks: the 23-hour clock with midnight's
// hour written 24 in the locale's digits), a 24-hour clock asked in a
// 12-hour locale (CLDR's "HH:mm" kept, as V8 does), and the -u-hc- locale
// extension when neither hour12 nor hourCycle is given. Expected output:
// Node.js 20 (ICU 78, CLDR 48). Left out where ICU4X's patterns differ
// (README): ko and zh-Hant's hour widths with another clock, es's
// timeStyle "short" hour ("05:04", V8 "5:04").
const all = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const except = (...l) => all.filter((x) => !l.includes(x));
const cases = [
  [all, { hour: "2-digit", minute: "2-digit", hourCycle: "h24" }],
  [except("ko", "zh-Hant"), { hour: "numeric", minute: "2-digit", second: "2-digit", hourCycle: "h24" }],
  [except("es", "zh-Hant"), { timeStyle: "short", hourCycle: "h24" }],
  [except("zh-Hant"), { hour: "numeric", minute: "2-digit", hourCycle: "h23" }],
];
const out = [];
for (const h of [0, 5, 12, 15]) {
  const d = new Date(Date.UTC(2024, 2, 5, h, 4, 5));
  for (const [locales, o] of cases) {
    for (const l of locales) out.push(`${h} ${l} ${JSON.stringify(o)}: ${new Intl.DateTimeFormat(l, o).format(d).replace(/\u202f/g, " ")}`);
  }
}
const midnight = Date.UTC(2024, 2, 5, 0, 4);
for (const l of ["en-u-hc-h24", "de-u-hc-h24", "en-u-hc-h23", "ja-u-hc-h11", "en-u-hc-h12"]) {
  const f = new Intl.DateTimeFormat(l, { hour: "numeric", minute: "2-digit" });
  const r = f.resolvedOptions();
  out.push(`${l}: ${f.format(midnight)} ${r.hourCycle} ${r.hour12}`);
}
// The option wins over the extension.
out.push(new Intl.DateTimeFormat("en-u-hc-h24", { hour: "numeric", minute: "2-digit", hour12: true }).format(midnight));
out.push(new Intl.DateTimeFormat("de", { hour: "numeric", hourCycle: "h24" }).formatToParts(midnight).map((p) => `${p.type}:${p.value}`).join("|"));
// Midnight's 24, and a 2-digit minute, in the locale's digits.
out.push(new Intl.DateTimeFormat("ar-u-nu-arab", { hour: "numeric", minute: "2-digit", hourCycle: "h24" }).format(midnight));
out.push(new Intl.DateTimeFormat("ar-u-nu-arab", { hour: "numeric", minute: "2-digit" }).format(midnight));
// hour12: true is the locale's 12-hour cycle (ECMA-402 2023+): h11 in ja
// (CLDR's "aK:mm"), h12 in en. Node 20 agrees for these; elsewhere it
// predates the change (README).
for (const l of ["ja", "ja-JP", "en"]) for (const o of [{ hour: "numeric", minute: "2-digit" }, { timeStyle: "short" }]) {
  const f = new Intl.DateTimeFormat(l, { ...o, hour12: true, timeZone: "UTC" });
  out.push([f.format(midnight + 5 * 60e3), f.format(midnight + 12.5 * 3600e3), f.resolvedOptions().hourCycle].join(" | "));
}
// The same in ja's ranges (ICU4X's interval patterns at the h11 cycle).
out.push(JSON.stringify([{ hour: "numeric", minute: "2-digit" }, { hour: "numeric" }].map((o) => new Intl.DateTimeFormat("ja", { ...o, hour12: true, timeZone: "UTC" })).flatMap((f) => [f.formatRange(midnight, midnight + 3 * 3600e3), f.formatRange(midnight, midnight + 13 * 3600e3)])));
globalThis.out = out;
export default () => globalThis.out;
