//! TypeScript modules: a module whose name ends in `.ts` or `.mts` is turned
//! into JavaScript by type stripping (`swc_ts_fast_strip`, the library behind
//! Node.js's own type stripping) before QuickJS compiles it.
//!
//! Stripping replaces every type annotation with blanks of the same length, so
//! each line and column of the output is the same as in the TypeScript
//! source: syntax errors and stack traces point into the module as written.
//! Constructs that would need a real transform (enums, namespaces, parameter
//! properties, `import x = …`, `export =`, `<T>expr` assertions, decorators)
//! are refused with a `syntax_error` naming the construct, the module, its
//! line and column.

use std::sync::{Arc, Mutex};

use swc_common::errors::{DiagnosticBuilder, Emitter, Handler};
use swc_common::sync::Lrc;
use swc_common::{SourceMap, Span};
use swc_ts_fast_strip::{Mode, Options};

use crate::error::Error;

/// Whether a module name is TypeScript, compiled by type stripping.
pub fn is_typescript(name: &str) -> bool {
    name.ends_with(".ts") || name.ends_with(".mts")
}

/// The diagnostics the stripper reports: message and where.
type Reports = Arc<Mutex<Vec<(String, Option<Span>)>>>;

/// Collects the stripper's diagnostics instead of printing them.
struct Collect(Reports);

impl Emitter for Collect {
    fn emit(&mut self, db: &mut DiagnosticBuilder<'_>) {
        if let Ok(mut reports) = self.0.lock() {
            reports.push((db.message(), db.span.primary_span()));
        }
    }
}

/// Strips the types of the TypeScript module `name`, keeping every position.
pub fn strip(name: &str, text: &str) -> Result<String, Error> {
    let reports: Reports = Arc::default();
    let cm: Lrc<SourceMap> = Lrc::default();
    let handler = Handler::with_emitter(true, false, Box::new(Collect(reports.clone())));
    let options = Options {
        module: Some(true),
        filename: Some(name.to_string()),
        mode: Mode::StripOnly,
        ..Options::default()
    };
    let result = swc_common::GLOBALS.set(&Default::default(), || {
        swc_ts_fast_strip::operate(&cm, &handler, text.to_string(), options)
    });
    match result {
        Ok(output) => Ok(output.code),
        Err(failed) => {
            let first = reports.lock().ok().and_then(|r| r.first().cloned());
            let (message, span) = first.unwrap_or((failed.message, None));
            let location = match span {
                Some(span) => {
                    let at = cm.lookup_char_pos(span.lo);
                    format!("{name}:{}:{}", at.line, at.col.0 + 1)
                }
                None => name.to_string(),
            };
            // swc's parser, asked for no decorators (QuickJS has none), says
            // only "Expression expected" at the `@`: name the construct.
            let at_decorator = span
                .and_then(|span| text.get(span.lo.0.saturating_sub(1) as usize..))
                .is_some_and(|rest| rest.starts_with('@'));
            let message = if at_decorator {
                "decorators are not supported (they need a transform; caplet only strips types)"
                    .to_string()
            } else {
                message.trim_end_matches('.').to_string()
            };
            Err(Error::Syntax { location, message })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_become_blanks_in_place() {
        let source = "const n: number = 1;\nfunction f<T>(x: T): T { return x; }\ninterface I { a: string }\nexport type U = string | number;\nexport default f(n as number);\n";
        let out = strip("main.ts", source).unwrap();
        assert_eq!(out.len(), source.len(), "{out}");
        assert_eq!(out.lines().count(), source.lines().count());
        assert!(out.starts_with("const n         = 1;\n"), "{out}");
        assert!(
            !out.contains("interface") && !out.contains("number"),
            "{out}"
        );
        // Every line keeps its code at the same column.
        let line = |s: &str, n: usize| s.lines().nth(n).unwrap().find("f(n").unwrap_or(0);
        assert_eq!(line(&out, 4), line(source, 4));
    }

    #[test]
    fn constructs_that_need_a_transform_are_named_with_their_place() {
        for (source, construct, at) in [
            ("let a = 1;\nenum Color { Red }\n", "enum", "m.ts:2:1"),
            (
                "\n\nnamespace N { export const x = 1; }\n",
                "namespace",
                "m.ts:3:1",
            ),
            (
                "class P {\n  constructor(private x: number) {}\n}\n",
                "parameter property",
                "m.ts:2:23",
            ),
            ("import fs = require('fs');\n", "import equals", "m.ts:1:1"),
            ("let y = <any>1;\n", "angle-bracket", "m.ts:1:9"),
            (
                "const f = (c: unknown) => c;\n@f\nclass A {}\n",
                "decorators",
                "m.ts:2:1",
            ),
            ("class A {\n  @f m() {}\n}\n", "decorators", "m.ts:2:3"),
        ] {
            match strip("m.ts", source) {
                Err(Error::Syntax { location, message }) => {
                    assert!(message.contains(construct), "{message}");
                    assert_eq!(location, at, "{message}");
                }
                other => panic!("{source:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_errors_point_into_the_typescript_source() {
        match strip("lib/u.mts", "const a: number = 1;\nlet b: = 2;\n") {
            Err(Error::Syntax { location, .. }) => {
                assert!(location.starts_with("lib/u.mts:2:"), "{location}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names() {
        assert!(is_typescript("agent.ts") && is_typescript("lib/a.mts"));
        assert!(!is_typescript("a.js") && !is_typescript("types.d.tsx") && !is_typescript("ts"));
    }
}
