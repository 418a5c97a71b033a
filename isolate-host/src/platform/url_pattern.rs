//! `URLPattern` (the WHATWG URL Pattern Standard), backed by the
//! `urlpattern` crate (Deno's implementation of the standard's parser and
//! canonicalization). As in Deno, the crate turns a pattern into one
//! ECMAScript regular expression per component, and the class
//! (`js/url_pattern.js`) matches with the engine's own `RegExp`, so a
//! match runs under the worker's CPU limit like any regular expression it
//! writes. Built on first access of the global.

use rquickjs::{Ctx, Exception, Function, Object, Value};
use urlpattern::quirks::{self, StringOrInit};
use urlpattern::UrlPatternOptions;

use super::{glue, LazyGlobal};

/// The globals this module owns.
pub const GLOBALS: &[LazyGlobal] = &[LazyGlobal {
    name: "URLPattern",
    build: |ctx| glue::built(ctx, "url_pattern", "url_pattern:classes", natives)?.get("URLPattern"),
}];

fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let native = glue::native(ctx)?;
    native.set("parse", Function::new(ctx.clone(), parse_js)?)?;
    native.set("matchInput", Function::new(ctx.clone(), match_input_js)?)?;
    Ok(native)
}

/// The components of a pattern as JSON (`quirks::UrlPattern`: each
/// component's pattern string, regular expression and group names), or a
/// one-line error.
fn parse(input: &str, base_url: Option<&str>, ignore_case: bool) -> Result<String, String> {
    let input: StringOrInit =
        serde_json::from_str(input).map_err(|e| format!("bad pattern input: {e}"))?;
    let init =
        quirks::process_construct_pattern_input(input, base_url).map_err(|e| e.to_string())?;
    let options = UrlPatternOptions {
        ignore_case,
        ..Default::default()
    };
    let pattern =
        quirks::parse_pattern::<quirks::EcmaRegexp>(init, options).map_err(|e| e.to_string())?;
    serde_json::to_string(&pattern).map_err(|e| e.to_string())
}

/// The components of a URL to match, and the inputs as given, as JSON
/// `[components, [input, baseURL]]`; `None` when the input is not a URL
/// (the pattern then matches nothing).
fn match_input(input: &str, base_url: Option<&str>) -> Result<Option<String>, String> {
    let input: StringOrInit =
        serde_json::from_str(input).map_err(|e| format!("bad match input: {e}"))?;
    let Some((input, inputs)) =
        quirks::process_match_input(input, base_url).map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let Some(components) = quirks::parse_match_input(input) else {
        return Ok(None);
    };
    serde_json::to_string(&(components, inputs))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// `parse(inputJson, baseURL, ignoreCase)`; a `TypeError` naming the cause
/// for a bad pattern, as the standard says.
fn parse_js(
    ctx: Ctx<'_>,
    input: String,
    base_url: Option<String>,
    ignore_case: bool,
) -> rquickjs::Result<String> {
    parse(&input, base_url.as_deref(), ignore_case)
        .map_err(|e| Exception::throw_type(&ctx, &format!("invalid URLPattern: {e}")))
}

/// `matchInput(inputJson, baseURL)`: JSON, or `null` for no URL.
fn match_input_js<'js>(
    ctx: Ctx<'js>,
    input: String,
    base_url: Option<String>,
) -> rquickjs::Result<Value<'js>> {
    match match_input(&input, base_url.as_deref()) {
        Ok(Some(json)) => Ok(rquickjs::String::from_str(ctx, &json)?.into_value()),
        Ok(None) => Ok(Value::new_null(ctx)),
        Err(e) => Err(Exception::throw_type(&ctx, &format!("URLPattern: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_become_ecmascript_regular_expressions() {
        let json = parse(r#""https://example.com/books/:id""#, None, false).unwrap();
        let pattern: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(pattern["pathname"]["patternString"], "/books/:id");
        assert_eq!(pattern["pathname"]["regexpString"], "^/books(?:/([^/]+?))$");
        assert_eq!(pattern["pathname"]["groupNameList"][0], "id");
        assert!(parse(r#""/relative""#, None, false)
            .unwrap_err()
            .contains("base URL"));
        assert_eq!(match_input(r#""not a url""#, None).unwrap(), None);
    }
}
