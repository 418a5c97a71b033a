//! `URL` and `URLSearchParams` (WHATWG URL), backed by the `url` crate,
//! which implements the WHATWG parser and its setters (`url::quirks`). The
//! classes themselves are JS (`js/url.js`) over four native functions; both
//! globals are built on first access and share one build.

use rquickjs::{Array, Ctx, Exception, Function, Object, Value};
use url::{form_urlencoded, quirks, Url};

use super::{glue, LazyGlobal};

/// The globals this module owns.
pub const GLOBALS: &[LazyGlobal] = &[
    LazyGlobal {
        name: "URL",
        build: build_url,
    },
    LazyGlobal {
        name: "URLSearchParams",
        build: build_search_params,
    },
];

fn build_url<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    classes(ctx)?.get("URL")
}

fn build_search_params<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    classes(ctx)?.get("URLSearchParams")
}

/// Both classes, from one build per context: a URL's `searchParams` is an
/// instance of the global `URLSearchParams`.
fn classes<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    glue::built(ctx, "url", "url:classes", natives)
}

fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let native = glue::native(ctx)?;
    native.set("parse", Function::new(ctx.clone(), parse)?)?;
    native.set("set", Function::new(ctx.clone(), set)?)?;
    native.set("parseQuery", Function::new(ctx.clone(), parse_query)?)?;
    native.set(
        "serializeQuery",
        Function::new(ctx.clone(), serialize_query)?,
    )?;
    Ok(native)
}

/// A URL's components in the order the glue reads them.
fn components<'js>(ctx: &Ctx<'js>, url: &Url) -> rquickjs::Result<Array<'js>> {
    let parts = [
        quirks::href(url).to_string(),
        quirks::origin(url),
        quirks::protocol(url).to_string(),
        quirks::username(url).to_string(),
        quirks::password(url).to_string(),
        quirks::host(url).to_string(),
        quirks::hostname(url).to_string(),
        quirks::port(url).to_string(),
        quirks::pathname(url).to_string(),
        quirks::search(url).to_string(),
        quirks::hash(url).to_string(),
    ];
    let array = Array::new(ctx.clone())?;
    for (i, part) in parts.into_iter().enumerate() {
        array.set(i, part)?;
    }
    Ok(array)
}

/// `parse(input, base)`: the components of `input` resolved against `base`,
/// or `null` when either fails to parse.
fn parse<'js>(
    ctx: Ctx<'js>,
    input: String,
    base: rquickjs::function::Opt<String>,
) -> rquickjs::Result<Value<'js>> {
    let parsed = match base.0 {
        Some(base) => Url::parse(&base).and_then(|base| base.join(&input)),
        None => Url::parse(&input),
    };
    match parsed {
        Ok(url) => Ok(components(&ctx, &url)?.into_value()),
        Err(_) => Ok(Value::new_null(ctx)),
    }
}

/// `set(href, field, value)`: the components after setting one of them as
/// the URL setters do; `null` when `href` itself is refused.
fn set<'js>(
    ctx: Ctx<'js>,
    href: String,
    field: String,
    value: String,
) -> rquickjs::Result<Value<'js>> {
    let Ok(mut url) = Url::parse(&href) else {
        return Ok(Value::new_null(ctx));
    };
    // The setters ignore values they refuse, as the standard says.
    match field.as_str() {
        "href" => {
            if quirks::set_href(&mut url, &value).is_err() {
                return Ok(Value::new_null(ctx));
            }
        }
        "protocol" => drop(quirks::set_protocol(&mut url, &value)),
        "username" => drop(quirks::set_username(&mut url, &value)),
        "password" => drop(quirks::set_password(&mut url, &value)),
        "host" => drop(quirks::set_host(&mut url, &value)),
        "hostname" => drop(quirks::set_hostname(&mut url, &value)),
        "port" => drop(quirks::set_port(&mut url, &value)),
        "pathname" => quirks::set_pathname(&mut url, &value),
        "search" => quirks::set_search(&mut url, &value),
        "hash" => quirks::set_hash(&mut url, &value),
        other => {
            return Err(Exception::throw_type(
                &ctx,
                &format!("unknown url field {other}"),
            ));
        }
    }
    Ok(components(&ctx, &url)?.into_value())
}

/// `parseQuery(query)`: the name/value pairs of an
/// `application/x-www-form-urlencoded` string, flattened.
fn parse_query<'js>(ctx: Ctx<'js>, query: String) -> rquickjs::Result<Array<'js>> {
    let array = Array::new(ctx)?;
    let mut i = 0;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        array.set(i, name.as_ref())?;
        array.set(i + 1, value.as_ref())?;
        i += 2;
    }
    Ok(array)
}

/// `serializeQuery(pairs)`: the `application/x-www-form-urlencoded`
/// serialization of flattened name/value pairs.
fn serialize_query(pairs: Array<'_>) -> rquickjs::Result<String> {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    let mut i = 0;
    while i + 1 < pairs.len() {
        let name: String = pairs.get(i)?;
        let value: String = pairs.get(i + 1)?;
        serializer.append_pair(&name, &value);
        i += 2;
    }
    Ok(serializer.finish())
}

#[cfg(test)]
mod tests {
    use super::super::glue::run_fresh as js;

    #[test]
    fn parses_and_exposes_components() {
        let out = js(
            "const u = new URL('https://user:pa@EXAMPLE.com:8080/a/../b?x=1#frag');\
             [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname,\
              u.port, u.pathname, u.search, u.hash].join('|')",
        );
        assert_eq!(
            out,
            "https://user:pa@example.com:8080/b?x=1#frag|https://example.com:8080|https:|user|pa|example.com:8080|example.com|8080|/b|?x=1|#frag"
        );
        assert_eq!(js("new URL('../c?y', 'http://h/a/b').href"), "http://h/c?y");
        assert_eq!(
            js("new URL('http://münchen.de/').host"),
            "xn--mnchen-3ya.de"
        );
        assert_eq!(js("new URL('https://h:443/').port"), "");
        assert_eq!(js("JSON.stringify({u: new URL('a:b')})"), "{\"u\":\"a:b\"}");
    }

    #[test]
    fn invalid_urls_throw_type_errors() {
        assert_eq!(
            js("try { new URL('nope') } catch (e) { e.name + ': ' + e.message }"),
            "TypeError: invalid url: \"nope\""
        );
        assert_eq!(
            js("URL.canParse('nope') + ' ' + URL.canParse('b', 'http://a/')"),
            "false true"
        );
        assert_eq!(js("URL.parse('nope') === null"), "true");
        assert_eq!(
            js("try { new URL('http://[::1') } catch (e) { e.name }"),
            "TypeError"
        );
    }

    #[test]
    fn setters_follow_the_standard() {
        let out = js("const u = new URL('http://a.com/p');\
             u.pathname = 'x y'; u.hash = 'h'; u.port = '99'; u.protocol = 'https';\
             u.search = '?q=1'; u.hostname = 'b.org'; u.port = 'bad'; u.href");
        assert_eq!(out, "https://b.org:99/x%20y?q=1#h");
        assert_eq!(
            js("const u = new URL('http://a/'); u.protocol = 'mailto'; u.protocol"),
            "http:"
        );
        assert_eq!(
            js("try { new URL('http://a/').href = 'nope' } catch (e) { e.name }"),
            "TypeError"
        );
    }

    #[test]
    fn search_params_parse_update_and_serialize() {
        assert_eq!(
            js("const p = new URLSearchParams('?a=1&b=2&a=3&c=%20+x');\
                [p.get('a'), p.getAll('a').join(), p.get('c'), p.has('b'), String(p.get('z')), p.size].join('|')"),
            "1|1,3|  x|true|null|4"
        );
        assert_eq!(
            js("const p = new URLSearchParams({b: '2', a: '1 & 2'}); p.append('c', 'é'); p.sort(); p.toString()"),
            "a=1+%26+2&b=2&c=%C3%A9"
        );
        assert_eq!(
            js("const p = new URLSearchParams([['a','1'],['b','2'],['a','3']]); p.set('a', 'x'); p.delete('b'); [...p].join(';')"),
            "a,x"
        );
        assert_eq!(
            js("try { new URLSearchParams([['a']]) } catch (e) { e.name }"),
            "TypeError"
        );
    }

    #[test]
    fn search_params_stay_linked_to_their_url() {
        assert_eq!(
            js("const u = new URL('http://h/?a=1'); const p = u.searchParams; p.append('b', 'x y');\
                const first = u.href; u.search = '?c=3'; [first, p.get('c'), u.searchParams === p, String(p.get('a'))].join('|')"),
            "http://h/?a=1&b=x+y|3|true|null"
        );
        assert_eq!(
            js("const u = new URL('http://h/?a=1'); u.searchParams.delete('a'); u.href"),
            "http://h/"
        );
        assert_eq!(
            js("const u = new URL('http://h/'); String(u.searchParams instanceof URLSearchParams)"),
            "true"
        );
    }
}
