// Intl.RelativeTimeFormat.prototype.formatToParts (ECMA-402 §17.5.4,
// PartitionRelativeTimePattern): literal parts, and the number's own parts
// with `unit` set to the singular unit; a numeric: "auto" phrase is one
// literal part. Every unit, numeric and style in the promised locales, and
// format() equal to the parts joined. Expected output: Node.js 20 (ICU 78,
// CLDR 48).
// Left out, as ICU4X's data differs from ICU's there (format() too): nl's
// narrow second (ICU4X `s`, ICU `sec.`), he's short and narrow second
// (ICU4X `שני׳`, ICU `שנ׳`), and he's "last"/"next" week, month and year
// (ICU4X `בשבוע שעבר`, ICU `השבוע שעבר`).
const locales = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko", "zh-Hans", "zh-Hant"];
const units = ["second", "minute", "hour", "day", "week", "month", "quarter", "year"];
const values = [-1, 0, 1, 2, -1234.5, 1e6];
const show = (p) => p.type + ":" + p.value + (p.unit === undefined ? "" : "@" + p.unit);
// A part as `show` writes it, its unit only when it is not the one expected
// (`unit` on the number's parts, none on literals), to keep the lines short.
const checked = (unit) => (p) => p.type + ":" + p.value + (p.unit === (p.type === "literal" ? undefined : unit) ? "" : "@" + p.unit);
const out = [];
for (const l of locales) {
  for (const style of ["long", "short", "narrow"]) {
    for (const numeric of ["always", "auto"]) {
      const f = new Intl.RelativeTimeFormat(l, { style, numeric });
      for (const unit of units) {
        if (unit === "second" && ((l === "nl" && style === "narrow") || (l === "he" && style !== "long"))) continue;
        const differs = l === "he" && numeric === "auto" && ["week", "month", "year"].includes(unit);
        const line = [];
        for (const v of differs ? values.filter((x) => x !== 1 && x !== -1) : values) {
          const parts = f.formatToParts(v, unit);
          const joined = parts.map((p) => p.value).join("");
          const text = f.format(v, unit);
          line.push(joined === text ? parts.map(checked(unit)).join("|") : `MISMATCH ${JSON.stringify(joined)} != ${JSON.stringify(text)}`);
        }
        out.push(`${l} ${style} ${numeric} ${unit}: ${line.join(" ; ")}`);
      }
    }
  }
}
// Edges: -0, values rounding to 0 or ±1, more fraction digits than the
// three shown, a -u-nu- numbering system, a value past 2^53.
for (const l of ["en", "ar", "hi-u-nu-deva", "de"]) {
  const f = new Intl.RelativeTimeFormat(l, { numeric: "auto" });
  out.push([-0, 0.0004, -0.0004, -0.9996, -1.0001, 1.5, 12345.6789, -1e21].map((v) => f.formatToParts(v, "days").map(show).join("|")).join(" ; "));
}
// -0 and what rounds to it: "today" with numeric "auto", "0 days ago" with
// "always"; format() as well.
for (const numeric of ["auto", "always"]) {
  const f = new Intl.RelativeTimeFormat("en", { numeric });
  out.push([-0, -0.0004, 0.0004].map((v) => f.format(v, "day")).join(" ; "));
}
// A plural unit names the singular one; the parts are fresh plain objects.
const f = new Intl.RelativeTimeFormat("en");
out.push(f.formatToParts(3, "hours").map(show).join("|"));
const p = f.formatToParts(-2, "days");
out.push(String(Array.isArray(p)), Object.keys(p[0]).join(","), String(Object.getPrototypeOf(p[0]) === Object.prototype));
out.push(typeof Intl.RelativeTimeFormat.prototype.formatToParts, String(Intl.RelativeTimeFormat.prototype.formatToParts.length));
for (const bad of [() => f.formatToParts(1, "fortnight"), () => f.formatToParts(NaN, "day"), () => Intl.RelativeTimeFormat.prototype.formatToParts.call({}, 1, "day")]) {
  try { bad(); out.push("no error"); } catch (e) { out.push(e.constructor.name); }
}
globalThis.out = out;
export default () => globalThis.out;
