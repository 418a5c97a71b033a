// Intl.DateTimeFormat with date components (ECMA-402 §11.1.2): the field
// combinations agents write, in en, de, fr and ja. Expected output: Node.js
// 20 (ICU 78, CLDR 48). Where de's and ja's medium pattern writes the month
// as a number, month "short" takes the long pattern with short names; with
// a time or a short weekday that pattern's glue and punctuation differ from
// ICU's, so those throw (intl_errors.js). Left out: numeric months in de
// and ja, which ICU4X zero-pads (10.03.2024).
const d = new Date(Date.UTC(2024, 2, 10, 15, 4, 5));
const f = (l, o) => new Intl.DateTimeFormat(l, o).format(d);
const all = [
  { year: "numeric", month: "long", day: "numeric" },
  { year: "numeric", month: "short", day: "numeric" },
  { month: "long", day: "numeric" },
  { month: "short", day: "numeric" },
  { year: "numeric", month: "long" },
  { year: "numeric", month: "2-digit", day: "2-digit" },
  { year: "numeric", month: "numeric", day: "numeric" },
  { year: "2-digit", month: "numeric", day: "numeric" },
  { weekday: "long", year: "numeric", month: "long", day: "numeric" },
  { weekday: "short", year: "numeric", month: "short", day: "numeric" },
  { weekday: "short", month: "short", day: "numeric" },
  { weekday: "short", month: "numeric", day: "numeric" },
  { weekday: "long", month: "long", day: "numeric" },
  { weekday: "long" },
  { weekday: "short" },
  { year: "numeric" },
  { month: "long" },
  { day: "numeric" },
  { hour: "numeric", minute: "2-digit" },
  { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" },
];
const numericMonth = (o) => o.month === "numeric";
const out = [];
for (const l of ["en", "de", "fr", "ja"]) {
  for (const o of all) {
    if ((l === "de" || l === "ja") && (numericMonth(o) || o.month === "2-digit")) continue;
    if ((l === "de" || l === "ja") && o.month === "short" && (o.hour || o.weekday === "short")) continue;
    out.push(`${l} ${JSON.stringify(o)}: ${f(l, o).replace(/\u202f/g, " ")}`);
  }
}
out.push(new Date(d).toLocaleDateString("en-US", { weekday: "long", year: "numeric", month: "long", day: "numeric" }));
out.push(new Date(d).toLocaleDateString("en-US", { year: "numeric", month: "2-digit", day: "2-digit" }));
globalThis.out = out;
export default () => globalThis.out;
