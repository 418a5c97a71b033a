//! `Intl.DateTimeFormat` fields at the width each option asks.
//!
//! ICU4X chooses a pattern for a semantic field set, with one length for
//! all the names in it; ECMA-402 asks a width per field (`weekday: "long"`
//! with `month: "short"`, `day: "2-digit"`, `era: "long"`, `"narrow"`
//! names). As ICU's DateTimePatternGenerator does with the pattern it
//! found for a skeleton (icu4c `i18n/dtptngen.cpp`,
//! `DateTimePatternGenerator::adjustFieldTypes`), [`adjust`] sets each
//! field of ICU4X's chosen pattern to the width asked, keeping the field's
//! symbol (format or stand-alone form), and [`format`] writes the adjusted
//! pattern with the locale's names from ICU4X's data
//! (`FixedCalendarDateTimeNames`).
//!
//! A `numeric` field the pattern pads stays padded: whether ICU keeps the
//! locale's width depends on the skeletons of CLDR's `availableFormats`,
//! which ICU4X's data does not carry. The one case known without them is
//! a `numeric` hour beside a `2-digit` minute (V8's "jmm", in no locale's
//! skeletons), which ICU writes unpadded: measured against V8 in all the
//! promised locales, except with a weekday alone ("EHm" is a skeleton) or
//! a 24-hour clock asked in a 12-hour locale (intl.rs decides those).
//!
//! In the gregorian calendar every pattern, adjusted or not, is written
//! by [`format`], which loads what the pattern needs: ICU4X's own
//! formatter can lack the decimal formatter for the pattern it chose.

use icu_calendar::Gregorian;
use icu_datetime::fieldsets::enums::CompositeFieldSet;
use icu_datetime::pattern::{DateTimePattern, FixedCalendarDateTimeNames};
use icu_datetime::provider::fields::{Field, FieldLength, FieldSymbol, Hour, Weekday, Year};
use icu_datetime::provider::pattern::{runtime, PatternItem};
use icu_datetime::DateTimeFormatterPreferences;
use icu_time::zone::{models::AtTime, TimeZoneInfo};
use icu_time::ZonedDateTime;
use writeable::{TryWriteable, Writeable};

use super::intl_parts::PartsSink;

/// The widths asked by ECMA-402's component options (their values as
/// given: `"numeric"`, `"2-digit"`, `"narrow"`, `"short"`, `"long"`).
#[derive(Default)]
pub(super) struct Widths {
    pub weekday: Option<String>,
    pub era: Option<String>,
    pub year: Option<String>,
    pub month: Option<String>,
    pub day: Option<String>,
    pub hour: Option<String>,
    pub minute: Option<String>,
    pub second: Option<String>,
    /// Whether a `numeric` hour is written unpadded whatever the pattern
    /// has: V8 asks ICU for "jmm" (a `2-digit` minute, with no `numeric`
    /// second, and no weekday alone), which no CLDR skeleton has, and ICU
    /// then adjusts the hour to the asked width.
    pub hour_adjusted: bool,
}

/// The length of a name field for an option's value.
fn name_length(asked: &str) -> Option<FieldLength> {
    match asked {
        "short" => Some(FieldLength::Three),
        "long" => Some(FieldLength::Four),
        "narrow" => Some(FieldLength::Five),
        _ => None,
    }
}

/// The width a numeric field gets: two digits where asked; unpadded where
/// `numeric` is asked and ICU adjusts (`adjusted`); else as the pattern
/// has it.
fn numeric_length(asked: Option<&str>, adjusted: bool, length: FieldLength) -> FieldLength {
    match asked {
        Some("2-digit") => FieldLength::Two,
        Some("numeric") if adjusted => FieldLength::One,
        _ => length,
    }
}

/// One field at the width asked (`adjustFieldTypes` for one field).
fn adjust_field(field: Field, w: &Widths) -> Field {
    let text = field.length >= FieldLength::Three;
    let length = match field.symbol {
        FieldSymbol::Weekday(symbol) if text || symbol == Weekday::Format => w
            .weekday
            .as_deref()
            .and_then(name_length)
            .unwrap_or(field.length),
        FieldSymbol::Month(_) if text => w
            .month
            .as_deref()
            .and_then(name_length)
            .unwrap_or(field.length),
        FieldSymbol::Month(_) => numeric_length(w.month.as_deref(), false, field.length),
        FieldSymbol::Era => w
            .era
            .as_deref()
            .and_then(name_length)
            .unwrap_or(field.length),
        FieldSymbol::Year(Year::Calendar) => match w.year.as_deref() {
            Some("2-digit") => FieldLength::Two,
            Some("numeric") if field.length == FieldLength::Two => FieldLength::One,
            _ => field.length,
        },
        FieldSymbol::Day(_) => numeric_length(w.day.as_deref(), false, field.length),
        FieldSymbol::Hour(_) => numeric_length(w.hour.as_deref(), w.hour_adjusted, field.length),
        FieldSymbol::Minute => numeric_length(w.minute.as_deref(), false, field.length),
        FieldSymbol::Second(_) => numeric_length(w.second.as_deref(), false, field.length),
        _ => field.length,
    };
    Field {
        symbol: field.symbol,
        length,
    }
}

/// ICU4X's chosen pattern with each field at the width asked, or `None`
/// when it already is.
pub(super) fn adjust(pattern: &DateTimePattern, w: &Widths) -> Option<DateTimePattern> {
    // ICU4X's own pattern parser reads back the pattern ICU4X wrote.
    let parsed: runtime::Pattern<'static> = pattern.write_to_string().parse().ok()?;
    let mut changed = false;
    let items: Vec<PatternItem> = parsed
        .items
        .iter()
        .map(|item| match item {
            PatternItem::Field(field) => {
                let adjusted = adjust_field(field, w);
                changed |= adjusted != field;
                PatternItem::Field(adjusted)
            }
            other => other,
        })
        .collect();
    changed.then(|| DateTimePattern::from(runtime::Pattern::from(items)))
}

/// `pattern` written for `zoned` with the locale's names (Gregorian
/// calendar), as annotated parts; the error names what ICU4X lacks.
pub(super) fn format(
    prefs: DateTimeFormatterPreferences,
    pattern: &DateTimePattern,
    zoned: &ZonedDateTime<icu_calendar::Iso, TimeZoneInfo<AtTime>>,
) -> Result<PartsSink, String> {
    let mut names = FixedCalendarDateTimeNames::<Gregorian, CompositeFieldSet>::try_new(prefs)
        .map_err(|e| format!("no locale data ({e})"))?;
    let formatter = names
        .include_for_pattern(pattern)
        .map_err(|e| format!("no names for the pattern ({e:?})"))?;
    let input = ZonedDateTime {
        date: zoned.date.to_calendar(Gregorian),
        time: zoned.time,
        zone: zoned.zone,
    };
    let mut sink = PartsSink::default();
    match formatter.format(&input).try_write_to_parts(&mut sink) {
        Ok(Ok(())) => Ok(sink),
        Ok(Err(e)) => Err(format!("cannot write the pattern ({e:?})")),
        Err(_) => Err("cannot write the pattern".into()),
    }
}

/// Whether any field of `pattern` passes `test` (the pattern read back
/// with ICU4X's own parser).
fn any_field(pattern: &DateTimePattern, test: impl Fn(Field) -> bool) -> bool {
    let Ok(parsed) = pattern
        .write_to_string()
        .parse::<runtime::Pattern<'static>>()
    else {
        return false;
    };
    parsed
        .items
        .iter()
        .any(|item| matches!(item, PatternItem::Field(f) if test(f)))
}

/// Whether the pattern shows the month as a number.
pub(super) fn numeric_month(pattern: &DateTimePattern) -> bool {
    any_field(pattern, |f| {
        matches!(f.symbol, FieldSymbol::Month(_)) && f.length < FieldLength::Three
    })
}

/// Whether the pattern's hour is ICU's `K`, 0 to 11 (`h11`).
pub(super) fn eleven_hour(pattern: &DateTimePattern) -> bool {
    any_field(pattern, |f| {
        matches!(f.symbol, FieldSymbol::Hour(Hour::H11))
    })
}

/// Whether the pattern's hour is on a 12-hour clock (`h` or `K`).
pub(super) fn twelve_hour(pattern: &DateTimePattern) -> bool {
    any_field(pattern, |f| {
        matches!(f.symbol, FieldSymbol::Hour(Hour::H12 | Hour::H11))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adjusted(pattern: &str, w: &Widths) -> Option<String> {
        let pattern: DateTimePattern = pattern.parse().unwrap();
        adjust(&pattern, w).map(|p| p.write_to_string().into_owned())
    }

    fn ask(pairs: &[(&str, &str)]) -> Widths {
        let mut w = Widths::default();
        for &(k, v) in pairs {
            let v = Some(v.to_string());
            match k {
                "weekday" => w.weekday = v,
                "era" => w.era = v,
                "year" => w.year = v,
                "month" => w.month = v,
                "day" => w.day = v,
                "hour" => w.hour = v,
                "minute" => w.minute = v,
                _ => w.second = v,
            }
        }
        w
    }

    #[test]
    fn names_take_the_width_asked_and_keep_their_form() {
        let w = ask(&[("weekday", "long"), ("month", "short"), ("day", "numeric")]);
        assert_eq!(adjusted("EEE, MMM d", &w).as_deref(), Some("EEEE, MMM d"));
        let w = ask(&[("weekday", "narrow")]);
        assert_eq!(adjusted("ccc", &w).as_deref(), Some("ccccc"));
        let w = ask(&[("month", "narrow")]);
        assert_eq!(adjusted("LLL", &w).as_deref(), Some("LLLLL"));
        let w = ask(&[("era", "long"), ("year", "numeric")]);
        assert_eq!(adjusted("y G", &w).as_deref(), Some("y GGGG"));
        let w = ask(&[("era", "short"), ("year", "numeric")]);
        assert_eq!(adjusted("y GGGG", &w).as_deref(), Some("y GGG"));
    }

    #[test]
    fn two_digits_where_asked_and_numeric_fields_otherwise_kept() {
        let w = ask(&[
            ("year", "2-digit"),
            ("month", "2-digit"),
            ("day", "2-digit"),
        ]);
        assert_eq!(adjusted("M/d/y", &w).as_deref(), Some("MM/dd/yy"));
        // ICU keeps the locale's width for a numeric field (CLDR's
        // availableFormats decide, which ICU4X lacks): nothing to adjust.
        let w = ask(&[
            ("year", "numeric"),
            ("month", "numeric"),
            ("day", "numeric"),
        ]);
        assert_eq!(adjusted("dd.MM.y", &w), None);
        // A numeric month never becomes a name, nor a name a number: what
        // ICU4X wrote is checked afterwards.
        let w = ask(&[("month", "short")]);
        assert_eq!(adjusted("dd.MM.y", &w), None);
    }

    #[test]
    fn a_numeric_hour_is_unpadded_only_where_icu_adjusts_it() {
        let mut w = ask(&[("hour", "numeric"), ("minute", "2-digit")]);
        assert_eq!(adjusted("HH:mm", &w), None);
        w.hour_adjusted = true;
        assert_eq!(adjusted("HH:mm", &w).as_deref(), Some("H:mm"));
        let w = ask(&[("hour", "2-digit"), ("minute", "2-digit")]);
        assert_eq!(adjusted("h:mm a", &w).as_deref(), Some("hh:mm a"));
    }

    #[test]
    fn a_numeric_month_is_told_from_a_name() {
        let numeric = |p: &str| numeric_month(&p.parse().unwrap());
        assert!(numeric("dd.MM.y"));
        assert!(numeric("y年M月"));
        assert!(!numeric("d. MMM y"));
        assert!(!numeric("EEEE"));
    }
}
