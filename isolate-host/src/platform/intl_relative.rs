//! `Intl.RelativeTimeFormat.prototype.formatToParts` (ECMA-402 §17.5.4,
//! PartitionRelativeTimePattern): ICU4X's relative time text cut into the
//! number's own parts (integer, group, decimal, fraction, as ICU4X's
//! `DecimalFormatter` annotates them inside the pattern) and literal text
//! around them. A `numeric: "auto"` phrase ("yesterday") has no number and
//! is one literal part. The parts are cut from the very text `format()`
//! returns, so joined they are always equal to it.

use icu_experimental::relativetime::FormattedRelativeTime;

use super::intl_parts::{number_part, push_str, PartsSink, Run};

/// The parts of `formatted`: the number's parts by their ECMA-402 type,
/// everything else literal (the JS half adds `unit` to the non-literal ones).
pub(super) fn parts(formatted: &FormattedRelativeTime<'_>) -> Vec<Run> {
    PartsSink::of(formatted).runs(number_part).into_iter().fold(
        Vec::new(),
        |mut out, (name, text)| {
            push_str(&mut out, name.unwrap_or("literal"), &text);
            out
        },
    )
}
