//! How platform globals stay free until touched: one native exotic object,
//! inserted as the prototype of a worker's global object (between
//! `globalThis` and `Object.prototype`).
//!
//! QuickJS looks a global name up on the global object first, then along its
//! prototype chain. The lazy object has no ordinary properties at first; its
//! only exotic hook is `get_own_property`, which finds the name in the static
//! tables of [`LazyGlobal`]s, runs the builder, and stores the value as an
//! ordinary data property (writable, configurable, not enumerable) of the
//! lazy object itself. Later lookups find that property directly and never
//! reach the hook again. A name not in the tables answers "no such
//! property", so a bare unknown identifier still throws `ReferenceError`,
//! and `typeof X`, `X in globalThis` and `globalThis.X` all see the global.
//! (The hook is not a `get` trap on purpose: QuickJS cannot report "not
//! found" from one, so `undefinedName` would read as `undefined`.)
//!
//! The value is stored on the lazy object rather than on `globalThis`
//! because the hook also runs inside `globalThis.X = v` before QuickJS adds
//! `X` to the global object; defining it there too would add it twice. So
//! assigning a platform global shadows it on `globalThis`, as assigning any
//! inherited property does.
//!
//! Per context this costs one object and one small Rust allocation; nothing
//! is built until a worker touches it. The object also keeps the namespaces
//! of the platform's JS modules loaded in the context ([`cached_module`]),
//! traced by the collector through the class's `gc_mark` hook, so no
//! Rust-side root holds a JS value.

use std::cell::RefCell;
use std::ffi::c_int;
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;

use rquickjs::{qjs, Ctx, JsLifetime, Object, Value};

/// One global created on first access.
pub struct LazyGlobal {
    /// The global's name, as code writes it (`URL`, `TextEncoder`).
    pub name: &'static str,
    /// Builds the global's value in the worker's context. Runs once per
    /// context, on the first lookup of `name`, under the worker's limits.
    pub build: for<'js> fn(&Ctx<'js>) -> rquickjs::Result<Value<'js>>,
}

/// The per-context state behind the lazy object.
struct State {
    tables: &'static [&'static [LazyGlobal]],
    /// Globals built (or being built) in this context, one bit per entry of
    /// the flattened tables. A built global is never built again, even if
    /// its property is deleted; one being built reads as absent inside its
    /// own builder.
    done: RefCell<Vec<u64>>,
    /// Namespaces of the platform's JS modules loaded in this context.
    modules: RefCell<Vec<(&'static str, qjs::JSValue)>>,
}

impl State {
    fn find(&self, name: &str) -> Option<(usize, &'static LazyGlobal)> {
        self.tables
            .iter()
            .flat_map(|table| table.iter())
            .enumerate()
            .find(|(_, global)| global.name == name)
    }

    fn is_done(&self, index: usize) -> bool {
        self.done
            .borrow()
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    fn set_done(&self, index: usize, done: bool) {
        let mut words = self.done.borrow_mut();
        if words.len() <= index / 64 {
            words.resize(index / 64 + 1, 0);
        }
        if done {
            words[index / 64] |= 1 << (index % 64);
        } else {
            words[index / 64] &= !(1 << (index % 64));
        }
    }
}

/// The lazy class's id in a runtime (kept as runtime userdata; a class id
/// is per runtime).
struct LazyClass(qjs::JSClassID);

// SAFETY: holds no JS value and no lifetime.
unsafe impl<'js> JsLifetime<'js> for LazyClass {
    type Changed<'to> = LazyClass;
}

static EXOTIC: qjs::JSClassExoticMethods = qjs::JSClassExoticMethods {
    get_own_property: Some(get_own_property),
    get_own_property_names: None,
    delete_property: None,
    define_own_property: None,
    has_property: None,
    get_property: None,
    set_property: None,
};

/// Makes the globals of `tables` lazily reachable from `ctx`'s global object,
/// first removing the engine's own globals named in `shadowed` (own
/// properties of the global object would hide the lazy ones). Call once per
/// context, before any worker code runs.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    tables: &'static [&'static [LazyGlobal]],
    shadowed: &[&str],
) -> rquickjs::Result<()> {
    let raw = ctx.as_raw().as_ptr();
    let class_id = match ctx.userdata::<LazyClass>() {
        Some(class) => class.0,
        None => {
            // SAFETY: `raw` is a live context; the class definition and its
            // exotic methods are 'static (QuickJS never writes through the
            // `exotic` pointer).
            let id = unsafe {
                let rt = qjs::JS_GetRuntime(raw);
                let mut id: qjs::JSClassID = 0;
                qjs::JS_NewClassID(rt, &mut id);
                let def = qjs::JSClassDef {
                    class_name: c"CapletPlatform".as_ptr(),
                    finalizer: Some(finalize),
                    gc_mark: Some(mark),
                    call: None,
                    exotic: (&raw const EXOTIC).cast_mut(),
                };
                if qjs::JS_NewClass(rt, id, &def) != 0 {
                    return Err(rquickjs::Error::Unknown);
                }
                id
            };
            ctx.store_userdata(LazyClass(id))
                .map_err(|_| rquickjs::Error::Unknown)?;
            id
        }
    };
    let globals = ctx.globals();
    // The platform's definition wins over an engine built-in of the same
    // name. Only the names the engine defines are removed: removing a name
    // costs an atom lookup, and a spare isolate is prepared per load.
    for name in shadowed {
        globals.remove(*name)?;
    }
    let object_proto = globals.get_prototype();
    let state = Box::new(State {
        tables,
        done: RefCell::new(Vec::new()),
        modules: RefCell::new(Vec::new()),
    });
    // SAFETY: a fresh object of our class takes ownership of `state`
    // (freed by `finalize`); the proto value is borrowed, not consumed.
    let lazy = unsafe {
        let proto = object_proto
            .as_ref()
            .map_or(qjs::JS_NULL, |proto| proto.as_raw());
        let object = qjs::JS_NewObjectProtoClass(raw, proto, class_id);
        if qjs::JS_IsException(object) {
            return Err(rquickjs::Error::Exception);
        }
        qjs::JS_SetOpaque(object, Box::into_raw(state).cast());
        Value::from_raw(ctx.clone(), object)
    };
    let lazy = Object::from_value(lazy)?;
    globals.set_prototype(Some(&lazy))
}

/// The lazy object of `ctx` (the prototype of its global object), or `None`
/// if the worker replaced that prototype.
fn state_of<'a>(ctx: &Ctx<'_>, holder: &'a Option<Object<'_>>) -> Option<&'a State> {
    let class_id = ctx.userdata::<LazyClass>()?.0;
    let object = holder.as_ref()?;
    // SAFETY: `JS_GetOpaque` checks the class id, so a non-null result is
    // the `State` that `install` stored, alive as long as `object` is.
    unsafe {
        let state = qjs::JS_GetOpaque(object.as_raw(), class_id).cast::<State>();
        state.as_ref()
    }
}

/// The namespace of platform JS module `name` if it was loaded in `ctx`.
pub fn cached_module<'js>(ctx: &Ctx<'js>, name: &str) -> Option<Object<'js>> {
    let holder = ctx.globals().get_prototype();
    let state = state_of(ctx, &holder)?;
    let raw = state
        .modules
        .borrow()
        .iter()
        .find(|(module, _)| *module == name)
        .map(|(_, value)| *value)?;
    // SAFETY: the value is alive (the lazy object holds it); dup it for the
    // new owner.
    let value =
        unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(ctx.as_raw().as_ptr(), raw)) };
    value.into_object()
}

/// Keeps the namespace of platform JS module `name` for `ctx`'s later
/// lookups. Fails if the worker replaced its global object's prototype.
pub fn cache_module<'js>(
    ctx: &Ctx<'js>,
    name: &'static str,
    namespace: &Object<'js>,
) -> rquickjs::Result<()> {
    let holder = ctx.globals().get_prototype();
    let Some(state) = state_of(ctx, &holder) else {
        return Err(rquickjs::Exception::throw_internal(
            ctx,
            "the platform is unreachable: the global object's prototype was replaced",
        ));
    };
    // SAFETY: the lazy object now owns one reference (released in `finalize`).
    let raw = unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), namespace.as_raw()) };
    state.modules.borrow_mut().push((name, raw));
    Ok(())
}

const FOUND: c_int = 1;
const ABSENT: c_int = 0;
const THROWN: c_int = -1;

unsafe extern "C" fn get_own_property(
    ctx: *mut qjs::JSContext,
    desc: *mut qjs::JSPropertyDescriptor,
    obj: qjs::JSValue,
    prop: qjs::JSAtom,
) -> c_int {
    let Some(raw) = NonNull::new(ctx) else {
        return ABSENT;
    };
    // SAFETY: QuickJS calls this hook with a live context.
    let ctx = unsafe { Ctx::from_raw(raw) };
    let found = std::panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the arguments come from QuickJS as documented for the hook.
        unsafe { lookup(&ctx, desc, obj, prop) }
    }));
    found.unwrap_or_else(|_| {
        let _ = rquickjs::Exception::throw_internal(&ctx, "a platform global failed to build");
        THROWN
    })
}

unsafe fn lookup(
    ctx: &Ctx<'_>,
    desc: *mut qjs::JSPropertyDescriptor,
    obj: qjs::JSValue,
    prop: qjs::JSAtom,
) -> c_int {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `obj` is the lazy object the hook was called on; its opaque
    // is the `State` that `install` stored (checked by class id).
    let state = unsafe {
        let state = qjs::JS_GetOpaque(obj, qjs::JS_GetClassID(obj)).cast::<State>();
        match state.as_ref() {
            Some(state) => state,
            None => return ABSENT,
        }
    };
    // SAFETY: `JS_AtomToValue` returns an owned value.
    let name = unsafe { Value::from_raw(ctx.clone(), qjs::JS_AtomToValue(raw, prop)) };
    let Some(name) = name.as_string().and_then(|s| s.to_string().ok()) else {
        return ABSENT; // a symbol or an index
    };
    let Some((index, global)) = state.find(&name) else {
        return ABSENT;
    };
    if state.is_done(index) {
        return ABSENT;
    }
    if desc.is_null() {
        // Only asked whether it exists: built on the first read.
        return FOUND;
    }
    state.set_done(index, true);
    let value = match (global.build)(ctx) {
        Ok(value) => value,
        Err(error) => {
            state.set_done(index, false);
            if !matches!(error, rquickjs::Error::Exception) {
                let _ = rquickjs::Exception::throw_internal(
                    ctx,
                    &format!("platform global {name}: {error}"),
                );
            }
            return THROWN;
        }
    };
    let flags = (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE) as c_int;
    // SAFETY: `JS_DefinePropertyValue` consumes the duplicated value; `desc`
    // is a descriptor QuickJS owns and frees, so it takes another reference.
    unsafe {
        let stored = qjs::JS_DupValue(raw, value.as_raw());
        if qjs::JS_DefinePropertyValue(raw, obj, prop, stored, flags | qjs::JS_PROP_THROW as c_int)
            < 0
        {
            state.set_done(index, false);
            return THROWN;
        }
        *desc = qjs::JSPropertyDescriptor {
            flags,
            value: qjs::JS_DupValue(raw, value.as_raw()),
            getter: qjs::JS_UNDEFINED,
            setter: qjs::JS_UNDEFINED,
        };
    }
    FOUND
}

unsafe extern "C" fn mark(rt: *mut qjs::JSRuntime, val: qjs::JSValue, mark: qjs::JS_MarkFunc) {
    // SAFETY: called by the collector on an object of our class.
    unsafe {
        let state = qjs::JS_GetOpaque(val, qjs::JS_GetClassID(val)).cast::<State>();
        if let Some(state) = state.as_ref() {
            if let Ok(modules) = state.modules.try_borrow() {
                for (_, value) in modules.iter() {
                    qjs::JS_MarkValue(rt, *value, mark);
                }
            }
        }
    }
}

unsafe extern "C" fn finalize(rt: *mut qjs::JSRuntime, val: qjs::JSValue) {
    // SAFETY: called once when an object of our class dies; takes back the
    // `State` box and releases the values it held.
    unsafe {
        let state = qjs::JS_GetOpaque(val, qjs::JS_GetClassID(val)).cast::<State>();
        if state.is_null() {
            return;
        }
        let state = Box::from_raw(state);
        for (_, value) in state.modules.borrow_mut().drain(..) {
            qjs::JS_FreeValueRT(rt, value);
        }
    }
}
