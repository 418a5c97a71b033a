//! `Intl.Collator`'s collation types (the `collation` option and `-u-co-`):
//! which of CLDR's tailorings (`phonebk` in German, `trad` in Spanish …)
//! ICU4X's compiled collation data holds, per locale, and the list
//! `Intl.supportedValuesOf("collation")` gives.

use icu_collator::preferences::CollationType;
use icu_collator::provider::CollationTailoringV1;
use icu_locale::extensions::unicode::Value;
use icu_locale::Locale;
use icu_provider::prelude::*;

/// UTS #35's collation types a worker may ask for: ECMA-402 excludes
/// `standard` and `search` (§10.2.3).
const TYPES: &[&str] = &[
    "compat", "dict", "ducet", "emoji", "eor", "phonebk", "phonetic", "pinyin", "searchjl",
    "stroke", "trad", "unihan", "zhuyin",
];

/// ICU4X's name of collation type `co`, if it is one a worker may use.
pub(super) fn collation_type(co: &str) -> Option<CollationType> {
    if !TYPES.contains(&co) {
        return None;
    }
    CollationType::try_from(&Value::try_from_str(co).ok()?).ok()
}

/// Whether ICU4X has the tailoring `co` for `locale` (or a locale it falls
/// back to, other than the root).
pub(super) fn has_tailoring(locale: &Locale, co: &str) -> bool {
    if collation_type(co).is_none() {
        return false;
    }
    let Ok(attributes) = DataMarkerAttributes::try_from_str(co) else {
        return false;
    };
    let data_locale = DataLocale::from(locale);
    let mut metadata = DataRequestMetadata::default();
    metadata.silent = true;
    let request = DataRequest {
        id: DataIdentifierBorrowed::for_marker_attributes_and_locale(attributes, &data_locale),
        metadata,
    };
    DataProvider::<CollationTailoringV1>::load(&icu_collator::provider::Baked, request).is_ok()
}

/// The collation types some of `locales` have, sorted.
pub(super) fn supported_types(locales: &[Locale]) -> Vec<String> {
    TYPES
        .iter()
        .filter(|co| locales.iter().any(|l| has_tailoring(l, co)))
        .map(|co| co.to_string())
        .collect()
}
