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
globalThis.out = out;
export default () => globalThis.out;
