//! Compiling `.capnp` source at run time.
//!
//! The embedded Cap'n Proto compiler ([`capnpc_embedded`], the real `capnp`
//! built to WebAssembly and interpreted in-process) compiles the files in a
//! fresh temporary directory. Input comes from clients, so before anything
//! touches the file system:
//!
//! * file names are checked (relative, no `..`, no NUL, no `\`, `.capnp`,
//!   at most [`MAX_NAME_LEN`] bytes, unique) and sizes are bounded;
//! * every `import "…"` / `embed "…"` must name one of the given files or a
//!   standard `/capnp/*.capnp` schema. The embedded compiler can read the
//!   whole file system (it is handed `/`), so this check is what keeps a
//!   schema from importing `/etc/passwd` or `/dev/zero`; after compiling, the
//!   file nodes are checked again.
//!
//! Compiler diagnostics (which the embedded compiler writes to the process's
//! standard error) are captured and returned as one line,
//! `file.capnp:LINE:COL: message`, with the temporary directory stripped.
//!
//! Compiling is slow (the compiler is interpreted WebAssembly: a few hundred
//! milliseconds, see the crate docs), blocking, and serialized process-wide;
//! call it from a blocking thread. [`SchemaCompiler`] caches results by a
//! SHA-256 of the files' names and texts.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::schema::{SchemaError, SchemaSet};

/// Longest accepted file name, in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// Most files in one compile.
pub const MAX_FILES: usize = 64;
/// Largest accepted single file, in bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Largest accepted total of all files, in bytes.
pub const MAX_TOTAL_BYTES: usize = 4 << 20;

/// The standard schemas importable as `/capnp/<name>`.
const STD_FILES: &[&str] = &[
    "c++.capnp",
    "schema.capnp",
    "stream.capnp",
    "persistent.capnp",
    "rpc.capnp",
    "rpc-twoparty.capnp",
    "rust.capnp",
];

/// Errors from [`compile_schema`] and [`SchemaCompiler::compile`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum CompileError {
    /// A file name that is not acceptable.
    #[error("bad schema file name {0:?}: {1}")]
    BadFileName(String, &'static str),
    /// Too many files or too much text.
    #[error("schema too large: {0}")]
    TooLarge(String),
    /// An `import`/`embed` of something other than the given files.
    #[error("{0}")]
    ForbiddenImport(String),
    /// The compiler rejected the schema: `file.capnp:LINE:COL: message`.
    #[error("{0}")]
    Syntax(String),
    /// The interface name is malformed or names no interface.
    #[error("{0}")]
    NoSuchInterface(String),
    /// The compiled schema is not usable by the codec (generics, AnyPointer, …).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Temporary files could not be written, or the compiler failed to run.
    #[error("schema compiler failed: {0}")]
    Internal(String),
}

/// A compiled schema and the interface asked for.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub schema: Arc<SchemaSet>,
    pub interface_id: u64,
}

/// Checks one file name.
pub fn validate_file_name(name: &str) -> Result<(), CompileError> {
    let bad = |why| Err(CompileError::BadFileName(name.to_string(), why));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 255 bytes");
    }
    if name.contains('\0') {
        return bad("contains NUL");
    }
    if name.contains('\\') {
        return bad("contains a backslash");
    }
    if name.contains(':') {
        return bad("contains a colon");
    }
    if name.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if name.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    for part in name.split('/') {
        match part {
            "" => return bad("empty path component"),
            "." | ".." => return bad("`.` and `..` are not allowed"),
            _ => {}
        }
    }
    if !name.ends_with(".capnp") || name.rsplit('/').next() == Some(".capnp") {
        return bad("must end in .capnp");
    }
    Ok(())
}

fn validate_files(files: &[(&str, &str)]) -> Result<(), CompileError> {
    if files.is_empty() {
        return Err(CompileError::TooLarge("no schema files given".into()));
    }
    if files.len() > MAX_FILES {
        return Err(CompileError::TooLarge(format!(
            "more than {MAX_FILES} files"
        )));
    }
    let mut total = 0usize;
    let mut names = HashSet::new();
    for (name, text) in files {
        validate_file_name(name)?;
        if !names.insert(*name) {
            return Err(CompileError::BadFileName(name.to_string(), "given twice"));
        }
        if text.len() > MAX_FILE_BYTES {
            return Err(CompileError::TooLarge(format!(
                "{name} is larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        total += text.len();
    }
    // A directory and a file of the same name cannot both exist.
    for name in &names {
        let mut prefix = String::new();
        for part in name
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, dirs)| dirs)
            .unwrap_or(&[])
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if names.contains(prefix.as_str()) {
                return Err(CompileError::BadFileName(
                    name.to_string(),
                    "a directory has the name of another file",
                ));
            }
        }
    }
    if total > MAX_TOTAL_BYTES {
        return Err(CompileError::TooLarge(format!(
            "more than {MAX_TOTAL_BYTES} bytes of schema text"
        )));
    }
    Ok(())
}

/// Line and column (1-based, in bytes) of byte offset `pos`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = pos - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Resolves an import as the compiler would, relative to `from`'s directory.
/// `None` if it climbs above the root.
fn resolve_relative(from: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Finds every `import "…"` and `embed "…"` in `text` and checks that each
/// names one of `names` or a standard schema. Deliberately conservative: the
/// words are looked for everywhere, also in comments and strings, so that no
/// disagreement with the compiler's lexer can let an import through.
fn check_imports(file: &str, text: &str, names: &HashSet<&str>) -> Result<(), CompileError> {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for keyword in ["import", "embed"] {
        let mut from = 0;
        while let Some(found) = text[from..].find(keyword) {
            let start = from + found;
            let end = start + keyword.len();
            from = end;
            if (start > 0 && is_ident(bytes[start - 1]))
                || (end < bytes.len() && is_ident(bytes[end]))
            {
                continue;
            }
            // Skip white space and comments.
            let mut i = end;
            loop {
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'#' {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                break;
            }
            if i >= bytes.len() || bytes[i] != b'"' {
                // Not followed by a string literal: not an import expression.
                continue;
            }
            let lit_start = i + 1;
            let Some(len) = text[lit_start..].find('"') else {
                continue;
            };
            let target = &text[lit_start..lit_start + len];
            let (line, col) = line_col(text, start);
            let refuse = |why: &str| {
                Err(CompileError::ForbiddenImport(format!(
                    "{file}:{line}:{col}: {keyword} \"{}\": {why}",
                    target.escape_default()
                )))
            };
            if target.contains(['\\', '\n', '\r', '\0']) {
                return refuse("escapes are not allowed in import paths");
            }
            if let Some(abs) = target.strip_prefix('/') {
                match abs.strip_prefix("capnp/") {
                    Some(std) if STD_FILES.contains(&std) => {}
                    _ => return refuse(
                        "only the standard /capnp/*.capnp schemas can be imported by absolute path",
                    ),
                }
            } else {
                match resolve_relative(file, target) {
                    Some(resolved) if names.contains(resolved.as_str()) => {}
                    _ => return refuse("not one of the schema files"),
                }
            }
        }
    }
    Ok(())
}

/// Content hash of a set of files: SHA-256 over the names and texts, sorted
/// by name, each length-prefixed.
pub fn content_hash(files: &[(&str, &str)]) -> [u8; 32] {
    let mut sorted: Vec<&(&str, &str)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    h.update((sorted.len() as u64).to_le_bytes());
    for (name, text) in sorted {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().into()
}

/// Compiles `files` (name, text) and returns every node they define or
/// import; nothing is cached. Use [`compile_schema`] to also resolve and check
/// an interface.
pub fn compile_files(files: &[(&str, &str)]) -> Result<SchemaSet, CompileError> {
    validate_files(files)?;
    let names: HashSet<&str> = files.iter().map(|(n, _)| *n).collect();
    for (name, text) in files {
        check_imports(name, text, &names)?;
    }
    let dir = tempfile::Builder::new()
        .prefix("caplet-schema-")
        .tempdir()
        .map_err(|e| CompileError::Internal(format!("cannot create a temporary directory: {e}")))?;
    let root = dir.path().canonicalize().map_err(|e| {
        CompileError::Internal(format!("cannot resolve the temporary directory: {e}"))
    })?;
    let mut cmd = capnpc_embedded::CompileCommand::new();
    cmd.src_prefix(&root);
    for (name, text) in files {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CompileError::Internal(format!("cannot write {name}: {e}")))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| CompileError::Internal(format!("cannot write {name}: {e}")))?;
        cmd.file(&path);
    }
    let capture = root.join(".stderr");
    let (result, diagnostics) = run_capturing_stderr(&capture, || cmd.compile());
    let request = match result {
        Ok(request) => request,
        Err(e) => {
            let root_str = format!("{}/", root.display());
            let diagnostics = diagnostics.replace(&root_str, "");
            return Err(match first_diagnostic(&diagnostics) {
                Some(line) => CompileError::Syntax(line),
                None => CompileError::Internal(e.to_string().replace(&root_str, "")),
            });
        }
    };
    drop(dir);
    let set = SchemaSet::from_code_generator_request(&request)?;
    // Defense in depth: the compiler must not have read any other file.
    for id in set.node_ids().collect::<Vec<_>>() {
        let reader = set.node(id)?;
        let node = reader.get().map_err(SchemaError::from)?;
        if let Ok(capnp::schema_capnp::node::File(())) = node.which() {
            let display = node.get_display_name().map_err(SchemaError::from)?;
            let display = display
                .to_str()
                .map_err(|e| CompileError::Internal(e.to_string()))?;
            let ok = names.contains(display)
                || display
                    .strip_prefix("capnp/")
                    .is_some_and(|f| STD_FILES.contains(&f));
            if !ok {
                return Err(CompileError::Internal(format!(
                    "the compiler read an unexpected file {display:?}"
                )));
            }
        }
    }
    Ok(set)
}

/// Resolves `file.capnp:Outer.Inner` in `schema` to an interface id and runs
/// [`SchemaSet::check_interface`] on it.
pub fn resolve_interface(schema: &SchemaSet, interface_name: &str) -> Result<u64, CompileError> {
    let Some((file, path)) = interface_name.split_once(':') else {
        return Err(CompileError::NoSuchInterface(format!(
            "interface name {interface_name:?} must look like file.capnp:Name"
        )));
    };
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(CompileError::NoSuchInterface(format!(
            "interface name {interface_name:?} must look like file.capnp:Name"
        )));
    }
    if schema.find_by_display_name(file).is_none() {
        return Err(CompileError::NoSuchInterface(format!(
            "no schema file {file:?}"
        )));
    }
    let id = schema
        .find_by_display_name(interface_name)
        .ok_or_else(|| CompileError::NoSuchInterface(format!("no {path} in {file}")))?;
    schema.interface(id).map_err(|_| {
        CompileError::NoSuchInterface(format!("{path} in {file} is not an interface"))
    })?;
    schema.check_interface(id)?;
    Ok(id)
}

/// Compiles `files` and resolves `interface_name` (`file.capnp:Outer.Inner`);
/// the interface is checked with [`SchemaSet::check_interface`]. Not cached.
pub fn compile_schema(
    files: &[(&str, &str)],
    interface_name: &str,
) -> Result<Compiled, CompileError> {
    let schema = Arc::new(compile_files(files)?);
    let interface_id = resolve_interface(&schema, interface_name)?;
    Ok(Compiled {
        schema,
        interface_id,
    })
}

/// The first compiler diagnostic, as `file:line:col: message`, plus a count
/// of further ones.
fn first_diagnostic(stderr: &str) -> Option<String> {
    let mut first: Option<String> = None;
    let mut more = 0usize;
    for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(d) = parse_diagnostic(line) {
            if first.is_none() {
                first = Some(d);
            } else {
                more += 1;
            }
        }
    }
    let first = first.or_else(|| {
        stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    })?;
    Some(match more {
        0 => first,
        1 => format!("{first} (and 1 more error)"),
        n => format!("{first} (and {n} more errors)"),
    })
}

/// `file:12:3-7: error: Parse error.` → `file:12:3: Parse error.`
fn parse_diagnostic(line: &str) -> Option<String> {
    // Find `:<digits>:<digits>` followed by an optional `-<digits>` and `: `.
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find(':') {
        let colon = i + off;
        let mut j = colon + 1;
        let line_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if j > line_start && j < bytes.len() && bytes[j] == b':' {
            let col_start = j + 1;
            let mut k = col_start;
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            if k > col_start {
                let col_end = k;
                if k < bytes.len() && bytes[k] == b'-' {
                    k += 1;
                    while k < bytes.len() && bytes[k].is_ascii_digit() {
                        k += 1;
                    }
                }
                if line[k..].starts_with(": ") {
                    let file = &line[..colon];
                    let msg = line[k + 2..].trim_start();
                    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
                    return Some(format!(
                        "{file}:{}:{}: {msg}",
                        &line[line_start..j],
                        &line[col_start..col_end]
                    ));
                }
            }
        }
        i = colon + 1;
    }
    None
}

/// Serializes compiles: standard error is redirected process-wide meanwhile.
static COMPILE_LOCK: Mutex<()> = Mutex::new(());

/// Runs `f` with file descriptor 2 redirected into the file `capture` and
/// returns what was written there. The standard-error lock is held meanwhile,
/// so other threads' `eprintln!` wait rather than being captured.
fn run_capturing_stderr<T>(capture: &Path, f: impl FnOnce() -> T) -> (T, String) {
    let _serial = COMPILE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let stderr = std::io::stderr();
        let lock = stderr.lock();
        let file = match std::fs::File::create(capture) {
            Ok(file) => file,
            Err(_) => return (f(), String::new()),
        };
        // SAFETY: plain descriptor juggling; `saved` is restored below before
        // anything else can observe fd 2 (the stderr lock is held throughout).
        let saved = unsafe { libc::dup(2) };
        // SAFETY: `file` is open for the whole call; fd 2 is restored below.
        if saved < 0 || unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
            if saved >= 0 {
                // SAFETY: `saved` is a descriptor we own.
                unsafe { libc::close(saved) };
            }
            drop(lock);
            return (f(), String::new());
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        // SAFETY: restores the original fd 2 and closes our duplicate.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
        drop(lock);
        let result = match result {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        drop(file);
        let mut text = std::fs::read(capture).unwrap_or_default();
        text.truncate(64 * 1024);
        (result, String::from_utf8_lossy(&text).into_owned())
    }
    #[cfg(not(unix))]
    {
        let _ = capture;
        (f(), String::new())
    }
}

struct CacheEntry {
    schema: Arc<SchemaSet>,
    last_used: u64,
}

struct Cache {
    entries: HashMap<[u8; 32], CacheEntry>,
    tick: u64,
}

/// A compiler with a small in-memory cache keyed by [`content_hash`].
/// Successful compiles are cached (least recently used evicted past
/// `capacity`); failures are not.
pub struct SchemaCompiler {
    cache: Mutex<Cache>,
    capacity: usize,
}

impl std::fmt::Debug for SchemaCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaCompiler")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for SchemaCompiler {
    fn default() -> Self {
        SchemaCompiler::new(64)
    }
}

impl SchemaCompiler {
    /// A compiler caching at most `capacity` compiled file sets.
    pub fn new(capacity: usize) -> SchemaCompiler {
        SchemaCompiler {
            cache: Mutex::new(Cache {
                entries: HashMap::new(),
                tick: 0,
            }),
            capacity: capacity.max(1),
        }
    }

    /// Number of cached file sets.
    pub fn cached(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    /// Like [`compile_schema`], served from the cache when the same files
    /// (names and texts) were compiled before.
    pub fn compile(
        &self,
        files: &[(&str, &str)],
        interface_name: &str,
    ) -> Result<Compiled, CompileError> {
        let key = content_hash(files);
        let hit = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.tick += 1;
            let tick = cache.tick;
            cache.entries.get_mut(&key).map(|e| {
                e.last_used = tick;
                e.schema.clone()
            })
        };
        let schema = match hit {
            Some(schema) => schema,
            None => {
                let schema = Arc::new(compile_files(files)?);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                while cache.entries.len() >= self.capacity {
                    let Some(oldest) = cache
                        .entries
                        .iter()
                        .min_by_key(|(_, e)| e.last_used)
                        .map(|(k, _)| *k)
                    else {
                        break;
                    };
                    cache.entries.remove(&oldest);
                }
                cache.tick += 1;
                let last_used = cache.tick;
                cache.entries.insert(
                    key,
                    CacheEntry {
                        schema: schema.clone(),
                        last_used,
                    },
                );
                schema
            }
        };
        let interface_id = resolve_interface(&schema, interface_name)?;
        Ok(Compiled {
            schema,
            interface_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        for ok in ["a.capnp", "dir/b.capnp", "x-y_z.1.capnp"] {
            validate_file_name(ok).unwrap();
        }
        for bad in [
            "",
            "/etc/x.capnp",
            "../x.capnp",
            "a/../x.capnp",
            "a/./x.capnp",
            "a//x.capnp",
            "x\0.capnp",
            "x.txt",
            ".capnp",
            "a\\b.capnp",
            "c:x.capnp",
            "a\nb.capnp",
        ] {
            assert!(validate_file_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_file_name(&format!("{}.capnp", "a".repeat(250))).is_err());
    }

    #[test]
    fn imports_are_confined() {
        let names: HashSet<&str> = ["a.capnp", "sub/b.capnp"].into_iter().collect();
        let ok = |file, text| check_imports(file, text, &names).unwrap();
        let bad = |file, text| check_imports(file, text, &names).unwrap_err().to_string();
        ok("a.capnp", "using B = import \"sub/b.capnp\";");
        ok("sub/b.capnp", "using A = import \"../a.capnp\";");
        ok(
            "sub/b.capnp",
            "using A = import # comment\n  \"../a.capnp\";",
        );
        ok(
            "a.capnp",
            "using S = import \"/capnp/schema.capnp\"; struct important { x @0 :Text; }",
        );
        ok("a.capnp", "const x :Text = embed \"a.capnp\";");
        assert_eq!(
            bad("a.capnp", "\n  using X = import \"/etc/passwd\";"),
            "a.capnp:2:13: import \"/etc/passwd\": only the standard /capnp/*.capnp schemas can be imported by absolute path"
        );
        assert!(bad("a.capnp", "const x :Data = embed \"../../dev/zero\";")
            .contains("not one of the schema files"));
        assert!(
            bad("a.capnp", "using X = import \"/capnp/../../etc/passwd\";")
                .contains("only the standard")
        );
        assert!(
            bad("a.capnp", "using X = import \"c.capnp\";").contains("not one of the schema files")
        );
        assert!(bad("a.capnp", "# import \"x.capnp\"").contains("not one of"));
        assert!(bad("a.capnp", "using X = import \"a\\x2e.capnp\";").contains("escapes"));
    }

    #[test]
    fn diagnostics() {
        assert_eq!(
            parse_diagnostic("test.capnp:12:3-7: error: Parse error."),
            Some("test.capnp:12:3: Parse error.".into())
        );
        assert_eq!(
            parse_diagnostic("dir/x.capnp:1:1: error: File does not declare an ID."),
            Some("dir/x.capnp:1:1: File does not declare an ID.".into())
        );
        assert_eq!(parse_diagnostic("no position here"), None);
        assert_eq!(
            first_diagnostic("a.capnp:1:2: error: one\na.capnp:3:4: error: two\n"),
            Some("a.capnp:1:2: one (and 1 more error)".into())
        );
    }

    #[test]
    fn hash_is_order_independent_and_unambiguous() {
        assert_eq!(
            content_hash(&[("a", "1"), ("b", "2")]),
            content_hash(&[("b", "2"), ("a", "1")])
        );
        assert_ne!(content_hash(&[("a", "12")]), content_hash(&[("a1", "2")]));
    }
}
