//! Unit tests of the lazy platform layer, in a bare runtime (with `eval`
//! for brevity; workers compile their code instead).

use std::collections::HashSet;

use rquickjs::{CatchResultExt, Context, Runtime};

use super::*;
use crate::modules;

/// A runtime and context with a worker's intrinsics, plus `eval`.
fn context(runtime: &Runtime) -> Context {
    use crate::engine::WorkerIntrinsics;
    use rquickjs::context::intrinsic::Eval;
    Context::custom::<(WorkerIntrinsics, Eval)>(runtime).unwrap()
}

fn runtime() -> (Runtime, Context) {
    let runtime = Runtime::new().unwrap();
    let context = context(&runtime);
    let empty = crate::modules::Bytecode::default();
    modules::install_worker_loader(&runtime, &empty, &js::bytecode().unwrap(), native_module);
    context.with(|ctx| {
        install(&ctx).unwrap();
        let sink = std::rc::Rc::new(std::cell::RefCell::new(crate::console::LogSink::default()));
        crate::console::attach(&ctx, sink).unwrap();
    });
    (runtime, context)
}

fn eval(context: &Context, source: &str) -> Result<String, String> {
    context.with(|ctx| {
        let value: rquickjs::Value = ctx.eval(source).catch(&ctx).map_err(|e| e.to_string())?;
        Ok(ctx
            .json_stringify(value)
            .map_err(|e| e.to_string())?
            .map(|s| s.to_string().unwrap())
            .unwrap_or_default())
    })
}

#[test]
fn global_names_are_unique() {
    let mut seen = HashSet::new();
    for global in TABLES.iter().flat_map(|table| table.iter()) {
        assert!(seen.insert(global.name), "{} is listed twice", global.name);
    }
}

#[test]
fn the_engine_defines_no_platform_global_but_the_shadowed_ones() {
    // Both kinds of worker context (with and without `eval`): an engine
    // global of a platform name would hide the lazy one unless it is in
    // SHADOWED_BUILTINS, which `install` removes.
    use crate::engine::WorkerIntrinsics;
    let runtime = Runtime::new().unwrap();
    let contexts = [
        context(&runtime),
        Context::custom::<WorkerIntrinsics>(&runtime).unwrap(),
    ];
    for context in contexts {
        context.with(|ctx| {
            let globals = ctx.globals();
            let defined: Vec<&str> = TABLES
                .iter()
                .flat_map(|table| table.iter())
                .map(|global| global.name)
                .filter(|name| globals.contains_key(*name).unwrap())
                .collect();
            assert_eq!(defined, SHADOWED_BUILTINS);
            install(&ctx).unwrap();
            let object: rquickjs::Object = globals.get("Object").unwrap();
            let has_own: rquickjs::Function = object.get("hasOwn").unwrap();
            for name in SHADOWED_BUILTINS {
                let own: bool = has_own.call((globals.clone(), *name)).unwrap();
                assert!(!own, "{name} still shadows");
            }
        });
    }
}

#[test]
fn nothing_is_built_until_touched() {
    let (_runtime, context) = runtime();
    let built = "Object.getOwnPropertyNames(Object.getPrototypeOf(globalThis))";
    assert_eq!(eval(&context, built).unwrap(), "[]");
    // Asking whether it exists does not build it.
    assert_eq!(
        eval(
            &context,
            "['Event' in globalThis, 'NoSuchThing' in globalThis]"
        )
        .unwrap(),
        "[true,false]"
    );
    assert_eq!(eval(&context, built).unwrap(), "[]");
    assert_eq!(eval(&context, "typeof Event").unwrap(), "\"function\"");
    assert_eq!(eval(&context, built).unwrap(), "[\"Event\"]");
    assert_eq!(
        eval(&context, "Event === globalThis.Event && Event === Event").unwrap(),
        "true"
    );
}

#[test]
fn unknown_names_still_throw_reference_errors() {
    let (_runtime, context) = runtime();
    assert_eq!(
        eval(&context, "typeof NoSuchGlobal").unwrap(),
        "\"undefined\""
    );
    assert_eq!(
        eval(
            &context,
            "try { NoSuchGlobal; 'no error' } catch (e) { `${e.name}: ${e.message}` }"
        )
        .unwrap(),
        "\"ReferenceError: NoSuchGlobal is not defined\""
    );
    assert_eq!(
        eval(&context, "globalThis.NoSuchGlobal === undefined").unwrap(),
        "true"
    );
}

#[test]
fn a_global_is_an_ordinary_property_once_built() {
    let (_runtime, context) = runtime();
    let descriptor = "(() => { EventTarget; const d = Object.getOwnPropertyDescriptor(\
        Object.getPrototypeOf(globalThis), 'EventTarget'); \
        return [d.writable, d.enumerable, d.configurable, typeof d.value]; })()";
    assert_eq!(
        eval(&context, descriptor).unwrap(),
        "[true,false,true,\"function\"]"
    );
    // Assigning shadows it on the global object, as with any inherited property.
    assert_eq!(
        eval(
            &context,
            "globalThis.Event = 1; [Event, delete globalThis.Event, typeof Event]"
        )
        .unwrap(),
        "[1,true,\"function\"]"
    );
    // Assigning before the first read builds nothing twice and shadows too.
    assert_eq!(eval(&context, "CustomEvent = 2; CustomEvent").unwrap(), "2");
}

#[test]
fn a_deleted_global_stays_deleted() {
    let (_runtime, context) = runtime();
    assert_eq!(
        eval(
            &context,
            "Event; delete Object.getPrototypeOf(globalThis).Event; typeof Event"
        )
        .unwrap(),
        "\"undefined\""
    );
}

#[test]
fn js_modules_load_once_per_context() {
    let (_runtime, context) = runtime();
    // CustomEvent and Event come from one instance of events.js, and the
    // DOMException events.js throws is the global one.
    assert_eq!(
        eval(
            &context,
            "new CustomEvent('x', { detail: 5 }) instanceof Event"
        )
        .unwrap(),
        "true"
    );
    let source = "(() => {
        let caught;
        globalThis.console = { error: (_, e) => { caught = e; } };
        const target = new EventTarget();
        const event = new Event('ping');
        target.addEventListener('ping', () => target.dispatchEvent(event));
        target.dispatchEvent(event);
        return [caught instanceof DOMException, caught.name];
    })()";
    assert_eq!(
        eval(&context, source).unwrap(),
        "[true,\"InvalidStateError\"]"
    );
}

#[test]
fn a_context_with_loaded_modules_is_freed_cleanly() {
    // QuickJS aborts the process when it frees a runtime with objects left:
    // the namespaces the lazy object holds must be traced and released.
    for _ in 0..3 {
        let (runtime, context) = runtime();
        eval(&context, "new CustomEvent('x'); new DOMException('y'); 1").unwrap();
        runtime.run_gc();
        drop(context);
        drop(runtime);
    }
}

#[test]
fn installing_costs_almost_nothing() {
    let runtime = Runtime::new().unwrap();
    let context = context(&runtime);
    let before = runtime.memory_usage().malloc_size;
    context.with(|ctx| install(&ctx).unwrap());
    let after = runtime.memory_usage().malloc_size;
    let cost = after - before;
    println!("platform install: {cost} bytes per context");
    // The lazy object (under 512 bytes), plus the six native locale methods
    // of `intl::install_locale_methods` (about 150 bytes each with their
    // name and length): ECMA-402 says the built-ins' toLocaleString and
    // friends go through Intl, so they are replaced in every context.
    assert!(cost < 1536, "installing the platform cost {cost} bytes");
}
