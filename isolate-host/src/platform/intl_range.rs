//! `Intl.DateTimeFormat.prototype.formatRange` / `formatRangeToParts`:
//! ICU4X's date range formatter (CLDR's interval formats, the greatest
//! difference between the two dates chooses the pattern) and ECMA-402's
//! `source` of each part (`startRange`, `endRange`, `shared`) as ICU gives
//! it to V8.

use icu_calendar::Iso;
use icu_datetime::fieldsets::enums::CompositeFieldSet;
use icu_datetime::range::DateRangeFormatter;
use icu_datetime::{DateTimeFormatter, DateTimeFormatterLoadError, DateTimeFormatterPreferences};
use icu_time::zone::models::AtTime;
use icu_time::{TimeZoneInfo, ZonedDateTime};

use super::intl_parts::{PartsSink, Run};

/// ICU4X's formatter for `field_set` (a date alone, or each side of a
/// range), with its number formatter loaded:
/// ICU4X 2.4 leaves it out for some patterns that have numbers (pt's long
/// year and month, "MMMM 'de' y"), which it then cannot write.
pub(super) fn date_formatter(
    prefs: DateTimeFormatterPreferences,
    field_set: CompositeFieldSet,
) -> std::result::Result<DateTimeFormatter<CompositeFieldSet>, DateTimeFormatterLoadError> {
    let formatter = DateTimeFormatter::try_new(prefs, field_set)?;
    let mut names = icu_datetime::pattern::DateTimeNames::from_formatter(prefs, formatter);
    names
        .as_mut()
        .include_decimal_formatter()
        .map_err(DateTimeFormatterLoadError::Data)?;
    names.try_into_formatter(field_set).map_err(|(e, _)| e)
}

/// The range from `start` to `end` in `field_set`, whose formatter for
/// one date (built by [`date_formatter`]) is `single`; `None` where ICU4X
/// cannot write it (its range patterns may use names, e.g. an abbreviated
/// month in a long date, that it did not load). `shows_zone`: whether the
/// field set writes the time zone.
///
/// As ECMA-402's PartitionDateTimeRangePattern: if both dates look the
/// same in the fields shown, the range is the start alone, all shared.
/// ICU4X compares the zone with its name's date, so both sides take the
/// start's zone unless a zone name is shown (the dates' fields are then
/// compared as ICU does, in the formatter's time zone).
pub(super) fn format(
    prefs: DateTimeFormatterPreferences,
    field_set: CompositeFieldSet,
    single: &DateTimeFormatter<CompositeFieldSet>,
    shows_zone: bool,
    start: &ZonedDateTime<Iso, TimeZoneInfo<AtTime>>,
    end: &ZonedDateTime<Iso, TimeZoneInfo<AtTime>>,
) -> Result<Option<PartsSink>, DateTimeFormatterLoadError> {
    let (Some(first), Some(last)) = (
        PartsSink::checked(&single.format(start)),
        PartsSink::checked(&single.format(end)),
    ) else {
        return Ok(None);
    };
    if first.text() == last.text() {
        return Ok(Some(first));
    }
    let mut end = *end;
    if !shows_zone {
        end.zone = start.zone;
    }
    let formatter = DateRangeFormatter::try_new(prefs, field_set)?;
    let Some(sink) = PartsSink::checked(&formatter.format(start, &end)) else {
        return Ok(None);
    };
    Ok(Some(sink))
}

/// The parts of a range with each one's source, as ICU computes them for
/// V8 (icu4c `FormattedValueFieldPositionIteratorImpl::addOverlapSpans`):
/// the fields written twice show the start, then the end; the start's span
/// runs from the first to the last of their first occurrences, the end's
/// over their second ones; all else is `shared` ("Mar 10 – 13, 2024": `10`
/// start, `13` end, the month and year shared).
///
/// `first` and `last` are the parts of each date formatted alone: a field
/// the range writes otherwise than they do (ICU4X's interval patterns keep
/// CLDR's widths, e.g. a full year in a short date), or writes though they
/// do not, is refused, naming the field; so is a field they write that the
/// range leaves out (ICU4X's interval patterns for a medium time have no
/// seconds: "3:04 – 3:39 PM", where ICU writes "3:04:05 PM – 3:39:05 PM").
pub(super) fn with_sources(
    runs: Vec<Run>,
    first: &[Run],
    last: &[Run],
) -> Result<Vec<(Run, &'static str)>, RangeMismatch> {
    // The first and last run of each side's span.
    type Span = Option<(usize, usize)>;
    let (mut start, mut end): (Span, Span) = (None, None);
    let widen = |span: &mut Span, i: usize| {
        *span = Some(span.map_or((i, i), |(a, b)| (a.min(i), b.max(i))));
    };
    for (i, (kind, _)) in runs.iter().enumerate() {
        if *kind == "literal" {
            continue;
        }
        if let Some(j) = runs[i + 1..].iter().position(|(k, _)| k == kind) {
            if !runs[..i].iter().any(|(k, _)| k == kind) {
                widen(&mut start, i);
                widen(&mut end, i + 1 + j);
            }
        }
    }
    let within =
        |span: Option<(usize, usize)>, i: usize| span.is_some_and(|(a, b)| a <= i && i <= b);
    let mut out: Vec<(Run, &'static str)> = Vec::new();
    for (i, (kind, text)) in runs.into_iter().enumerate() {
        let side = if within(start, i) {
            "startRange"
        } else if within(end, i) {
            "endRange"
        } else {
            "shared"
        };
        if kind != "literal" {
            let alone = if side == "endRange" { last } else { first };
            if alone.iter().find(|(k, _)| *k == kind).map(|(_, t)| t) != Some(&text) {
                return Err(RangeMismatch::Otherwise(kind));
            }
        }
        match out.last_mut() {
            Some(((k, t), s)) if *k == kind && *s == side => t.push_str(&text),
            _ => out.push(((kind, text), side)),
        }
    }
    // Each field of one date is written on its side or shared; a field
    // whose two dates differ, on both sides (written once, it would show
    // one date's value for both).
    let written = |kind: &str, sides: &[&str]| {
        out.iter()
            .any(|((k, _), side)| *k == kind && sides.contains(side))
    };
    for (alone, sides) in [
        (first, ["startRange", "shared"]),
        (last, ["endRange", "shared"]),
    ] {
        for (kind, _) in alone {
            if *kind != "literal" && !written(kind, &sides) {
                return Err(RangeMismatch::Missing(kind));
            }
        }
    }
    for (kind, text) in first {
        let differs = last
            .iter()
            .find(|(k, _)| k == kind)
            .is_some_and(|(_, t)| t != text);
        if *kind != "literal"
            && differs
            && !(written(kind, &["startRange"]) && written(kind, &["endRange"]))
        {
            return Err(RangeMismatch::Missing(kind));
        }
    }
    Ok(out)
}

/// Why [`with_sources`] refused a range: a field (its ECMA-402 part type)
/// written otherwise than one date alone writes it, or left out.
#[derive(Debug, PartialEq)]
pub(super) enum RangeMismatch {
    Otherwise(&'static str),
    Missing(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(parts: &[(&'static str, &str)]) -> Vec<Run> {
        parts.iter().map(|(k, t)| (*k, t.to_string())).collect()
    }

    #[test]
    fn a_field_one_date_writes_but_the_range_leaves_out_is_refused() {
        let first = runs(&[
            ("hour", "3"),
            ("literal", ":"),
            ("minute", "04"),
            ("literal", ":"),
            ("second", "05"),
            ("literal", " "),
            ("dayPeriod", "PM"),
        ]);
        let last = runs(&[
            ("hour", "3"),
            ("literal", ":"),
            ("minute", "39"),
            ("literal", ":"),
            ("second", "05"),
            ("literal", " "),
            ("dayPeriod", "PM"),
        ]);
        // ICU4X's interval pattern for a medium time: "3:04 – 3:39 PM".
        let range = runs(&[
            ("hour", "3"),
            ("literal", ":"),
            ("minute", "04"),
            ("literal", " – "),
            ("hour", "3"),
            ("literal", ":"),
            ("minute", "39"),
            ("literal", " "),
            ("dayPeriod", "PM"),
        ]);
        assert_eq!(
            with_sources(range, &first, &last),
            Err(RangeMismatch::Missing("second"))
        );
        // With the seconds, each side's fields are its own and PM is shared.
        let range = runs(&[
            ("hour", "3"),
            ("literal", ":"),
            ("minute", "04"),
            ("literal", ":"),
            ("second", "05"),
            ("literal", " – "),
            ("hour", "3"),
            ("literal", ":"),
            ("minute", "39"),
            ("literal", ":"),
            ("second", "05"),
            ("literal", " "),
            ("dayPeriod", "PM"),
        ]);
        let parts = with_sources(range.clone(), &first, &last).unwrap();
        assert_eq!(
            parts.first(),
            Some(&(("hour", "3".to_string()), "startRange"))
        );
        assert_eq!(
            parts.last(),
            Some(&(("dayPeriod", "PM".to_string()), "shared"))
        );
    }

    #[test]
    fn a_field_the_range_writer_skipped_on_one_side_is_refused() {
        let first = runs(&[("month", "Mar"), ("literal", " "), ("day", "10")]);
        let last = runs(&[("month", "Mar"), ("literal", " "), ("day", "13")]);
        // "Mar 10 – 13" as ICU writes it: the month shared, a day per side.
        let whole = runs(&[
            ("month", "Mar"),
            ("literal", " "),
            ("day", "10"),
            ("literal", " – "),
            ("day", "13"),
        ]);
        assert!(with_sources(whole, &first, &last).is_ok());
        // "Mar 10 – ": the day, which differs, on one side only.
        let skipped = runs(&[
            ("month", "Mar"),
            ("literal", " "),
            ("day", "10"),
            ("literal", " – "),
        ]);
        assert_eq!(
            with_sources(skipped, &first, &last),
            Err(RangeMismatch::Missing("day"))
        );
    }
}
