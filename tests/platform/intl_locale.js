// ECMA-402 §14 Intl.Locale: MDN's and the spec's examples, canonicalization,
// likely subtags (maximize/minimize), options and errors.
const fails = (f) => { try { f(); return "no error"; } catch (e) { return e.constructor.name; } };
const out = [];
const us = new Intl.Locale("en-Latn-US", { calendar: "gregory", hourCycle: "h12" });
out.push(us.toString(), us.baseName, us.language, us.script, us.region, us.calendar, us.hourCycle);
out.push(String(us.collation), String(us.caseFirst), String(us.numeric), String(us.numberingSystem));
out.push(new Intl.Locale("en").maximize().toString(), new Intl.Locale("zh-TW").maximize().toString());
out.push(new Intl.Locale("en-Latn-US").minimize().toString(), new Intl.Locale("zh-Hant-TW").minimize().toString());
out.push(new Intl.Locale("ja-Jpan-JP-u-ca-japanese-hc-h12").minimize().toString());
out.push(String(new Intl.Locale("en-u-kn").numeric), new Intl.Locale("en", { numeric: true }).toString(),
  String(new Intl.Locale("en").numeric));
out.push(new Intl.Locale("en", { caseFirst: "upper", numberingSystem: "arab" }).toString());
out.push(new Intl.Locale("en-US", { region: "GB" }).toString(), new Intl.Locale("EN-us").toString(),
  new Intl.Locale("iw").toString(), new Intl.Locale(new Intl.Locale("de-CH")).toString());
out.push(fails(() => new Intl.Locale("")), fails(() => Intl.Locale("en")), fails(() => new Intl.Locale(5)),
  fails(() => new Intl.Locale("en", { hourCycle: "h25" })), fails(() => new Intl.Locale("en", { language: "12" })),
  fails(() => new Intl.Locale("en-", {})));
// A Locale is accepted wherever a locale tag is.
out.push(new Intl.NumberFormat(new Intl.Locale("de-DE")).format(1234.5),
  Intl.getCanonicalLocales([new Intl.Locale("EN-us"), "fr"]).join(","));
out.push(Object.prototype.toString.call(us));
// resolvedOptions().locale keeps only the -u- keys its constructor uses
// (ECMA-402 ResolveLocale: Collator co kf kn, NumberFormat and
// RelativeTimeFormat nu, DateTimeFormat ca hc nu), with supported values,
// in that order; an hourCycle option that differs drops -u-hc-.
for (const t of ["de-u-co-phonebk-nu-latn-ca-gregory-hc-h23-kn-kf-upper", "en-u-nu-arab-ca-buddhist-co-emoji", "en-u-kn-true", "ja-u-ca-japanese-hc-h11", "zh-u-co-pinyin-nu-hanidec", "en-u-ca-xxxx-nu-yyyy-kf-zz"]) {
  out.push(t + " " + ["Collator", "NumberFormat", "DateTimeFormat", "PluralRules", "RelativeTimeFormat", "ListFormat", "Segmenter", "DisplayNames"].map((c) => new Intl[c](t, c === "DisplayNames" ? { type: "region" } : undefined).resolvedOptions().locale).join(" "));
}
out.push([{ hour: "numeric", hourCycle: "h23" }, { hour: "numeric", hour12: true }, { hour: "numeric", hourCycle: "h11" }].map((o) => new Intl.DateTimeFormat("ja-u-hc-h11", o).resolvedOptions().locale).join(" "));
out.push([new Intl.Collator("en-u-kn").resolvedOptions().numeric, new Intl.Collator("de-u-co-phonebk", { collation: "eor" }).resolvedOptions().locale].join(" "));
globalThis.out = out;
export default () => globalThis.out;
