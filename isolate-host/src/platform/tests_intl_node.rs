//! In-process tests of `Intl`, `Buffer` and the `node:` modules: the
//! conformance cases of `tests/platform/` whose names start with `intl_` or
//! `node_` (also run end to end by `tests/all/platform.rs`), evaluated in a real
//! worker isolate, with a diff per line; and the module resolution rules.

use std::time::Duration;

use crate::engine::{EngineLimits, Isolate};
use crate::modules::{self, Compiler, Kind, Source};

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
/// and `NAME.out` holds them as `=> ` and a JSON array (the format of
/// `tests/all/platform.rs`).
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
        let out = std::fs::read_to_string(file.with_extension("out")).unwrap();
        let expected: Vec<String> = serde_json::from_str(out.trim_end().trim_start_matches("=> "))
            .unwrap_or_else(|e| panic!("{}: .out is not => [strings]: {e}", file.display()));
        let got = run(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
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
fn intl_and_buffer_are_not_built_until_touched() {
    let built = "Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis)).filter((n) => n === 'Intl' || n === 'Buffer').join()";
    // A worker that touches neither (nor a locale method) builds neither.
    let out = run(&format!(
        "globalThis.out = [{built}, typeof Intl, typeof Buffer];"
    ))
    .unwrap();
    assert_eq!(out, ["", "object", "function"]);
    let out = run(&format!(
        "const before = {built}; const s = (1).toLocaleString(); globalThis.out = [before, {built}, s];"
    ))
    .unwrap();
    // A locale method builds the classes, not the global: that waits for a lookup.
    assert_eq!(out, ["", "", "1"]);
    // The locale methods and the global agree.
    let out = run("const nf = Intl.NumberFormat; globalThis.out = [String((1234.5).toLocaleString('de') === new nf('de').format(1234.5))];").unwrap();
    assert_eq!(out, ["true"]);
    // Assigning it replaces it, as with any global.
    let out = run("globalThis.Intl = 5; globalThis.out = [String(Intl), (2).toLocaleString('en', { minimumFractionDigits: 1 })];").unwrap();
    assert_eq!(out, ["5", "2.0"]);
}

#[test]
fn date_ranges_icu4x_cannot_write_as_v8_are_refused_naming_why() {
    // Each case: options, the end (the start is 2024-03-10 15:04:05 UTC),
    // and what the RangeError says.
    let cases = [
        (
            r#"{ dateStyle: "long" }"#,
            "Date.UTC(2024, 2, 13)",
            "uses a name it has not loaded",
        ),
        (
            r#"{ dateStyle: "full" }"#,
            "Date.UTC(2024, 5, 2)",
            "uses a name it has not loaded",
        ),
        (
            r#"{ dateStyle: "short" }"#,
            "Date.UTC(2024, 2, 13)",
            "writes the year otherwise than format()",
        ),
        (
            r#"{ timeStyle: "long" }"#,
            "Date.UTC(2024, 2, 13)",
            "a timeStyle on different days",
        ),
        (
            r#"{ month: "long", day: "numeric" }"#,
            "Date.UTC(2025, 0, 20)",
            "a year or month it does not show",
        ),
    ];
    for (options, end, why) in cases {
        let out = run(&format!(
            "const f = new Intl.DateTimeFormat('en', {{ ...{options}, timeZone: 'UTC' }});
             const start = Date.UTC(2024, 2, 10, 15, 4, 5);
             let got;
             try {{ got = f.formatRange(start, {end}); }} catch (e) {{ got = e.name + ': ' + e.message; }}
             let parts;
             try {{ parts = JSON.stringify(f.formatRangeToParts(start, {end})); }} catch (e) {{ parts = e.name; }}
             globalThis.out = [got, parts];"
        ))
        .unwrap();
        assert!(
            out[0].starts_with("RangeError: Intl.DateTimeFormat") && out[0].contains(why),
            "{options} to {end}: {out:?}"
        );
        assert_eq!(out[1], "RangeError", "{options} to {end}");
    }
    // The same formatters write ranges ICU4X can write.
    let out = run(
        "const f = new Intl.DateTimeFormat('en', { timeStyle: 'short', timeZone: 'UTC' });
         globalThis.out = [f.formatRange(Date.UTC(2024, 2, 10, 15), Date.UTC(2024, 2, 10, 17, 30))];",
    )
    .unwrap();
    assert_eq!(out, ["3:00\u{2009}–\u{2009}5:30 PM"]);
}

#[test]
fn a_pattern_whose_number_formatter_icu4x_leaves_out_is_written() {
    // ICU4X 2.4 loads no number formatter for pt's long year and month
    // ("MMMM 'de' y"): it debug-panicked (and wrote "{y}" in a release
    // build). Expected: Node.js 20.
    let out = run(
        "globalThis.out = [new Intl.DateTimeFormat('pt', { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(Date.UTC(2024, 2, 10))];",
    )
    .unwrap();
    assert_eq!(out, ["março de 2024"]);
}
