//! `Intl` (ECMA-402) over ICU4X with its compiled data: the native half.
//!
//! The JavaScript half (`js/intl.js`) owns the classes, option reading and
//! `resolvedOptions()`; it calls the functions of the native object built
//! here with options already validated, and these do the locale work with
//! ICU4X: canonicalization, collation, number, date, plural, list, relative
//! time formatting, segmentation, display names and case mapping.
//!
//! Nothing here exists in a worker until it touches `Intl` (a lazy global)
//! or a locale method (`toLocaleString`, `localeCompare`, …, natives put in
//! place by [`install_locale_methods`]): the first use builds the classes,
//! once per context (`js/intl.js` keeps what it built), so `Intl` and the
//! locale methods share one set of intrinsics.
//!
//! Hostile input: a locale tag longer than [`MAX_TAG_BYTES`] or malformed is
//! a `RangeError`, never a panic; every ICU4X failure becomes a JS error.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use fixed_decimal::{
    Decimal, FloatPrecision, RoundingIncrement, SignDisplay, SignedRoundingMode,
    UnsignedRoundingMode,
};
use icu_locale::{Locale, LocaleCanonicalizer};
use rquickjs::{Ctx, Exception, Function, Object, Result, Value};
use writeable::Writeable;

use super::intl_currency;
use super::intl_date_pattern::{self, Widths};
use super::intl_parts::{
    affix_runs, around_number, decimal_runs, flatten, push_str, signs, PartsSink, Run,
};
use super::{intl_collation, intl_list, intl_range, intl_relative, intl_zone, js, LazyGlobal};

/// The global this module owns.
pub const GLOBALS: &[LazyGlobal] = &[LazyGlobal {
    name: "Intl",
    build: build_intl,
}];

fn build_intl<'js>(ctx: &Ctx<'js>) -> Result<Value<'js>> {
    parts(ctx)?.get("Intl")
}

/// `{ Intl, locale }`: the namespace and the helpers of the locale methods,
/// built once per context.
fn parts<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let build: Function = js::export(ctx, "intl", "default")?.get()?;
    build.call((native(ctx)?,))
}

/// The locale methods of the built-ins, replaced by ones that go through
/// `Intl` (ECMA-402's versions): name, length, and the prototypes that get
/// it. One function serves every prototype of a name (`toLocaleString`
/// dispatches on its receiver).
const LOCALE_METHODS: &[(&str, usize, &[&str])] = &[
    (
        "toLocaleString",
        0,
        &["Number", "BigInt", "Date", "Array", "%TypedArray%"],
    ),
    ("toLocaleDateString", 0, &["Date"]),
    ("toLocaleTimeString", 0, &["Date"]),
    ("localeCompare", 1, &["String"]),
    ("toLocaleUpperCase", 0, &["String"]),
    ("toLocaleLowerCase", 0, &["String"]),
];

/// Replaces the built-ins' locale methods in `ctx` with natives that call
/// the same-named helper of `js/intl.js` (built with `Intl` on first use).
/// A native function per method is all this costs a context: redefining an
/// existing property's value changes no shape, and no JS is loaded until a
/// method runs.
pub fn install_locale_methods(ctx: &Ctx<'_>) -> Result<()> {
    let globals = ctx.globals();
    let typed_array: Object = globals
        .get::<_, Object>("Uint8Array")?
        .get::<_, Object>("prototype")?
        .get_prototype()
        .ok_or_else(|| Exception::throw_internal(ctx, "no %TypedArray%.prototype"))?;
    for (name, length, owners) in LOCALE_METHODS {
        let method = forwarder(ctx, name)?;
        method.set_name(*name)?;
        method.set_length(*length)?;
        for owner in *owners {
            let proto: Object = if *owner == "%TypedArray%" {
                typed_array.clone()
            } else {
                globals.get::<_, Object>(*owner)?.get("prototype")?
            };
            proto.prop(
                *name,
                rquickjs::object::Property::from(method.clone())
                    .writable()
                    .configurable(),
            )?;
        }
    }
    Ok(())
}

/// A native method that calls helper `name` of `js/intl.js` with its
/// receiver and arguments.
fn forwarder<'js>(ctx: &Ctx<'js>, name: &'static str) -> Result<Function<'js>> {
    use rquickjs::function::{Rest, This};
    Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
              this: This<Value<'js>>,
              args: Rest<Value<'js>>|
              -> Result<Value<'js>> {
            let helpers: Object = parts(&ctx)?.get("locale")?;
            let helper: Function = helpers.get(name)?;
            helper.call((This(this.0), Rest(args.0)))
        },
    )
}

/// Longest locale tag accepted, in bytes (ECMA-402 sets no limit; real tags
/// are far shorter).
pub const MAX_TAG_BYTES: usize = 255;

/// Languages whose data is known good and that `supportedLocalesOf` reports
/// (ICU4X's compiled data covers CLDR's modern locales; these are the ones
/// caplet promises). A tag is supported when its language is listed (with
/// its script for Chinese).
const SUPPORTED_LANGUAGES: &[&str] = &[
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "ja", "ko",
    "zh", "sv", "da", "nb", "fi", "cs", "el", "hu", "ro", "id", "th", "vi",
];

fn range_error<T>(ctx: &Ctx<'_>, message: &str) -> Result<T> {
    Err(Exception::throw_range(ctx, message))
}

fn type_error<T>(ctx: &Ctx<'_>, message: &str) -> Result<T> {
    Err(Exception::throw_type(ctx, message))
}

/// Shows at most 40 characters of a hostile string in an error.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Parses and canonicalizes one BCP 47 tag, or says why not.
pub fn canonicalize(tag: &str) -> std::result::Result<Locale, String> {
    if tag.is_empty() || tag.len() > MAX_TAG_BYTES {
        return Err(format!(
            "invalid language tag: {:?} (1 to {MAX_TAG_BYTES} bytes)",
            shown(tag)
        ));
    }
    let mut locale =
        Locale::try_from_str(tag).map_err(|_| format!("invalid language tag: {:?}", shown(tag)))?;
    LocaleCanonicalizer::new_extended().canonicalize(&mut locale);
    Ok(locale)
}

/// Whether caplet has data for `locale` (see [`SUPPORTED_LANGUAGES`]).
pub fn is_supported(locale: &Locale) -> bool {
    let language = locale.id.language.as_str();
    if language == "zh" {
        // Chinese only with a script: zh-Hans, zh-Hant, or a region implying one.
        return true;
    }
    SUPPORTED_LANGUAGES.contains(&language)
}

/// The locale a worker's request resolves to: the first supported one, or
/// the default.
fn locale(ctx: &Ctx<'_>, tag: &str) -> Result<Locale> {
    match canonicalize(tag) {
        Ok(locale) => Ok(locale),
        Err(message) => range_error(ctx, &message),
    }
}

fn data_error<T>(ctx: &Ctx<'_>, what: &str, e: impl std::fmt::Display) -> Result<T> {
    Err(Exception::throw_range(
        ctx,
        &format!("{what}: no locale data ({e})"),
    ))
}

/// Reads a string option (already validated by the JS half).
fn opt(options: &Object<'_>, key: &str) -> Result<Option<String>> {
    options.get::<_, Option<String>>(key)
}

fn opt_i16(options: &Object<'_>, key: &str) -> Result<Option<i16>> {
    Ok(options.get::<_, Option<f64>>(key)?.map(|v| v as i16))
}

fn opt_bool(options: &Object<'_>, key: &str) -> Result<bool> {
    Ok(options.get::<_, Option<bool>>(key)?.unwrap_or(false))
}

// ------------------------------------------------------------------ Collator

thread_local! {
    /// Collators by their options: building one costs far more than a
    /// comparison, and `sort` compares many times.
    static COLLATORS: RefCell<HashMap<String, Rc<icu_collator::CollatorBorrowed<'static>>>> =
        RefCell::new(HashMap::new());
}

/// How many collators the cache keeps (all of one host's workers).
const COLLATOR_CACHE: usize = 32;

fn collator(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
) -> Result<Rc<icu_collator::CollatorBorrowed<'static>>> {
    use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, Strength};
    use icu_collator::preferences::{CollationCaseFirst, CollationNumericOrdering};
    let sensitivity = opt(options, "sensitivity")?.unwrap_or_else(|| "variant".into());
    let punctuation = opt_bool(options, "ignorePunctuation")?;
    let numeric = opt_bool(options, "numeric")?;
    let case_first = opt(options, "caseFirst")?.unwrap_or_else(|| "false".into());
    let collation = opt(options, "collation")?.unwrap_or_default();
    let key = format!("{tag}|{sensitivity}|{punctuation}|{numeric}|{case_first}|{collation}");
    if let Some(found) = COLLATORS.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(found);
    }
    let locale = locale(ctx, tag)?;
    let mut prefs = icu_collator::CollatorPreferences::from(&locale);
    // "default" or a type the JS half found this locale has.
    prefs.collation_type = intl_collation::collation_type(&collation);
    prefs.numeric_ordering = Some(if numeric {
        CollationNumericOrdering::True
    } else {
        CollationNumericOrdering::False
    });
    prefs.case_first = Some(match case_first.as_str() {
        "upper" => CollationCaseFirst::Upper,
        "lower" => CollationCaseFirst::Lower,
        _ => CollationCaseFirst::False,
    });
    let mut o = CollatorOptions::default();
    match sensitivity.as_str() {
        "base" => o.strength = Some(Strength::Primary),
        "accent" => o.strength = Some(Strength::Secondary),
        "case" => {
            o.strength = Some(Strength::Primary);
            o.case_level = Some(CaseLevel::On);
        }
        _ => o.strength = Some(Strength::Tertiary),
    }
    if punctuation {
        o.alternate_handling = Some(AlternateHandling::Shifted);
    }
    let made = match icu_collator::Collator::try_new(prefs, o) {
        Ok(c) => Rc::new(c),
        Err(e) => return data_error(ctx, "Intl.Collator", e),
    };
    COLLATORS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= COLLATOR_CACHE {
            c.clear();
        }
        c.insert(key, made.clone());
    });
    Ok(made)
}

// ------------------------------------------------------------------ numbers

/// A JS number or numeric string (BigInt, via its decimal text) as a decimal.
fn decimal(ctx: &Ctx<'_>, value: &Value<'_>) -> Result<Decimal> {
    if let Some(n) = value.as_number() {
        return match Decimal::try_from_f64(n, FloatPrecision::RoundTrip) {
            Ok(d) => Ok(d),
            Err(_) => range_error(ctx, "number out of range for formatting"),
        };
    }
    if let Some(s) = value.as_string() {
        let s = s.to_string()?;
        return match Decimal::try_from_str(&s) {
            Ok(d) => Ok(d),
            Err(_) => range_error(
                ctx,
                &format!("number out of range for formatting: {:?}", shown(&s)),
            ),
        };
    }
    type_error(ctx, "expected a number")
}

const HALF_EXPAND: SignedRoundingMode =
    SignedRoundingMode::Unsigned(UnsignedRoundingMode::HalfExpand);

/// ECMA-402's `roundingMode` as fixed_decimal's (all nine exist there).
fn rounding_mode(options: &Object<'_>) -> Result<SignedRoundingMode> {
    use UnsignedRoundingMode as U;
    Ok(match opt(options, "roundingMode")?.as_deref() {
        Some("ceil") => SignedRoundingMode::Ceil,
        Some("floor") => SignedRoundingMode::Floor,
        Some("expand") => SignedRoundingMode::Unsigned(U::Expand),
        Some("trunc") => SignedRoundingMode::Unsigned(U::Trunc),
        Some("halfCeil") => SignedRoundingMode::HalfCeil,
        Some("halfFloor") => SignedRoundingMode::HalfFloor,
        Some("halfTrunc") => SignedRoundingMode::Unsigned(U::HalfTrunc),
        Some("halfEven") => SignedRoundingMode::Unsigned(U::HalfEven),
        _ => HALF_EXPAND,
    })
}

/// ECMA-402's `roundingIncrement` (1, 2, 5, 10, 20, 25, 50, … 5000, checked
/// by the JS half) as a position shift and fixed_decimal's increment.
fn rounding_increment(options: &Object<'_>) -> Result<(i16, RoundingIncrement)> {
    let mut n = opt_i16(options, "roundingIncrement")?.unwrap_or(1).max(1);
    let mut shift = 0;
    while n % 10 == 0 {
        n /= 10;
        shift += 1;
    }
    Ok(match n {
        2 => (shift, RoundingIncrement::MultiplesOf2),
        5 => (shift, RoundingIncrement::MultiplesOf5),
        25 => (shift, RoundingIncrement::MultiplesOf25),
        _ => (shift, RoundingIncrement::MultiplesOf1),
    })
}

/// Applies ECMA-402 digit options (already resolved by the JS half):
/// significant or fraction digits, or both with `roundingPriority`, then
/// `roundingMode`, `roundingIncrement` and `trailingZeroDisplay`.
fn round_digits(d: &mut Decimal, options: &Object<'_>) -> Result<()> {
    let mode = rounding_mode(options)?;
    let min_int = opt_i16(options, "minimumIntegerDigits")?.unwrap_or(1);
    let sig = match (
        opt_i16(options, "minimumSignificantDigits")?,
        opt_i16(options, "maximumSignificantDigits")?,
    ) {
        (Some(min), Some(max)) => Some((min, max)),
        _ => None,
    };
    let frac = match (
        opt_i16(options, "minimumFractionDigits")?,
        opt_i16(options, "maximumFractionDigits")?,
    ) {
        (None, None) if sig.is_some() => None,
        (min, max) => Some((min.unwrap_or(0), max.unwrap_or(3))),
    };
    let strip_if_integer =
        opt(options, "trailingZeroDisplay")?.as_deref() == Some("stripIfInteger");
    // Each way of rounding gives the rounded value, its rounding magnitude
    // and the position down to which zeros are kept.
    let by_sig = |(min, max): (i16, i16)| {
        let mut r = d.clone();
        let magnitude = r.absolute.nonzero_magnitude_start() - max + 1;
        r.round_with_mode(magnitude, mode);
        r.absolute.trim_end();
        let keep = r.absolute.nonzero_magnitude_start() - min + 1;
        (r, magnitude, keep)
    };
    let (increment_shift, increment) = rounding_increment(options)?;
    let by_frac = |(min, max): (i16, i16)| {
        let mut r = d.clone();
        r.round_with_mode_and_increment(-max + increment_shift, mode, increment);
        r.absolute.trim_end();
        (r, -max, -min)
    };
    let (mut rounded, _, mut keep) = match (sig, frac) {
        (Some(sig), None) => by_sig(sig),
        (None, Some(frac)) => by_frac(frac),
        (Some(sig), Some(frac)) => {
            // ECMA-402 FormatNumericToString: on a tie of the rounding
            // magnitudes the significant digits win with morePrecision, the
            // fraction digits with lessPrecision (V8: $1 and $1.00 for 1 with
            // a currency's two digits and maximumSignificantDigits 3).
            let (s, f) = (by_sig(sig), by_frac(frac));
            let sig_at_least_as_precise = s.1 <= f.1;
            let more = opt(options, "roundingPriority")?.as_deref() != Some("lessPrecision");
            if more == sig_at_least_as_precise {
                s
            } else {
                f
            }
        }
        (None, None) => by_frac((0, 3)),
    };
    if strip_if_integer && rounded.absolute.nonzero_magnitude_end() >= 0 {
        keep = keep.max(0);
    }
    rounded.absolute.pad_end(keep);
    rounded.absolute.pad_start(min_int);
    *d = rounded;
    Ok(())
}

fn sign_display(name: Option<&str>) -> SignDisplay {
    match name {
        Some("never") => SignDisplay::Never,
        Some("always") => SignDisplay::Always,
        Some("exceptZero") => SignDisplay::ExceptZero,
        Some("negative") => SignDisplay::Negative,
        _ => SignDisplay::Auto,
    }
}

/// What a non-finite value shows instead of its digits.
enum Special {
    Finite,
    Infinity,
    NaN,
}

/// Formats `value` (a number, or a decimal string for BigInt and exact
/// strings) under `options` (already resolved by the JS half) as ECMA-402's
/// parts, or (`want_parts` false, for `format()`) as one run of the same
/// text uncut: both come from one formatting, so they always agree.
fn format_number_parts(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    value: &Value<'_>,
    want_parts: bool,
) -> Result<Vec<Run>> {
    let special = match value.as_number() {
        Some(n) if n.is_nan() => Special::NaN,
        Some(n) if n.is_infinite() => Special::Infinity,
        _ => Special::Finite,
    };
    let mut runs = match special {
        Special::Finite => {
            let d = decimal(ctx, value)?;
            number_runs(ctx, tag, options, d, false, want_parts)?
        }
        // The pattern and signs of a stand-in value, its digits replaced:
        // NaN is not negative (ECMA-402 formats it as zero's sign would be).
        Special::NaN => number_runs(ctx, tag, options, Decimal::from(0), true, true)?,
        Special::Infinity => {
            let n = value.as_number().unwrap_or(0.0);
            let d = Decimal::from(n.signum() as i64);
            number_runs(ctx, tag, options, d, true, true)?
        }
    };
    if !matches!(special, Special::Finite) {
        let (kind, text) = match special {
            Special::NaN => ("nan", "NaN"),
            _ => ("infinity", "∞"),
        };
        let digit = |k: &str| matches!(k, "integer" | "group" | "decimal" | "fraction");
        let first = runs
            .iter()
            .position(|(k, _)| digit(k))
            .unwrap_or(runs.len());
        runs.retain(|(k, _)| !digit(k));
        runs.insert(first.min(runs.len()), (kind, text.to_string()));
    }
    Ok(runs)
}

fn number_runs(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    mut d: Decimal,
    non_finite: bool,
    want_parts: bool,
) -> Result<Vec<Run>> {
    use icu_decimal::options::{DecimalFormatterOptions, GroupingStrategy};
    let locale = locale(ctx, tag)?;
    let style = opt(options, "style")?.unwrap_or_else(|| "decimal".into());
    let notation = opt(options, "notation")?.unwrap_or_else(|| "standard".into());
    if style == "percent" {
        d.multiply_pow10(2);
    }
    let sign_display = sign_display(opt(options, "signDisplay")?.as_deref());
    let mut decimal_options = DecimalFormatterOptions::default();
    decimal_options.grouping_strategy = Some(match opt(options, "useGrouping")?.as_deref() {
        Some("false") => GroupingStrategy::Never,
        Some("min2") => GroupingStrategy::Min2,
        Some("always") => GroupingStrategy::Always,
        _ => GroupingStrategy::Auto,
    });
    let formatter = match icu_decimal::DecimalFormatter::try_new((&locale).into(), decimal_options)
    {
        Ok(f) => f,
        Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
    };
    if style == "decimal" && notation != "compact" {
        // The common case: ICU4X's parts are all there is.
        round_digits(&mut d, options)?;
        d.apply_sign_display(sign_display);
        if !want_parts {
            let text = formatter.format(&d).write_to_string().into_owned();
            return Ok(vec![("literal", text)]);
        }
        return Ok(decimal_runs(&formatter, &d));
    }
    // What surrounds the digits is cut by the locale's signs (only for
    // formatToParts: format() takes ICU4X's text as it is).
    let sign_cell = std::cell::OnceCell::new();
    let signs = || sign_cell.get_or_init(|| signs(&formatter));
    let text_only = |text: String| -> Result<Vec<Run>> { Ok(vec![("literal", text)]) };
    let unsigned = |d: &Decimal| {
        let mut d = d.clone();
        d.set_sign(fixed_decimal::Sign::None);
        d
    };
    if notation == "compact" {
        if style != "decimal" && style != "currency" {
            return range_error(
                ctx,
                &format!("Intl.NumberFormat notation \"compact\" with style \"{style}\" is not supported"),
            );
        }
        let prefs = icu_decimal::preferences::CompactDecimalFormatterPreferences::from(&locale);
        // Money is compacted with the short patterns unless named (see
        // compact_currency).
        let named = opt(options, "currencyDisplay")?.as_deref() == Some("name");
        let long = (style != "currency" || named)
            && opt(options, "compactDisplay")?.as_deref() == Some("long");
        let compact_options =
            icu_decimal::options::CompactDecimalFormatterOptions::from(decimal_options);
        let compact = if long {
            icu_decimal::CompactDecimalFormatter::try_new_long(prefs, compact_options)
        } else {
            icu_decimal::CompactDecimalFormatter::try_new_short(prefs, compact_options)
        };
        let compact = match compact {
            Ok(f) => f,
            Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
        };
        let exponent_of = |d: &Decimal| {
            if d.absolute.is_zero() {
                0
            } else {
                compact.compact_exponent_for_magnitude(d.absolute.nonzero_magnitude_start())
            }
        };
        // ECMA-402's compact rounding: no fraction digits once the compact
        // number has two integer digits, else two significant digits; the
        // worker's digit options instead when it gave any.
        let explicit = opt_i16(options, "maximumSignificantDigits")?.is_some()
            || opt(options, "explicitDigits")?.is_some();
        let round = |d: &mut Decimal, exponent: u8| -> Result<()> {
            if explicit {
                // The digits apply to the compact number (ECMA-402
                // ComputeExponent): round it, not the whole value.
                d.multiply_pow10(-i16::from(exponent));
                round_digits(d, options)?;
                d.multiply_pow10(i16::from(exponent));
            } else if d.absolute.is_zero() {
                // Zero too has two significant digits at most: "0.000" is
                // 0 (written by the currency's own pattern when money).
                d.absolute.trim_end();
            } else {
                let top = d.absolute.nonzero_magnitude_start();
                let exponent = i16::from(exponent);
                let mode = rounding_mode(options)?;
                if top - exponent >= 1 {
                    d.round_with_mode(exponent, mode);
                } else {
                    d.round_with_mode(top - 1, mode);
                }
                d.absolute.trim_end();
            }
            Ok(())
        };
        let unrounded = d.clone();
        // ICU (V8) takes a compacted amount's plural form (for a currency's
        // name) from the amount rounded to an integer, not from the compact
        // digits: ru `1,2 млн доллара США` for 1234562, `долларов` for
        // 1234567.
        let whole = if style == "currency" && named {
            let mut whole = unrounded.clone();
            whole.set_sign(fixed_decimal::Sign::None);
            whole.round_with_mode(0, rounding_mode(options)?);
            Some(whole)
        } else {
            None
        };
        let mut exponent = exponent_of(&d);
        round(&mut d, exponent)?;
        // Rounding up to the next power of ten may change the exponent.
        if exponent_of(&d) != exponent {
            exponent = exponent_of(&d);
            d = unrounded;
            round(&mut d, exponent)?;
        }
        d.apply_sign_display(sign_display);
        let mut significand = d.clone();
        significand.multiply_pow10(-i16::from(exponent));
        if explicit {
            // Shifting turned the integer's zeros into fraction digits:
            // the worker's digit options say which of them show.
            round_digits(&mut significand, options)?;
        } else {
            significand.absolute.trim_end();
        }
        let text = match compact.format_with_exponent(&significand, exponent) {
            Ok(w) => w.write_to_string().into_owned(),
            Err(_) => return Err(Exception::throw_internal(ctx, "compact exponent mismatch")),
        };
        let digits = decimal_runs(&formatter, &unsigned(&significand));
        if style != "currency" {
            if !want_parts {
                return text_only(text);
            }
            return around_number(ctx, &text, digits, "compact", signs());
        }
        if explicit {
            // ICU4X's compact currency formatter rounds by its own rules.
            return range_error(
                ctx,
                "Intl.NumberFormat digit options with notation \"compact\" and style \"currency\" are not supported",
            );
        }
        if exponent == 0 {
            // Not abbreviated: ICU writes the amount with the currency's own
            // patterns (UTS #35: a compact pattern "0" means the non-compact
            // format), with the compact rounding's digits (`-$0.005`, `¥0.5`).
            return currency_runs(
                ctx,
                &locale,
                options,
                &formatter,
                &d,
                sign_display,
                non_finite,
                want_parts,
            );
        }
        let shown: String = digits.iter().map(|(_, t)| t.as_str()).collect();
        let named = match &whole {
            Some(whole) => {
                let digits_text =
                    match compact.format_with_exponent(&unsigned(&significand), exponent) {
                        Ok(w) => w.write_to_string().into_owned(),
                        Err(_) => {
                            return Err(Exception::throw_internal(ctx, "compact exponent mismatch"))
                        }
                    };
                Some((digits_text, icu_plurals::PluralOperands::from(whole)))
            }
            None => None,
        };
        let money = compact_currency(ctx, &locale, options, &formatter, &d, named)?;
        if !money.contains(&shown) {
            // ICU4X's compact currency formatter rounds the amount to the
            // currency's digits before compacting it; should that ever show
            // other digits than ECMA-402's compact rounding, say so.
            return range_error(
                ctx,
                &format!("Intl.NumberFormat notation \"compact\" cannot show {shown} in this currency (ICU4X rounds to its digits)"),
            );
        }
        if !want_parts {
            return text_only(money);
        }
        // The compact suffix alone ("M", "Mio."), to tell it from the currency.
        let suffix: String = text
            .replacen(&shown, "", 1)
            .replace(&signs().minus, "")
            .replace(&signs().plus, "")
            .chars()
            .filter(|&c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}'))
            .collect();
        let runs = around_number(ctx, &money, digits, "currency", signs())?;
        return Ok(split_compact(runs, suffix.trim()));
    }
    if style == "unit" && opt(options, "unit")?.as_deref() != Some("percent") {
        round_digits(&mut d, options)?;
        d.apply_sign_display(sign_display);
        return unit_runs(
            ctx, &locale, options, &formatter, &d, non_finite, want_parts,
        );
    }
    round_digits(&mut d, options)?;
    d.apply_sign_display(sign_display);
    match style.as_str() {
        "percent" | "unit" => {
            use icu_experimental::dimension::percent::formatter::PercentFormatter;
            let prefs = (&locale).into();
            let percent =
                match icu_decimal::DecimalFormatter::try_new((&locale).into(), decimal_options) {
                    Ok(f) => f,
                    Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
                };
            // A plus sign goes where the locale's signed pattern puts the
            // sign (tr `+%26`, as ICU), not inside the unsigned one next to
            // the digits (`%+26`): ICU4X's explicit-sign display does that
            // for an unsigned value.
            let (display, shown) = intl_currency::percent_sign_display(&d);
            let text = match PercentFormatter::try_new_with_decimal_formatter(
                prefs,
                percent,
                display.into(),
            ) {
                Ok(f) => f.format(&shown).write_to_string().into_owned(),
                Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
            };
            // As a unit, the percent sign is the unit's part.
            let kind = if style == "unit" {
                "unit"
            } else {
                "percentSign"
            };
            if !want_parts {
                return text_only(text);
            }
            let digits = decimal_runs(&formatter, &unsigned(&d));
            around_number(ctx, &text, digits, kind, signs())
        }
        "currency" => currency_runs(
            ctx,
            &locale,
            options,
            &formatter,
            &d,
            sign_display,
            non_finite,
            want_parts,
        ),
        _ => Ok(decimal_runs(&formatter, &d)),
    }
}

/// An amount of money (style `currency`, or a compact one its locale does
/// not abbreviate) written by ICU4X's currency formatter: `d` is rounded
/// and signed already; its digits are the ones shown.
#[allow(clippy::too_many_arguments)]
fn currency_runs(
    ctx: &Ctx<'_>,
    locale: &Locale,
    options: &Object<'_>,
    formatter: &icu_decimal::DecimalFormatter,
    d: &Decimal,
    sign_display: SignDisplay,
    non_finite: bool,
    want_parts: bool,
) -> Result<Vec<Run>> {
    use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
    use icu_experimental::dimension::currency::options::{CurrencyFormatterOptions, CurrencyUsage};
    use icu_experimental::dimension::currency::CurrencyType;
    let code = opt(options, "currency")?.unwrap_or_default();
    let Ok(currency) = CurrencyType::try_from_str(&code.to_ascii_lowercase()) else {
        return range_error(ctx, &format!("invalid currency code: {:?}", shown(&code)));
    };
    let prefs = locale.into();
    let display = opt(options, "currencyDisplay")?.unwrap_or_else(|| "symbol".into());
    let usage = if accounting(options, sign_display)? {
        CurrencyUsage::Accounting
    } else {
        CurrencyUsage::Standard
    };
    let o = CurrencyFormatterOptions::from(usage);
    let mut unsigned = d.clone();
    unsigned.set_sign(fixed_decimal::Sign::None);
    let ours_runs = decimal_runs(formatter, &unsigned);
    if display == "name" {
        let text = match intl_currency::name_text(locale, currency, formatter, d, non_finite) {
            Ok(text) => text,
            Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
        };
        if !want_parts {
            return Ok(vec![("literal", text)]);
        }
        return around_number(ctx, &text, ours_runs, "currency", &signs(formatter));
    }
    let made = match display.as_str() {
        "narrowSymbol" => CurrencyFormatter::try_new_symbol_narrow(prefs, currency, o),
        "code" => CurrencyFormatter::try_new_code(prefs, currency, o),
        _ => CurrencyFormatter::try_new_symbol(prefs, currency, o),
    };
    let currency_formatter = match made {
        Ok(f) => f,
        Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
    };
    let write = |v: &Decimal| {
        currency_formatter
            .format_fixed_decimal(v)
            .write_to_string()
            .into_owned()
    };
    let text =
        intl_currency::plus_in_negative_pattern(formatter, d, write).unwrap_or_else(|| write(d));
    // ICU4X rounds to the currency's digits in its own data (CLDR's,
    // which differ from ISO 4217's for a few: AFN, IDR, HUF …); the
    // worker's digit options win: swap ICU4X's digits for ours.
    let theirs = match currency_digits_as_icu4x_writes(locale, currency, d) {
        Ok(t) => t,
        Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
    };
    let ours: String = ours_runs.iter().map(|(_, t)| t.as_str()).collect();
    let text = if theirs == ours {
        text
    } else if text.contains(&theirs) {
        text.replacen(&theirs, &ours, 1)
    } else {
        return Err(Exception::throw_internal(
            ctx,
            &format!("Intl.NumberFormat: {theirs:?} not found in {text:?}"),
        ));
    };
    let text = if non_finite {
        use icu_experimental::dimension::provider::currency::symbols::CurrencySymbolsV1;
        let width = match display.as_str() {
            "code" => None,
            "narrowSymbol" => Some(CurrencySymbolsV1::NARROW),
            _ => Some(CurrencySymbolsV1::SHORT),
        };
        let accounting = matches!(usage, CurrencyUsage::Accounting);
        intl_currency::non_finite_spacing(locale, currency, width, accounting, text, &ours)
    } else {
        text
    };
    if !want_parts {
        return Ok(vec![("literal", text)]);
    }
    around_number(ctx, &text, ours_runs, "currency", &signs(formatter))
}

/// A compacted amount of money (`notation: "compact"`, style currency, an
/// amount the locale's compact patterns abbreviate), as ICU writes it with
/// the compact pattern alone: the sign before the whole, no accounting form
/// (`intl_currency::with_implicit_sign`). Symbols and codes come from
/// ICU4X's compact currency formatter (CLDR's short patterns, which ICU
/// uses with `compactDisplay: "long"` too); a name (`named`: the unsigned
/// compact digits and the plural operands) from the name's CLDR data.
fn compact_currency(
    ctx: &Ctx<'_>,
    locale: &Locale,
    options: &Object<'_>,
    formatter: &icu_decimal::DecimalFormatter,
    d: &Decimal,
    named: Option<(String, icu_plurals::PluralOperands)>,
) -> Result<String> {
    use icu_experimental::dimension::currency::formatter::CurrencyFormatter as F;
    use icu_experimental::dimension::currency::CurrencyType;
    let code = opt(options, "currency")?.unwrap_or_default();
    let Ok(currency) = CurrencyType::try_from_str(&code.to_ascii_lowercase()) else {
        return range_error(ctx, &format!("invalid currency code: {:?}", shown(&code)));
    };
    if let Some((digits, operands)) = named {
        return match intl_currency::name_text_with(
            locale,
            currency,
            formatter,
            &digits,
            Some(operands),
            d.sign(),
        ) {
            Ok(text) => Ok(text),
            Err(e) => data_error(ctx, "Intl.NumberFormat", e),
        };
    }
    let p = locale.into();
    let o = Default::default();
    let display = opt(options, "currencyDisplay")?.unwrap_or_else(|| "symbol".into());
    let made = match display.as_str() {
        "narrowSymbol" => F::try_new_compact_symbol_narrow(p, currency, o),
        "code" => F::try_new_compact_code(p, currency, o),
        _ => F::try_new_compact_symbol(p, currency, o),
    };
    let f = match made {
        Ok(f) => f,
        Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
    };
    let mut unsigned = d.clone();
    unsigned.set_sign(fixed_decimal::Sign::None);
    let text = f
        .format_fixed_decimal(&unsigned)
        .write_to_string()
        .into_owned();
    Ok(intl_currency::with_implicit_sign(
        formatter,
        d.sign(),
        &text,
    ))
}

/// Whether money is written with the locale's accounting patterns:
/// `currencySign: "accounting"`, except with `signDisplay: "never"`, which
/// ICU (V8) writes with the standard ones (V8 maps it to `UNUM_SIGN_NEVER`,
/// which has no accounting form).
fn accounting(options: &Object<'_>, sign_display: SignDisplay) -> Result<bool> {
    Ok(
        opt(options, "currencySign")?.as_deref() == Some("accounting")
            && !matches!(sign_display, SignDisplay::Never),
    )
}

/// Splits the compact suffix out of the currency parts of a compact amount
/// ("Mio. $" is a compact part, a literal space and a currency part).
fn split_compact(runs: Vec<Run>, suffix: &str) -> Vec<Run> {
    if suffix.is_empty() {
        return runs;
    }
    // The suffix sits next to the number: in the first currency run after
    // its digits, else in the last one before them; never inside the
    // symbol or code (`SEK 1.2K`, `GBP 1,2 B`).
    let digit = |k: &str| matches!(k, "integer" | "group" | "decimal" | "fraction");
    let currency_at = |i: usize| runs[i].0 == "currency";
    let after = runs
        .iter()
        .rposition(|(k, _)| digit(k))
        .and_then(|last| (last + 1..runs.len()).find(|&i| currency_at(i)))
        .and_then(|i| runs[i].1.find(suffix).map(|at| (i, at)));
    let before = || {
        runs.iter()
            .position(|(k, _)| digit(k))
            .and_then(|first| (0..first).rev().find(|&i| currency_at(i)))
            .and_then(|i| runs[i].1.rfind(suffix).map(|at| (i, at)))
    };
    let Some((index, at)) = after.or_else(before) else {
        return runs;
    };
    let mut out = Vec::new();
    for (i, (kind, text)) in runs.into_iter().enumerate() {
        if i != index {
            push_str(&mut out, kind, &text);
            continue;
        }
        for (piece, piece_kind) in [
            (&text[..at], "currency"),
            (suffix, "compact"),
            (&text[at + suffix.len()..], "currency"),
        ] {
            let core = piece.trim();
            if core.is_empty() {
                push_str(&mut out, "literal", piece);
                continue;
            }
            let start = piece.len() - piece.trim_start().len();
            push_str(&mut out, "literal", &piece[..start]);
            push_str(&mut out, piece_kind, core);
            push_str(&mut out, "literal", &piece[start + core.len()..]);
        }
    }
    out.retain(|(_, t)| !t.is_empty());
    out
}

/// The digits ICU4X's `CurrencyFormatter` writes for `d`: rounded to the
/// currency's digits and increment in its data, padded, default grouping.
fn currency_digits_as_icu4x_writes(
    locale: &Locale,
    currency: icu_experimental::dimension::currency::CurrencyType,
    d: &Decimal,
) -> std::result::Result<String, icu_provider::DataError> {
    use icu_experimental::dimension::provider::currency::fractions::{
        CurrencyFractionsV1, Rounding,
    };
    use icu_provider::prelude::*;
    let fractions: DataPayload<CurrencyFractionsV1> = icu_experimental::provider::Baked
        .load(Default::default())?
        .payload;
    let info = fractions.get().resolve(currency);
    let digits = i16::from(info.digits);
    let (magnitude, increment) = match info.rounding {
        Rounding::R50 => (-digits + 1, RoundingIncrement::MultiplesOf5),
        Rounding::R20 => (-digits + 1, RoundingIncrement::MultiplesOf2),
        Rounding::R5 => (-digits, RoundingIncrement::MultiplesOf5),
        _ => (-digits, RoundingIncrement::MultiplesOf1),
    };
    let mut theirs = d.clone();
    theirs.set_sign(fixed_decimal::Sign::None);
    theirs.round_with_mode_and_increment(magnitude, HALF_EXPAND, increment);
    theirs.absolute.pad_end(-digits);
    let formatter = icu_decimal::DecimalFormatter::try_new(locale.into(), Default::default())?;
    Ok(formatter.format(&theirs).write_to_string().into_owned())
}

/// ICU4X's CLDR unit display names: the categories it has data for (area,
/// duration, length, mass, volume), each split in three markers.
fn unit_names(
    locale: &Locale,
    width: &str,
    unit: &str,
) -> Option<
    icu_provider::DataPayload<
        icu_provider::marker::ErasedMarker<
            icu_experimental::dimension::provider::units::display_names::UnitsDisplayNames<'static>,
        >,
    >,
> {
    use icu_experimental::dimension::provider::units::categorized_display_names::*;
    use icu_provider::prelude::*;
    let attribute = format!("{width}-{unit}");
    let attribute = DataMarkerAttributes::try_from_str(&attribute).ok()?;
    let data_locale = DataLocale::from(locale);
    // Each unit lives in one of the markers for a locale; the others fall
    // back to the root locale's names, used only when nothing better exists.
    let mut root = None;
    macro_rules! try_markers {
        ($($marker:ty),*) => {
            $(
                let request = DataRequest {
                    id: DataIdentifierBorrowed::for_marker_attributes_and_locale(attribute, &data_locale),
                    metadata: silent(),
                };
                if let Ok(response) = DataProvider::<$marker>::load(&icu_experimental::provider::Baked, request) {
                    let fell_to_root = response.metadata.locale.as_ref().is_some_and(|l| l.is_unknown())
                        && !data_locale.is_unknown();
                    if !fell_to_root {
                        return Some(response.payload.cast());
                    }
                    if root.is_none() {
                        root = Some(response.payload.cast());
                    }
                }
            )*
        };
    }
    try_markers!(
        UnitsNamesLengthCoreV1,
        UnitsNamesLengthExtendedV1,
        UnitsNamesLengthOutlierV1,
        UnitsNamesMassCoreV1,
        UnitsNamesMassExtendedV1,
        UnitsNamesMassOutlierV1,
        UnitsNamesVolumeCoreV1,
        UnitsNamesVolumeExtendedV1,
        UnitsNamesVolumeOutlierV1,
        UnitsNamesAreaCoreV1,
        UnitsNamesAreaExtendedV1,
        UnitsNamesAreaOutlierV1,
        UnitsNamesDurationCoreV1,
        UnitsNamesDurationExtendedV1,
        UnitsNamesDurationOutlierV1
    );
    root
}

/// A data request that logs nothing when the data is missing (looking is
/// how caplet finds out).
fn silent() -> icu_provider::DataRequestMetadata {
    let mut m = icu_provider::DataRequestMetadata::default();
    m.silent = true;
    m
}

/// ECMA-402's sanctioned simple units (Table 2 of §6.6.2), sorted.
pub const SANCTIONED_UNITS: &[&str] = &[
    "acre",
    "bit",
    "byte",
    "celsius",
    "centimeter",
    "day",
    "degree",
    "fahrenheit",
    "fluid-ounce",
    "foot",
    "gallon",
    "gigabit",
    "gigabyte",
    "gram",
    "hectare",
    "hour",
    "inch",
    "kilobit",
    "kilobyte",
    "kilogram",
    "kilometer",
    "liter",
    "megabit",
    "megabyte",
    "meter",
    "microsecond",
    "mile",
    "mile-scandinavian",
    "milliliter",
    "millimeter",
    "millisecond",
    "minute",
    "month",
    "nanosecond",
    "ounce",
    "percent",
    "petabyte",
    "pound",
    "second",
    "stone",
    "terabit",
    "terabyte",
    "week",
    "yard",
    "year",
];

/// Whether caplet can format `unit` (a sanctioned simple unit with ICU4X
/// data, or `percent`).
pub fn unit_supported(unit: &str) -> bool {
    unit == "percent"
        || (SANCTIONED_UNITS.contains(&unit)
            && unit_names(&Locale::UNKNOWN, "short", unit).is_some())
}

fn unit_runs(
    ctx: &Ctx<'_>,
    locale: &Locale,
    options: &Object<'_>,
    formatter: &icu_decimal::DecimalFormatter,
    d: &Decimal,
    non_finite: bool,
    want_parts: bool,
) -> Result<Vec<Run>> {
    let unit = opt(options, "unit")?.unwrap_or_default();
    let width = opt(options, "unitDisplay")?.unwrap_or_else(|| "short".into());
    let plurals = match icu_plurals::PluralRules::try_new_cardinal(locale.into()) {
        Ok(r) => r,
        Err(e) => return data_error(ctx, "Intl.NumberFormat", e),
    };
    let number = decimal_runs(formatter, d);
    let pattern_for = |unit: &str| -> Result<String> {
        let Some(names) = unit_names(locale, &width, unit) else {
            return range_error(
                ctx,
                &format!(
                    "Intl.NumberFormat unit {:?} is not supported (no locale data)",
                    shown(unit)
                ),
            );
        };
        let pattern = if non_finite {
            names.get().elements.get_default().1
        } else {
            names.get().get(d.into(), &plurals)
        };
        let text = pattern
            .interpolate(("\u{0}",))
            .write_to_string()
            .into_owned();
        Ok(text)
    };
    let text = pattern_for(&unit)?;
    if !want_parts {
        let digits: String = number.iter().map(|(_, t)| t.as_str()).collect();
        return Ok(vec![("literal", text.replace('\u{0}', &digits))]);
    }
    let signs = signs(formatter);
    let mut out = Vec::new();
    // CLDR writes some forms without the number ("لتر", one liter).
    let Some((before, after)) = text.split_once('\u{0}') else {
        affix_runs(&text, "unit", &signs, &mut out);
        return Ok(out);
    };
    affix_runs(before, "unit", &signs, &mut out);
    for (k, t) in number {
        push_str(&mut out, k, &t);
    }
    affix_runs(after, "unit", &signs, &mut out);
    Ok(out)
}

fn format_number(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    value: &Value<'_>,
) -> Result<String> {
    Ok(format_number_parts(ctx, tag, options, value, false)?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

fn plural_select(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    value: &Value<'_>,
) -> Result<&'static str> {
    use icu_plurals::{PluralCategory, PluralRules};
    let locale = locale(ctx, tag)?;
    let mut d = decimal(ctx, value)?;
    round_digits(&mut d, options)?;
    let prefs = (&locale).into();
    let rules = if opt(options, "type")?.as_deref() == Some("ordinal") {
        PluralRules::try_new_ordinal(prefs)
    } else {
        PluralRules::try_new_cardinal(prefs)
    };
    let rules = match rules {
        Ok(r) => r,
        Err(e) => return data_error(ctx, "Intl.PluralRules", e),
    };
    Ok(match rules.category_for(&d) {
        PluralCategory::Zero => "zero",
        PluralCategory::One => "one",
        PluralCategory::Two => "two",
        PluralCategory::Few => "few",
        PluralCategory::Many => "many",
        _ => "other",
    })
}

// ------------------------------------------------------------------ dates

/// The canonical IANA name of a time zone, from the tz database compiled in.
fn time_zone(ctx: &Ctx<'_>, name: &str) -> Result<jiff::tz::TimeZone> {
    if name.len() > MAX_TAG_BYTES {
        return range_error(ctx, &format!("invalid time zone: {:?}", shown(name)));
    }
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("etc/utc") {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    match jiff::tz::TimeZone::get(name) {
        Ok(tz) => Ok(tz),
        Err(_) => range_error(ctx, &format!("invalid time zone: {:?}", shown(name))),
    }
}

fn time_zone_name(tz: &jiff::tz::TimeZone) -> String {
    tz.iana_name().unwrap_or("UTC").to_string()
}

fn format_date(ctx: &Ctx<'_>, tag: &str, options: &Object<'_>, ms: f64) -> Result<String> {
    Ok(format_date_parts(ctx, tag, options, ms)?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// The date's ECMA-402 parts (`formatToParts`): ICU4X's field parts, the
/// text between them literal.
fn format_date_parts(ctx: &Ctx<'_>, tag: &str, options: &Object<'_>, ms: f64) -> Result<Vec<Run>> {
    format_date_or_range(ctx, tag, options, ms, Form::Date)
}

/// What [`format_date_or_range`] writes.
#[derive(Clone, Copy)]
enum Form {
    /// One date, each field at the width the options ask.
    Date,
    /// One date at the widths of ICU4X's pattern, as its range patterns
    /// write each side (what [`intl_range::with_sources`] compares with).
    Side,
    /// The range from the date to this one.
    Range(f64),
}

/// The parts of a date, or of a range from it (`formatRangeToParts`, whose
/// sources [`intl_range::with_sources`] adds).
fn format_date_or_range(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    ms: f64,
    form: Form,
) -> Result<Vec<Run>> {
    use icu_datetime::fieldsets::builder::{DateFields, FieldSetBuilder, ZoneStyle};
    use icu_datetime::options::{Length, TimePrecision, YearStyle};
    use icu_datetime::preferences::HourCycle;

    if !ms.is_finite()
        || ms.abs() > 8.64e15
        || matches!(form, Form::Range(e) if !e.is_finite() || e.abs() > 8.64e15)
    {
        return range_error(ctx, "invalid time value");
    }
    let ms = ms as i64;
    let locale = locale(ctx, tag)?;
    let tz = time_zone(
        ctx,
        &opt(options, "timeZone")?.unwrap_or_else(|| "UTC".into()),
    )?;
    let zoned = match intl_zone::zoned_at(&tz, &time_zone_name(&tz), ms) {
        Ok(z) => z,
        Err(message) => return range_error(ctx, message),
    };
    let mut prefs = icu_datetime::DateTimeFormatterPreferences::from(&locale);
    match opt(options, "hourCycle")?.as_deref() {
        Some("h12") => prefs.hour_cycle = Some(HourCycle::H12),
        // "h24" (ICU's "k", 1 to 24, which ICU4X lacks): the 23-hour clock,
        // midnight's hour then written as 24 below.
        Some("h23" | "h24") => prefs.hour_cycle = Some(HourCycle::H23),
        Some("h11") => prefs.hour_cycle = Some(HourCycle::H11),
        _ => {}
    }
    let length = |style: &str| match style {
        "full" | "long" => Length::Long,
        "medium" => Length::Medium,
        _ => Length::Short,
    };
    let date_style = opt(options, "dateStyle")?;
    let time_style = opt(options, "timeStyle")?;
    // The ICU4X zone style ICU would pick for `timeZoneName` (intl_zone.rs).
    let mut zone_style = None;
    let field_set = if date_style.is_some() || time_style.is_some() {
        let mut builder = FieldSetBuilder::new();
        // ICU4X takes one length for a date and time; the date's wins.
        builder.length = Some(length(
            date_style
                .as_deref()
                .or(time_style.as_deref())
                .unwrap_or("medium"),
        ));
        if let Some(style) = &date_style {
            builder.date_fields = Some(if style == "full" {
                DateFields::YMDE
            } else {
                DateFields::YMD
            });
            if style == "short" {
                builder.year_style = Some(YearStyle::Auto);
            }
        }
        if let Some(style) = &time_style {
            builder.time_precision = Some(if style == "short" {
                TimePrecision::Minute
            } else {
                TimePrecision::Second
            });
            match style.as_str() {
                "full" => builder.zone_style = Some(ZoneStyle::SpecificLong),
                "long" => builder.zone_style = Some(ZoneStyle::SpecificShort),
                _ => {}
            }
        }
        match builder.build_composite() {
            Ok(f) => f,
            Err(e) => return range_error(ctx, &format!("unsupported dateStyle/timeStyle: {e:?}")),
        }
    } else {
        // Combinations ICU4X would render with other fields than asked are
        // refused. With a weekday, the field set built from the components
        // (ICU4X's skeleton field bag writes a month's name there); without,
        // the skeleton field bag, which keeps a 2-digit month. Either way
        // the result is checked below.
        let zone = intl_zone::Zone {
            tz: &tz,
            ms,
            zoned: &zoned,
        };
        zone_style = intl_zone::zone_style(prefs, opt(options, "timeZoneName")?.as_deref(), &zone);
        let built = match component_field_set(options, None, zone_style)? {
            Ok(f) => f,
            Err(message) => return range_error(ctx, &message),
        };
        if opt(options, "weekday")?.is_some() {
            built
        } else {
            let skeleton = opt(options, "skeleton")?.unwrap_or_default();
            match icu_datetime::fieldbag::DateTimeFieldBag::try_from_skeleton(&skeleton) {
                Ok(mut bag) => {
                    bag.time_zone_name = zone_style.map(intl_zone::bag_zone_name);
                    bag.to_composite_field_set()
                }
                Err(e) => {
                    return range_error(
                        ctx,
                        &format!("unsupported date fields {skeleton:?}: {e:?}"),
                    )
                }
            }
        }
    };
    let mut formatter = match intl_range::date_formatter(prefs, field_set) {
        Ok(f) => f,
        Err(e) => return data_error(ctx, "Intl.DateTimeFormat", e),
    };
    // Month names asked where the locale's medium pattern has a numeric
    // month (de "dd.MM.y", ar "dd/MM/y"): its long pattern, whose names
    // are then shortened below, as ICU does from its "yMMMd" skeleton.
    let names_asked = matches!(
        opt(options, "month")?.as_deref(),
        Some("short" | "long" | "narrow")
    );
    // Not with a time (the long pattern's glue differs: de "um", V8 ","),
    // nor a short weekday (whose punctuation differs: ja "日" for "(日)").
    let retry = names_asked
        && matches!(form, Form::Date)
        && opt(options, "hour")?.is_none()
        && matches!(opt(options, "weekday")?.as_deref(), None | Some("long"));
    if retry && intl_date_pattern::numeric_month(&formatter.format(&zoned).pattern()) {
        if let Ok(long) = component_field_set(options, Some(Length::Long), zone_style)? {
            match intl_range::date_formatter(prefs, long) {
                Ok(f) => formatter = f,
                Err(e) => return data_error(ctx, "Intl.DateTimeFormat", e),
            }
        }
    }
    // ICU4X's pattern with each field at the width the options ask
    // (intl_date_pattern.rs); with dateStyle/timeStyle nothing is asked.
    // A range and its sides keep ICU4X's widths, as its range patterns do.
    let formatted = formatter.format(&zoned);
    let widths = match form {
        Form::Date => Some(widths(options, &locale, &zoned)?),
        Form::Side | Form::Range(_) => None,
    };
    let chosen = formatted.pattern();
    let adjust = widths
        .as_ref()
        .and_then(|w| intl_date_pattern::adjust(&chosen, w));
    let (pattern, adjusted) = match adjust {
        Some(p) => (p, true),
        None => (chosen, false),
    };
    let disagree = match &widths {
        Some(w) if names_asked && w.weekday.is_some() => {
            !names_agree(options, prefs, &zoned, w, zone_style, &pattern)?
        }
        _ => false,
    };
    if disagree {
        return range_error(
            ctx,
            "Intl.DateTimeFormat cannot mix long and short names of the weekday and the month in this locale (ICU4X's patterns disagree)",
        );
    }
    // Whether the pattern written has the month as a number (a narrow
    // name can be a digit: he "3", zh "3").
    let month_numeric = intl_date_pattern::numeric_month(&pattern);
    let h24 = opt(options, "hourCycle")?.as_deref() == Some("h24");
    let sink = match form {
        // In the gregorian calendar the pattern is written with the names it
        // needs (intl_date_pattern::format): ICU4X's formatter can lack its
        // decimal formatter for the pattern it chose (pt "MMMM 'de' y").
        Form::Date if formatter.calendar().kind() == icu_calendar::AnyCalendarKind::Gregorian => {
            match intl_date_pattern::format(prefs, &pattern, &zoned) {
                Ok(sink) => sink,
                Err(e) => return range_error(ctx, &format!("Intl.DateTimeFormat: {e}")),
            }
        }
        Form::Date if adjusted => {
            return range_error(
                ctx,
                "Intl.DateTimeFormat field widths other than the locale pattern's are supported only in the gregorian calendar",
            );
        }
        Form::Date | Form::Side => match PartsSink::checked(&formatted) {
            Some(sink) => sink,
            None => return range_error(ctx, UNWRITABLE),
        },
        // ICU4X's range patterns write names at the pattern's own length
        // (the widths above apply to one date), and no 24-hour clock from
        // 1 to 24; numeric widths are checked below and by `with_sources`.
        Form::Range(_) if h24 || names_adjusted(options)? => {
            return range_error(
                ctx,
                "Intl.DateTimeFormat formatRange with these name widths or hourCycle \"h24\" is not supported (ICU4X's range patterns write the locale's)",
            );
        }
        Form::Range(end) => {
            let end = match intl_zone::zoned_at(&tz, &time_zone_name(&tz), end as i64) {
                Ok(z) => z,
                Err(message) => return range_error(ctx, message),
            };
            let shows_zone = opt(options, "timeZoneName")?.is_some()
                || matches!(time_style.as_deref(), Some("full" | "long"));
            // ICU adds a larger field that differs and is not shown (the
            // year of "March 10 – January 20"; the date of a time range):
            // ICU4X does not.
            let (from, to) = (&zoned.date, &end.date);
            let shown = |key: &str| opt(options, key).map(|v| v.is_some());
            let year_hidden = from.year().extended_year() != to.year().extended_year()
                && opt(options, "dateStyle")?.is_none()
                && !shown("year")?
                && (shown("month")? || shown("day")? || shown("weekday")?);
            let month_hidden = from.month().ordinal != to.month().ordinal
                && opt(options, "dateStyle")?.is_none()
                && !shown("month")?
                && shown("day")?;
            if year_hidden || month_hidden {
                return range_error(
                    ctx,
                    "Intl.DateTimeFormat formatRange across a year or month it does not show is not supported (ICU4X writes no such field)",
                );
            }
            if !shows_date(options)? && zoned.date != end.date {
                return range_error(
                    ctx,
                    "Intl.DateTimeFormat formatRange of a timeStyle on different days is not supported (ICU4X writes no date there)",
                );
            }
            // ICU4X's interval patterns have no time zone: it writes each
            // side whole with its zone ("12:00 AM UTC – 5:00 AM UTC"), where
            // ICU writes the zone once ("12:00 – 5:00 AM UTC") or, for a
            // date with a timeStyle on one day, the date once. A timeStyle
            // alone (seconds: ICU's fallback writes each side whole too) and
            // ranges across days of a date with a timeStyle match ICU; two
            // dates that look the same are the start alone.
            let zone_interval = opt(options, "timeZoneName")?.is_some()
                || (shows_zone && shows_date(options)? && zoned.date == end.date);
            if zone_interval {
                let texts = [&zoned, &end].map(|z| PartsSink::checked(&formatter.format(z)));
                if texts[0].as_ref().map(PartsSink::text) != texts[1].as_ref().map(PartsSink::text)
                {
                    return range_error(
                        ctx,
                        "Intl.DateTimeFormat formatRange showing a time zone is not supported here (ICU4X's interval patterns have no time zone: it writes each side whole)",
                    );
                }
            }
            match intl_range::format(prefs, field_set, &formatter, shows_zone, &zoned, &end) {
                Ok(Some(sink)) => sink,
                Ok(None) => return range_error(ctx, UNWRITABLE),
                Err(e) => return data_error(ctx, "Intl.DateTimeFormat", e),
            }
        }
    };
    // As V8 (Node.js, Deno, Cloudflare Workers) does: CLDR's narrow no-break
    // space before AM/PM becomes a plain space, so output matches theirs.
    let runs = sink.runs(|v| match v {
        "era" => Some("era"),
        "year" | "extendedYear" => Some("year"),
        "relatedYear" => Some("relatedYear"),
        "yearName" => Some("yearName"),
        "month" => Some("month"),
        "day" => Some("day"),
        "weekday" => Some("weekday"),
        "dayPeriod" => Some("dayPeriod"),
        "hour" => Some("hour"),
        "minute" => Some("minute"),
        "second" => Some("second"),
        "timeZoneName" => Some("timeZoneName"),
        // What ICU4X wrote in place of a field it could not (writeable's
        // error part), never returned.
        "error" => Some("error"),
        _ => None,
    });
    let mut out: Vec<Run> = Vec::new();
    for (name, text) in runs {
        let text = text.replace('\u{202f}', " ");
        match name {
            Some("error") => {
                return range_error(
                    ctx,
                    "Intl.DateTimeFormat cannot write these fields in this locale (ICU4X's data lacks them)",
                )
            }
            // ICU4X writes seconds and their fraction as one field.
            Some("second") if text.contains(|c: char| !c.is_numeric()) => {
                let cut = text
                    .char_indices()
                    .find(|(_, c)| !c.is_numeric())
                    .map_or(text.len(), |(i, _)| i);
                let (whole, rest) = text.split_at(cut);
                let sep_len = rest.chars().next().map_or(0, char::len_utf8);
                out.push(("second", whole.to_string()));
                push_str(&mut out, "literal", &rest[..sep_len]);
                out.push(("fractionalSecond", rest[sep_len..].to_string()));
            }
            Some(name) => out.push((name, text)),
            None => push_str(&mut out, "literal", &text),
        }
    }
    if h24 && zoned.time.hour.number() == 0 {
        let digits =
            match icu_decimal::DecimalFormatter::try_new((&locale).into(), Default::default()) {
                Ok(f) => f,
                Err(e) => return data_error(ctx, "Intl.DateTimeFormat", e),
            };
        let hour = digits
            .format(&Decimal::from(24))
            .write_to_string()
            .into_owned();
        for run in out.iter_mut().filter(|(k, _)| *k == "hour") {
            run.1 = hour.clone();
        }
    }
    // Where what ICU4X wrote still differs from what was asked (a field
    // its pattern lacks, as de's "d MMMM 'Y' G, EEEE" for a weekday with an
    // era; a month as a number for "short"; one digit for "2-digit"), say
    // so instead of returning it.
    for field in ["era", "weekday"] {
        if opt(options, field)?.is_some() && !out.iter().any(|(k, _)| *k == field) {
            return range_error(
                ctx,
                &format!("Intl.DateTimeFormat {field} with these fields is not supported in this locale (ICU4X's pattern lacks it)"),
            );
        }
    }
    for field in ["year", "month", "day", "hour", "minute", "second"] {
        let Some(asked) = opt(options, field)? else {
            continue;
        };
        // A lunisolar calendar's year is a related year or a year name.
        let year_like = |k: &str| field == "year" && matches!(k, "relatedYear" | "yearName");
        if out.iter().any(|(k, _)| year_like(k)) {
            continue;
        }
        let Some(at) = out.iter().position(|(k, _)| *k == field) else {
            return range_error(
                ctx,
                &format!("Intl.DateTimeFormat {field} with these fields is not supported in this locale (ICU4X's pattern lacks it)"),
            );
        };
        let shown = &out[at].1;
        // Digits of any numbering system (-u-nu-arab writes "٠٤").
        let digits = shown.chars().filter(|c| c.is_numeric()).count();
        let numeric = digits > 0 && digits == shown.chars().count();
        // A number standing alone (ja's "3月" is a name: its digit is
        // followed by the month sign, de's "10.03." is a number).
        let alone = out
            .get(at + 1)
            .and_then(|(_, t)| t.chars().next())
            .is_none_or(|c| {
                c.is_ascii_punctuation()
                    || c.is_whitespace()
                    || matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}')
            });
        let wrong = match asked.as_str() {
            "narrow" | "short" | "long" => numeric && alone && month_numeric,
            "2-digit" => !(numeric && digits == 2),
            _ => false,
        };
        if wrong {
            return range_error(
                ctx,
                &format!("Intl.DateTimeFormat {field} \"{asked}\" with these fields is not supported in this locale (ICU4X's pattern writes it otherwise)"),
            );
        }
    }
    Ok(out)
}

/// Why a date is refused when ICU4X cannot write one of its pattern's
/// fields ([`PartsSink::checked`]).
const UNWRITABLE: &str = "Intl.DateTimeFormat with these fields is not supported in this locale (ICU4X's pattern uses a name it has not loaded)";

/// Whether `start` and `end` fall on different days in the options' time
/// zone.
fn on_different_days(ctx: &Ctx<'_>, options: &Object<'_>, start: f64, end: f64) -> Result<bool> {
    let tz = time_zone(
        ctx,
        &opt(options, "timeZone")?.unwrap_or_else(|| "UTC".into()),
    )?;
    let day = |ms: f64| {
        jiff::Timestamp::from_millisecond(ms as i64)
            .ok()
            .map(|t| t.to_zoned(tz.clone()).date())
    };
    Ok(day(start) != day(end))
}

/// Whether `start` and `end` look the same: equal in every field from the
/// year down to the smallest one the options show, at the same UTC offset.
/// ECMA-402's PartitionDateTimeRangePattern then writes the start date
/// alone, as ICU's DateIntervalFormat::formatImpl does when the largest
/// field that differs is smaller than the skeleton's smallest. In other
/// calendars than the gregorian, whose months and years begin elsewhere,
/// only a same day counts.
fn practically_equal(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    start: f64,
    end: f64,
) -> Result<bool> {
    let tz = time_zone(
        ctx,
        &opt(options, "timeZone")?.unwrap_or_else(|| "UTC".into()),
    )?;
    // The fields compared, largest first: year, month, day, hour, minute,
    // second, millisecond.
    let mut depth = 0;
    for (keys, d) in [
        (&["era", "year"][..], 1),
        (&["month"][..], 2),
        (&["day", "weekday", "dateStyle"][..], 3),
        (&["hour"][..], 4),
        (&["minute"][..], 5),
        (&["second"][..], 6),
        (&["fractionalSecondDigits"][..], 7),
    ] {
        for key in keys {
            if opt(options, key)?.is_some() {
                depth = depth.max(d);
            }
        }
    }
    depth = match opt(options, "timeStyle")?.as_deref() {
        Some("short") => depth.max(5),
        Some(_) => depth.max(6),
        None => depth,
    };
    if depth == 0 {
        return Ok(false);
    }
    let gregorian = canonicalize(tag).is_ok_and(|l| {
        let ca = icu_locale::extensions::unicode::key!("ca");
        l.extensions
            .unicode
            .keywords
            .get(&ca)
            .is_none_or(|v| v.to_string() == "gregory")
    });
    if !gregorian {
        depth = depth.max(3);
    }
    let fields = |ms: f64| {
        jiff::Timestamp::from_millisecond(ms as i64).ok().map(|t| {
            let z = t.to_zoned(tz.clone());
            let all = [
                i64::from(z.year()),
                i64::from(z.month()),
                i64::from(z.day()),
                i64::from(z.hour()),
                i64::from(z.minute()),
                i64::from(z.second()),
                i64::from(z.millisecond()),
            ];
            (z.offset(), all[..depth].to_vec())
        })
    };
    Ok(fields(start).is_some() && fields(start) == fields(end))
}

/// Whether the options ask names at another width than ICU4X's field set
/// writes them: `narrow` names, a long era, or a weekday and month names
/// of different lengths ([`component_field_set`] takes one length).
fn names_adjusted(options: &Object<'_>) -> Result<bool> {
    for key in ["weekday", "month", "era"] {
        if opt(options, key)?.as_deref() == Some("narrow") {
            return Ok(true);
        }
    }
    let (weekday, month) = (opt(options, "weekday")?, opt(options, "month")?);
    let named = |v: &Option<String>| matches!(v.as_deref(), Some("short" | "long"));
    Ok(opt(options, "era")?.as_deref() == Some("long")
        || (named(&weekday) && named(&month) && weekday != month))
}

/// Whether the options show a date (a date style or a date component).
fn shows_date(options: &Object<'_>) -> Result<bool> {
    for key in ["dateStyle", "weekday", "era", "year", "month", "day"] {
        if opt(options, key)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The locale's 12-hour cycle, which ECMA-402 (2023+, ResolveHourCycle)
/// gives `hour12: true`: `h11` or `h12`, as ICU4X picks for a `-u-hc-c12`
/// preference from CLDR's time data for the locale's likely region (ja-JP
/// `K`, `午前0:05`).
fn hour_cycle_12(tag: &str) -> std::result::Result<&'static str, String> {
    use icu_datetime::fieldsets::T;
    use icu_datetime::preferences::HourCycle;
    let mut locale = canonicalize(tag)?;
    icu_locale::LocaleExpander::new_extended().maximize(&mut locale.id);
    let mut prefs = icu_datetime::DateTimeFormatterPreferences::from(&locale);
    prefs.hour_cycle = Some(HourCycle::Clock12);
    let formatter = icu_datetime::NoCalendarFormatter::try_new(prefs, T::hm())
        .map_err(|e| format!("Intl.DateTimeFormat: no locale data ({e})"))?;
    let time = icu_time::Time::try_new(0, 5, 0, 0).map_err(|e| e.to_string())?;
    Ok(
        if intl_date_pattern::eleven_hour(&formatter.format(&time).pattern()) {
            "h11"
        } else {
            "h12"
        },
    )
}

/// Whether the locale's language uses a 12-hour clock (its hour-and-minute
/// pattern has `h` or `K`).
fn twelve_hour_locale(
    locale: &Locale,
    zoned: &icu_time::ZonedDateTime<
        icu_calendar::Iso,
        icu_time::zone::TimeZoneInfo<icu_time::zone::models::AtTime>,
    >,
) -> bool {
    use icu_datetime::fieldsets::builder::FieldSetBuilder;
    use icu_datetime::options::TimePrecision;
    let mut builder = FieldSetBuilder::new();
    builder.time_precision = Some(TimePrecision::Minute);
    let Ok(field_set) = builder.build_composite() else {
        return false;
    };
    // The language's clock, not a -u-hc- extension's.
    let mut prefs = icu_datetime::DateTimeFormatterPreferences::from(locale);
    prefs.hour_cycle = None;
    let Ok(formatter) = icu_datetime::DateTimeFormatter::try_new(prefs, field_set) else {
        return false;
    };
    intl_date_pattern::twelve_hour(&formatter.format(zoned).pattern())
}

/// The widths the component options ask (intl_date_pattern.rs).
fn widths(
    options: &Object<'_>,
    locale: &Locale,
    zoned: &icu_time::ZonedDateTime<
        icu_calendar::Iso,
        icu_time::zone::TimeZoneInfo<icu_time::zone::models::AtTime>,
    >,
) -> Result<Widths> {
    let get = |k: &str| opt(options, k);
    let (weekday, day, month, year) = (get("weekday")?, get("day")?, get("month")?, get("year")?);
    // What V8 asks ICU for (js/intl.js builds the same skeleton: "mm" for
    // a 2-digit minute the worker asked, "s" for a numeric second).
    let skeleton = get("skeleton")?.unwrap_or_default();
    // With a time zone name and a 24-hour clock ICU finds CLDR's
    // "Hmv"/"Hmsv" skeletons, and V8 keeps their "HH": beside a minute
    // always, beside a second with a generic name (measured against Node
    // in the 18 locales: de "03:30 GMT+9", "3:30:15 GMT+9", "03:30:15
    // Japan (Ortszeit)"; es and he differ, README).
    let twelve = matches!(get("hourCycle")?.as_deref(), Some("h11" | "h12"));
    let zone_keeps_hour = match get("timeZoneName")?.as_deref() {
        None => false,
        _ if twelve => false,
        Some("shortGeneric" | "longGeneric") => true,
        Some(_) => !skeleton.contains('s'),
    };
    // A 24-hour clock asked in a 12-hour locale: V8 then keeps CLDR's
    // "HH:mm" (en 05:04), as with any clock the locale itself uses.
    let hour_adjusted = skeleton.contains("mm")
        && (skeleton.contains("ss") || !skeleton.contains('s'))
        && (weekday.is_none() || day.is_some() || month.is_some() || year.is_some())
        && !zone_keeps_hour
        && !(matches!(get("hourCycle")?.as_deref(), Some("h23" | "h24"))
            && twelve_hour_locale(locale, zoned));
    Ok(Widths {
        weekday,
        era: get("era")?,
        year,
        month,
        day,
        hour: get("hour")?,
        minute: get("minute")?,
        second: get("second")?,
        hour_adjusted,
    })
}

/// With a weekday and month names of different lengths, whether ICU4X's
/// pattern at the other length, adjusted, is `ours`: ja writes
/// "M月d日(EEE)" but "M月d日EEEE", es "d MMM" but "d 'de' MMMM", and which
/// of them ICU would start from is not in ICU4X's data.
fn names_agree(
    options: &Object<'_>,
    prefs: icu_datetime::DateTimeFormatterPreferences,
    zoned: &icu_time::ZonedDateTime<
        icu_calendar::Iso,
        icu_time::zone::TimeZoneInfo<icu_time::zone::models::AtTime>,
    >,
    widths: &Widths,
    zone_style: Option<icu_datetime::fieldsets::builder::ZoneStyle>,
    ours: &icu_datetime::pattern::DateTimePattern,
) -> Result<bool> {
    use icu_datetime::options::Length;
    let long = |v: &Option<String>| v.as_deref() == Some("long");
    if long(&widths.month) == long(&widths.weekday) {
        return Ok(true);
    }
    let other = if long(&widths.weekday) {
        Length::Long
    } else {
        Length::Medium
    };
    let Ok(field_set) = component_field_set(options, Some(other), zone_style)? else {
        return Ok(false);
    };
    let Ok(formatter) = icu_datetime::DateTimeFormatter::try_new(prefs, field_set) else {
        return Ok(false);
    };
    let theirs = formatter.format(zoned).pattern();
    let theirs = intl_date_pattern::adjust(&theirs, widths).unwrap_or(theirs);
    Ok(theirs.write_to_string() == ours.write_to_string())
}

/// ECMA-402's date and time components (`weekday`, `year`, `month`, `day`,
/// `hour`, `minute`, `second`, `fractionalSecondDigits`, `era`,
/// `timeZoneName`) as the ICU4X field set that shows exactly them, or why
/// ICU4X cannot: it has one length for all text fields and no pattern for
/// some combinations (a year and a day without the month), where a
/// nearest pattern would add or drop fields silently.
fn component_field_set(
    options: &Object<'_>,
    names_length: Option<icu_datetime::options::Length>,
    zone_style: Option<icu_datetime::fieldsets::builder::ZoneStyle>,
) -> Result<std::result::Result<icu_datetime::fieldsets::enums::CompositeFieldSet, String>> {
    use icu_datetime::fieldsets::builder::{DateFields, FieldSetBuilder};
    use icu_datetime::options::{Length, SubsecondDigits, TimePrecision, YearStyle};
    let get = |k: &str| opt(options, k);
    let (weekday, era, year, month, day) = (
        get("weekday")?,
        get("era")?,
        get("year")?,
        get("month")?,
        get("day")?,
    );
    let (hour, minute, second) = (get("hour")?, get("minute")?, get("second")?);
    let fraction = opt_i16(options, "fractionalSecondDigits")?;
    let refuse = |why: String| {
        Ok(Err(format!(
            "Intl.DateTimeFormat {why} (ICU4X has no such pattern)"
        )))
    };
    let mut builder = FieldSetBuilder::new();
    builder.date_fields = match (
        year.is_some(),
        month.is_some(),
        day.is_some(),
        weekday.is_some(),
    ) {
        (false, false, true, false) => Some(DateFields::D),
        (false, true, true, false) => Some(DateFields::MD),
        (true, true, true, false) => Some(DateFields::YMD),
        (false, false, true, true) => Some(DateFields::DE),
        (false, true, true, true) => Some(DateFields::MDE),
        (true, true, true, true) => Some(DateFields::YMDE),
        (false, false, false, true) => Some(DateFields::E),
        (false, true, false, false) => Some(DateFields::M),
        (true, true, false, false) => Some(DateFields::YM),
        (true, false, false, false) => Some(DateFields::Y),
        (false, false, false, false) => None,
        _ => return refuse("cannot show weekday, year, month and day in this combination".into()),
    };
    // One length for the field set: the month's names', else the
    // weekday's, else numbers. Each field then gets its own width
    // (intl_date_pattern.rs): a long weekday with short or numeric months,
    // narrow names, a long era, a 2-digit year.
    let width = |v: &Option<String>| match v.as_deref() {
        Some("long") => Some(Length::Long),
        Some("short" | "narrow") => Some(Length::Medium),
        _ => None,
    };
    builder.length = Some(match (width(&month), month.is_some(), width(&weekday)) {
        (Some(m), _, _) => names_length.unwrap_or(m),
        // A numeric month: numbers; a long weekday's punctuation there is
        // not in ICU4X's data (ja "M/dEEEE" against its "MM/dd(EEE)").
        (None, true, Some(Length::Long)) => {
            return refuse("cannot show a long weekday with a numeric month".into())
        }
        (None, true, _) => Length::Short,
        (None, false, Some(w)) => w,
        (None, false, None) => Length::Short,
    });
    if year.is_some() {
        builder.year_style = Some(if era.is_some() {
            YearStyle::WithEra
        } else {
            YearStyle::Full
        });
    } else if era.is_some() {
        return refuse("cannot show an era without a year".into());
    }
    if weekday.is_some() && hour.is_some() && minute.is_none() {
        // ICU4X's pattern for it is on a 12-hour clock in every locale
        // (de "Dienstag, 5 AM", V8 "Dienstag, 05 Uhr").
        return refuse("cannot show a weekday with an hour alone".into());
    }
    builder.time_precision = match (hour.is_some(), minute.is_some(), second.is_some(), fraction) {
        (false, false, false, None) => None,
        (true, false, false, None) => Some(TimePrecision::Hour),
        (true, true, false, None) => Some(TimePrecision::Minute),
        (true, true, true, None) => Some(TimePrecision::Second),
        (true, true, true, Some(n)) => Some(TimePrecision::Subsecond(match n {
            1 => SubsecondDigits::S1,
            2 => SubsecondDigits::S2,
            _ => SubsecondDigits::S3,
        })),
        _ => {
            return refuse(
                "cannot show hour, minute, second and fractions in this combination".into(),
            )
        }
    };
    // The ICU4X style ICU would pick for `timeZoneName` (intl_zone.rs).
    builder.zone_style = zone_style;
    Ok(builder
        .build_composite()
        .map_err(|e| format!("Intl.DateTimeFormat cannot show these fields together: {e:?}")))
}

// ------------------------------------------------------------------ lists, relative time, names

fn format_list(
    ctx: &Ctx<'_>,
    tag: &str,
    kind: &str,
    style: &str,
    items: Vec<String>,
) -> Result<Vec<String>> {
    use icu_list::options::{ListFormatterOptions, ListLength};
    use icu_list::ListFormatter;
    let locale = locale(ctx, tag)?;
    let length = match style {
        "short" => ListLength::Short,
        "narrow" => ListLength::Narrow,
        _ => ListLength::Wide,
    };
    let options = ListFormatterOptions::default().with_length(length);
    let prefs = (&locale).into();
    let formatter = match kind {
        "disjunction" => ListFormatter::try_new_or(prefs, options),
        "unit" => ListFormatter::try_new_unit(prefs, options),
        _ => ListFormatter::try_new_and(prefs, options),
    };
    match formatter {
        Ok(f) => Ok(intl_list::format_parts(&f, &items)
            .into_iter()
            .flat_map(|(kind, text)| [kind.to_string(), text])
            .collect()),
        Err(e) => data_error(ctx, "Intl.ListFormat", e),
    }
}

fn format_relative(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    value: f64,
    unit: &str,
) -> Result<String> {
    let (formatter, d) = relative_formatter(ctx, tag, options, value, unit)?;
    Ok(formatter.format(d).write_to_string().into_owned())
}

/// `formatToParts` of `Intl.RelativeTimeFormat`: type, text, type, text, …
fn format_relative_parts(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    value: f64,
    unit: &str,
) -> Result<Vec<String>> {
    let (formatter, d) = relative_formatter(ctx, tag, options, value, unit)?;
    Ok(flatten(intl_relative::parts(&formatter.format(d))))
}

/// The formatter for `unit` in the options' style and numeric, and `value`
/// rounded as ECMA-402's relative time formats it (at most 3 fraction digits).
fn relative_formatter(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    value: f64,
    unit: &str,
) -> Result<(
    icu_experimental::relativetime::RelativeTimeFormatter,
    Decimal,
)> {
    use icu_experimental::relativetime::options::Numeric;
    use icu_experimental::relativetime::{
        RelativeTimeFormatter as F, RelativeTimeFormatterOptions,
    };
    let locale = locale(ctx, tag)?;
    let style = opt(options, "style")?.unwrap_or_else(|| "long".into());
    let mut o = RelativeTimeFormatterOptions::default();
    let auto = opt(options, "numeric")?.as_deref() == Some("auto");
    o.numeric = Some(if auto { Numeric::Auto } else { Numeric::Always });
    let p = (&locale).into();
    let made = match (style.as_str(), unit) {
        ("long", "second") => F::try_new_long_second(p, o),
        ("long", "minute") => F::try_new_long_minute(p, o),
        ("long", "hour") => F::try_new_long_hour(p, o),
        ("long", "day") => F::try_new_long_day(p, o),
        ("long", "week") => F::try_new_long_week(p, o),
        ("long", "month") => F::try_new_long_month(p, o),
        ("long", "quarter") => F::try_new_long_quarter(p, o),
        ("long", "year") => F::try_new_long_year(p, o),
        ("short", "second") => F::try_new_short_second(p, o),
        ("short", "minute") => F::try_new_short_minute(p, o),
        ("short", "hour") => F::try_new_short_hour(p, o),
        ("short", "day") => F::try_new_short_day(p, o),
        ("short", "week") => F::try_new_short_week(p, o),
        ("short", "month") => F::try_new_short_month(p, o),
        ("short", "quarter") => F::try_new_short_quarter(p, o),
        ("short", "year") => F::try_new_short_year(p, o),
        (_, "second") => F::try_new_narrow_second(p, o),
        (_, "minute") => F::try_new_narrow_minute(p, o),
        (_, "hour") => F::try_new_narrow_hour(p, o),
        (_, "day") => F::try_new_narrow_day(p, o),
        (_, "week") => F::try_new_narrow_week(p, o),
        (_, "month") => F::try_new_narrow_month(p, o),
        (_, "quarter") => F::try_new_narrow_quarter(p, o),
        (_, "year") => F::try_new_narrow_year(p, o),
        _ => return range_error(ctx, &format!("invalid unit argument: {:?}", shown(unit))),
    };
    let formatter = match made {
        Ok(f) => f,
        Err(e) => return data_error(ctx, "Intl.RelativeTimeFormat", e),
    };
    let mut d = match Decimal::try_from_f64(value, FloatPrecision::RoundTrip) {
        Ok(d) => d,
        Err(_) => return range_error(ctx, "invalid value for relative time"),
    };
    d.round_with_mode(-3, HALF_EXPAND);
    d.absolute.trim_end();
    // A value that rounds to zero, -0 included, is "today" with numeric
    // "auto" (ECMA-402 §17.5.4 looks the phrase up by ToString(value), and
    // ToString(-0) is "0"; V8 likewise for -0.0004); ICU4X keeps a negative
    // zero numeric ("0 days ago"), which numeric "always" still writes.
    if auto && d.absolute.is_zero() {
        d.set_sign(fixed_decimal::Sign::None);
    }
    Ok((formatter, d))
}

fn display_name(
    ctx: &Ctx<'_>,
    tag: &str,
    options: &Object<'_>,
    code: &str,
) -> Result<Option<String>> {
    use icu_experimental::displaynames::multi::{
        LanguageDisplayNames, LocaleDisplayNamesFormatter, RegionDisplayNames, ScriptDisplayNames,
    };
    use icu_experimental::displaynames::{DisplayNamesOptions, Style};
    let locale = locale(ctx, tag)?;
    let mut o = DisplayNamesOptions::default();
    o.style = Some(match opt(options, "style")?.as_deref() {
        Some("short") => Style::Short,
        Some("narrow") => Style::Narrow,
        _ => Style::Long,
    });
    if opt(options, "languageDisplay")?.as_deref() == Some("standard") {
        o.language_display = icu_experimental::displaynames::LanguageDisplay::Standard;
    }
    let prefs = (&locale).into();
    let kind = opt(options, "type")?.unwrap_or_default();
    let bad = |ctx: &Ctx<'_>| {
        range_error::<Option<String>>(
            ctx,
            &format!(
                "invalid code for Intl.DisplayNames of type {kind}: {:?}",
                shown(code)
            ),
        )
    };
    match kind.as_str() {
        "region" => {
            let Ok(region) = code.parse::<icu_locale::subtags::Region>() else {
                return bad(ctx);
            };
            match RegionDisplayNames::try_new(prefs, o) {
                Ok(f) => Ok(f.of(region).map(str::to_string)),
                Err(e) => data_error(ctx, "Intl.DisplayNames", e),
            }
        }
        "script" => {
            let Ok(script) = code.parse::<icu_locale::subtags::Script>() else {
                return bad(ctx);
            };
            match ScriptDisplayNames::try_new(prefs, o) {
                Ok(f) => Ok(f.of(script).map(str::to_string)),
                Err(e) => data_error(ctx, "Intl.DisplayNames", e),
            }
        }
        "language" => {
            let Ok(requested) = canonicalize(code) else {
                return bad(ctx);
            };
            if requested.id.script.is_none()
                && requested.id.region.is_none()
                && requested.id.variants.is_empty()
            {
                return match LanguageDisplayNames::try_new(prefs, o) {
                    Ok(f) => Ok(f.of(requested.id.language).map(str::to_string)),
                    Err(e) => data_error(ctx, "Intl.DisplayNames", e),
                };
            }
            match LocaleDisplayNamesFormatter::try_new(prefs, o) {
                Ok(f) => Ok(Some(f.of(&requested).into_owned())),
                Err(e) => data_error(ctx, "Intl.DisplayNames", e),
            }
        }
        "currency" => {
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                return bad(ctx);
            }
            Ok(currency_name(&locale, &code.to_ascii_uppercase()))
        }
        other => range_error(
            ctx,
            &format!("Intl.DisplayNames type {other:?} is not supported"),
        ),
    }
}

// ------------------------------------------------------------------ segmenter, case

/// Segment starts (UTF-16 offsets) of `text`, each followed by 1 if the
/// segment is word-like (word granularity) else 0; the last start is the end.
fn segment(ctx: &Ctx<'_>, tag: &str, granularity: &str, text: String) -> Result<Vec<u32>> {
    use icu_segmenter::options::{SentenceBreakInvariantOptions, WordBreakInvariantOptions};
    use icu_segmenter::{GraphemeClusterSegmenter, SentenceSegmenter, WordSegmenter};
    let _ = locale(ctx, tag)?;
    let utf16: Vec<u16> = text.encode_utf16().collect();
    let mut out = Vec::new();
    match granularity {
        "word" => {
            let mut it = WordSegmenter::new_auto(WordBreakInvariantOptions::default())
                .segment_utf16(&utf16)
                .iter_with_word_type();
            // The first boundary is 0 and has no segment before it.
            if let Some((start, _)) = it.next() {
                out.push(start as u32);
            }
            for (end, kind) in it {
                out.push(u32::from(kind.is_word_like()));
                out.push(end as u32);
            }
        }
        "sentence" => {
            for at in SentenceSegmenter::new(SentenceBreakInvariantOptions::default())
                .segment_utf16(&utf16)
            {
                if !out.is_empty() {
                    out.push(0);
                }
                out.push(at as u32);
            }
        }
        _ => {
            for at in GraphemeClusterSegmenter::new().segment_utf16(&utf16) {
                if !out.is_empty() {
                    out.push(0);
                }
                out.push(at as u32);
            }
        }
    }
    Ok(out)
}

fn case_map(ctx: &Ctx<'_>, tag: &str, upper: bool, text: String) -> Result<String> {
    let locale = locale(ctx, tag)?;
    let mapper = icu_casemap::CaseMapper::new();
    Ok(if upper {
        mapper.uppercase_to_string(&text, &locale.id).into_owned()
    } else {
        mapper.lowercase_to_string(&text, &locale.id).into_owned()
    })
}

// ------------------------------------------------------------------ Intl.Locale

/// The Unicode extension keys `Intl.Locale` reads and reports.
const LOCALE_KEYS: [&str; 6] = ["ca", "co", "hc", "kf", "kn", "nu"];

/// `new Intl.Locale(tag, options)`: `tag` with `options` applied (`language`,
/// `script`, `region`, or a key of [`LOCALE_KEYS`], already read and
/// checked for their allowed values by the JS half), canonicalized.
fn locale_with(tag: &str, options: &[(String, String)]) -> std::result::Result<String, String> {
    use icu_locale::extensions::unicode::{Key, Value};
    let mut locale = canonicalize(tag)?;
    for (name, value) in options {
        let bad = || {
            format!(
                "invalid value {:?} for Intl.Locale option {name}",
                shown(value)
            )
        };
        match name.as_str() {
            "language" => locale.id.language = value.parse().map_err(|_| bad())?,
            "script" => locale.id.script = Some(value.parse().map_err(|_| bad())?),
            "region" => locale.id.region = Some(value.parse().map_err(|_| bad())?),
            key if LOCALE_KEYS.contains(&key) => {
                let key: Key = key.parse().map_err(|_| bad())?;
                let value: Value = value.parse().map_err(|_| bad())?;
                locale.extensions.unicode.keywords.set(key, value);
            }
            _ => return Err(format!("unknown Intl.Locale option {name}")),
        }
    }
    canonicalize(&locale.to_string()).map(|l| l.to_string())
}

/// The parts of a canonical tag `Intl.Locale` exposes: base name, language,
/// script, region, then the value of each of [`LOCALE_KEYS`] (`""` for a
/// key present without a value, i.e. `true`), absent ones `None`.
fn locale_parts(tag: &str) -> std::result::Result<Vec<Option<String>>, String> {
    use icu_locale::extensions::unicode::Key;
    let locale = canonicalize(tag)?;
    let mut parts = vec![
        Some(locale.id.to_string()),
        Some(locale.id.language.to_string()),
        locale.id.script.map(|s| s.to_string()),
        locale.id.region.map(|r| r.to_string()),
    ];
    for key in LOCALE_KEYS {
        let key: Key = key.parse().map_err(|_| format!("bad key {key}"))?;
        parts.push(
            locale
                .extensions
                .unicode
                .keywords
                .get(&key)
                .map(|v| v.to_string()),
        );
    }
    Ok(parts)
}

/// `maximize`/`minimize` of `Intl.Locale` (CLDR likely subtags, ICU4X's
/// `LocaleExpander`): the tag with its language identifier expanded or
/// reduced, extensions kept.
fn locale_expand(tag: &str, maximize: bool) -> std::result::Result<String, String> {
    let mut locale = canonicalize(tag)?;
    let expander = icu_locale::LocaleExpander::new_extended();
    if maximize {
        expander.maximize(&mut locale.id);
    } else {
        expander.minimize(&mut locale.id);
    }
    Ok(locale.to_string())
}

// ------------------------------------------------------------------ supportedValuesOf

/// `Intl.supportedValuesOf(key)`: what caplet's Intl accepts for `key`,
/// from ICU4X's data (and the tz database `timeZone` reads), sorted.
fn supported_values(key: &str) -> std::result::Result<Vec<String>, String> {
    let compute: fn() -> Vec<String> = match key {
        "calendar" => calendars,
        // The tailorings ICU4X has for the promised languages.
        "collation" => || {
            let mut locales: Vec<Locale> = SUPPORTED_LANGUAGES
                .iter()
                .filter_map(|l| l.parse().ok())
                .collect();
            locales.extend(["zh-Hans", "zh-Hant"].iter().filter_map(|l| l.parse().ok()));
            intl_collation::supported_types(&locales)
        },
        "currency" => currencies,
        "numberingSystem" => numbering_systems,
        "timeZone" => time_zones,
        "unit" => || {
            SANCTIONED_UNITS
                .iter()
                .filter(|u| unit_supported(u))
                .map(|u| u.to_string())
                .collect()
        },
        other => {
            return Err(format!(
                "invalid key for Intl.supportedValuesOf: {:?}",
                shown(other)
            ))
        }
    };
    thread_local! {
        /// Each list, computed once per host: the currencies take 17,576
        /// lookups, work a worker could otherwise repeat at will.
        static VALUES: RefCell<HashMap<String, Rc<Vec<String>>>> = RefCell::new(HashMap::new());
    }
    if let Some(found) = VALUES.with(|v| v.borrow().get(key).cloned()) {
        return Ok(found.as_ref().clone());
    }
    let mut out = compute();
    out.sort();
    out.dedup();
    VALUES.with(|v| v.borrow_mut().insert(key.to_string(), Rc::new(out.clone())));
    Ok(out)
}

/// Calendars DateTimeFormat formats with (`-u-ca-`): each of CLDR's
/// calendar identifiers that ICU4X maps to a calendar of its own.
fn calendars() -> Vec<String> {
    use icu_calendar::preferences::CalendarAlgorithm;
    use icu_calendar::AnyCalendarKind;
    use icu_locale::extensions::unicode::Value;
    [
        "buddhist",
        "chinese",
        "coptic",
        "dangi",
        "ethioaa",
        "ethiopic",
        "gregory",
        "hebrew",
        "indian",
        "islamic-civil",
        "islamic-tbla",
        "islamic-umalqura",
        "iso8601",
        "japanese",
        "persian",
        "roc",
    ]
    .into_iter()
    .filter(|id| {
        Value::try_from_str(id)
            .ok()
            .and_then(|v| CalendarAlgorithm::try_from(&v).ok())
            .is_some_and(|a| AnyCalendarKind::try_from(a).is_ok())
    })
    .map(str::to_string)
    .collect()
}

/// ISO 4217 codes ICU4X has a display name for (each three-letter code
/// looked up in English, which names every code CLDR has).
fn currencies() -> Vec<String> {
    let english: Locale = icu_locale::locale!("en");
    let letters = b'A'..=b'Z';
    letters
        .clone()
        .flat_map(|a| letters.clone().map(move |b| (a, b)))
        .flat_map(|(a, b)| (b'A'..=b'Z').map(move |c| [a, b, c]))
        .filter_map(|code| String::from_utf8(code.to_vec()).ok())
        .filter(|code| currency_name(&english, code).is_some())
        .collect()
}

/// Numbering systems ICU4X has digits for (candidates: CLDR's numeric
/// systems), as `-u-nu-` takes them.
fn numbering_systems() -> Vec<String> {
    use icu_decimal::provider::DecimalDigitsV1;
    use icu_provider::prelude::*;
    [
        "adlm", "ahom", "arab", "arabext", "bali", "beng", "bhks", "brah", "cakm", "cham", "deva",
        "diak", "fullwide", "gara", "gong", "gonm", "gujr", "gukh", "guru", "hanidec", "hmng",
        "hmnp", "java", "kali", "kawi", "khmr", "knda", "krai", "lana", "lanatham", "laoo", "latn",
        "lepc", "limb", "mathbold", "mathdbl", "mathmono", "mathsanb", "mathsans", "mlym", "modi",
        "mong", "mroo", "mtei", "mymr", "mymrepka", "mymrpao", "mymrshan", "mymrtlng", "nagm",
        "newa", "nkoo", "olck", "onao", "orya", "osma", "outlined", "rohg", "saur", "segment",
        "shrd", "sind", "sinh", "sora", "sund", "sunu", "takr", "talu", "tamldec", "telu", "thai",
        "tibt", "tirh", "tnsa", "tols", "vaii", "wara", "wcho",
    ]
    .into_iter()
    .filter(|nu| {
        DataMarkerAttributes::try_from_str(nu).is_ok_and(|attribute| {
            let request = DataRequest {
                id: DataIdentifierBorrowed::for_marker_attributes(attribute),
                metadata: silent(),
            };
            DataProvider::<DecimalDigitsV1>::load(&icu_decimal::provider::Baked, request).is_ok()
        })
    })
    .map(str::to_string)
    .collect()
}

/// The canonical IANA names of the tz database's zones.
fn time_zones() -> Vec<String> {
    icu_time::zone::iana::IanaParserExtended::new()
        .iter()
        .map(|z| z.canonical)
        .filter(|name| !name.starts_with("Etc/") || *name == "Etc/UTC")
        .filter(|name| jiff::tz::TimeZone::get(name).is_ok())
        .map(|name| {
            if name == "Etc/UTC" {
                "UTC".to_string()
            } else {
                name.to_string()
            }
        })
        .collect()
}

/// A currency's display name in `locale` (CLDR's, compiled into ICU4X).
fn currency_name(locale: &Locale, code: &str) -> Option<String> {
    use icu_experimental::dimension::provider::currency::displayname::CurrencyDisplaynameV1;
    use icu_provider::prelude::*;
    let attribute = DataMarkerAttributes::try_from_str(code).ok()?;
    let data_locale = DataLocale::from(locale);
    let request = DataRequest {
        id: DataIdentifierBorrowed::for_marker_attributes_and_locale(attribute, &data_locale),
        metadata: silent(),
    };
    DataProvider::<CurrencyDisplaynameV1>::load(&icu_experimental::provider::Baked, request)
        .ok()
        .map(|r| r.payload.get().to_string())
}

// ------------------------------------------------------------------ the native object

/// Builds the object the JS half of `Intl` calls.
pub fn native<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set(
        "canonicalize",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String| match canonicalize(&tag) {
                Ok(l) => Ok(l.to_string()),
                Err(m) => range_error(&ctx, &m),
            },
        )?,
    )?;
    o.set(
        "localeWith",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Vec<Vec<String>>| {
                let pairs: Vec<(String, String)> = options
                    .into_iter()
                    .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                        Ok([name, value]) => Some((name, value)),
                        Err(_) => None,
                    })
                    .collect();
                locale_with(&tag, &pairs).or_else(|m| range_error(&ctx, &m))
            },
        )?,
    )?;
    o.set(
        "localeParts",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, tag: String| {
            locale_parts(&tag).or_else(|m| range_error(&ctx, &m))
        })?,
    )?;
    o.set(
        "localeExpand",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, tag: String, maximize: bool| {
            locale_expand(&tag, maximize).or_else(|m| range_error(&ctx, &m))
        })?,
    )?;
    o.set(
        "supported",
        Function::new(ctx.clone(), |tag: String| {
            canonicalize(&tag).is_ok_and(|l| is_supported(&l))
        })?,
    )?;
    o.set(
        "compare",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             tag: String,
             options: Object<'js>,
             a: String,
             b: String|
             -> Result<i32> {
                let c = collator(&ctx, &tag, &options)?;
                Ok(c.compare(&a, &b) as i32)
            },
        )?,
    )?;
    o.set(
        "formatNumber",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, value: Value<'js>| {
                format_number(&ctx, &tag, &options, &value)
            },
        )?,
    )?;
    o.set(
        "plural",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, value: Value<'js>| {
                plural_select(&ctx, &tag, &options, &value)
            },
        )?,
    )?;
    o.set(
        "formatDate",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, ms: f64| {
                format_date(&ctx, &tag, &options, ms)
            },
        )?,
    )?;
    o.set(
        "formatNumberToParts",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, value: Value<'js>| {
                format_number_parts(&ctx, &tag, &options, &value, true).map(flatten)
            },
        )?,
    )?;
    o.set(
        "formatDateRangeToParts",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             tag: String,
             options: Object<'js>,
             with_date: Option<Object<'js>>,
             start: f64,
             end: f64| {
                // Times on different days: as ICU (icu4c dtitvfmt.cpp,
                // initializePattern), the date is added ("yMd"), which the
                // JS half gives as `with_date`.
                let options = match with_date {
                    Some(with_date) if on_different_days(&ctx, &options, start, end)? => with_date,
                    _ => options,
                };
                // Dates that look the same: the start date alone, as format().
                if practically_equal(&ctx, &tag, &options, start, end)? {
                    let parts = format_date_parts(&ctx, &tag, &options, start)?;
                    return Ok(parts
                        .into_iter()
                        .flat_map(|(kind, text)| [kind.to_string(), text, "shared".to_string()])
                        .collect());
                }
                let runs = format_date_or_range(&ctx, &tag, &options, start, Form::Range(end))?;
                let first = format_date_or_range(&ctx, &tag, &options, start, Form::Side)?;
                let last = format_date_or_range(&ctx, &tag, &options, end, Form::Side)?;
                match intl_range::with_sources(runs, &first, &last) {
                    Ok(parts) => Ok(parts
                        .into_iter()
                        .flat_map(|((kind, text), side)| [kind.to_string(), text, side.to_string()])
                        .collect::<Vec<String>>()),
                    Err(intl_range::RangeMismatch::Otherwise(field)) => range_error(
                        &ctx,
                        &format!("Intl.DateTimeFormat formatRange writes the {field} otherwise than format() in this locale (ICU4X's interval pattern)"),
                    ),
                    Err(intl_range::RangeMismatch::Missing(field)) => range_error(
                        &ctx,
                        &format!("Intl.DateTimeFormat formatRange leaves out the {field} that format() writes in this locale (ICU4X's interval pattern)"),
                    ),
                }
            },
        )?,
    )?;
    o.set(
        "formatDateToParts",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, ms: f64| {
                format_date_parts(&ctx, &tag, &options, ms).map(flatten)
            },
        )?,
    )?;
    o.set(
        "hourCycle12",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, tag: String| {
            hour_cycle_12(&tag).or_else(|m| range_error(&ctx, &m))
        })?,
    )?;
    o.set(
        "supportedValuesOf",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, key: String| {
            supported_values(&key).or_else(|m| range_error(&ctx, &m))
        })?,
    )?;
    o.set(
        "sanctionedUnits",
        Function::new(ctx.clone(), || SANCTIONED_UNITS.to_vec())?,
    )?;
    o.set(
        "collationSupported",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, tag: String, co: String| {
            let locale = locale(&ctx, &tag)?;
            Ok::<_, rquickjs::Error>(intl_collation::has_tailoring(&locale, &co))
        })?,
    )?;
    o.set(
        "currencyDigits",
        Function::new(ctx.clone(), |code: String| {
            intl_currency::currency_digits(&code)
        })?,
    )?;
    o.set(
        "unitSupported",
        Function::new(ctx.clone(), |unit: String| unit_supported(&unit))?,
    )?;
    o.set(
        "timeZone",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, name: String| {
            time_zone(&ctx, &name).map(|tz| time_zone_name(&tz))
        })?,
    )?;
    o.set(
        "formatList",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, kind: String, style: String, items: Vec<String>| {
                format_list(&ctx, &tag, &kind, &style, items)
            },
        )?,
    )?;
    o.set(
        "formatRelative",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, value: f64, unit: String| {
                format_relative(&ctx, &tag, &options, value, &unit)
            },
        )?,
    )?;
    o.set(
        "formatRelativeParts",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, value: f64, unit: String| {
                format_relative_parts(&ctx, &tag, &options, value, &unit)
            },
        )?,
    )?;
    o.set(
        "displayName",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, options: Object<'js>, code: String| {
                display_name(&ctx, &tag, &options, &code)
            },
        )?,
    )?;
    o.set(
        "segment",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, granularity: String, text: String| {
                segment(&ctx, &tag, &granularity, text)
            },
        )?,
    )?;
    o.set(
        "caseMap",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, tag: String, upper: bool, text: String| {
                case_map(&ctx, &tag, upper, text)
            },
        )?,
    )?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_canonicalized_and_hostile_ones_refused() {
        assert_eq!(canonicalize("EN-us").unwrap().to_string(), "en-US");
        assert_eq!(
            canonicalize("zh-hant-tw").unwrap().to_string(),
            "zh-Hant-TW"
        );
        assert_eq!(canonicalize("iw").unwrap().to_string(), "he");
        for bad in [
            "",
            "en_US!",
            "-",
            "x",
            &"a".repeat(100_000),
            "en-US-u-",
            "\u{0}",
        ] {
            let err = canonicalize(bad).unwrap_err();
            assert!(err.starts_with("invalid language tag"), "{err}");
            assert!(err.len() < 120, "the message stays short: {err}");
        }
    }

    #[test]
    fn the_promised_locales_are_supported() {
        for tag in [
            "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi",
            "ja", "ko", "zh-Hans", "zh-Hant", "en-GB", "pt-BR",
        ] {
            assert!(is_supported(&canonicalize(tag).unwrap()), "{tag}");
        }
        assert!(!is_supported(&canonicalize("tlh").unwrap()));
    }
}
