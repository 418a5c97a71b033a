//! The JavaScript half of the platform: the sources in `platform/js/*.js`,
//! compiled to bytecode once per host process (by the host's own compiler,
//! like the engine prelude) and evaluated in a worker's context the first
//! time something there needs them.
//!
//! Each source is a module named `caplet:platform/NAME.js`; they import
//! each other by relative specifiers, and only they can: a worker's own
//! modules never resolve a `caplet:platform/` name (see
//! [`modules::PLATFORM_PREFIX`]). [`namespace`] gives a module's namespace
//! in a context, loading it there at most once; [`export`] one of its
//! exports, which is what a [`super::LazyGlobal`] implemented in JS builds.

use std::cell::OnceCell;

use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Object, Value};

use super::lazy;
use crate::error::Error;
use crate::modules::{self, Bytecode, Compiler, Kind, Source, PLATFORM_PREFIX};

/// The platform's JS modules: name (without prefix and `.js`) and source.
const SOURCES: &[(&str, &str)] = &[
    ("abort", include_str!("js/abort.js")),
    ("clone", include_str!("js/clone.js")),
    ("console", include_str!("js/console.js")),
    ("dom_exception", include_str!("js/dom_exception.js")),
    ("events", include_str!("js/events.js")),
    ("global", include_str!("js/global.js")),
    ("fetch_api", include_str!("js/fetch_api.js")),
    ("internal", include_str!("js/internal.js")),
    // Defined in Rust (`native.rs`); this text only lets the others link.
    ("native", super::native::PLACEHOLDER),
    ("performance", include_str!("js/performance.js")),
    ("streams", include_str!("js/streams.js")),
    ("url", include_str!("js/url.js")),
    ("url_pattern", include_str!("js/url_pattern.js")),
    ("encoding", include_str!("js/encoding.js")),
    ("crypto", include_str!("js/crypto.js")),
    ("compression", include_str!("js/compression.js")),
    ("intl", include_str!("js/intl.js")),
    ("buffer", include_str!("js/buffer.js")),
];

/// Where the entry of module `name` lives: a stub that imports the module
/// through the loader (so a module imported by another one and asked for
/// by [`namespace`] is the same instance) and exports its namespace.
fn entry_name(name: &str) -> String {
    format!("{PLATFORM_PREFIX}entry/{name}.js")
}

thread_local! {
    static BYTECODE: OnceCell<Bytecode> = const { OnceCell::new() };
}

/// The bytecode of every platform module (and its entry stub), compiled
/// once per thread.
pub fn bytecode() -> Result<Bytecode, Error> {
    if let Some(bytecode) = BYTECODE.with(|b| b.get().cloned()) {
        return Ok(bytecode);
    }
    let compiler = Compiler::new(64 << 20, 1 << 20)?.without_source();
    let mut sources = Vec::with_capacity(SOURCES.len() * 2);
    for (name, text) in SOURCES {
        sources.push(Source {
            name: format!("{PLATFORM_PREFIX}{name}.js"),
            kind: Kind::Js,
            text: (*text).to_string(),
        });
        sources.push(Source {
            name: entry_name(name),
            kind: Kind::Js,
            text: format!("import * as ns from \"../{name}.js\"; export default ns;"),
        });
    }
    let bytecode = compiler
        .compile(&sources)
        .map_err(|e| Error::Engine(format!("platform modules: {e}")))?;
    BYTECODE.with(|b| {
        let _ = b.set(bytecode.clone());
    });
    Ok(bytecode)
}

/// The namespace of platform module `name` in `ctx`, evaluating it there
/// on first use. Runs under the worker's limits like the worker's code.
pub fn namespace<'js>(ctx: &Ctx<'js>, name: &'static str) -> rquickjs::Result<Object<'js>> {
    if let Some(namespace) = lazy::cached_module(ctx, name) {
        return Ok(namespace);
    }
    let bytecode =
        bytecode().map_err(|e| rquickjs::Exception::throw_internal(ctx, &e.to_string()))?;
    let Some(entry) = bytecode.get(&entry_name(name)) else {
        return Err(rquickjs::Exception::throw_internal(
            ctx,
            &format!("no platform module {name:?}"),
        ));
    };
    let (module, promise) = modules::load_bytecode(ctx, entry)?.eval()?;
    match promise.state() {
        PromiseState::Resolved => {}
        PromiseState::Rejected => {
            // Reading the result of a rejected promise throws its reason.
            return Err(match promise.result::<Value>() {
                Some(Err(error)) => error,
                _ => rquickjs::Exception::throw_internal(
                    ctx,
                    &format!("platform module {name:?} failed to evaluate"),
                ),
            });
        }
        PromiseState::Pending => {
            return Err(rquickjs::Exception::throw_internal(
                ctx,
                &format!("platform module {name:?} did not finish evaluating"),
            ))
        }
    }
    let namespace: Object = module.namespace()?.get("default")?;
    lazy::cache_module(ctx, name, &namespace)?;
    Ok(namespace)
}

/// Export `export` of platform module `module` in `ctx`.
pub fn export<'js>(
    ctx: &Ctx<'js>,
    module: &'static str,
    export: &str,
) -> rquickjs::Result<Value<'js>> {
    namespace(ctx, module)?.get(export)
}
