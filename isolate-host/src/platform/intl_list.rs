//! `Intl.ListFormat`'s output as ECMA-402's parts: ICU4X's list formatter
//! annotates each element and each literal it writes, and a sink keeps
//! them in order, so the JS half can put the worker's own strings back in
//! the element parts (a string with a lone surrogate reaches ICU4X as
//! U+FFFD, since the native half takes text as UTF-8).

use icu_list::ListFormatter;
use writeable::{PartsWrite, Writeable};

/// The parts written, in order: (`"element"` or `"literal"`, text).
#[derive(Default)]
struct ListSink {
    parts: Vec<(&'static str, String)>,
    /// Inside a part (text goes to the last one) or not (a literal).
    inside: bool,
}

impl std::fmt::Write for ListSink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        match self.parts.last_mut() {
            Some((_, text)) if self.inside => text.push_str(s),
            Some(("literal", text)) => text.push_str(s),
            _ => self.parts.push(("literal", s.to_string())),
        }
        Ok(())
    }
}

impl PartsWrite for ListSink {
    type SubPartsWrite = Self;
    fn with_part(
        &mut self,
        part: writeable::Part,
        mut f: impl FnMut(&mut Self) -> std::fmt::Result,
    ) -> std::fmt::Result {
        if self.inside {
            return f(self);
        }
        let kind = if part == icu_list::parts::ELEMENT {
            "element"
        } else {
            "literal"
        };
        // Two literals in a row are one part, as ECMA-402's.
        if kind == "element" || !matches!(self.parts.last(), Some(("literal", _))) {
            self.parts.push((kind, String::new()));
        }
        self.inside = true;
        let result = f(self);
        self.inside = false;
        result
    }
}

/// `items` joined by `formatter`, as parts: one `"element"` per item, in
/// the order given, and the `"literal"`s between them.
pub(super) fn format_parts(
    formatter: &ListFormatter,
    items: &[String],
) -> Vec<(&'static str, String)> {
    let mut sink = ListSink::default();
    // Writing to memory cannot fail.
    let _ = formatter.format(items.iter()).write_to_parts(&mut sink);
    sink.parts
        .retain(|(kind, text)| *kind == "element" || !text.is_empty());
    sink.parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use icu_list::options::ListFormatterOptions;

    #[test]
    fn each_item_is_an_element_part_even_empty_or_adjacent() {
        let and = ListFormatter::try_new_and(
            icu_locale::locale!("en").into(),
            ListFormatterOptions::default(),
        )
        .unwrap();
        let items = ["a".to_string(), String::new(), "c".to_string()];
        assert_eq!(
            format_parts(&and, &items),
            [
                ("element", "a".to_string()),
                ("literal", ", ".to_string()),
                ("element", String::new()),
                ("literal", ", and ".to_string()),
                ("element", "c".to_string()),
            ]
        );
    }
}
