//! The literal dynamic imports of a worker's module (`import("./x.js")`),
//! found with swc's parser, so that `caplet run` can send the files they
//! name along with the worker before it runs: a worker never reads the
//! disk itself, and a dynamic import is only tried when the code runs.

use swc_common::sync::Lrc;
use swc_common::{FileName, SourceMap};
use swc_ecma_ast::{CallExpr, Callee, Expr, Lit};
use swc_ecma_parser::{EsSyntax, Parser, StringInput, Syntax, TsSyntax};
use swc_ecma_visit::{Visit, VisitWith};

/// The specifiers of `import(…)` calls in the module `name` whose argument
/// is a string literal (or a template literal without substitutions), in
/// source order. A module that does not parse has none: loading it reports
/// the syntax error.
///
/// The parser and the visitor recurse once per level of nesting, so they
/// run on a thread of their own with a [`SCAN_STACK`] stack (reserved, not
/// used up front): the caller scans only source the engine compiled, whose
/// nesting its 1 MiB compiler stack bounds.
pub fn dynamic_imports(name: &str, text: &str) -> Vec<String> {
    let (name, text) = (name.to_string(), text.to_string());
    std::thread::Builder::new()
        .name("caplet-imports".into())
        .stack_size(SCAN_STACK)
        .spawn(move || scan(&name, &text))
        .ok()
        .and_then(|scan| scan.join().ok())
        .unwrap_or_default()
}

/// The stack of the scanning thread.
const SCAN_STACK: usize = 256 << 20;

fn scan(name: &str, text: &str) -> Vec<String> {
    let syntax = if name.ends_with(".ts") || name.ends_with(".mts") {
        Syntax::Typescript(TsSyntax::default())
    } else {
        Syntax::Es(EsSyntax::default())
    };
    let cm: Lrc<SourceMap> = Lrc::default();
    let file = cm.new_source_file(
        Lrc::new(FileName::Custom(name.to_string())),
        text.to_string(),
    );
    swc_common::GLOBALS.set(&Default::default(), || {
        let mut parser = Parser::new(syntax, StringInput::from(&*file), None);
        let Ok(module) = parser.parse_module() else {
            return Vec::new();
        };
        let mut found = Found(Vec::new());
        module.visit_with(&mut found);
        found.0
    })
}

struct Found(Vec<String>);

impl Visit for Found {
    fn visit_call_expr(&mut self, call: &CallExpr) {
        if let (Callee::Import(_), Some(first)) = (&call.callee, call.args.first()) {
            let literal = match &*first.expr {
                Expr::Lit(Lit::Str(s)) => s.value.as_str().map(str::to_string),
                Expr::Tpl(tpl) if tpl.exprs.is_empty() => tpl
                    .quasis
                    .first()
                    .and_then(|q| q.cooked.as_ref())
                    .and_then(|c| c.as_str())
                    .map(str::to_string),
                _ => None,
            };
            self.0.extend(literal);
        }
        call.visit_children_with(self);
    }
}

#[cfg(test)]
mod tests {
    use super::dynamic_imports;

    #[test]
    fn finds_literal_dynamic_imports_only() {
        let text = "import { a } from './static.js';\n\
                    // import('./in-a-comment.js')\n\
                    const s = \"import('./in-a-string.js')\";\n\
                    export default async (n) => {\n\
                      const x = await import('./x.js');\n\
                      const y = await import(`./lib/y.js`);\n\
                      const z = await import(`./${n}.js`);\n\
                      return (await import(\"../up.js\", { with: {} })).default;\n\
                    };\n";
        assert_eq!(
            dynamic_imports("main.js", text),
            ["./x.js", "./lib/y.js", "../up.js"]
        );
        assert_eq!(
            dynamic_imports(
                "main.ts",
                "const f = async (): Promise<number> => (await import('./u.ts')).n;"
            ),
            ["./u.ts"]
        );
        assert!(dynamic_imports("bad.js", "import(").is_empty());
    }
}
