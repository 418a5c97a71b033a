//! A worker's modules: name validation, specifier resolution, and compilation
//! of sources into QuickJS bytecode (TypeScript modules, named `.ts` or
//! `.mts`, are type-stripped first: see `typescript`).
//!
//! Workers never get the `Eval` intrinsic, and QuickJS cannot parse without it,
//! so sources are compiled here, in a context of the host-wide compiler
//! runtime that is thrown away after each worker, and the worker's own runtime
//! only ever loads the bytecode produced here. Bytecode never comes from a
//! client: it is produced in this process from the worker's source text.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::{Declared, WriteOptions};
use rquickjs::{Context, Ctx, Module, Runtime};

use crate::error::Error;
use crate::exception;
use crate::platform::node;

/// The names of the platform's own JS modules (`platform::js`) start with
/// this. They resolve only from each other, never from a worker's module.
pub const PLATFORM_PREFIX: &str = "caplet:platform/";

/// Longest module name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// How a module's source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Js,
    Json,
}

/// One module as the client sent it.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: Kind,
    pub text: String,
}

/// Compiled modules of one worker, by name. Bytecode buffers are shared with
/// the worker's runtime, which reads them in place (QuickJS's ROM-data mode),
/// so they must outlive it.
pub type Bytecode = Rc<Compiled>;

/// The bytecode of each module, by name (what [`Bytecode`] derefs to), and
/// which modules' source mentions `import.meta`: only theirs get one filled
/// in when loaded ([`set_import_meta`]), so the others pay nothing (QuickJS
/// makes an empty object on first use; filling one costs about 4 KiB).
#[derive(Default, Debug)]
pub struct Compiled {
    modules: HashMap<String, Rc<[u8]>>,
    with_meta: HashSet<String>,
}

impl Compiled {
    /// Whether module `name`'s source mentions `import.meta`.
    pub fn uses_import_meta(&self, name: &str) -> bool {
        self.with_meta.contains(name)
    }
}

impl std::ops::Deref for Compiled {
    type Target = HashMap<String, Rc<[u8]>>;

    fn deref(&self) -> &Self::Target {
        &self.modules
    }
}

/// Whether `text` may use `import.meta`: both words appear. Neither can be
/// written with escapes there (QuickJS refuses an escaped keyword and reads
/// `meta` only unescaped), and comments between them still leave both
/// words, so no use is missed; a false positive only fills in an object.
fn mentions_import_meta(text: &str) -> bool {
    text.contains("import") && text.contains("meta")
}

/// Checks a module name: 1–256 bytes, no NUL, no backslash, no empty or `.`/`..`
/// path segments.
pub fn check_name(name: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::BadCode(format!("module name {name:?}: {why}")));
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return bad("must be 1 to 256 bytes");
    }
    if name.contains('\0') || name.contains('\\') {
        return bad("must not contain NUL or backslash");
    }
    if name
        .trim_start_matches('/')
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return bad("must not contain empty, `.` or `..` segments");
    }
    Ok(())
}

/// Resolves an import specifier against the importing module's name, the way
/// relative URLs resolve: `./b.js` from `lib/a.js` is `lib/b.js`, `../c.js`
/// is `c.js`, and a bare or `/`-rooted specifier names a module directly.
/// Returns `None` when the specifier climbs above the root.
pub fn resolve(base: &str, specifier: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let relative = specifier.starts_with("./") || specifier.starts_with("../");
    if relative {
        parts.extend(base.split('/'));
        parts.pop(); // the importing module's own file name
    }
    for seg in specifier.trim_start_matches('/').split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// The URL a worker's module `name` has as `import.meta.url`: `file:///`
/// followed by the name, as Cloudflare Workers give a bundled module. It
/// says nothing about the host: module names are the worker's own.
pub fn module_url(name: &str) -> String {
    let mut url = url::Url::parse("file:///").expect("file:/// is a URL");
    url.set_path(name);
    url.into()
}

/// The module name a `file:` URL specifier names (`file:///lib/a.js` is
/// `lib/a.js`), so that `import(new URL("./a.js", import.meta.url).href)`
/// imports what `import("./a.js")` does.
fn url_module_name(specifier: &str) -> Option<String> {
    // No module name starts so (empty segments), so none is shadowed.
    if !specifier.starts_with("file:///") {
        return None;
    }
    let url = url::Url::parse(specifier).ok()?;
    if url.host().is_some() || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    let path = url.to_file_path().ok()?;
    Some(path.to_str()?.trim_start_matches('/').to_string())
}

/// What `import.meta.resolve(specifier)` gives in the module `base`, as
/// HTML's "resolve a module specifier" without an import map: a relative
/// specifier (`./`, `../`, `/`) joined to the module's URL, an absolute
/// URL as it is, and a bare name the URL of the worker's module of that
/// name or else the `node:` built-in it names; `None` when nothing fits.
fn resolve_url(names: &HashMap<String, Rc<[u8]>>, base: &str, specifier: &str) -> Option<String> {
    let relative = ["./", "../", "/"].iter().any(|p| specifier.starts_with(p));
    if relative {
        let base = url::Url::parse(&module_url(base)).ok()?;
        return base.join(specifier).ok().map(Into::into);
    }
    if let Ok(url) = url::Url::parse(specifier) {
        return Some(url.into());
    }
    if names.contains_key(specifier) {
        return Some(module_url(specifier));
    }
    node::builtin(specifier).map(str::to_string)
}

/// Gives the worker's module `name`, just loaded, its `import.meta`: `url`
/// ([`module_url`]), `resolve` (as `resolve_url` resolves; a `TypeError` when
/// the specifier resolves to nothing), and as in Deno and Node.js `main`
/// (whether it is the worker's main module) and the `filename` and
/// `dirname` of its URL's path (`/lib/a.js`, `/lib`).
pub fn set_import_meta<'js>(
    ctx: &Ctx<'js>,
    module: &Module<'js, Declared>,
    name: &str,
    names: &Bytecode,
    main: bool,
) -> rquickjs::Result<()> {
    let meta = module.meta()?;
    meta.set("url", module_url(name))?;
    meta.set("main", main)?;
    let filename = format!("/{}", name.trim_start_matches('/'));
    let dirname = match filename.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((dir, _)) => dir,
    };
    meta.set("dirname", dirname)?;
    meta.set("filename", filename.as_str())?;
    let (base, names) = (name.to_string(), names.clone());
    let resolve = rquickjs::Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, specifier: rquickjs::Coerced<String>| match resolve_url(
            &names,
            &base,
            &specifier.0,
        ) {
            Some(url) => Ok(url),
            None => Err(rquickjs::Exception::throw_type(
                &ctx,
                &format!(
                    "cannot resolve module specifier {:?} from {:?}",
                    specifier.0, base
                ),
            )),
        },
    )?
    .with_name("resolve")?;
    meta.set("resolve", resolve)?;
    Ok(())
}

/// The resolver shared by the compiler and by worker runtimes: only the
/// worker's own module names resolve, and from a platform module only the
/// platform's.
struct WorkerResolver {
    names: Rc<RefCell<Vec<String>>>,
    platform: Option<Bytecode>,
}

impl Resolver for WorkerResolver {
    fn resolve<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        let platform = self
            .platform
            .as_ref()
            .filter(|_| base.starts_with(PLATFORM_PREFIX));
        let found = match url_module_name(name) {
            Some(named) => Some(named),
            None => resolve(base, name),
        };
        match (found, platform) {
            (Some(found), Some(platform)) if platform.contains_key(&found) => Ok(found),
            (Some(found), None) if self.names.borrow().contains(&found) => Ok(found),
            (_, None) if node::native_import(base, name).is_some() => Ok(name.to_string()),
            // A Node.js built-in, unless the worker has a module of that name.
            (_, None) => match (node::builtin(name), node::refusal(name)) {
                (Some(builtin), _) => Ok(builtin.to_string()),
                (None, Some(why)) => Err(rquickjs::Exception::throw_reference(
                    ctx,
                    &format!("module_not_found: {why} (imported from {base:?})"),
                )),
                (None, None) => Err(rquickjs::Exception::throw_reference(
                    ctx,
                    &format!("module_not_found: {name:?} imported from {base:?}"),
                )),
            },
            _ => Err(rquickjs::Exception::throw_reference(
                ctx,
                &format!("module_not_found: {name:?} imported from {base:?}"),
            )),
        }
    }
}

/// Loads modules from source inside the compiler, writing each one's bytecode
/// as it goes.
struct CompileLoader {
    job: Rc<RefCell<CompileJob>>,
}

#[derive(Default)]
struct CompileJob {
    sources: HashMap<String, Source>,
    bytecode: HashMap<String, Rc<[u8]>>,
    /// Leave functions' source text out of the bytecode.
    strip_source: bool,
}

fn declare_and_write<'js>(
    ctx: &Ctx<'js>,
    source: &Source,
    strip_source: bool,
) -> rquickjs::Result<(Module<'js, Declared>, Vec<u8>)> {
    let text = match source.kind {
        Kind::Js => source.text.clone(),
        // Validated as JSON by the caller, so this is data, never code.
        Kind::Json => format!("export default {};", source.text),
    };
    let module = Module::declare(ctx.clone(), source.name.as_str(), text)?;
    let bytecode = module.write(WriteOptions {
        strip_source,
        ..WriteOptions::default()
    })?;
    Ok((module, bytecode))
}

impl Loader for CompileLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        let (source, strip_source) = {
            let job = self.job.borrow();
            (job.sources.get(name).cloned(), job.strip_source)
        };
        if source.is_none() {
            if let Some(native) = node::declare_native(ctx, name) {
                return native;
            }
            if let Some(bytes) = builtin_bytecode(ctx, name)? {
                return load_bytecode(ctx, &bytes);
            }
        }
        let source = source.ok_or_else(|| {
            rquickjs::Exception::throw_reference(ctx, &format!("module_not_found: {name:?}"))
        })?;
        let (module, bytecode) = declare_and_write(ctx, &source, strip_source)?;
        self.job
            .borrow_mut()
            .bytecode
            .insert(name.to_string(), bytecode.into());
        Ok(module)
    }
}

/// Gives the module defined in Rust for a platform module name, if any.
pub type NativeLoader =
    for<'js> fn(&Ctx<'js>, &str) -> Option<rquickjs::Result<Module<'js, Declared>>>;

/// Loads modules from a worker's bytecode (and the platform's) inside the
/// worker's runtime.
struct BytecodeLoader {
    bytecode: Bytecode,
    platform: Bytecode,
    natives: NativeLoader,
}

impl Loader for BytecodeLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        if name.starts_with(PLATFORM_PREFIX) {
            if let Some(native) = (self.natives)(ctx, name) {
                return native;
            }
            let bytes = self.platform.get(name).ok_or_else(|| {
                rquickjs::Exception::throw_reference(ctx, &format!("module_not_found: {name:?}"))
            })?;
            return load_bytecode(ctx, bytes);
        }
        if let Some(bytes) = self.bytecode.get(name) {
            let module = load_bytecode(ctx, bytes)?;
            if self.bytecode.uses_import_meta(name) {
                set_import_meta(ctx, &module, name, &self.bytecode, false)?;
            }
            return Ok(module);
        }
        if let Some(native) = node::declare_native(ctx, name) {
            return native;
        }
        match builtin_bytecode(ctx, name)? {
            Some(bytes) => load_bytecode(ctx, &bytes),
            None => Err(rquickjs::Exception::throw_reference(
                ctx,
                &format!("module_not_found: {name:?}"),
            )),
        }
    }
}

/// Instantiates a module from bytecode this process compiled.
pub fn load_bytecode<'js>(
    ctx: &Ctx<'js>,
    bytes: &Rc<[u8]>,
) -> rquickjs::Result<Module<'js, Declared>> {
    // SAFETY: `bytes` was produced by `Module::write` in this process, by the
    // same QuickJS build, from the worker's source text (never client bytes),
    // and the buffer is kept alive by the worker for as long as its runtime.
    unsafe { Module::load(ctx.clone(), bytes) }
}

/// Installs the loader that serves a worker's compiled modules, and the
/// platform's (`platform`, names under [`PLATFORM_PREFIX`], and the modules
/// `natives` defines in Rust), into its runtime.
pub fn install_worker_loader(
    runtime: &Runtime,
    bytecode: &Bytecode,
    platform: &Bytecode,
    natives: NativeLoader,
) {
    let names = Rc::new(RefCell::new(bytecode.keys().cloned().collect()));
    runtime.set_loader(
        WorkerResolver {
            names,
            platform: Some(platform.clone()),
        },
        BytecodeLoader {
            bytecode: bytecode.clone(),
            platform: platform.clone(),
            natives,
        },
    );
}

thread_local! {
    /// Host modules (the platform's JS, the `node:` modules), compiled once
    /// per host thread and never freed: runtimes read bytecode in place.
    static HOST_MODULES: RefCell<HashMap<&'static str, Rc<[u8]>>> = RefCell::new(HashMap::new());
}

/// The bytecode of a module the host provides (`name` is never a worker's:
/// it comes from this binary), compiled the first time any worker of this
/// host needs it.
pub fn host_module(name: &'static str, source: &'static str) -> Result<Rc<[u8]>, Error> {
    if let Some(found) = HOST_MODULES.with(|m| m.borrow().get(name).cloned()) {
        return Ok(found);
    }
    let compiler = Compiler::new(32 << 20, 256 << 10)?;
    let compiled = compiler.compile(&[Source {
        name: name.to_string(),
        kind: Kind::Js,
        text: source.to_string(),
    }])?;
    let bytes = compiled
        .get(name)
        .cloned()
        .ok_or_else(|| Error::Engine(format!("host module {name} did not compile")))?;
    // Kept for the thread's life: a worker's runtime may read it until the end.
    std::mem::forget(bytes.clone());
    HOST_MODULES.with(|m| m.borrow_mut().insert(name, bytes.clone()));
    Ok(bytes)
}

/// The bytecode of the `node:` built-in `name`, if it is one.
fn builtin_bytecode(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<Option<Rc<[u8]>>> {
    let Some(canonical) = node::builtin(name).filter(|c| *c == name) else {
        return Ok(None);
    };
    let source = node::source(canonical).unwrap_or_default();
    host_module(canonical, source)
        .map(Some)
        .map_err(|e| rquickjs::Exception::throw_internal(ctx, &format!("{canonical}: {e}")))
}

/// Turns worker sources into bytecode. One per isolate-host; each compilation
/// uses a fresh context, so module names of different workers never meet.
pub struct Compiler {
    runtime: Runtime,
    job: Rc<RefCell<CompileJob>>,
    names: Rc<RefCell<Vec<String>>>,
    /// Workers compiled before, by a SHA-256 of their modules (names, kinds,
    /// texts), oldest first. Loading the same code again skips the parser.
    /// The bytecode is still this compiler's own output.
    cache: RefCell<std::collections::VecDeque<([u8; 32], Bytecode, usize)>>,
    /// Leave functions' source text (`Function.prototype.toString`) out of
    /// the bytecode; line numbers stay.
    strip_source: bool,
}

/// How many compiled workers the cache keeps, and how many bytes of bytecode.
const CACHE_ENTRIES: usize = 256;
const CACHE_BYTES: usize = 32 << 20;

/// The cache key of a worker's modules.
fn cache_key(sources: &[Source]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update((sources.len() as u64).to_le_bytes());
    for source in sources {
        for part in [source.name.as_bytes(), source.text.as_bytes()] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        hash.update([source.kind as u8]);
    }
    hash.finalize().into()
}

impl Compiler {
    /// Creates the compiler runtime with its own memory and stack limits, so a
    /// hostile source cannot exhaust the host while being parsed.
    pub fn new(memory_bytes: usize, stack_bytes: usize) -> Result<Self, Error> {
        let runtime = Runtime::new().map_err(|e| Error::Engine(e.to_string()))?;
        runtime.set_memory_limit(memory_bytes);
        // Parsing deeply nested source recurses: never past the real stack.
        runtime.set_max_stack_size(stack_bytes.min(crate::stack::stack_ceiling()));
        let job = Rc::new(RefCell::new(CompileJob::default()));
        let names = Rc::new(RefCell::new(Vec::new()));
        runtime.set_loader(
            WorkerResolver {
                names: names.clone(),
                platform: None,
            },
            CompileLoader { job: job.clone() },
        );
        Ok(Self {
            runtime,
            job,
            names,
            cache: RefCell::new(std::collections::VecDeque::new()),
            strip_source: false,
        })
    }

    /// A compiler whose bytecode has no functions' source text: for the
    /// host's own modules, which a worker loads on first use, so their
    /// functions cost no copy of their text in each worker.
    pub fn without_source(self) -> Self {
        Self {
            strip_source: true,
            ..self
        }
    }

    /// Compiles every module (or finds them compiled before). Fails with the
    /// first syntax error (with `module:line:column`) or unresolvable import.
    pub fn compile(&self, sources: &[Source]) -> Result<Bytecode, Error> {
        let key = cache_key(sources);
        {
            let mut cache = self.cache.borrow_mut();
            if let Some(at) = cache.iter().position(|(k, _, _)| *k == key) {
                let entry = cache.remove(at).expect("position is in range");
                let bytecode = entry.1.clone();
                cache.push_back(entry);
                return Ok(bytecode);
            }
        }
        let bytecode = self.compile_uncached(sources)?;
        let size = bytecode.values().map(|b| b.len()).sum::<usize>();
        let mut cache = self.cache.borrow_mut();
        cache.push_back((key, bytecode.clone(), size));
        let mut total: usize = cache.iter().map(|(_, _, size)| size).sum();
        while cache.len() > CACHE_ENTRIES || (total > CACHE_BYTES && cache.len() > 1) {
            if let Some((_, _, size)) = cache.pop_front() {
                total -= size;
            }
        }
        Ok(bytecode)
    }

    fn compile_uncached(&self, sources: &[Source]) -> Result<Bytecode, Error> {
        for source in sources {
            check_name(&source.name)?;
            if source.kind == Kind::Json {
                serde_json::from_str::<serde_json::Value>(&source.text)
                    .map_err(|e| Error::BadCode(format!("json module {:?}: {e}", source.name)))?;
            }
        }
        // TypeScript becomes JavaScript with every position kept.
        let mut sources = sources.to_vec();
        for source in &mut sources {
            if source.kind == Kind::Js && crate::typescript::is_typescript(&source.name) {
                source.text = crate::typescript::strip(&source.name, &source.text)?;
            }
        }
        *self.names.borrow_mut() = sources.iter().map(|s| s.name.clone()).collect();
        *self.job.borrow_mut() = CompileJob {
            sources: sources
                .iter()
                .map(|s| (s.name.clone(), s.clone()))
                .collect(),
            bytecode: HashMap::new(),
            strip_source: self.strip_source,
        };
        let result = self.compile_all(&sources);
        let job = std::mem::take(&mut *self.job.borrow_mut());
        self.names.borrow_mut().clear();
        result?;
        let with_meta = sources
            .iter()
            .filter(|s| s.kind == Kind::Js && mentions_import_meta(&s.text))
            .map(|s| s.name.clone())
            .collect();
        Ok(Rc::new(Compiled {
            modules: job.bytecode,
            with_meta,
        }))
    }

    fn compile_all(&self, sources: &[Source]) -> Result<(), Error> {
        // The parser needs `Eval`, and `RegExpCompiler` for regex literals.
        use rquickjs::context::intrinsic::{Eval, RegExpCompiler};
        let context = Context::custom::<(Eval, RegExpCompiler)>(&self.runtime)
            .map_err(|e| Error::Engine(e.to_string()))?;
        context.with(|ctx| {
            for source in sources {
                if self.job.borrow().bytecode.contains_key(&source.name) {
                    continue; // already compiled as an import of an earlier module
                }
                match declare_and_write(&ctx, source, self.strip_source) {
                    Ok((_, bytecode)) => {
                        self.job
                            .borrow_mut()
                            .bytecode
                            .insert(source.name.clone(), bytecode.into());
                    }
                    Err(rquickjs::Error::Exception) => {
                        return Err(exception::compile_error(&ctx, &ctx.catch(), &source.name))
                    }
                    Err(other) => return Err(Error::Engine(other.to_string())),
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_relative_urls() {
        assert_eq!(resolve("main.js", "./util.js").as_deref(), Some("util.js"));
        assert_eq!(resolve("lib/a.js", "./b.js").as_deref(), Some("lib/b.js"));
        assert_eq!(resolve("lib/a.js", "../c.js").as_deref(), Some("c.js"));
        assert_eq!(resolve("lib/a.js", "c.js").as_deref(), Some("c.js"));
        assert_eq!(resolve("lib/a.js", "/x/y.js").as_deref(), Some("x/y.js"));
        assert_eq!(resolve("main.js", "../escape.js"), None);
    }

    #[test]
    fn module_urls_say_nothing_of_the_host() {
        assert_eq!(module_url("main.js"), "file:///main.js");
        assert_eq!(module_url("lib/a b.js"), "file:///lib/a%20b.js");
        assert_eq!(module_url("/rooted.js"), "file:///rooted.js");
        assert_eq!(
            url_module_name("file:///lib/a%20b.js").as_deref(),
            Some("lib/a b.js")
        );
        // Only file:/// URLs without a host, query or fragment name modules;
        // a module may be named "file:a.js" and is not shadowed.
        assert_eq!(url_module_name("file:a.js"), None);
        assert_eq!(url_module_name("file://host/a.js"), None);
        assert_eq!(url_module_name("file:///a.js?x"), None);
        assert_eq!(url_module_name("https://example.com/a.js"), None);
        let names: HashMap<String, Rc<[u8]>> = [("util.js".to_string(), Rc::from(&[][..]))].into();
        let resolve = |specifier| resolve_url(&names, "lib/a.js", specifier);
        assert_eq!(resolve("./b.js").as_deref(), Some("file:///lib/b.js"));
        assert_eq!(resolve("../../../c.js").as_deref(), Some("file:///c.js"));
        assert_eq!(resolve("util.js").as_deref(), Some("file:///util.js"));
        assert_eq!(resolve("fs").as_deref(), None);
        assert_eq!(resolve("path").as_deref(), Some("node:path"));
        assert_eq!(resolve("nowhere").as_deref(), None);
    }

    #[test]
    fn rejects_bad_names() {
        for name in ["", "a/../b.js", "a//b.js", "./a.js", "a\0b", "a\\b"] {
            assert!(check_name(name).is_err(), "{name:?} accepted");
        }
        assert!(check_name(&"x".repeat(257)).is_err());
        check_name("lib/util.js").unwrap();
    }

    fn js(name: &str, text: &str) -> Source {
        Source {
            name: name.into(),
            kind: Kind::Js,
            text: text.into(),
        }
    }

    #[test]
    fn compiles_modules_and_their_imports() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        let out = compiler
            .compile(&[
                js(
                    "main.js",
                    "import { x } from './lib/x.js'; export default x;",
                ),
                js("lib/x.js", "export const x = 1;"),
            ])
            .unwrap();
        assert_eq!(out.len(), 2);
        // The same names compile again for another worker: contexts do not leak.
        compiler
            .compile(&[js("main.js", "export default 2;")])
            .unwrap();
    }

    #[test]
    fn the_same_modules_compile_once() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        let first = compiler
            .compile(&[js("main.js", "export default 1;")])
            .unwrap();
        let again = compiler
            .compile(&[js("main.js", "export default 1;")])
            .unwrap();
        assert!(
            Rc::ptr_eq(&first, &again),
            "a second load reuses the bytecode"
        );
        let other = compiler
            .compile(&[js("main.js", "export default 2;")])
            .unwrap();
        assert!(!Rc::ptr_eq(&first, &other), "other source, other bytecode");
        let renamed = compiler
            .compile(&[js("other.js", "export default 1;")])
            .unwrap();
        assert!(!Rc::ptr_eq(&first, &renamed), "other name, other bytecode");
    }

    #[test]
    fn syntax_errors_name_module_line_and_column() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        let err = compiler
            .compile(&[js("main.js", "let a = 1;\nlet b = ;\n")])
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("syntax_error: main.js:2:"), "{text}");
    }

    #[test]
    fn typescript_modules_import_each_other_and_keep_positions() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        let out = compiler
            .compile(&[
                js(
                    "agent.ts",
                    "import { x } from './util.ts';\nexport default (n: number): number => x + n;",
                ),
                js("util.ts", "export const x: number = 1;\ntype T = string;"),
            ])
            .unwrap();
        assert_eq!(out.len(), 2);
        // A syntax error QuickJS finds after stripping points at the TS source.
        let err = compiler
            .compile(&[js(
                "agent.ts",
                "let a: string = '';\nlet b: number = 1 +;\n",
            )])
            .unwrap_err();
        assert!(
            err.to_string().starts_with("syntax_error: agent.ts:2:"),
            "{err}"
        );
        let err = compiler
            .compile(&[js("main.mts", "\nenum E { A }\n")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "syntax_error: main.mts:2:1: TypeScript enum is not supported in strip-only mode"
        );
    }

    #[test]
    fn unknown_imports_are_named() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        let err = compiler
            .compile(&[js("main.js", "import x from 'node:fs'; export default x;")])
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("module_not_found") && text.contains("node:fs"),
            "{text}"
        );
    }

    #[test]
    fn json_modules_must_be_json() {
        let compiler = Compiler::new(64 << 20, 1 << 20).unwrap();
        let bad = Source {
            name: "d.json".into(),
            kind: Kind::Json,
            text: "{} ; globalThis.x = 1".into(),
        };
        let err = compiler.compile(&[bad]).unwrap_err();
        assert!(
            err.to_string().starts_with("bad_code: json module"),
            "{err}"
        );
    }
}
