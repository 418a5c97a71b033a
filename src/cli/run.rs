//! `caplet run`: load a worker, invoke it once, print the result.

use std::path::PathBuf;

use caplet_client::{Builtin, BuiltinKind, Connection, Error, Level, WorkerCode};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The worker's main module (an ES module whose default export is called).
    file: PathBuf,
    /// Add a module the worker can import, as NAME=FILE (repeatable). Names
    /// ending in .json are JSON modules.
    #[arg(long = "module", value_name = "NAME=FILE", value_parser = parse_module)]
    modules: Vec<(String, PathBuf)>,
    /// The entrypoint: a method of the default export.
    #[arg(long, value_name = "NAME", default_value = "run")]
    entry: String,
    /// The input passed to the entrypoint, as JSON.
    #[arg(long, value_name = "JSON", default_value = "null")]
    input: String,
    /// Use a running broker instead of an embedded one: the path of its Unix
    /// socket, or tcp://HOST:PORT (with --token-file).
    #[arg(long, value_name = "SOCKET|tcp://HOST:PORT")]
    connect: Option<std::ffi::OsString>,
    /// The token for --connect tcp://…: a file of one line, `token` or
    /// `name:token`.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Grant a built-in capability as env.BINDING (repeatable): SPEC is
    /// fs:VOLUME, fs:VOLUME:ro, kv:STORE, http:POLICY or mcp:SERVER (an
    /// upstream MCP server of --config). Granted as `fetch`,
    /// an http gateway also gives the worker a global fetch(). With the
    /// embedded broker, http:HOST without such a policy in --config allows
    /// just that host.
    #[arg(long = "grant", value_name = "BINDING=SPEC", value_parser = caplet_client::parse_grant)]
    grants: Vec<(String, Builtin)>,
    /// Print the invocation's wall time, CPU time and peak memory on stderr.
    #[arg(long)]
    stats: bool,
    /// Print the invocation's call log on stderr: one JSON line per
    /// capability call (binding, interface, method, start_us, duration_us,
    /// params_bytes, results_bytes, outcome, pipelined_on).
    #[arg(long)]
    calls: bool,
    #[command(flatten)]
    broker: super::BrokerArgs,
}

fn parse_module(spec: &str) -> Result<(String, PathBuf), String> {
    match spec.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => Err(format!("expected NAME=FILE, got {spec:?}")),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&args.input) {
        anyhow::bail!("malformed --input: not valid JSON: {e}");
    }
    let main_name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: not a file name", args.file.display()))?
        .to_string();
    let mut code = WorkerCode::new(main_name, super::read_file(&args.file, "worker")?);
    for (name, file) in &args.modules {
        code = code.module(name.clone(), super::read_file(file, "module")?);
    }
    for (binding, builtin) in &args.grants {
        code = code.grant_builtin(binding.clone(), builtin.clone());
    }
    if args.connect.is_some() && args.broker.any_given() {
        anyhow::bail!("--hosts, --config, --data, --cordon, --require-confinement, --limit-default and --limit-max configure the embedded broker: they cannot be used with --connect");
    }

    let connection = match (&args.connect, &args.token_file) {
        (Some(target), token_file) => {
            match target.to_str().and_then(|t| t.strip_prefix("tcp://")) {
                Some(address) => {
                    let Some(token_file) = token_file else {
                        anyhow::bail!("--connect tcp://… needs --token-file");
                    };
                    let token = read_token(token_file)?;
                    Connection::connect_tcp(address, &token).await?
                }
                None if token_file.is_some() => {
                    anyhow::bail!("--token-file is only used with --connect tcp://…")
                }
                None => Connection::connect(target).await?,
            }
        }
        (None, Some(_)) => anyhow::bail!("--token-file is only used with --connect tcp://…"),
        (None, None) => {
            let mut config = args.broker.config(1)?;
            for (_, builtin) in &args.grants {
                if builtin.kind == BuiltinKind::Http {
                    config.builtins.add_host_policy(&builtin.name)?;
                }
            }
            let connection = Connection::embedded(config);
            if let Some(broker) = connection.embedded_broker() {
                broker.connect_store().await?;
            }
            connection
        }
    };
    let dir = args
        .file
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let result = invoke(&connection, code, &dir, &args).await;
    connection.close().await;
    result
}

/// The most modules `caplet run` reads from the disk for one worker.
const MAX_DISCOVERED: usize = 256;

/// Loads `code`; when it imports a relative module (`./util.ts`) that it
/// lacks and the file is on the disk under `dir` (the main module's
/// folder), reads it, adds it under the name the import resolves to, and
/// loads again, as Node.js and Deno find a script's modules. Once the
/// modules load, their literal dynamic imports (`import("./x.js")`, see
/// [`super::imports`]) are found the same way and the worker is loaded
/// again with them (a loaded worker has done no I/O and printed nothing:
/// the first is just released). `--module` names are used as given; at
/// most [`MAX_DISCOVERED`] files are added.
async fn load_discovering(
    connection: &Connection,
    mut code: WorkerCode,
    dir: &std::path::Path,
) -> anyhow::Result<caplet_client::Worker> {
    let too_many = || {
        anyhow::anyhow!("module_not_found: the worker imports more than {MAX_DISCOVERED} modules from the disk; name them with --module")
    };
    let mut discovered = 0;
    let mut scanned = 0;
    loop {
        let error = match connection.load(&code).await {
            Ok(worker) => {
                // Only modules the engine compiled are scanned: their
                // nesting is within its stack limit.
                let mut found = Vec::new();
                while let Some(module) = code.modules.get(scanned) {
                    scanned += 1;
                    let base = module.name.clone();
                    for specifier in super::imports::dynamic_imports(&base, &module.source) {
                        if let Some(name) = relative_import(&base, &specifier) {
                            found.push(name);
                        }
                    }
                }
                let mut added = false;
                for name in found {
                    if let Some((name, text)) = from_disk(&code, dir, name)? {
                        discovered += 1;
                        if discovered > MAX_DISCOVERED {
                            return Err(too_many());
                        }
                        code = code.module(name, text);
                        added = true;
                    }
                }
                if !added {
                    return Ok(worker);
                }
                continue;
            }
            Err(error) => error,
        };
        let Some(name) = missing_relative_import(&error) else {
            return Err(hinted(error));
        };
        let Some((name, text)) = from_disk(&code, dir, name)? else {
            return Err(hinted(error));
        };
        discovered += 1;
        if discovered > MAX_DISCOVERED {
            return Err(too_many());
        }
        code = code.module(name, text);
    }
}

/// The module `name` read from `dir`, unless `code` has it already or
/// there is no such file.
fn from_disk(
    code: &WorkerCode,
    dir: &std::path::Path,
    name: String,
) -> anyhow::Result<Option<(String, String)>> {
    let path = dir.join(&name);
    if code.modules.iter().any(|known| known.name == name) || !path.is_file() {
        return Ok(None);
    }
    let text = super::read_file(&path, "module")?;
    Ok(Some((name, text)))
}

/// The module name the relative specifier `specifier` (`./x.js`,
/// `../x.js`) names from the module `base`; `None` for any other
/// specifier or one that climbs above the main module's folder.
fn relative_import(base: &str, specifier: &str) -> Option<String> {
    if !(specifier.starts_with("./") || specifier.starts_with("../")) {
        return None;
    }
    caplet_isolate_host::modules::resolve(base, specifier)
}

/// The module name a relative import the broker could not find resolves
/// to, from its `module_not_found: "./util.ts" imported from "main.ts"`.
fn missing_relative_import(error: &Error) -> Option<String> {
    let Error::Refused { kind, message } = error else {
        return None;
    };
    if kind != "module_not_found" {
        return None;
    }
    let mut strings = serde_json::Deserializer::from_str(message).into_iter::<String>();
    let specifier = strings.next()?.ok()?;
    let rest = message.get(strings.byte_offset()..)?;
    let base: String = serde_json::from_str(rest.strip_prefix(" imported from ")?).ok()?;
    relative_import(&base, &specifier)
}

/// Reads a client token file: one line, `token` or `name:token` (blank lines
/// and `#` comments are skipped). The token never appears in an error.
fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = super::read_file(&path.to_path_buf(), "token file")?;
    match parse_token(&text) {
        Some(token) => Ok(token.to_string()),
        None => anyhow::bail!(
            "token file {}: expected exactly one line, `token` or `name:token`",
            path.display()
        ),
    }
}

/// The token in a client token file's text, if it has exactly one.
fn parse_token(text: &str) -> Option<&str> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return None;
    };
    let token = line.split_once(':').map_or(line, |(_, token)| token);
    (!token.is_empty()).then_some(token)
}

async fn invoke(
    connection: &Connection,
    code: WorkerCode,
    dir: &std::path::Path,
    args: &Args,
) -> anyhow::Result<()> {
    let worker = load_discovering(connection, code, dir).await?;
    // Lines are printed as the worker logs them; at the end only what did
    // not stream (the note about dropped lines) is left to print.
    // So are call records (`--calls`); at the end, those that did not.
    let streamed = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let count = streamed.clone();
    let on_line = move |line: caplet_client::LogLine| {
        count.set(count.get() + 1);
        print_logs(std::slice::from_ref(&line));
    };
    let calls_streamed = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let invoked = if args.calls {
        let count = calls_streamed.clone();
        worker
            .invoke_watching(&args.entry, &args.input, on_line, move |call| {
                count.set(count.get() + 1);
                print_calls(std::slice::from_ref(&call));
            })
            .await
    } else {
        worker
            .invoke_streaming(&args.entry, &args.input, on_line)
            .await
    };
    let rest =
        |logs: &[caplet_client::LogLine]| logs.get(streamed.get()..).unwrap_or_default().to_vec();
    let calls_rest = |calls: &[caplet_client::CallRecord]| {
        calls
            .get(calls_streamed.get()..)
            .unwrap_or_default()
            .to_vec()
    };
    match invoked {
        Ok(done) => {
            print_logs(&rest(&done.logs));
            if args.calls {
                print_calls(&calls_rest(&done.calls));
            }
            println!("{}", done.output);
            if args.stats {
                print_stats(&done.stats);
            }
            Ok(())
        }
        Err(error) => {
            print_logs(&rest(error.logs()));
            if args.calls {
                print_calls(&calls_rest(error.calls()));
            }
            let mut text = error.to_string();
            match &error {
                Error::Exception {
                    message,
                    stack,
                    stats,
                    ..
                } => {
                    if !stack.is_empty() {
                        text.push('\n');
                        text.push_str(stack);
                    }
                    if let Some(hint) = hint(message) {
                        text.push_str("\nhint: ");
                        text.push_str(hint);
                    }
                    if args.stats {
                        print_stats(stats);
                    }
                }
                Error::LimitExceeded { stats, .. } | Error::Invocation { stats, .. }
                    if args.stats =>
                {
                    print_stats(stats)
                }
                _ => {}
            }
            Err(anyhow::anyhow!(text))
        }
    }
}

/// A load failure, with a [`hint`] when its module's top level used a
/// global a worker does not have.
fn hinted(error: Error) -> anyhow::Error {
    match &error {
        Error::Refused { kind, message } if kind == "module_evaluation_failed" => {
            match hint(message) {
                Some(hint) => anyhow::anyhow!("{error}\nhint: {hint}"),
                None => error.into(),
            }
        }
        _ => error.into(),
    }
}

/// What to do about a global a worker does not have, for the exceptions
/// code written for Node.js or a browser runs into first, and about a
/// relative module a computed `import()` did not find.
fn hint(message: &str) -> Option<&'static str> {
    if let Some(missing) = message.strip_prefix("ReferenceError: module_not_found: \"") {
        if missing.starts_with("./") || missing.starts_with("../") {
            return Some("caplet run sends the modules a script imports by a literal name; name one an import() computes with --module NAME=FILE");
        }
    }
    let name = message
        .strip_prefix("ReferenceError: ")?
        .strip_suffix(" is not defined")?;
    Some(match name {
        "fetch" => "fetch needs an http gateway granted as env.fetch, e.g. --grant fetch=http:api.example.com",
        "process" => "a worker has no process: pass settings in --input, secrets through a granted capability",
        "require" | "module" | "exports" => "a worker is an ES module: use import (node: modules too) and export default",
        "__dirname" | "__filename" => "a worker has no files: pass data in --input or grant an fs volume",
        _ => return None,
    })
}

fn print_logs(logs: &[caplet_client::LogLine]) {
    for line in logs {
        let level = match line.level {
            Level::Debug => "debug",
            Level::Info => "log",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        eprintln!("[{level}] {}", line.text);
    }
}

fn print_calls(calls: &[caplet_client::CallRecord]) {
    for call in calls {
        eprintln!("{}", super::call_json(call));
    }
}

fn print_stats(stats: &caplet_client::Stats) {
    eprintln!(
        "stats: wall {} µs, cpu {} µs, peak memory {} KiB",
        stats.wall_time.as_micros(),
        stats.cpu_time.as_micros(),
        stats.peak_memory_bytes / 1024
    );
}

#[cfg(test)]
mod tests {
    use super::parse_token;

    #[test]
    fn a_token_file_holds_one_token_with_or_without_its_name() {
        assert_eq!(parse_token("secret-token\n"), Some("secret-token"));
        assert_eq!(parse_token("alice:secret-token"), Some("secret-token"));
        assert_eq!(
            parse_token("# mine\n\n  alice:secret-token  \n"),
            Some("secret-token")
        );
        assert_eq!(parse_token(""), None);
        assert_eq!(parse_token("alice:"), None);
        assert_eq!(parse_token("one\ntwo\n"), None);
    }
}
