// Intl.Collator collation types (ECMA-402 §10.1.1, the `collation` option
// and the `-u-co-` extension) and Intl.supportedValuesOf("collation"):
// CLDR's tailorings in ICU4X's compiled data. Expected output: Node.js 20
// (ICU 78, CLDR 48). The option wins over the extension; a type the
// locale has no tailoring for, "standard" and "search" resolve to
// "default"; the resolved locale names the type used.
// Left out, as ICU4X differs: "zh-u-co-pinyin" (V8 resolves zh's default
// tailoring as "default", caplet as "pinyin", sorting alike) and Korean
// "searchjl" (not in ICU4X's data: caplet resolves "default").
const out = [];
// V8 lists more types (for languages caplet does not promise, or absent
// from ICU4X: dict, phonetic, searchjl); caplet's list is part of it.
const v8 = ["compat", "dict", "emoji", "eor", "phonebk", "phonetic", "pinyin", "searchjl", "stroke", "trad", "unihan", "zhuyin"];
const listed = Intl.supportedValuesOf("collation");
out.push(String(listed.every((t) => v8.includes(t)) && ["compat", "emoji", "eor", "phonebk", "stroke", "trad", "unihan", "zhuyin"].every((t) => listed.includes(t))));
out.push(String(listed.join() === listed.slice().sort().join()));
const words = ["Äpfel", "Affe", "Ahorn", "Ofen", "Öl", "Ochse", "Ärger", "Aal"];
for (const [l, o] of [["de-u-co-phonebk", {}], ["de", { collation: "phonebk" }], ["en-u-co-phonebk", {}], ["de-u-co-phonebk", { collation: "standard" }], ["de-u-co-phonebk", { collation: "trad" }], ["de", { collation: "PHONEBK" }], ["de-AT-u-co-phonebk", {}], ["de", {}], ["es-u-co-trad", {}], ["es", {}], ["de-u-co-search", {}]]) {
  const c = new Intl.Collator(l, o);
  const r = c.resolvedOptions();
  out.push(`${l} ${JSON.stringify(o)}: ${r.locale} ${r.collation} ${words.slice().sort(c.compare).join()}`);
}
const es = ["chico", "cosa", "llama", "luz", "ñu", "nube", "curso", "cz"];
out.push(es.slice().sort(new Intl.Collator("es-u-co-trad").compare).join());
out.push(es.slice().sort(new Intl.Collator("es").compare).join());
out.push(["Äpfel", "Affe", "Aepfel"].sort(new Intl.Collator("de-u-co-phonebk").compare).join());
out.push(["Äpfel", "Affe", "Aepfel"].sort(new Intl.Collator("de").compare).join());
out.push(["Äpfel", "Affe", "Aepfel"].sort((a, b) => a.localeCompare(b, "de-u-co-phonebk")).join());
const han = ["一", "乙", "人", "丁", "七", "九", "了", "二", "十", "中", "大", "小"];
for (const l of ["zh", "zh-u-co-stroke", "zh-u-co-zhuyin", "zh-Hant", "zh-Hant-u-co-pinyin", "ja", "ja-u-co-unihan", "ko-u-co-unihan", "en-u-co-emoji", "de-u-co-eor", "ar-u-co-compat", "sv-u-co-trad", "fi-u-co-trad", "da-u-co-trad", "hi-u-co-trad", "vi-u-co-trad"]) {
  const c = new Intl.Collator(l);
  out.push(`${l}: ${c.resolvedOptions().locale} ${c.resolvedOptions().collation} ${han.slice().sort(c.compare).join("")}`);
}
const ar = ["ﻻ", "لا", "ﺍ", "ا", "ب"];
out.push(ar.slice().sort(new Intl.Collator("ar-u-co-compat").compare).join(" "));
out.push(ar.slice().sort(new Intl.Collator("ar").compare).join(" "));
// A value that is not a UTS #35 type is a RangeError.
for (const bad of ["x", "toolongvalue", "ab-c", ""]) {
  try {
    new Intl.Collator("de", { collation: bad });
    out.push(`accepted ${bad}`);
  } catch (e) {
    out.push(e.name);
  }
}
// Strings with a lone surrogate compare (as U+FFFD; V8 compares it as a
// code unit, the same order here).
out.push(["b\ud800", "a\udfffz", "a"].sort(new Intl.Collator("en").compare).map((x) => JSON.stringify(x)).join());
out.push(String("x\ud800".localeCompare("x", "de") > 0));
globalThis.out = out;
export default () => globalThis.out;
