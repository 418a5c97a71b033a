//! End to end through the `caplet` binary: `caplet run` against a running
//! `caplet serve` (--connect) and with its embedded broker.

use crate::support;

use support::{caplet, script, Server};

const HELLO: &str = r#"export default { run(input) { console.log("hi", input.name); return { hello: input.name }; } }"#;

#[test]
fn run_prints_output_on_stdout_and_logs_on_stderr() {
    let server = Server::start(1);
    let (_dir, file) = script("hello.js", HELLO);
    let socket = server.socket.to_str().unwrap();
    let (code, stdout, stderr) = caplet(&[
        "run",
        file.to_str().unwrap(),
        "--input",
        r#"{"name":"ada"}"#,
        "--connect",
        socket,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "{\"hello\":\"ada\"}\n");
    assert_eq!(stderr, "[log] hi ada\n");
}

#[test]
fn run_embedded_needs_no_server() {
    let (_dir, file) = script("hello.js", HELLO);
    let (code, stdout, stderr) = caplet(&[
        "run",
        file.to_str().unwrap(),
        "--input",
        r#"{"name":"bo"}"#,
        "--stats",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "{\"hello\":\"bo\"}\n");
    assert!(stderr.contains("stats: wall "), "{stderr}");
    assert!(
        stderr.contains(" µs, cpu ") && stderr.contains("peak memory "),
        "{stderr}"
    );
}

#[test]
fn run_with_extra_modules_and_an_entrypoint() {
    let (dir, file) = script(
        "main.js",
        "import { f } from './lib.js'; export default { go: () => f() };",
    );
    let lib = dir.path().join("lib.js");
    std::fs::write(&lib, "export const f = () => 'from lib';").unwrap();
    let module = format!("lib.js={}", lib.display());
    let (code, stdout, stderr) = caplet(&[
        "run",
        file.to_str().unwrap(),
        "--module",
        &module,
        "--entry",
        "go",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "\"from lib\"\n");
}

#[test]
fn run_a_typescript_worker_that_imports_typescript() {
    let (dir, file) = script(
        "agent.ts",
        "import { greet, type Person } from './util.ts';\n\
         interface Input { name: string }\n\
         export default { run(input: Input): string {\n\
           const p: Person = { name: input.name as string };\n\
           return greet(p);\n\
         } };\n",
    );
    let util = dir.path().join("util.ts");
    std::fs::write(
        &util,
        "export type Person = { name: string };\n\
         export function greet(p: Person): string {\n\
           if (p.name === 'x') throw new Error('no x');\n\
           return `hello ${p.name}`;\n\
         }\n",
    )
    .unwrap();
    let module = format!("util.ts={}", util.display());
    let args = |input: &'static str| {
        vec![
            "run".to_string(),
            file.to_str().unwrap().to_string(),
            "--module".into(),
            module.clone(),
            "--input".into(),
            input.to_string(),
        ]
    };
    let run = |input| {
        let args = args(input);
        caplet(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, stdout, stderr) = run(r#"{"name":"ts"}"#);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "\"hello ts\"\n");
    // The stack of a thrown error points into the TypeScript source as written.
    let (code, _, stderr) = run(r#"{"name":"x"}"#);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no x") && stderr.contains("util.ts:3:"),
        "{stderr}"
    );
    // A construct that needs a transform is named with its line.
    let (_dir, file) = script(
        "enum.ts",
        "let a: number = 1;\nenum E { A }\nexport default { run: () => a };\n",
    );
    let (code, _, stderr) = caplet(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.lines().next().unwrap_or(""),
        "error: syntax_error: enum.ts:2:1: TypeScript enum is not supported in strip-only mode",
        "{stderr}"
    );
}

/// `caplet run agent.ts` finds the modules it imports relatively on the
/// disk next to it, as Node.js and Deno do: TypeScript, JavaScript in a
/// subfolder (also imported from that TypeScript module), JSON, an import
/// cycle; `--module` still names a module from anywhere and wins. A module
/// that is not there, or outside the main module's folder, is
/// `module_not_found`.
#[test]
fn run_reads_relative_imports_from_the_disk() {
    let (dir, file) = script(
        "agent.ts",
        "import { helper } from './util.ts';\n\
         import { twice } from './lib/twice.js';\n\
         import data from './data.json';\n\
         import { other } from './other.js';\n\
         export default function run(): object {\n\
           return { helper: helper(2), twice: twice(3), data, other };\n\
         }\n",
    );
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    };
    write(
        "util.ts",
        "import { twice } from './lib/twice.js';\n\
         export const helper = (n: number): number => twice(n) * 10;\n",
    );
    write(
        "lib/twice.js",
        "import './back.js';\nexport const twice = (n) => n * 2;\n",
    );
    write("lib/back.js", "import './twice.js';\n");
    write("data.json", "{\"k\": 1}");
    write("other.js", "export const other = 'from the disk';\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let named = elsewhere.path().join("named.js");
    std::fs::write(&named, "export const other = 'from --module';\n").unwrap();
    let file = file.to_str().unwrap();
    let (code, stdout, stderr) = caplet(&["run", file]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "{\"helper\":40,\"twice\":6,\"data\":{\"k\":1},\"other\":\"from the disk\"}\n"
    );
    let module = format!("other.js={}", named.display());
    let (code, stdout, stderr) = caplet(&["run", file, "--module", &module]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"other\":\"from --module\""), "{stdout}");

    let missing = write(
        "missing.js",
        "import './nowhere.js';\nexport default () => 1;\n",
    );
    let (code, _, stderr) = caplet(&["run", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        "error: module_not_found: \"./nowhere.js\" imported from \"missing.js\""
    );
    // other.js is on the disk, but above the main module's folder.
    let inner = write(
        "inner/up.js",
        "import '../other.js';\nexport default () => 1;\n",
    );
    let (code, _, stderr) = caplet(&["run", inner.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: module_not_found: \"../other.js\" imported from \"up.js\""),
        "{stderr}"
    );
}

/// A literal dynamic import (`import("./a.js")`, a template literal too) of
/// a file next to the main module, or in a folder below it, is read from
/// the disk before the worker runs, as are the imports of what it reads;
/// a computed one is not (nothing is read at run time), and the worker
/// sees its modules under `file:///` URLs, never the host's paths.
#[test]
fn run_reads_literal_dynamic_imports_from_the_disk() {
    let (dir, file) = script(
        "main.ts",
        "export default async function run(): Promise<object> {\n\
           const a = await import('./a.js');\n\
           const b = await import(`./lib/b.js`);\n\
           let computed = 'found';\n\
           const name = ['x', 'js'].join('.');\n\
           try { await import('./' + name); } catch (e) { computed = String(e.message); }\n\
           return { a: a.a, url: a.url, b: b.b, computed };\n\
         }\n",
    );
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    };
    write(
        "a.js",
        "export const a = 1;\nexport const url = [import.meta.url, import.meta.main];\n",
    );
    write("lib/b.js", "export const b = (await import('./c.ts')).c;\n");
    write(
        "lib/c.ts",
        "import { d } from '../d.js';\nexport const c: string = 'c' + d;\n",
    );
    write("d.js", "export const d = 'd';\n");
    write("x.js", "export const x = 1;\n");
    let (code, stdout, stderr) = caplet(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "{\"a\":1,\"url\":[\"file:///a.js\",false],\"b\":\"cd\",\"computed\":\"module_not_found: \\\"./x.js\\\" imported from \\\"main.ts\\\"\"}\n"
    );
    // Uncaught, the computed import's failure says what to do.
    write(
        "computed.js",
        "export default async () => (await import('./' + ['x', 'js'].join('.'))).x;\n",
    );
    let computed = dir.path().join("computed.js");
    let (code, _, stderr) = caplet(&["run", computed.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: exception: ReferenceError: module_not_found: \"./x.js\" imported from \"computed.js\""),
        "{stderr}"
    );
    assert!(
        stderr.trim_end().ends_with("hint: caplet run sends the modules a script imports by a literal name; name one an import() computes with --module NAME=FILE"),
        "{stderr}"
    );
}

/// A global that code written for Node.js or a browser expects and a worker
/// does not have (fetch without a gateway, process, require) fails as in
/// Workers, with a last line saying what to do instead; other undefined
/// names get no hint.
#[test]
fn run_hints_at_what_a_worker_uses_instead() {
    for (source, first, hint) in [
        (
            "export default async () => (await fetch('https://example.com')).status;\n",
            "error: exception: ReferenceError: fetch is not defined",
            Some("hint: fetch needs an http gateway granted as env.fetch, e.g. --grant fetch=http:api.example.com"),
        ),
        (
            "export default () => process.env.KEY;\n",
            "error: exception: ReferenceError: process is not defined",
            Some("hint: a worker has no process: pass settings in --input, secrets through a granted capability"),
        ),
        (
            "const fs = require('fs');\nexport default () => 1;\n",
            "error: module_evaluation_failed: ReferenceError: require is not defined",
            Some("hint: a worker is an ES module: use import (node: modules too) and export default"),
        ),
        (
            "export default () => notDefinedAnywhere;\n",
            "error: exception: ReferenceError: notDefinedAnywhere is not defined",
            None,
        ),
    ] {
        let (_dir, file) = script("agent.js", source);
        let (code, stdout, stderr) = caplet(&["run", file.to_str().unwrap()]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
        assert_eq!(stderr.lines().next(), Some(first), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        match hint {
            Some(hint) => assert_eq!(last, hint, "{stderr}"),
            None => assert!(!stderr.contains("hint:"), "{stderr}"),
        }
    }
}

/// Each failure: exit code 1, nothing on stdout, and a first stderr line
/// naming the cause.
#[test]
fn run_failures_are_one_line_naming_the_cause() {
    let server = Server::start(1);
    let socket = server.socket.to_str().unwrap().to_string();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "syntax.js",
            "let x = 1;\nlet y = ;",
            &[],
            "error: syntax_error: syntax.js:2:",
        ),
        (
            "throw.js",
            "export default { run() { throw new Error('boom') } }",
            &[],
            "error: exception: Error: boom",
        ),
        (
            "entry.js",
            "export default { run() {} }",
            &["--entry", "nope"],
            "error: entrypoint_not_found: entrypoint \"nope\"",
        ),
        (
            "fn.js",
            "export default { run: () => () => 1 }",
            &[],
            "error: output_not_serializable: ",
        ),
        (
            "input.js",
            "export default { run() {} }",
            &["--input", "{nope"],
            "error: malformed --input: not valid JSON",
        ),
    ];
    for (name, source, extra, expected) in cases {
        let (_dir, file) = script(name, source);
        let mut args = vec!["run", file.to_str().unwrap(), "--connect", socket.as_str()];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = caplet(&args);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert_eq!(stdout, "", "{name}");
        let first = stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with(expected),
            "{name}: {first:?} does not start with {expected:?}"
        );
    }
    // The thrown error also carries its JS stack, after the first line.
    let (_dir, file) = script(
        "stack.js",
        "function deep() { throw new Error('x') }\nexport default { run: () => deep() }",
    );
    let (_, _, stderr) = caplet(&["run", file.to_str().unwrap(), "--connect", &socket]);
    assert!(
        stderr
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("deep (stack.js:1:")),
        "{stderr}"
    );
}

#[test]
fn run_refuses_modules_over_the_size_limit() {
    let big = format!(
        "export default {{ run: () => 1 }} // {}",
        "x".repeat(8 << 20)
    );
    let (_dir, file) = script("big.js", &big);
    let (code, _, stderr) = caplet(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: module_too_large: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Source nested deeper than the process's stack allows is a syntax error,
/// even when the stack (RLIMIT_STACK) is far smaller than the compiler's own
/// limit: the parser stops before the real stack runs out.
#[test]
fn deeply_nested_source_under_a_small_stack_is_a_syntax_error() {
    let depth = 200_000;
    let source = format!(
        "export default () => {}{}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let (_dir, file) = script("deep.js", &source);
    let out = std::process::Command::new("sh")
        .args(["-c", r#"ulimit -s 1024 && exec "$0" run "$1""#])
        .arg(support::caplet_bin())
        .arg(&file)
        .output()
        .expect("run caplet under sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: syntax_error: deep.js: RangeError: Maximum call stack size exceeded"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("restarting"), "{stderr}");
}

/// Finding the literal dynamic imports of source nested as deep as the
/// engine compiles does not overflow `caplet run`'s own small stack (its
/// parser runs on a thread with a stack of its own, after the engine
/// bounded the nesting).
#[test]
fn dynamic_imports_of_deeply_nested_source_under_a_small_stack() {
    let source = format!(
        "export default async () => {{\n\
           const n = {}1;\n\
           return {{ n, x: (await import('./x.js')).x }};\n\
         }}\n",
        "!".repeat(4000)
    );
    let (dir, file) = script("deep.js", &source);
    std::fs::write(dir.path().join("x.js"), "export const x = 1;\n").unwrap();
    let out = std::process::Command::new("sh")
        .args(["-c", r#"ulimit -s 1024 && exec "$0" run "$1""#])
        .arg(support::caplet_bin())
        .arg(&file)
        .output()
        .expect("run caplet under sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"n\":true,\"x\":1}\n"
    );
}

#[test]
fn run_reports_a_missing_file_in_one_line() {
    let (code, _, stderr) = caplet(&["run", "/nonexistent/agent.js"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read worker /nonexistent/agent.js"),
        "{stderr}"
    );
}

#[test]
fn run_cannot_connect_to_a_missing_socket() {
    let (_dir, file) = script("hello.js", HELLO);
    let (code, _, stderr) = caplet(&[
        "run",
        file.to_str().unwrap(),
        "--connect",
        "/nonexistent/caplet.sock",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: cannot connect to /nonexistent/caplet.sock"),
        "{stderr}"
    );
}

/// The README's first command, as a user runs it (debug build here).
#[test]
fn the_readme_quick_start_prints_its_greeting() {
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello.js");
    let (code, stdout, stderr) = caplet(&["run", hello, "--input", r#"{"name":"world"}"#]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "{\"message\":\"Hello, world!\",\"length\":5}\n");
    assert_eq!(stderr, "[log] greeting world\n");
}

/// `pendingTimers` is a limit like the others: `--limit-default` lowers it
/// (and `--limit-max` with it), and the timer over it ends the invocation
/// with `timer_limit_exceeded`, naming the limit.
#[test]
fn the_pending_timers_limit_comes_from_the_flags() {
    let (_dir, file) = script(
        "timers.js",
        "export default () => new Promise((resolve) => {
           for (let i = 0; i < 3; i++) setTimeout(() => {}, 10);
           setTimeout(resolve, 20);
         });",
    );
    let file = file.to_str().unwrap();
    let (code, stdout, stderr) = caplet(&["run", file, "--limit-default", "pendingTimers=4"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "null\n");
    let (code, _, stderr) = caplet(&["run", file, "--limit-max", "pendingTimers=3"]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("timer_limit_exceeded: the invocation had more than 3 timers pending"),
        "{stderr}"
    );
}
