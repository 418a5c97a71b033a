//! ECMA-402's `formatToParts`: cutting ICU4X's output into typed parts.
//!
//! ICU4X annotates what it writes (`writeable` parts: integer, group,
//! decimal, fraction, signs, date fields); [`PartsSink`] keeps those spans.
//! What ICU4X leaves unannotated around a number (a currency symbol, a
//! percent sign, a unit, a compact suffix, spaces, accounting parentheses)
//! is typed by [`affix_runs`]. The parts are cut from the very text
//! `format()` returns, so joined they are always equal to it.

use fixed_decimal::{Decimal, SignDisplay};
use rquickjs::{Ctx, Exception, Result};
use writeable::Writeable;

/// One part of a formatted number or date: its ECMA-402 type and text.
pub(super) type Run = (&'static str, String);

/// A `writeable` sink keeping the text and where each annotated part lies
/// (ICU4X marks integer, group, decimal, fraction, signs, date fields).
#[derive(Default)]
pub(super) struct PartsSink {
    text: String,
    depth: usize,
    /// (start, end, nesting depth, part value).
    spans: Vec<(usize, usize, usize, &'static str)>,
}

impl std::fmt::Write for PartsSink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

impl writeable::PartsWrite for PartsSink {
    type SubPartsWrite = Self;
    fn with_part(
        &mut self,
        part: writeable::Part,
        mut f: impl FnMut(&mut Self) -> std::fmt::Result,
    ) -> std::fmt::Result {
        let start = self.text.len();
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        self.spans
            .push((start, self.text.len(), self.depth, part.value));
        result
    }
}

impl PartsSink {
    pub(super) fn of(w: &impl Writeable) -> Self {
        let mut sink = Self::default();
        // Writing to a String cannot fail.
        let _ = w.write_to_parts(&mut sink);
        sink
    }

    /// `w` written, or `None` where ICU4X could not write one of its fields
    /// (a name its pattern needs that it did not load): ICU4X writes the
    /// field as `{M}` in an `error` part, after a `debug_assert!` that a
    /// debug build panics on, caught here.
    pub(super) fn checked(w: &impl Writeable) -> Option<Self> {
        let sink = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::of(w))).ok()?;
        (!sink.spans.iter().any(|span| span.3 == "error")).then_some(sink)
    }

    /// The text written.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The text cut into runs, each labelled with the innermost part over
    /// it that `accept` names (`None`: text no part covers): ICU4X nests a
    /// group inside its integer, a date field's digits inside the field.
    pub(super) fn runs(
        &self,
        accept: impl Fn(&str) -> Option<&'static str>,
    ) -> Vec<(Option<&'static str>, String)> {
        let mut label: Vec<Option<(usize, &'static str)>> = vec![None; self.text.len()];
        for &(start, end, depth, value) in &self.spans {
            let Some(name) = accept(value) else { continue };
            for slot in &mut label[start..end] {
                if slot.is_none_or(|(d, _)| depth > d) {
                    *slot = Some((depth, name));
                }
            }
        }
        let mut out: Vec<(Option<&'static str>, String)> = Vec::new();
        for (i, c) in self.text.char_indices() {
            let name = label[i].map(|(_, n)| n);
            match out.last_mut() {
                Some((last, text)) if *last == name => text.push(c),
                _ => out.push((name, c.to_string())),
            }
        }
        out
    }
}

/// The ECMA-402 type of ICU4X's number part named `v` (a `runs` filter):
/// the same names, for the parts of a formatted number.
pub(super) fn number_part(v: &str) -> Option<&'static str> {
    match v {
        "integer" => Some("integer"),
        "group" => Some("group"),
        "decimal" => Some("decimal"),
        "fraction" => Some("fraction"),
        "minusSign" => Some("minusSign"),
        "plusSign" => Some("plusSign"),
        _ => None,
    }
}

/// The parts of a number's digits as ICU4X's `DecimalFormatter` writes them.
pub(super) fn decimal_runs(formatter: &icu_decimal::DecimalFormatter, d: &Decimal) -> Vec<Run> {
    PartsSink::of(&formatter.format(d))
        .runs(number_part)
        .into_iter()
        .fold(Vec::new(), |mut out: Vec<Run>, (name, text)| {
            // ICU4X's sign includes the bidi mark before it; ECMA-402 (as
            // ICU) makes the mark a literal.
            let kind = name.unwrap_or("literal");
            let sign = text.trim_start_matches(is_bidi_mark);
            if kind != "literal" && sign.len() < text.len() {
                push_str(&mut out, "literal", &text[..text.len() - sign.len()]);
                out.push((kind, sign.to_string()));
            } else {
                push_str(&mut out, kind, &text);
            }
            out
        })
}

fn is_bidi_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// Cuts the text around a number (a currency symbol, a percent sign, a unit,
/// a compact suffix, spaces, signs, accounting parentheses) into parts:
/// the locale's signs; spaces, bidi marks and parentheses are literal; the
/// rest is of type `kind`, spaces inside it included ("US dollars").
pub(super) fn affix_runs(text: &str, kind: &'static str, signs: &Signs, out: &mut Vec<Run>) {
    let literal = |c: char| c.is_whitespace() || is_bidi_mark(c) || matches!(c, '(' | ')');
    // Tokens: a sign, a literal character, or a character of `kind`.
    let mut tokens: Vec<Run> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        // A sign stands at either end of the affix, next to the number or
        // past only spaces and marks (not the hyphen of "anglo-saxonnes").
        let at_edge = |after: &str| {
            text[..text.len() - rest.len()].chars().all(literal) || after.chars().all(literal)
        };
        let sign = [(&signs.minus, "minusSign"), (&signs.plus, "plusSign")]
            .into_iter()
            .find(|(s, _)| {
                !s.is_empty() && rest.starts_with(s.as_str()) && at_edge(&rest[s.len()..])
            });
        if let Some((s, name)) = sign {
            tokens.push((name, s.clone()));
            rest = &rest[s.len()..];
            continue;
        }
        let name = if literal(c) { "literal" } else { kind };
        match tokens.last_mut() {
            Some((last, t)) if *last == name && name != "minusSign" && name != "plusSign" => {
                t.push(c)
            }
            _ => tokens.push((name, c.to_string())),
        }
        rest = &rest[c.len_utf8()..];
    }
    // Spaces between two runs of `kind` are part of it.
    let mut i = 0;
    while i + 2 < tokens.len() {
        if tokens[i].0 == kind
            && tokens[i + 1].0 == "literal"
            && tokens[i + 1].1.chars().all(char::is_whitespace)
            && tokens[i + 2].0 == kind
        {
            let (_, space) = tokens.remove(i + 1);
            let (_, next) = tokens.remove(i + 1);
            tokens[i].1.push_str(&space);
            tokens[i].1.push_str(&next);
        } else {
            i += 1;
        }
    }
    for (k, t) in tokens {
        push_str(out, k, &t);
    }
}

/// Appends text to the last run when it is a literal too, else a new run.
pub(super) fn push_str(out: &mut Vec<Run>, kind: &'static str, text: &str) {
    match out.last_mut() {
        Some((last, t)) if *last == kind && kind == "literal" => t.push_str(text),
        _ => out.push((kind, text.to_string())),
    }
}

/// The locale's minus and plus signs as its `DecimalFormatter` writes them.
pub(super) struct Signs {
    pub(super) minus: String,
    pub(super) plus: String,
}

pub(super) fn signs(formatter: &icu_decimal::DecimalFormatter) -> Signs {
    let sign_of = |sd: SignDisplay, v: i64| {
        let mut d = Decimal::from(v);
        d.apply_sign_display(sd);
        decimal_runs(formatter, &d)
            .into_iter()
            .filter(|(k, _)| *k == "minusSign" || *k == "plusSign")
            .map(|(_, t)| t)
            .collect::<String>()
    };
    Signs {
        minus: sign_of(SignDisplay::Auto, -1),
        plus: sign_of(SignDisplay::Always, 1),
    }
}

/// The parts of `text`, which shows the digits `number` (formatted alone,
/// without a sign) once, with `kind` the type of what surrounds them.
pub(super) fn around_number(
    ctx: &Ctx<'_>,
    text: &str,
    number: Vec<Run>,
    kind: &'static str,
    signs: &Signs,
) -> Result<Vec<Run>> {
    let digits: String = number.iter().map(|(_, t)| t.as_str()).collect();
    let Some(at) = text.find(&digits) else {
        return Err(Exception::throw_internal(
            ctx,
            &format!("Intl.NumberFormat: {digits:?} not found in {text:?}"),
        ));
    };
    let mut out = Vec::new();
    affix_runs(&text[..at], kind, signs, &mut out);
    for (k, t) in number {
        push_str(&mut out, k, &t);
    }
    affix_runs(&text[at + digits.len()..], kind, signs, &mut out);
    Ok(out)
}

/// Parts as the JS half takes them: type, text, type, text, …
pub(super) fn flatten(runs: Vec<Run>) -> Vec<String> {
    runs.into_iter()
        .flat_map(|(k, t)| [k.to_string(), t])
        .collect()
}
