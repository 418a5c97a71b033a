//! The Web platform layer of a worker: APIs built on first use, from Rust
//! and from JavaScript compiled once per host.
//!
//! `intl` is `Intl` and the locale methods of the built-ins; `node` the
//! `node:` modules a worker may import (and those it may not). The engine's
//! prelude installs only a lazy `Intl` accessor and the locale methods (a few
//! function objects per context); the first touch calls [`build`], which
//! evaluates the JS half (`js/intl.js`, bytecode shared by every worker of
//! the host) with the native half.

pub mod crypto;
pub mod intl;
pub mod node;

use rquickjs::{Ctx, Exception, Function, Object, Result, Value};

use crate::modules;

/// A global created on first access (the contract shared by the platform
/// modules): `build` makes its value in the worker's context.
#[derive(Debug)]
pub struct LazyGlobal {
    pub name: &'static str,
    pub build: for<'js> fn(&Ctx<'js>) -> Result<Value<'js>>,
}

/// Evaluates the JS half `name` in `ctx` and returns its default export.
fn js_half<'js, T: rquickjs::FromJs<'js>>(ctx: &Ctx<'js>, name: &'static str) -> Result<T> {
    let source = match name {
        "caplet:intl" => include_str!("js/intl.js"),
        "caplet:buffer" => include_str!("js/buffer.js"),
        other => {
            return Err(Exception::throw_internal(
                ctx,
                &format!("no platform module {other}"),
            ))
        }
    };
    let bytes = modules::host_module(name, source)
        .map_err(|e| Exception::throw_internal(ctx, &e.to_string()))?;
    let (module, _) = modules::load_bytecode(ctx, &bytes)?.eval()?;
    module.namespace()?.get("default")
}

/// The prelude's `platform(name)` function, which calls [`build`].
pub fn build_function<'js>(ctx: &Ctx<'js>) -> Result<Function<'js>> {
    Function::new(ctx.clone(), |ctx: Ctx<'js>, name: String| {
        build(&ctx, &name)
    })
}

/// Builds platform part `name` for the prelude: `"intl"` gives
/// `{ Intl, locale }` (the namespace, and the helpers of the locale
/// methods); `"buffer"` the exports of the Buffer module (`{ Buffer, … }`).
pub fn build<'js>(ctx: &Ctx<'js>, name: &str) -> Result<Object<'js>> {
    match name {
        "intl" => {
            let build: Function = js_half(ctx, "caplet:intl")?;
            build.call((intl::native(ctx)?,))
        }
        "buffer" => {
            let exports: Object = js_half(ctx, "caplet:buffer")?;
            Ok(exports)
        }
        other => Err(Exception::throw_internal(
            ctx,
            &format!("no platform part {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::{EngineLimits, Isolate};
    use crate::modules::{Compiler, Kind, Source};

    fn limits() -> EngineLimits {
        EngineLimits {
            memory_bytes: 64 << 20,
            stack_bytes: 1 << 20,
            cpu_time: Duration::from_secs(20),
            wall_time: Duration::from_secs(60),
            allow_eval: false,
        }
    }

    /// Runs `source` as a worker's main module and returns `globalThis.out`
    /// (an array of strings), or the error.
    fn run(source: &str) -> std::result::Result<Vec<String>, String> {
        run_modules(&[("main.js", source)])
    }

    fn run_modules(sources: &[(&str, &str)]) -> std::result::Result<Vec<String>, String> {
        let compiler = Compiler::new(64 << 20, 1 << 20).map_err(|e| e.to_string())?;
        let sources: Vec<Source> = sources
            .iter()
            .map(|(name, text)| Source {
                name: name.to_string(),
                kind: Kind::Js,
                text: text.to_string(),
            })
            .collect();
        let bytecode = compiler.compile(&sources).map_err(|e| e.to_string())?;
        let main = bytecode["main.js"].clone();
        let isolate = Isolate::new(&limits(), bytecode).map_err(|e| e.to_string())?;
        let (out, job_error) = isolate.segment(|ctx| {
            use rquickjs::CatchResultExt;
            let describe = |e: rquickjs::CaughtError| e.to_string();
            let module = modules::load_bytecode(ctx, &main)
                .catch(ctx)
                .map_err(describe)?;
            let (_, promise) = module.eval().catch(ctx).map_err(describe)?;
            promise.finish::<()>().catch(ctx).map_err(describe)?;
            ctx.globals()
                .get::<_, Vec<String>>("out")
                .catch(ctx)
                .map_err(describe)
        });
        match job_error {
            Some(e) => Err(e),
            None => out,
        }
    }

    /// The conformance files of `tests/platform/` whose names start with
    /// `prefix`: each `NAME.js` sets `globalThis.out` to an array of strings,
    /// and `NAME.expected` holds them, one a line.
    fn conformance(prefix: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/platform");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "js")
                    && p.file_name().unwrap().to_str().unwrap().starts_with(prefix)
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no conformance files {prefix}*.js");
        let mut failures = Vec::new();
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            let expected = std::fs::read_to_string(file.with_extension("expected")).unwrap();
            let got = run(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let expected: Vec<&str> = expected.lines().collect();
            for (i, line) in expected.iter().enumerate() {
                let actual = got.get(i).map(String::as_str).unwrap_or("<missing>");
                if actual != *line {
                    failures.push(format!(
                        "{}:{}: expected {line:?}, got {actual:?}",
                        file.display(),
                        i + 1
                    ));
                }
            }
            if got.len() != expected.len() {
                failures.push(format!(
                    "{}: {} lines expected, {} produced",
                    file.display(),
                    expected.len(),
                    got.len()
                ));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn intl_conformance() {
        conformance("intl_");
    }

    #[test]
    fn node_conformance() {
        conformance("node_");
    }

    #[test]
    fn authority_modules_fail_to_import_saying_what_to_grant() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        for (specifier, grant) in [
            ("node:fs", "grant an fs volume as env.fs"),
            ("fs", "grant an fs volume as env.fs"),
            ("node:fs/promises", "grant an fs volume as env.fs"),
            ("node:net", "grant an http gateway"),
            ("node:http", "grant an http gateway as env.fetch"),
            ("https", "grant an http gateway as env.fetch"),
            ("node:child_process", "workers cannot start processes"),
            ("node:os", "a worker does not see its host"),
            ("process", "a worker does not see its host"),
            ("node:worker_threads", "load more workers"),
            ("node:dns", "an http gateway resolves names itself"),
            ("node:vm", "workers do not compile code at run time"),
        ] {
            let err = compiler
                .compile(&[Source {
                    name: "main.js".into(),
                    kind: Kind::Js,
                    text: format!("import x from {specifier:?}; export default x;"),
                }])
                .unwrap_err()
                .to_string();
            let name = specifier.trim_start_matches("node:");
            assert!(
                err.starts_with(&format!(
                    "module_not_found: node:{name} is not available in a worker; "
                )) && err.contains(grant),
                "{specifier}: {err}"
            );
        }
    }

    #[test]
    fn a_worker_module_shadows_a_bare_builtin_name() {
        let out = run_modules(&[
            ("main.js", "import p from 'path'; globalThis.out = [p];"),
            ("path", "export default 'mine';"),
        ])
        .unwrap();
        assert_eq!(out, ["mine"]);
    }

    #[test]
    fn intl_is_not_built_until_touched() {
        // A worker that never touches Intl does not evaluate its JS half.
        let out = run("globalThis.out = [String(Object.getOwnPropertyDescriptor(globalThis, 'Intl').get !== undefined)];").unwrap();
        assert_eq!(out, ["true"]);
        let out = run("Intl.Collator; globalThis.out = [String(Object.getOwnPropertyDescriptor(globalThis, 'Intl').get === undefined), typeof Intl.NumberFormat];").unwrap();
        assert_eq!(out, ["true", "function"]);
        // Assigning it replaces it, as with any global.
        let out = run("globalThis.Intl = 5; globalThis.out = [String(Intl)];").unwrap();
        assert_eq!(out, ["5"]);
    }
}
