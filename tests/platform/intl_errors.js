// Hostile and unsupported input: RangeError or TypeError naming the cause,
// never a crash and never a silently ignored option.
const attempt = (f) => { try { return "ok: " + f(); } catch (e) { return e.name + ": " + e.message; } };
globalThis.out = [
  attempt(() => new Intl.NumberFormat("en_US!")),
  attempt(() => new Intl.NumberFormat("x".repeat(100000))),
  attempt(() => (1).toLocaleString("a".repeat(300))),
  attempt(() => new Intl.NumberFormat(Array(100).fill("en"))),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "celsius" })),
  attempt(() => new Intl.NumberFormat("en", { notation: "scientific" })),
  attempt(() => new Intl.NumberFormat("en", { style: "currency" })),
  attempt(() => new Intl.NumberFormat("en", { style: "currency", currency: "dollars" })),
  attempt(() => new Intl.NumberFormat("en", { maximumFractionDigits: 101 })),
  attempt(() => new Intl.DateTimeFormat("en", { timeZone: "Mars/Olympus" })),
  attempt(() => new Intl.DateTimeFormat("en", { dateStyle: "long", year: "numeric" })),
  attempt(() => new Intl.DateTimeFormat("en", { calendar: "hebrew" })),
  attempt(() => new Intl.DateTimeFormat("en").format(8.64e15 + 1)),
  attempt(() => new Intl.RelativeTimeFormat("en").format(1, "fortnight")),
  attempt(() => new Intl.DisplayNames("en", { type: "calendar" })),
  attempt(() => Intl.NumberFormat.prototype.format.call({})),
  attempt(() => "a".localeCompare("b", "\u0000")),
  // Units: malformed, unknown, without data, missing; hostile sizes.
  attempt(() => new Intl.NumberFormat("en", { style: "unit" })),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "furlong" })),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "meter-per-second-per-second" })),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "kilometer-per-hour" })),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "m".repeat(100000) })),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "percent", unitDisplay: "long" })),
  attempt(() => new Intl.NumberFormat("en", { style: "unit", unit: "meter", unitDisplay: "wide" })),
  attempt(() => new Intl.NumberFormat("en", { notation: "engineering" })),
  attempt(() => new Intl.NumberFormat("en", { notation: "compact", style: "percent" })),
  attempt(() => new Intl.NumberFormat("en", { notation: "compact", style: "currency", currency: "USD", maximumFractionDigits: 2 }).format(1234567)),
  attempt(() => new Intl.NumberFormat("en", { style: "currency", currency: "USD", currencySign: "debit" })),
  attempt(() => new Intl.NumberFormat("en").formatToParts("9".repeat(100000)).length),
  attempt(() => new Intl.NumberFormat("en").format(-1e308).length),
  // Options caplet does not implement, and bad keys and codes.
  attempt(() => new Intl.Collator("en", { collation: "phone_bk" })),
  attempt(() => new Intl.RelativeTimeFormat("en", { numberingSystem: "arab" })),
  attempt(() => new Intl.DisplayNames("en", { type: "dateTimeField" })),
  attempt(() => new Intl.DisplayNames("en", { type: "currency" }).of("US")),
  attempt(() => new Intl.DisplayNames("en", { type: "currency" }).of("usd")),
  attempt(() => Intl.supportedValuesOf("colour")),
  attempt(() => Intl.supportedValuesOf("x".repeat(100000))),
  attempt(() => new Intl.DateTimeFormat("en").formatToParts(NaN)),
  // Date components ICU4X cannot show as asked: refused, not approximated.
  attempt(() => new Intl.DateTimeFormat("en", { year: "numeric", day: "numeric" })),
  attempt(() => new Intl.DateTimeFormat("en", { weekday: "long", month: "numeric", day: "numeric" })),
  attempt(() => new Intl.DateTimeFormat("en", { minute: "2-digit" })),
  attempt(() => new Intl.DateTimeFormat("de", { weekday: "long", hour: "numeric" })),
  // A weekday and month names of different lengths where ICU4X's long and
  // medium patterns, adjusted, disagree: refused when constructed.
  attempt(() => new Intl.DateTimeFormat("es", { weekday: "long", month: "short", day: "numeric" })),
  attempt(() => new Intl.DateTimeFormat("ja", { weekday: "short", year: "numeric", month: "long", day: "numeric" })),
  // Month names where the medium pattern is numeric, with a short weekday.
  attempt(() => new Intl.DateTimeFormat("ja", { weekday: "short", year: "numeric", month: "short", day: "numeric" })),
  // A narrow month where the medium pattern is numeric, with a time.
  attempt(() => new Intl.DateTimeFormat("de", { year: "numeric", month: "narrow", day: "numeric", hour: "numeric" })),
  // A field ICU4X's pattern lacks (de's is "d MMMM 'Y' G, EEEE"): refused.
  attempt(() => new Intl.DateTimeFormat("de", { weekday: "long", era: "short", year: "numeric", month: "long", day: "numeric" })),
  // Field widths ICU4X's pattern lacks, in another calendar than gregorian.
  attempt(() => new Intl.DateTimeFormat("en-u-ca-japanese", { era: "long", year: "numeric" })),
  // A range with names at other widths than ICU4X's range pattern writes
  // (one date takes them, as the first case shows), or with a 1-to-24 clock.
  attempt(() => new Intl.DateTimeFormat("en", { weekday: "narrow", month: "short", day: "numeric", timeZone: "UTC" }).format(Date.UTC(2024, 2, 10))),
  attempt(() => new Intl.DateTimeFormat("en", { weekday: "narrow", month: "short", day: "numeric", timeZone: "UTC" }).formatRange(Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 12))),
  attempt(() => new Intl.DateTimeFormat("en", { weekday: "long", month: "short", day: "numeric", timeZone: "UTC" }).formatRange(Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 12))),
  attempt(() => new Intl.DateTimeFormat("en", { hour: "numeric", minute: "2-digit", hourCycle: "h24", timeZone: "UTC" }).formatRange(Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 10, 5))),
  // A range showing a time zone: ICU4X's interval patterns have none (it
  // would write "12:00 AM UTC – 5:00 AM UTC", V8 "12:00 – 5:00 AM UTC"; a
  // date with a long timeStyle on one day, the date twice).
  attempt(() => new Intl.DateTimeFormat("en", { hour: "numeric", minute: "2-digit", timeZoneName: "short", timeZone: "UTC" }).formatRange(Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 10, 5))),
  attempt(() => new Intl.DateTimeFormat("de", { dateStyle: "short", timeStyle: "long", timeZone: "UTC" }).formatRange(Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 10, 5))),
  // A range that would leave out a field one date writes (ICU4X's interval
  // patterns for a medium time have no seconds: "3:04 – 3:39 PM").
  attempt(() => new Intl.DateTimeFormat("en", { timeStyle: "medium", timeZone: "UTC" }).formatRange(Date.UTC(2024, 2, 10, 15, 4, 5), Date.UTC(2024, 2, 10, 15, 39, 5))),
  // A time zone with a lone surrogate is an invalid one, not a TypeError.
  attempt(() => new Intl.DateTimeFormat("en", { timeZone: "Europe/\ud800" })),
  // An Intl.Locale option or a supportedValuesOf key with a lone surrogate is invalid, not a TypeError.
  attempt(() => new Intl.Locale("en", { region: "U\ud800" })),
  attempt(() => new Intl.Locale("en", { calendar: "gre\ud800" })),
  attempt(() => Intl.supportedValuesOf("cal\ud800")),
];
export default () => globalThis.out;
