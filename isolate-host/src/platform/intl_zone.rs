//! Which of ICU4X's time zone name styles shows `timeZoneName` the way ICU
//! (V8's Intl) chooses it, on ICU4X's own data.
//!
//! ICU4X formats the generic styles (`shortGeneric`, `longGeneric`) with
//! the metazone's generic name, falling back to a zone's standard name.
//! ICU does two things more, which this module reimplements by picking
//! another of ICU4X's styles (no name is written here):
//! - a zone that observes no daylight time within 184 days of the date is
//!   named with its specific standard name when the locale has one ("Japan
//!   Standard Time", not "Japan Time"): icu4c `i18n/tzgnames.cpp`,
//!   `TZGNCore::formatGenericNonLocationName` (`kDstCheckRange`);
//! - a zone without a metazone or a country (UTC) has no generic name nor
//!   generic location name, so ICU writes its localized offset ("GMT+0"):
//!   icu4c `i18n/tzfmt.cpp`, `TimeZoneFormat::format`, whose generic styles
//!   fall back to `formatOffsetLocalizedGMT`.

use icu_calendar::Iso;
use icu_datetime::fieldbag::field::TimeZoneName;
use icu_datetime::fieldsets::builder::{FieldSetBuilder, ZoneStyle};
use icu_datetime::{DateTimeFormatter, DateTimeFormatterPreferences};
use icu_time::zone::models::AtTime;
use icu_time::zone::UtcOffset;
use icu_time::{DateTime, TimeZoneInfo, ZonedDateTime};

/// ICU's window around the date in which a daylight period makes a zone's
/// generic name the right one (icu4c tzgnames.cpp `kDstCheckRange`).
const DST_CHECK_SECONDS: i64 = 184 * 86_400;

/// The zone being formatted, as both libraries see it.
pub(super) struct Zone<'a> {
    pub tz: &'a jiff::tz::TimeZone,
    pub ms: i64,
    pub zoned: &'a ZonedDateTime<Iso, TimeZoneInfo<AtTime>>,
}

/// The ICU4X style for an ECMA-402 `timeZoneName` value, or `None` for
/// none.
pub(super) fn zone_style(
    prefs: DateTimeFormatterPreferences,
    asked: Option<&str>,
    zone: &Zone<'_>,
) -> Option<ZoneStyle> {
    let (generic, specific, offset) = match asked? {
        "long" => return Some(ZoneStyle::SpecificLong),
        "shortOffset" => return Some(ZoneStyle::LocalizedOffsetShort),
        "longOffset" => return Some(ZoneStyle::LocalizedOffsetLong),
        "shortGeneric" => (
            ZoneStyle::GenericShort,
            ZoneStyle::SpecificShort,
            ZoneStyle::LocalizedOffsetShort,
        ),
        "longGeneric" => (
            ZoneStyle::GenericLong,
            ZoneStyle::SpecificLong,
            ZoneStyle::LocalizedOffsetLong,
        ),
        _ => return Some(ZoneStyle::SpecificShort),
    };
    if zone.tz.iana_name().is_none_or(is_utc) {
        return Some(offset);
    }
    if !daylight_near(zone.tz, zone.ms) {
        // ICU takes the standard name only if the locale has one; ICU4X
        // writes the offset where it has none.
        let named = format_zone(prefs, specific, zone.zoned);
        if named.is_some() && named != format_zone(prefs, offset, zone.zoned) {
            return Some(specific);
        }
    }
    Some(generic)
}

/// UTC under its tz database names (the zones that are UTC with no country).
fn is_utc(name: &str) -> bool {
    [
        "UTC",
        "Etc/UTC",
        "Etc/UCT",
        "UCT",
        "Etc/Universal",
        "Universal",
        "Etc/Zulu",
        "Zulu",
    ]
    .iter()
    .any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether daylight time is observed at `ms` or in a period that starts or
/// ends within [`DST_CHECK_SECONDS`] of it (as icu4c's check of the
/// transitions before and after the date).
fn daylight_near(tz: &jiff::tz::TimeZone, ms: i64) -> bool {
    let Ok(at) = jiff::Timestamp::from_millisecond(ms) else {
        return true;
    };
    if tz.to_offset_info(at).dst().is_dst() {
        return true;
    }
    let near = |t: jiff::Timestamp| (t.as_second() - at.as_second()).abs() < DST_CHECK_SECONDS;
    if let Some(before) = tz.preceding(at).next() {
        let start = before.timestamp();
        if near(start) {
            // The period that ended at the transition.
            if let Ok(just_before) = start.checked_sub(jiff::SignedDuration::from_secs(1)) {
                if tz.to_offset_info(just_before).dst().is_dst() {
                    return true;
                }
            }
        }
    }
    if let Some(after) = tz.following(at).next() {
        if near(after.timestamp()) && after.dst().is_dst() {
            return true;
        }
    }
    false
}

/// The zone alone in `style`, or `None` if ICU4X cannot write it.
fn format_zone(
    prefs: DateTimeFormatterPreferences,
    style: ZoneStyle,
    zoned: &ZonedDateTime<Iso, TimeZoneInfo<AtTime>>,
) -> Option<String> {
    let mut builder = FieldSetBuilder::new();
    builder.zone_style = Some(style);
    let formatter = DateTimeFormatter::try_new(prefs, builder.build_composite().ok()?).ok()?;
    Some(writeable::Writeable::write_to_string(&formatter.format(zoned)).into_owned())
}

/// The field bag's name for a zone style (ECMA-402's six styles).
pub(super) fn bag_zone_name(style: ZoneStyle) -> TimeZoneName {
    match style {
        ZoneStyle::SpecificLong => TimeZoneName::LongSpecific,
        ZoneStyle::LocalizedOffsetShort => TimeZoneName::ShortOffset,
        ZoneStyle::LocalizedOffsetLong => TimeZoneName::LongOffset,
        ZoneStyle::GenericShort => TimeZoneName::ShortGeneric,
        ZoneStyle::GenericLong => TimeZoneName::LongGeneric,
        _ => TimeZoneName::ShortSpecific,
    }
}

/// The date, time and zone (its IANA name `iana`) of the instant `ms` in
/// `tz`, as ICU4X formats them, or why there is none.
pub(super) fn zoned_at(
    tz: &jiff::tz::TimeZone,
    iana: &str,
    ms: i64,
) -> Result<ZonedDateTime<Iso, TimeZoneInfo<AtTime>>, &'static str> {
    let Ok(at) = jiff::Timestamp::from_millisecond(ms) else {
        return Err("invalid time value");
    };
    let Ok(offset) = UtcOffset::try_from_seconds(tz.to_offset(at).seconds()) else {
        return Err("time zone offset out of range");
    };
    let local = ZonedDateTime::from_epoch_milliseconds_and_utc_offset(ms, offset);
    let zone = icu_time::zone::IanaParser::new()
        .parse(iana)
        .with_offset(Some(offset))
        .at_date_time(DateTime {
            date: local.date,
            time: local.time,
        });
    Ok(ZonedDateTime {
        date: local.date,
        time: local.time,
        zone,
    })
}
