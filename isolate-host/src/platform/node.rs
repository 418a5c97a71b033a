//! The `node:` modules a worker may import (under `node:NAME` and the bare
//! name, unless the worker has a module of that name), and the ones it may
//! not: a module that would grant authority (files, sockets, processes, the
//! host) fails to import with `module_not_found` saying what to grant
//! instead.
//!
//! The modules are JavaScript (`js/node/*.js`), compiled once per host and
//! shared by every worker that imports them; a worker that imports none
//! pays nothing. `node:crypto` also imports the native module
//! `caplet:crypto-native` (see `node_crypto.rs`) and `node:util`
//! `caplet:util-native` (`node_util.rs`), which only `node:` modules can.

/// The modules a worker can import: canonical name and source.
pub const MODULES: &[(&str, &str)] = &[
    ("node:assert", include_str!("js/node/assert.js")),
    (
        "node:assert/strict",
        "export * from \"node:assert\";\nexport { default } from \"node:assert\";\n",
    ),
    ("node:buffer", include_str!("js/node/buffer.js")),
    ("node:crypto", include_str!("js/node/crypto.js")),
    ("node:events", include_str!("js/node/events.js")),
    ("node:path", include_str!("js/node/path.js")),
    (
        "node:path/posix",
        "export * from \"node:path\";\nexport { default } from \"node:path\";\n",
    ),
    ("node:querystring", include_str!("js/node/querystring.js")),
    ("node:stream/web", include_str!("js/node/stream_web.js")),
    (
        "node:string_decoder",
        include_str!("js/node/string_decoder.js"),
    ),
    ("node:timers", include_str!("js/node/timers.js")),
    (
        "node:timers/promises",
        include_str!("js/node/timers_promises.js"),
    ),
    ("node:url", include_str!("js/node/url.js")),
    ("node:util", include_str!("js/node/util.js")),
    ("node:util/types", include_str!("js/node/util_types.js")),
];

/// Modules that would grant authority, and what a worker is granted instead.
const REFUSED: &[(&str, &str)] = &[
    ("fs", "grant an fs volume as env.fs"),
    ("fs/promises", "grant an fs volume as env.fs"),
    ("http", "grant an http gateway as env.fetch and use fetch()"),
    (
        "https",
        "grant an http gateway as env.fetch and use fetch()",
    ),
    (
        "http2",
        "grant an http gateway as env.fetch and use fetch()",
    ),
    (
        "net",
        "grant an http gateway as env.fetch, or a capability that speaks for the service",
    ),
    (
        "tls",
        "grant an http gateway as env.fetch, or a capability that speaks for the service",
    ),
    ("dgram", "grant a capability that speaks for the service"),
    (
        "dns",
        "an http gateway resolves names itself; grant one as env.fetch",
    ),
    (
        "child_process",
        "workers cannot start processes; grant a capability that does the work",
    ),
    (
        "cluster",
        "workers cannot start processes; load more workers instead",
    ),
    (
        "worker_threads",
        "load more workers and grant them to each other instead",
    ),
    (
        "os",
        "a worker does not see its host; pass what it needs in its input",
    ),
    (
        "process",
        "a worker does not see its host; pass what it needs in its input or env",
    ),
    ("v8", "a worker does not see its engine"),
    ("vm", "workers do not compile code at run time"),
    ("inspector", "a worker does not see its engine"),
    (
        "module",
        "a worker's modules are the ones its code was loaded with",
    ),
    (
        "readline",
        "a worker has no terminal; it reads its input and env",
    ),
    ("repl", "a worker has no terminal"),
    ("tty", "a worker has no terminal"),
    ("perf_hooks", "use the global performance"),
    ("async_hooks", "pass context along explicitly"),
    ("diagnostics_channel", "log with console instead"),
    ("zlib", "use CompressionStream and DecompressionStream"),
    (
        "stream",
        "use the WHATWG streams (ReadableStream, WritableStream, TransformStream)",
    ),
    ("sqlite", "grant a kv store as env.kv"),
];

/// Whether module `base` may import `specifier`, a host-only native module
/// (only the `node:` modules may).
pub fn native_import(base: &str, specifier: &str) -> Option<&'static str> {
    if !base.starts_with("node:") {
        return None;
    }
    [
        crate::platform::node_crypto::MODULE,
        crate::platform::node_util::MODULE,
    ]
    .into_iter()
    .find(|native| *native == specifier)
}

/// Declares host-only native module `name` in `ctx`, if it is one.
pub fn declare_native<'js>(
    ctx: &rquickjs::Ctx<'js>,
    name: &str,
) -> Option<rquickjs::Result<rquickjs::Module<'js, rquickjs::module::Declared>>> {
    if name == crate::platform::node_crypto::MODULE {
        return Some(rquickjs::Module::declare_def::<
            crate::platform::node_crypto::CryptoNative,
            _,
        >(ctx.clone(), name));
    }
    (name == crate::platform::node_util::MODULE).then(|| {
        rquickjs::Module::declare_def::<crate::platform::node_util::UtilNative, _>(
            ctx.clone(),
            name,
        )
    })
}

/// Strips `node:` from a specifier.
fn bare(specifier: &str) -> &str {
    specifier.strip_prefix("node:").unwrap_or(specifier)
}

/// The canonical name (`node:NAME`) of a built-in module `specifier` names.
pub fn builtin(specifier: &str) -> Option<&'static str> {
    let name = bare(specifier);
    MODULES.iter().map(|(n, _)| *n).find(|n| bare(n) == name)
}

/// Why `specifier` cannot be imported, when it names a Node.js module a
/// worker may not have.
pub fn refusal(specifier: &str) -> Option<String> {
    let name = bare(specifier);
    if let Some((_, instead)) = REFUSED.iter().find(|(n, _)| *n == name) {
        return Some(format!(
            "node:{name} is not available in a worker; {instead}"
        ));
    }
    specifier
        .starts_with("node:")
        .then(|| format!("{specifier} is not a module caplet provides"))
}

/// The source of built-in module `name` (canonical).
pub fn source(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_with_and_without_the_prefix() {
        assert_eq!(builtin("node:path"), Some("node:path"));
        assert_eq!(builtin("path"), Some("node:path"));
        assert_eq!(builtin("assert/strict"), Some("node:assert/strict"));
        assert_eq!(builtin("node:fs"), None);
        assert_eq!(builtin("lodash"), None);
    }

    #[test]
    fn authority_modules_say_what_to_grant() {
        assert_eq!(
            refusal("node:fs").unwrap(),
            "node:fs is not available in a worker; grant an fs volume as env.fs"
        );
        assert!(refusal("child_process")
            .unwrap()
            .starts_with("node:child_process is not available"));
        assert!(refusal("node:nonesuch")
            .unwrap()
            .contains("not a module caplet provides"));
        assert_eq!(refusal("lodash"), None);
    }
}
