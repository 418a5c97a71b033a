//! What `execute` runs and returns: the three forms its `code` may take,
//! turned into one worker module, and the cut of results and logs too
//! large for a model's context.

/// The worker module for `code`, which is one of:
/// - a module with a default export (run as it is);
/// - a function expression such as `async (env) => { … }` (called with
///   `env` and `ctx`);
/// - statements that may `await` and `return` (the body of such a
///   function, with `env` and `ctx` in scope).
///
/// The wrapper is put on the code's own first line, so line numbers in
/// errors are the code's.
pub fn module_source(code: &str) -> String {
    if has_default_export(code) {
        return code.to_string();
    }
    const HEAD: &str = "export default { async run(input, env, ctx) { ";
    if is_function_expression(code) {
        let expression = code.trim_end().trim_end_matches(';');
        format!("{HEAD}return await ({expression}\n)(env, ctx); }} }};\n")
    } else {
        format!("{HEAD}{code}\n}} }};\n")
    }
}

/// Whether `code` has `export default` outside comments and strings, as a
/// statement start (a cheap scan: enough to tell the three forms apart).
fn has_default_export(code: &str) -> bool {
    code.lines().any(|line| {
        let line = line.trim_start();
        line.strip_prefix("export")
            .is_some_and(|rest| rest.trim_start().starts_with("default"))
    })
}

/// Whether `code` (trimmed, without enclosing parentheses) starts as an
/// arrow function or a function expression: `async (env) =>`, `env =>`,
/// `(env: Env) =>`, `async function (env)`.
fn is_function_expression(code: &str) -> bool {
    let mut t = code.trim_start();
    while let Some(rest) = t.strip_prefix('(') {
        // `(async (env) => …)`: an expression in parentheses, but not an
        // arrow's own parameter list.
        if looks_like_arrow(t) {
            return true;
        }
        t = rest.trim_start();
    }
    looks_like_arrow(t)
}

fn looks_like_arrow(t: &str) -> bool {
    let t = match t.strip_prefix("async") {
        Some(rest) if rest.starts_with(|c: char| c.is_whitespace() || c == '(') => {
            rest.trim_start()
        }
        _ => t,
    };
    if t.starts_with("function")
        && t["function".len()..].starts_with(|c: char| c.is_whitespace() || c == '(' || c == '*')
    {
        return true;
    }
    let rest = if let Some(inner) = t.strip_prefix('(') {
        // A parameter list: up to its closing parenthesis.
        let mut depth = 1usize;
        let mut end = None;
        for (i, c) in inner.char_indices() {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        match end {
            Some(i) => &inner[i + 1..],
            None => return false,
        }
    } else {
        let ident_len = t
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
            .map_or(t.len(), |(i, _)| i);
        if ident_len == 0 {
            return false;
        }
        &t[ident_len..]
    };
    let rest = rest.trim_start();
    // A TypeScript return type annotation may come before the arrow.
    let rest = match rest.strip_prefix(':') {
        Some(annotated) => match annotated.find("=>") {
            Some(i) => &annotated[i..],
            None => return false,
        },
        None => rest,
    };
    rest.starts_with("=>")
}

/// `text` cut to at most `max` characters; `None` when it fits.
pub fn cut(text: &str, max: usize) -> Option<String> {
    text.char_indices()
        .nth(max)
        .map(|(at, _)| text[..at].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_with_a_default_export_runs_as_it_is() {
        let code = "export default { async run(input, env) { return 1 } }";
        assert_eq!(module_source(code), code);
        let code = "const x = 1;\nexport  default async (input) => x;";
        assert_eq!(module_source(code), code);
    }

    #[test]
    fn a_function_expression_is_called_with_env() {
        for code in [
            "async (env) => { return 1 }",
            "async env => 1",
            "  (async (env) => { return 1 });  ",
            "async (env: Env): Promise<number> => 1",
            "(env) => env.kv",
            "async function (env) { return 1 }",
            "async ({ fs, kv }) => 2",
        ] {
            let module = module_source(code);
            assert!(
                module.contains("return await (") && module.ends_with(")(env, ctx); } };\n"),
                "{code:?} → {module}"
            );
        }
    }

    #[test]
    fn statements_become_the_body_of_run_on_the_same_line() {
        for code in [
            "const r = await env.kv.get({ key: 'a' });\nreturn r.found;",
            "return (1 + 2)",
            "(await env.fs.list({ path: '/' })).entries.length",
        ] {
            let module = module_source(code);
            assert!(
                module.starts_with("export default { async run(input, env, ctx) { ")
                    && module.contains(code)
                    && !module.contains("return await ("),
                "{code:?} → {module}"
            );
        }
    }

    #[test]
    fn cutting_counts_characters() {
        assert_eq!(cut("héllo", 10), None);
        assert_eq!(cut("héllo", 5), None);
        assert_eq!(cut("héllo", 2).as_deref(), Some("hé"));
    }
}
