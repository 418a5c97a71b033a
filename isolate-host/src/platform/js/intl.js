// Intl (ECMA-402): the classes, option reading and resolvedOptions(). The
// locale work is done by `native` (platform/intl.rs, ICU4X). Compiled once
// per host; evaluated in a worker the first time it touches Intl or a locale
// method; what it builds is kept, so Intl and the locale methods share it.
// Options a worker asks for that caplet does not implement throw a
// RangeError naming them, never are ignored.
let built;
export default function build(native) {
  return (built ??= make(native));
}

function make(native) {
  const DEFAULT = "en-US";
  const define = Object.defineProperty;
  const str = (v) => (typeof v === "symbol" ? (() => { throw new TypeError("cannot convert a Symbol to a string"); })() : String(v));
  const MAX_LOCALES = 64;

  function canonicalizeList(locales) {
    if (locales === undefined) return [];
    const list = typeof locales === "string" || (locales && locales[localeTag]) ? [locales] : Object(locales);
    const len = Math.min(Number(list.length) || 0, 2 ** 32);
    if (len > MAX_LOCALES) throw new RangeError(`too many locales: ${len} (at most ${MAX_LOCALES})`);
    const seen = [];
    for (let i = 0; i < len; i++) {
      if (!(i in list)) continue;
      const item = list[i];
      if (typeof item !== "string" && (typeof item !== "object" || item === null)) throw new TypeError("locale must be a string or object");
      const text = item && item[localeTag] ? item[localeTag] : str(item);
      // Language tags are ASCII; anything else (a lone surrogate too) is malformed.
      if (text.length === 0 || text.length > 255 || !/^[\x21-\x7e]+$/.test(text)) throw new RangeError(`invalid language tag: ${JSON.stringify(text.slice(0, 40))}${text.length > 40 ? "…" : ""}`);
      const tag = native.canonicalize(text);
      if (!seen.includes(tag)) seen.push(tag);
    }
    return seen;
  }
  const localeTag = Symbol("locale");

  function bestLocale(locales) {
    for (const tag of canonicalizeList(locales)) {
      if (native.supported(tag)) return tag;
      // BestAvailableLocale: drop subtags from the end (extensions first).
      let t = tag.split("-u-")[0];
      while (t.includes("-")) {
        t = t.slice(0, t.lastIndexOf("-"));
        if (native.supported(t)) return tag.includes("-u-") ? tag : t;
      }
    }
    return DEFAULT;
  }
  function supportedLocalesOf(locales, options) {
    if (options !== undefined) option(Object(options), "localeMatcher", ["lookup", "best fit"], "best fit");
    return canonicalizeList(locales).filter((t) => native.supported(t));
  }

  function option(options, name, allowed, fallback) {
    let v = options[name];
    if (v === undefined) return fallback;
    if (allowed === "boolean") return Boolean(v);
    v = str(v);
    if (allowed && !allowed.includes(v)) throw new RangeError(`${v} is not a valid value for option ${name}`);
    return v;
  }
  function numberOption(options, name, min, max, fallback) {
    let v = options[name];
    if (v === undefined) return fallback;
    v = Number(v);
    if (Number.isNaN(v) || v < min || v > max) throw new RangeError(`${name} value is out of range`);
    return Math.floor(v);
  }
  function toOptions(options) {
    if (options === undefined) return Object.create(null);
    if (options === null) throw new TypeError("options must be an object");
    return Object(options);
  }
  function unsupported(options, names, what) {
    for (const n of names) if (options[n] !== undefined) throw new RangeError(`${what} option ${n} is not supported`);
  }
  // The value of the -u- keyword `key` of a canonical tag ("" for a key
  // without a value, i.e. true), or undefined.
  const extension = (tag, key) => {
    const at = tag.indexOf("-u-");
    if (at < 0) return undefined;
    const subtags = tag.slice(at + 3).split("-");
    for (let i = 0; i < subtags.length && subtags[i].length > 1; i++) {
      if (subtags[i] !== key) continue;
      const value = [];
      while (i + 1 < subtags.length && subtags[i + 1].length > 2) value.push(subtags[++i]);
      return value.join("-");
    }
    return undefined;
  };
  // ECMA-402 ResolveLocale: the resolved locale keeps only the -u- keys its
  // constructor uses (relevantExtensionKeys), in that order, each with the
  // value it resolved to ([key, value or undefined to leave it out]).
  function relevantLocale(tag, keys) {
    let u = "";
    for (const [key, value] of keys) if (value !== undefined) u += value === "" || value === "true" ? `-${key}` : `-${key}-${value}`;
    const base = tag.split("-u-")[0];
    return u ? `${base}-u${u}` : base;
  }
  // A -u-nu- the locale's digits follow (NumberFormat, DateTimeFormat,
  // RelativeTimeFormat).
  const nuKept = (tag, nu) => (extension(tag, "nu") === nu ? nu : undefined);
  const SLOT = {};
  for (const n of ["Collator", "NumberFormat", "DateTimeFormat", "PluralRules", "RelativeTimeFormat", "ListFormat", "Segmenter", "DisplayNames", "Locale"]) SLOT[n] = Symbol(n);
  function slot(self, Class) {
    const s = self !== null && (typeof self === "object" || typeof self === "function") ? self[SLOT[Class.name]] : undefined;
    if (!s) throw new TypeError(`method called on an incompatible receiver; expected Intl.${Class.name}`);
    return s;
  }
  function method(proto, name, f) {
    define(proto, name, { value: f, writable: true, enumerable: false, configurable: true });
  }
  function getter(proto, name, f) {
    define(proto, name, { get: f, enumerable: false, configurable: true });
  }
  function tag(proto, name) {
    define(proto, Symbol.toStringTag, { value: name, configurable: true });
  }

  // ---------------------------------------------------------------- Collator
  class Collator {
    constructor(locales, options) {
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const usage = option(options, "usage", ["sort", "search"], "sort");
      const asked = options.collation === undefined ? undefined : str(options.collation);
      // UTS #35's `type` production (ECMA-402 §10.1.1 step 11).
      if (asked !== undefined && !/^[a-z0-9]{3,8}(-[a-z0-9]{3,8})*$/i.test(asked)) throw new RangeError(`invalid collation: ${asked.slice(0, 40)}`);
      const locale = bestLocale(locales);
      // ResolveLocale for "co": the option wins over the extension; a type
      // the locale has no tailoring for (or "standard"/"search") is the
      // default; the resolved locale names a type it uses.
      const base = locale.split("-u-")[0];
      const co = asked === undefined ? extension(locale, "co") : asked.toLowerCase();
      const collation = co !== undefined && native.collationSupported(base, co) ? co : "default";
      let numeric = options.numeric === undefined ? extension(locale, "kn") === "true" || extension(locale, "kn") === "" : Boolean(options.numeric);
      const caseFirst = option(options, "caseFirst", ["upper", "lower", "false"], extension(locale, "kf") || "false");
      const sensitivity = option(options, "sensitivity", ["base", "accent", "case", "variant"], "variant");
      const ignorePunctuation = option(options, "ignorePunctuation", "boolean", false);
      const s = { locale: collation === "default" ? base : `${base}-u-co-${collation}`, usage, sensitivity, ignorePunctuation, collation, numeric, caseFirst };
      // The -u-kf- and -u-kn- of the tag stay in the resolved locale, as V8
      // keeps them (even where an option overrides them).
      const kf = extension(locale, "kf"), kn = extension(locale, "kn");
      s.resolved = relevantLocale(s.locale, [["co", collation === "default" ? undefined : collation], ["kf", ["upper", "lower", "false"].includes(kf) ? kf : undefined], ["kn", ["", "true", "false"].includes(kn) ? kn : undefined]]);
      define(this, SLOT.Collator, { value: s });
      native.compare(s.locale, s, "", ""); // load now: errors surface at construction
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
    getter(Collator.prototype, "compare", function () {
    const s = slot(this, Collator);
    // A lone surrogate compares as U+FFFD, as ICU4X's UTF-16 collation
    // reads one (the native takes text as UTF-8).
    return s.bound || (s.bound = (a, b) => native.compare(s.locale, s, str(a).toWellFormed(), str(b).toWellFormed()));
  });
  method(Collator.prototype, "resolvedOptions", function resolvedOptions() {
    const { resolved: locale, usage, sensitivity, ignorePunctuation, collation, numeric, caseFirst } = slot(this, Collator);
    return { locale, usage, sensitivity, ignorePunctuation, collation, numeric, caseFirst };
  });
  tag(Collator.prototype, "Intl.Collator");

  // ---------------------------------------------------------------- NumberFormat
  const INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000];
  const ROUNDING_MODES = ["ceil", "floor", "expand", "trunc", "halfCeil", "halfFloor", "halfExpand", "halfTrunc", "halfEven"];
  // ECMA-402 SetNumberFormatDigitOptions.
  function digitOptions(s, options, minFracDefault, maxFracDefault, compact) {
    s.minimumIntegerDigits = numberOption(options, "minimumIntegerDigits", 1, 21, 1);
    const mnsd = options.minimumSignificantDigits, mxsd = options.maximumSignificantDigits;
    const mnfd = options.minimumFractionDigits, mxfd = options.maximumFractionDigits;
    const increment = numberOption(options, "roundingIncrement", 1, 5000, 1);
    if (!INCREMENTS.includes(increment)) throw new RangeError(`roundingIncrement value is out of range: ${increment}`);
    s.roundingMode = option(options, "roundingMode", ROUNDING_MODES, "halfExpand");
    s.roundingPriority = option(options, "roundingPriority", ["auto", "morePrecision", "lessPrecision"], "auto");
    s.trailingZeroDisplay = option(options, "trailingZeroDisplay", ["auto", "stripIfInteger"], "auto");
    s.roundingIncrement = increment;
    if (increment !== 1) maxFracDefault = minFracDefault;
    const hasSd = mnsd !== undefined || mxsd !== undefined;
    const hasFd = mnfd !== undefined || mxfd !== undefined;
    let needSd = true, needFd = true;
    if (s.roundingPriority === "auto") {
      needSd = hasSd;
      if (needSd || (!hasFd && compact)) needFd = false;
    }
    if (needSd) {
      s.minimumSignificantDigits = numberOption(options, "minimumSignificantDigits", 1, 21, 1);
      s.maximumSignificantDigits = numberOption(options, "maximumSignificantDigits", s.minimumSignificantDigits, 21, 21);
    }
    if (needFd) {
      if (hasFd) {
        let mn = numberOption(options, "minimumFractionDigits", 0, 100, undefined);
        let mx = numberOption(options, "maximumFractionDigits", 0, 100, undefined);
        if (mn === undefined) mn = Math.min(minFracDefault, mx);
        else if (mx === undefined) mx = Math.max(maxFracDefault, mn);
        else if (mn > mx) throw new RangeError("minimumFractionDigits is greater than maximumFractionDigits");
        s.minimumFractionDigits = mn;
        s.maximumFractionDigits = mx;
        if (compact && !needSd) s.explicitDigits = "true";
      } else {
        s.minimumFractionDigits = minFracDefault;
        s.maximumFractionDigits = maxFracDefault;
      }
    }
    if (increment !== 1) {
      if (needSd) throw new TypeError("roundingIncrement needs fraction digits, not significant digits");
      if (s.maximumFractionDigits !== s.minimumFractionDigits) {
        throw new RangeError("roundingIncrement needs maximumFractionDigits equal to minimumFractionDigits");
      }
    }
  }
  class NumberFormat {
    constructor(locales, options) {
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const locale = bestLocale(locales);
      const nu = option(options, "numberingSystem", undefined, undefined);
      if (nu !== undefined) throw new RangeError("Intl.NumberFormat option numberingSystem is not supported (use a -u-nu- locale extension)");
      const style = option(options, "style", ["decimal", "percent", "currency", "unit"], "decimal");
      let currency = option(options, "currency");
      if (currency !== undefined && !/^[A-Za-z]{3}$/.test(currency)) throw new RangeError(`invalid currency code: ${currency}`);
      if (style === "currency" && currency === undefined) throw new TypeError("currency is required with style \"currency\"");
      const currencyDisplay = option(options, "currencyDisplay", ["code", "symbol", "narrowSymbol", "name"], "symbol");
      const currencySign = option(options, "currencySign", ["standard", "accounting"], "standard");
      const unit = option(options, "unit");
      if (unit !== undefined && !isUnit(unit)) throw new RangeError(`invalid unit: ${unit.slice(0, 40)}`);
      if (style === "unit" && unit === undefined) throw new TypeError("unit is required with style \"unit\"");
      const unitDisplay = option(options, "unitDisplay", ["short", "narrow", "long"], "short");
      // ICU4X has no data for compound units (CLDR names many, "km/h",
      // "mpg", and has per-unit patterns, "{0}/s", which a derivation from
      // its generic "{0}/{1}" would get wrong: "km/hr", "L/sec") nor for
      // some simple ones.
      if (style === "unit" && !native.unitSupported(unit)) throw new RangeError(`Intl.NumberFormat unit "${unit}" is not supported (no locale data)`);
      // CLDR's percent pattern is the short form; its unit names ("percent", "Prozent") are not in ICU4X's data.
      if (style === "unit" && unit === "percent" && unitDisplay !== "short") throw new RangeError(`Intl.NumberFormat unit "percent" with unitDisplay "${unitDisplay}" is not supported (no locale data)`);
      const notation = option(options, "notation", ["standard", "scientific", "engineering", "compact"], "standard");
      // ICU4X has no exponent symbols (CLDR's "E") to format these with.
      if (notation === "scientific" || notation === "engineering") throw new RangeError(`Intl.NumberFormat notation "${notation}" is not supported`);
      if (notation === "compact" && style !== "decimal" && style !== "currency") throw new RangeError(`Intl.NumberFormat notation "compact" with style "${style}" is not supported`);
      const s = { locale, numberingSystem: numberingSystem(locale), style };
      if (style === "currency") {
        currency = currency.toUpperCase();
        s.currency = currency;
        s.currencyDisplay = currencyDisplay;
        s.currencySign = currencySign;
      }
      if (style === "unit") {
        s.unit = unit;
        s.unitDisplay = unitDisplay;
      }
      // CLDR's digits for the currency (ICU4X's data), as V8 has them.
      const cd = style === "currency" ? native.currencyDigits(currency) : 0;
      if (style === "currency") s.currencyDigits = cd;
      digitOptions(s, options, cd, style === "currency" ? cd : style === "percent" ? 0 : 3, notation === "compact");
      s.notation = notation;
      if (notation === "compact") s.compactDisplay = option(options, "compactDisplay", ["short", "long"], "short");
      const g = options.useGrouping;
      s.useGrouping = g === undefined ? (notation === "compact" ? "min2" : "auto") : g === false || g === "false" ? false : g === true || g === "true" ? "always" : option(options, "useGrouping", ["min2", "auto", "always"]);
      s.signDisplay = option(options, "signDisplay", ["auto", "never", "always", "exceptZero", "negative"], "auto");
      define(this, SLOT.NumberFormat, { value: s });
      native.formatNumber(locale, this[SLOT.NumberFormat].n = nativeOptions(s), 0);
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
  // ECMA-402 IsWellFormedUnitIdentifier: a sanctioned unit, or two joined by "-per-".
  let SANCTIONED;
  function isUnit(unit) {
    SANCTIONED ??= new Set(native.sanctionedUnits());
    if (SANCTIONED.has(unit)) return true;
    const i = unit.indexOf("-per-");
    return i > 0 && SANCTIONED.has(unit.slice(0, i)) && SANCTIONED.has(unit.slice(i + 5));
  }
  // The digits the locale's data uses, named as in CLDR.
  const DIGITS = { "٠": "arab", "۰": "arabext", "०": "deva", "০": "beng", "๐": "thai", "〇": "hanidec", "0": "latn" };
  function numberingSystem(locale) {
    return DIGITS[native.formatNumber(locale, {}, 0)] || "latn";
  }
  function nativeOptions(s) {
    const n = {};
    for (const k in s) n[k] = typeof s[k] === "boolean" ? String(s[k]) : s[k];
    return n;
  }
  // What the native half formats: a number, or the exact decimal text of a
  // BigInt or of a decimal string.
  function numeric(x) {
    if (typeof x === "bigint") return String(x);
    if (typeof x === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(x)) return x.trim();
    return Number(x);
  }
  function formatNumber(s, x) {
    return native.formatNumber(s.locale, s.n, numeric(x));
  }
  function numberToParts(s, x) {
    return objects(native.formatNumberToParts(s.locale, s.n, numeric(x)));
  }
  // [type, value, type, value, …] from the native half as ECMA-402's parts.
  function objects(flat) {
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ type: flat[i], value: flat[i + 1] });
    return out;
  }
  getter(NumberFormat.prototype, "format", function () {
    const s = slot(this, NumberFormat);
    return s.bound || (s.bound = (x) => formatNumber(s, x));
  });
  method(NumberFormat.prototype, "formatToParts", function formatToParts(x) {
    return numberToParts(slot(this, NumberFormat), x);
  });
  method(NumberFormat.prototype, "resolvedOptions", function resolvedOptions() {
    const s = slot(this, NumberFormat);
    const out = {};
    for (const k of ["locale", "numberingSystem", "style", "currency", "currencyDisplay", "currencySign", "unit", "unitDisplay", "minimumIntegerDigits", "minimumFractionDigits", "maximumFractionDigits", "minimumSignificantDigits", "maximumSignificantDigits", "useGrouping", "notation", "compactDisplay", "signDisplay", "roundingIncrement", "roundingMode", "roundingPriority", "trailingZeroDisplay"])
      if (s[k] !== undefined) out[k] = s[k];
    out.locale = relevantLocale(s.locale, [["nu", nuKept(s.locale, s.numberingSystem)]]);
    return out;
  });
  tag(NumberFormat.prototype, "Intl.NumberFormat");

  // ---------------------------------------------------------------- PluralRules
  class PluralRules {
    constructor(locales, options) {
      if (new.target === undefined) throw new TypeError("Intl.PluralRules must be called with new");
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const type = option(options, "type", ["cardinal", "ordinal"], "cardinal");
      const s = { locale: bestLocale(locales), type };
      digitOptions(s, options, 0, 3, false);
      s.n = nativeOptions(s);
      define(this, SLOT.PluralRules, { value: s });
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
    method(PluralRules.prototype, "select", function select(n) {
    const s = slot(this, PluralRules);
    n = Number(n);
    if (!Number.isFinite(n)) return "other";
    return native.plural(s.locale, s.n, n);
  });
  method(PluralRules.prototype, "resolvedOptions", function resolvedOptions() {
    const s = slot(this, PluralRules);
    const out = { locale: relevantLocale(s.locale, []), type: s.type };
    for (const k of ["minimumIntegerDigits", "minimumFractionDigits", "maximumFractionDigits", "minimumSignificantDigits", "maximumSignificantDigits"]) if (s[k] !== undefined) out[k] = s[k];
    const cats = ["zero", "one", "two", "few", "many", "other"];
    const found = new Set();
    for (const v of [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 20, 21, 22, 23, 100, 101, 1000000, 0.5, 1.5]) found.add(native.plural(s.locale, s.n, v));
    out.pluralCategories = cats.filter((c) => found.has(c));
    return out;
  });
  tag(PluralRules.prototype, "Intl.PluralRules");

  // ---------------------------------------------------------------- DateTimeFormat
  const FIELDS = {
    weekday: [["narrow", "EEEEE"], ["short", "E"], ["long", "EEEE"]],
    era: [["narrow", "GGGGG"], ["short", "G"], ["long", "GGGG"]],
    year: [["2-digit", "yy"], ["numeric", "y"]],
    month: [["2-digit", "MM"], ["numeric", "M"], ["narrow", "MMMMM"], ["short", "MMM"], ["long", "MMMM"]],
    day: [["2-digit", "dd"], ["numeric", "d"]],
    hour: [["2-digit", "jj"], ["numeric", "j"]],
    minute: [["2-digit", "mm"], ["numeric", "m"]],
    second: [["2-digit", "ss"], ["numeric", "s"]],
    timeZoneName: [["short", "z"], ["long", "zzzz"], ["shortOffset", "O"], ["longOffset", "OOOO"], ["shortGeneric", "v"], ["longGeneric", "vvvv"]],
  };
  let CALENDARS;
  class DateTimeFormat {
    constructor(locales, options) {
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      unsupported(options, ["dayPeriod", "formatMatcher"], "Intl.DateTimeFormat");
      const locale = bestLocale(locales);
      const calendar = option(options, "calendar");
      if (calendar !== undefined) throw new RangeError("Intl.DateTimeFormat option calendar is not supported (use a -u-ca- locale extension)");
      if (options.numberingSystem !== undefined) throw new RangeError("Intl.DateTimeFormat option numberingSystem is not supported (use a -u-nu- locale extension)");
      const hour12 = options.hour12 === undefined ? undefined : Boolean(options.hour12);
      let hourCycle = option(options, "hourCycle", ["h11", "h12", "h23", "h24"]);
      // ECMA-402 (2023+): hour12 is the locale's 12-hour cycle (ja h11) or
      // its 24-hour one (h23 in every locale's CLDR data).
      if (hour12 !== undefined) hourCycle = hour12 ? native.hourCycle12(locale) : "h23";
      // Without hour12 or hourCycle, a -u-hc- extension (ECMA-402 §11.1.2).
      if (hourCycle === undefined && ["h11", "h12", "h23", "h24"].includes(extension(locale, "hc"))) hourCycle = extension(locale, "hc");
      // The -u-hc- stays in the resolved locale unless an option changed it.
      const hcKept = hourCycle !== undefined && extension(locale, "hc") === hourCycle ? hourCycle : undefined;
      const tz = options.timeZone === undefined ? "UTC" : native.timeZone(str(options.timeZone).toWellFormed());
      const s = { locale, calendar: extension(locale, "ca") || "gregory", numberingSystem: numberingSystem(locale), timeZone: tz };
      let skeleton = "";
      let any = false;
      for (const k of Object.keys(FIELDS)) {
        const v = option(options, k, FIELDS[k].map((p) => p[0]));
        if (v !== undefined) {
          s[k] = v;
          if (k !== "timeZoneName" && k !== "era") any = true;
          skeleton += FIELDS[k].find((p) => p[0] === v)[1];
        }
      }
      const fsd = numberOption(options, "fractionalSecondDigits", 1, 3, undefined);
      if (fsd !== undefined) { s.fractionalSecondDigits = fsd; skeleton += "S".repeat(fsd); any = true; }
      const dateStyle = option(options, "dateStyle", ["full", "long", "medium", "short"]);
      const timeStyle = option(options, "timeStyle", ["full", "long", "medium", "short"]);
      if ((dateStyle || timeStyle) && (any || s.timeZoneName || s.era)) throw new TypeError("dateStyle and timeStyle cannot be combined with other date and time options");
      if (dateStyle) s.dateStyle = dateStyle;
      if (timeStyle) s.timeStyle = timeStyle;
      if (!dateStyle && !timeStyle && !any) {
        const d = this instanceof DateTimeFormat ? DateTimeFormat.defaults : "date";
        if (d !== "time") { skeleton = "yMd" + skeleton; s.year = s.month = s.day = "numeric"; }
        if (d !== "date") { skeleton = skeleton + "jms"; s.hour = "numeric"; s.minute = s.second = "2-digit"; }
      }
      if (hourCycle && (s.hour || timeStyle)) { s.hourCycle = hourCycle; s.hour12 = hourCycle === "h11" || hourCycle === "h12"; skeleton = skeleton.replace(/j/g, s.hour12 ? "h" : "H"); }
      s.n = { skeleton, dateStyle, timeStyle, hourCycle, timeZone: tz };
      CALENDARS ??= native.supportedValuesOf("calendar");
      s.resolved = relevantLocale(locale, [["ca", CALENDARS.includes(extension(locale, "ca")) ? s.calendar : undefined], ["hc", hcKept], ["nu", nuKept(locale, s.numberingSystem)]]);
      for (const k of [...Object.keys(FIELDS), "fractionalSecondDigits"]) if (s[k] !== undefined) s.n[k] = s[k];
      define(this, SLOT.DateTimeFormat, { value: s });
      // Formatting checks that ICU4X writes each field as asked (a
      // RangeError otherwise): at instants where, in any time zone and hour
      // cycle, some hour and every other field has one digit, so a width
      // ICU4X does not keep fails here, not on some later date.
      native.formatDate(locale, s.n, 0);
      if (Object.values(s.n).includes("2-digit")) for (const h of [6, 12, 18]) native.formatDate(locale, s.n, h * 3600e3);
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
    DateTimeFormat.defaults = "date";
  const thisTimeValue = Date.prototype.valueOf;
  function timeValue(d) {
    const ms = d === undefined ? Date.now() : typeof d === "object" && d !== null && d instanceof Date ? thisTimeValue.call(d) : Number(d);
    if (!Number.isFinite(ms)) throw new RangeError("invalid time value");
    return ms;
  }
  function formatDate(s, d) {
    return native.formatDate(s.locale, s.n, timeValue(d));
  }
  getter(DateTimeFormat.prototype, "format", function () {
    const s = slot(this, DateTimeFormat);
    return s.bound || (s.bound = (d) => formatDate(s, d));
  });
  method(DateTimeFormat.prototype, "formatToParts", function formatToParts(d) {
    const s = slot(this, DateTimeFormat);
    return objects(native.formatDateToParts(s.locale, s.n, timeValue(d)));
  });
  // ECMA-402 §11.3.5-6: the range from one date to another, each part with
  // its source (startRange, endRange or shared).
  function dateRangeParts(f, start, end) {
    const s = slot(f, DateTimeFormat);
    if (start === undefined || end === undefined) throw new TypeError("formatRange needs a start and an end date");
    // Times alone on different days show the dates too ("yMd"), as ICU.
    const n = s.n;
    const timeOnly = !n.dateStyle && !["weekday", "era", "year", "month", "day"].some((k) => n[k] !== undefined);
    let withDate = null;
    if (timeOnly && !n.timeStyle) withDate = { ...n, year: "numeric", month: "numeric", day: "numeric", skeleton: "yMd" + n.skeleton };
    else if (timeOnly && (n.timeStyle === "short" || n.timeStyle === "medium")) {
      // A short or medium time style is hour, minute (and second) as ICU
      // writes them; with the dates, as components.
      const hm = n.timeStyle === "short" ? "jm" : "jms";
      const skeleton = n.hourCycle ? hm.replace("j", n.hourCycle === "h11" || n.hourCycle === "h12" ? "h" : "H") : hm;
      withDate = { ...n, timeStyle: undefined, year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "2-digit", skeleton: "yMd" + skeleton };
      if (n.timeStyle === "medium") withDate.second = "2-digit";
    }
    const flat = native.formatDateRangeToParts(s.locale, n, withDate, timeValue(start), timeValue(end));
    const out = [];
    for (let i = 0; i < flat.length; i += 3) out.push({ type: flat[i], value: flat[i + 1], source: flat[i + 2] });
    return out;
  }
  method(DateTimeFormat.prototype, "formatRange", function formatRange(start, end) {
    return dateRangeParts(this, start, end).map((p) => p.value).join("");
  });
  method(DateTimeFormat.prototype, "formatRangeToParts", function formatRangeToParts(start, end) {
    return dateRangeParts(this, start, end);
  });
  method(DateTimeFormat.prototype, "resolvedOptions", function resolvedOptions() {
    const s = slot(this, DateTimeFormat);
    const out = {};
    for (const k of ["locale", "calendar", "numberingSystem", "timeZone", "hourCycle", "hour12", "weekday", "era", "year", "month", "day", "hour", "minute", "second", "fractionalSecondDigits", "timeZoneName", "dateStyle", "timeStyle"])
      if (s[k] !== undefined) out[k] = s[k];
    out.locale = s.resolved;
    return out;
  });
  tag(DateTimeFormat.prototype, "Intl.DateTimeFormat");
  function dateWith(defaults) {
    return function (locales, options) {
      DateTimeFormat.defaults = defaults;
      try { return new DateTimeFormat(locales, options); } finally { DateTimeFormat.defaults = "date"; }
    };
  }
  const dtfAll = dateWith("all"), dtfDate = dateWith("date"), dtfTime = dateWith("time");

  // ---------------------------------------------------------------- RelativeTimeFormat
  const UNITS = ["second", "minute", "hour", "day", "week", "month", "quarter", "year"];
  class RelativeTimeFormat {
    constructor(locales, options) {
      if (new.target === undefined) throw new TypeError("Intl.RelativeTimeFormat must be called with new");
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const locale = bestLocale(locales);
      if (options.numberingSystem !== undefined) throw new RangeError("Intl.RelativeTimeFormat option numberingSystem is not supported (use a -u-nu- locale extension)");
      const s = { locale, style: option(options, "style", ["long", "short", "narrow"], "long"), numeric: option(options, "numeric", ["always", "auto"], "always"), numberingSystem: numberingSystem(locale) };
      define(this, SLOT.RelativeTimeFormat, { value: s });
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
  // The value and singular unit of format(value, unit) and formatToParts.
  const relativeArgs = (value, unit) => {
    value = Number(value);
    if (!Number.isFinite(value)) throw new RangeError("invalid value for relative time");
    unit = str(unit);
    const u = unit.endsWith("s") ? unit.slice(0, -1) : unit;
    if (!UNITS.includes(u)) throw new RangeError(`invalid unit argument: ${unit}`);
    return [value, u];
  };
  method(RelativeTimeFormat.prototype, "format", function format(value, unit) {
    const s = slot(this, RelativeTimeFormat);
    const [v, u] = relativeArgs(value, unit);
    return native.formatRelative(s.locale, s, v, u);
  });
  // ECMA-402 §17.5.4 PartitionRelativeTimePattern: the number's parts carry
  // the singular unit, literal parts none.
  method(RelativeTimeFormat.prototype, "formatToParts", function formatToParts(value, unit) {
    const s = slot(this, RelativeTimeFormat);
    const [v, u] = relativeArgs(value, unit);
    const flat = native.formatRelativeParts(s.locale, s, v, u);
    const out = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push(flat[i] === "literal" ? { type: "literal", value: flat[i + 1] } : { type: flat[i], value: flat[i + 1], unit: u });
    return out;
  });
  method(RelativeTimeFormat.prototype, "resolvedOptions", function resolvedOptions() {
    const { locale, style, numeric, numberingSystem } = slot(this, RelativeTimeFormat);
    return { locale: relevantLocale(locale, [["nu", nuKept(locale, numberingSystem)]]), style, numeric, numberingSystem };
  });
  tag(RelativeTimeFormat.prototype, "Intl.RelativeTimeFormat");

  // ---------------------------------------------------------------- ListFormat
  class ListFormat {
    constructor(locales, options) {
      if (new.target === undefined) throw new TypeError("Intl.ListFormat must be called with new");
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const s = { locale: bestLocale(locales), type: option(options, "type", ["conjunction", "disjunction", "unit"], "conjunction"), style: option(options, "style", ["long", "short", "narrow"], "long") };
      define(this, SLOT.ListFormat, { value: s });
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
  // The parts of the list: the native half gives one element part per item
  // (ICU4X's annotations) and the literals; each element is the worker's
  // own string again, as ICU4X got it with lone surrogates as U+FFFD (the
  // native takes text as UTF-8). Empty elements are dropped, as V8 does.
  function listParts(s, list) {
    const items = [];
    if (list !== undefined) for (const x of list) { if (typeof x !== "string") throw new TypeError("list items must be strings"); items.push(x); }
    const out = [];
    let i = 0;
    for (const part of objects(native.formatList(s.locale, s.type, s.style, items.map((x) => x.toWellFormed())))) {
      if (part.type === "element") part.value = items[i++];
      if (part.value === "") continue;
      const last = out[out.length - 1];
      if (part.type === "literal" && last && last.type === "literal") last.value += part.value;
      else out.push(part);
    }
    return out;
  }
  method(ListFormat.prototype, "format", function format(list) {
    return listParts(slot(this, ListFormat), list).map((p) => p.value).join("");
  });
  method(ListFormat.prototype, "formatToParts", function formatToParts(list) {
    return listParts(slot(this, ListFormat), list);
  });
  method(ListFormat.prototype, "resolvedOptions", function resolvedOptions() {
    const { locale, type, style } = slot(this, ListFormat);
    return { locale: relevantLocale(locale, []), type, style };
  });
  tag(ListFormat.prototype, "Intl.ListFormat");

  // ---------------------------------------------------------------- Segmenter
  class Segmenter {
    constructor(locales, options) {
      if (new.target === undefined) throw new TypeError("Intl.Segmenter must be called with new");
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const s = { locale: bestLocale(locales), granularity: option(options, "granularity", ["grapheme", "word", "sentence"], "grapheme") };
      define(this, SLOT.Segmenter, { value: s });
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
    const segmentsProto = {
    containing(index) {
      const n = Math.trunc(Number(index)) || 0;
      for (const seg of this) if (n >= seg.index && n < seg.index + seg.segment.length) return seg;
      return undefined;
    },
    [Symbol.iterator]() {
      const { input, b, word } = this;
      let i = 0;
      return {
        next() {
          if (i + 2 > b.length) return { done: true, value: undefined };
          const start = b[i], end = b[i + 2];
          const value = { segment: input.slice(start, end), index: start, input };
          if (word) value.isWordLike = b[i + 1] === 1;
          i += 2;
          return { done: false, value };
        },
        [Symbol.iterator]() { return this; },
      };
    },
  };
  method(Segmenter.prototype, "segment", function segment(input) {
    const s = slot(this, Segmenter);
    input = str(input);
    const segs = Object.create(segmentsProto);
    define(segs, "input", { value: input });
    define(segs, "word", { value: s.granularity === "word" });
    // Boundaries of the text with each lone surrogate as U+FFFD (one code
    // unit too, so the indices hold; the native takes text as UTF-8); the
    // segments are cut from the input itself, as V8 keeps the surrogate.
    define(segs, "b", { value: input.length === 0 ? [] : native.segment(s.locale, s.granularity, input.toWellFormed()) });
    return segs;
  });
  method(Segmenter.prototype, "resolvedOptions", function resolvedOptions() {
    const { locale, granularity } = slot(this, Segmenter);
    return { locale: relevantLocale(locale, []), granularity };
  });
  tag(Segmenter.prototype, "Intl.Segmenter");

  // ---------------------------------------------------------------- DisplayNames
  class DisplayNames {
    constructor(locales, options) {
      if (new.target === undefined) throw new TypeError("Intl.DisplayNames must be called with new");
      if (options === undefined) throw new TypeError("Intl.DisplayNames needs options with a type");
      options = toOptions(options);
      option(options, "localeMatcher", ["lookup", "best fit"]);
      const style = option(options, "style", ["narrow", "short", "long"], "long");
      const type = option(options, "type", ["language", "region", "script", "currency", "calendar", "dateTimeField"]);
      if (type === undefined) throw new TypeError("Intl.DisplayNames option type is required");
      // ICU4X has no names of calendars or date fields.
      if (!["language", "region", "script", "currency"].includes(type)) throw new RangeError(`Intl.DisplayNames type "${type}" is not supported`);
      const fallback = option(options, "fallback", ["code", "none"], "code");
      const languageDisplay = option(options, "languageDisplay", ["dialect", "standard"], "dialect");
      const s = { locale: bestLocale(locales), style, type, fallback };
      if (type === "language") s.languageDisplay = languageDisplay;
      define(this, SLOT.DisplayNames, { value: s });
    }
    static supportedLocalesOf(l, o) { return supportedLocalesOf(l, o); }
  }
    method(DisplayNames.prototype, "of", function of(code) {
    const s = slot(this, DisplayNames);
    code = str(code);
    // Codes are ASCII (a lone surrogate cannot reach the native half).
    if (!/^[\x21-\x7e]{1,255}$/.test(code)) throw new RangeError(`invalid code for Intl.DisplayNames of type ${s.type}: ${JSON.stringify(code.slice(0, 40))}`);
    const name = native.displayName(s.locale, s, code);
    if (name !== undefined && name !== null) return name;
    return s.fallback === "code" ? (s.type === "region" || s.type === "currency" ? code.toUpperCase() : code) : undefined;
  });
  method(DisplayNames.prototype, "resolvedOptions", function resolvedOptions() {
    const { locale, style, type, fallback, languageDisplay } = slot(this, DisplayNames);
    const out = { locale: relevantLocale(locale, []), style, type, fallback };
    if (languageDisplay) out.languageDisplay = languageDisplay;
    return out;
  });
  tag(DisplayNames.prototype, "Intl.DisplayNames");

  // ---------------------------------------------------------------- Locale
  // ECMA-402 §14: the tag and its options are parsed and canonicalized by
  // ICU4X (native.localeWith); maximize/minimize use CLDR's likely subtags.
  const LOCALE_OPTIONS = [
    ["language"], ["script"], ["region"], ["calendar", "ca"], ["collation", "co"],
    ["hourCycle", "hc", ["h11", "h12", "h23", "h24"]], ["caseFirst", "kf", ["upper", "lower", "false"]],
    ["numeric", "kn", "boolean"], ["numberingSystem", "nu"],
  ];
  const KEYS = ["calendar", "collation", "hourCycle", "caseFirst", "numeric", "numberingSystem"];
  class Locale {
    constructor(tag, options) {
      if (new.target === undefined) throw new TypeError("Intl.Locale must be called with new");
      if (typeof tag !== "string" && (typeof tag !== "object" || tag === null)) {
        throw new TypeError("Intl.Locale: the tag must be a string or an Intl.Locale");
      }
      const text = tag[localeTag] ?? str(tag);
      options = options === undefined ? {} : toOptions(options);
      const pairs = [];
      for (const [name, key, allowed] of LOCALE_OPTIONS) {
        let v = option(options, name, allowed);
        if (v === undefined) continue;
        if (allowed === "boolean") v = String(v);
        pairs.push([key ?? name, v]);
      }
      if (text.length === 0 || text.length > 255 || !/^[\x21-\x7e]+$/.test(text)) {
        throw new RangeError(`invalid language tag: ${JSON.stringify(text.slice(0, 40))}`);
      }
      // An option with a lone surrogate is invalid; the native half takes
      // UTF-8, so it gets U+FFFD in its place and names it.
      const canonical = native.localeWith(text, pairs.map(([k, v]) => [k, v.toWellFormed()]));
      const [baseName, language, script, region, ...keys] = native.localeParts(canonical);
      const s = { tag: canonical, baseName, language, script: script ?? undefined, region: region ?? undefined };
      KEYS.forEach((name, i) => { s[name] = keys[i] ?? undefined; });
      if (s.numeric !== undefined) s.numeric = s.numeric === "" || s.numeric === "true";
      else s.numeric = false;
      define(this, SLOT.Locale, { value: s });
      define(this, localeTag, { value: canonical });
    }
  }
  for (const name of ["baseName", "language", "script", "region", ...KEYS]) {
    getter(Locale.prototype, name, function () { return slot(this, Locale)[name]; });
  }
  method(Locale.prototype, "toString", function toString() { return slot(this, Locale).tag; });
  method(Locale.prototype, "maximize", function maximize() { return new Locale(native.localeExpand(slot(this, Locale).tag, true)); });
  method(Locale.prototype, "minimize", function minimize() { return new Locale(native.localeExpand(slot(this, Locale).tag, false)); });
  tag(Locale.prototype, "Intl.Locale");

  // ---------------------------------------------------------------- Intl
  const Intl = {};
  const classes = { Collator, NumberFormat, DateTimeFormat, PluralRules, RelativeTimeFormat, ListFormat, Segmenter, DisplayNames, Locale };
  for (const name in classes) {
    define(Intl, name, { value: classes[name], writable: true, enumerable: false, configurable: true });
  }
  // Collator and NumberFormat and DateTimeFormat may be called without new.
  for (const name of ["Collator", "NumberFormat", "DateTimeFormat"]) {
    const Class = classes[name];
    const callable = function (locales, options) { return new Class(locales, options); };
    define(callable, "name", { value: name });
    define(callable, "prototype", { value: Class.prototype });
    define(callable, "supportedLocalesOf", { value: Class.supportedLocalesOf, writable: true, configurable: true });
    define(Class.prototype, "constructor", { value: callable, writable: true, configurable: true });
    define(Intl, name, { value: callable, writable: true, enumerable: false, configurable: true });
  }
  method(Intl, "getCanonicalLocales", function getCanonicalLocales(locales) { return canonicalizeList(locales); });
  method(Intl, "supportedValuesOf", function supportedValuesOf(key) {
    // A lone surrogate as U+FFFD (the native takes UTF-8): still invalid.
    return native.supportedValuesOf(str(key).toWellFormed());
  });
  tag(Intl, "Intl");

  // The locale methods of the built-ins, routed through the classes above.
  // The locale methods of the built-ins (installed as natives that call
  // these, see platform/intl.rs), routed through the classes above.
  const number = (x, l, o) => formatNumber(slot(new NumberFormat(l, o), NumberFormat), x);
  const date = (kind, d, l, o) => {
    const ms = thisTimeValue.call(d);
    if (Number.isNaN(ms)) return "Invalid Date";
    const f = kind === "all" ? dtfAll(l, o) : kind === "date" ? dtfDate(l, o) : dtfTime(l, o);
    return native.formatDate(slot(f, DateTimeFormat).locale, slot(f, DateTimeFormat).n, ms);
  };
  const isDate = (v) => { try { thisTimeValue.call(v); return true; } catch { return false; } };
  const numberValue = Number.prototype.valueOf, bigintValue = BigInt.prototype.valueOf;
  const string = (s) => {
    if (s === undefined || s === null) throw new TypeError("String.prototype method called on null or undefined");
    return String(s);
  };
  const locale = {
    toLocaleString(locales, options) {
      const t = typeof this;
      if (t === "number" || this instanceof Number) return number(numberValue.call(this), locales, options);
      if (t === "bigint" || this instanceof BigInt) return number(bigintValue.call(this), locales, options);
      if (t === "object" && this !== null && isDate(this)) return date("all", this, locales, options);
      if (Array.isArray(this) || ArrayBuffer.isView(this)) {
        const o = Object(this), out = [];
        for (let i = 0, n = o.length; i < n; i++) {
          const x = o[i];
          out.push(x === undefined || x === null ? "" : String(x.toLocaleString(locales, options)));
        }
        return out.join(",");
      }
      throw new TypeError("toLocaleString called on an incompatible receiver");
    },
    toLocaleDateString(locales, options) { return date("date", this, locales, options); },
    toLocaleTimeString(locales, options) { return date("time", this, locales, options); },
    localeCompare(that, locales, options) { return new Collator(locales, options).compare(string(this), String(that)); },
    toLocaleUpperCase(locales) { return caseMap(bestLocale(locales), true, string(this)); },
    toLocaleLowerCase(locales) { return caseMap(bestLocale(locales), false, string(this)); },
  };
  // A lone surrogate has no case and stays as it is, as in V8; the text
  // between them is mapped (the native takes text as UTF-8).
  function caseMap(tag, upper, text) {
    if (text.isWellFormed()) return native.caseMap(tag, upper, text);
    return text
      .split(/([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/)
      .map((chunk, i) => (i % 2 ? chunk : native.caseMap(tag, upper, chunk)))
      .join("");
  }
  return { Intl, locale };
}
