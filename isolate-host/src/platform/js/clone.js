// structuredClone (HTML §2.7.3, StructuredSerializeInternal and
// StructuredDeserialize in one pass): primitives, wrappers, Date, RegExp,
// ArrayBuffer (resizable too) and its views, Map, Set, Error types,
// DOMException, arrays and plain objects, with cycles and shared
// references kept, and the serializable platform objects (Blob, File,
// CryptoKey). Functions, symbols, platform objects that are not
// serializable and host objects (capability stubs, proxies) throw a
// DataCloneError. `transfer` detaches the listed ArrayBuffers.

import { DOMException } from "./dom_exception.js";
import { serializable, unclonable } from "./internal.js";

const ERROR_NAMES = new Set(["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError"]);
const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
const TypedArray = Object.getPrototypeOf(Uint8Array);
const typedArrayTag = Object.getOwnPropertyDescriptor(TypedArray.prototype, Symbol.toStringTag).get;
const VIEWS = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
if (typeof Float16Array === "function") VIEWS.Float16Array = Float16Array;

const brand = (f) => (v) => { try { f.call(v); return true; } catch { return false; } };
const isDate = brand(Date.prototype.getTime);
const isRegExp = (v) => { try { Object.getOwnPropertyDescriptor(RegExp.prototype, "source").get.call(v); return v !== RegExp.prototype; } catch { return false; } };
const isArrayBuffer = (v) => { try { Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get.call(v); return true; } catch { return false; } };
const isDataView = (v) => { try { Object.getOwnPropertyDescriptor(DataView.prototype, "byteLength").get.call(v); return true; } catch { return false; } };
const isMap = (v) => { try { Object.getOwnPropertyDescriptor(Map.prototype, "size").get.call(v); return true; } catch { return false; } };
const isSet = (v) => { try { Object.getOwnPropertyDescriptor(Set.prototype, "size").get.call(v); return true; } catch { return false; } };
const isBoolean = brand(Boolean.prototype.valueOf);
const isNumber = brand(Number.prototype.valueOf);
const isString = brand(String.prototype.valueOf);
const isBigInt = brand(BigInt.prototype.valueOf);

function fail(what) {
  return new DOMException(`${what} could not be cloned`, "DataCloneError");
}

/** Builds `structuredClone` around `kind(value)`, a native that says what
 *  a value is to the engine: "ordinary", "array", "error", "proxy" or
 *  "other" (an exotic or host object). */
export function makeStructuredClone(kind) {
  // Iterative: `clone` makes a value's copy (an empty shell for containers)
  // and queues filling the shell, so depth never reaches the JS stack.
  function clone(value, memory, work) {
    const type = typeof value;
    if (type === "symbol") throw fail("a Symbol");
    if (type === "function") throw fail(`function ${value.name || "(anonymous)"}`);
    if (type !== "object" || value === null) return value;
    if (memory.has(value)) return memory.get(value);
    const k = kind(value);
    if (k === "proxy") throw fail("a Proxy");
    let proto = value;
    while ((proto = Object.getPrototypeOf(proto)) !== null) {
      const copy = serializable.get(proto);
      if (copy !== undefined) {
        const out = copy(value);
        if (out === undefined) break;
        memory.set(value, out);
        return out;
      }
      if (unclonable.has(proto)) break;
    }
    if (proto !== null) throw fail(`a ${Object.prototype.toString.call(value).slice(8, -1)}`);
    if (k === "ordinary" && Object.getPrototypeOf(value) !== Object.prototype) {
      // Intl's objects (not serializable; their classes live in intl.js).
      const tag = value[Symbol.toStringTag];
      if (typeof tag === "string" && (tag === "Intl" || tag.startsWith("Intl."))) throw fail(`an ${tag}`);
    }
    let out;
    if (k === "array" || k === "ordinary") {
      // Plain objects and arrays (the common case) need no brand checks.
      out = k === "array" ? new Array(value.length) : {};
      work.push(() => {
        for (const key of Object.keys(value)) out[key] = clone(value[key], memory, work);
      });
    } else if (isBoolean(value)) out = Object(Boolean.prototype.valueOf.call(value));
    else if (isNumber(value)) out = Object(Number.prototype.valueOf.call(value));
    else if (isBigInt(value)) out = Object(BigInt.prototype.valueOf.call(value));
    else if (isString(value)) out = Object(String.prototype.valueOf.call(value));
    else if (isDate(value)) out = new Date(Date.prototype.getTime.call(value));
    else if (isRegExp(value)) out = new RegExp(value.source, value.flags);
    else if (isArrayBuffer(value)) {
      if (value.detached) throw fail("a detached ArrayBuffer");
      out = value.resizable
        ? new ArrayBuffer(value.byteLength, { maxByteLength: value.maxByteLength })
        : new ArrayBuffer(value.byteLength);
      new Uint8Array(out).set(new Uint8Array(value));
    } else if (ArrayBuffer.isView(value)) {
      const buffer = clone(value.buffer, memory, work);
      if (isDataView(value)) {
        out = new DataView(buffer, value.byteOffset, value.byteLength);
      } else {
        const Ctor = VIEWS[typedArrayTag.call(value)];
        out = new Ctor(buffer, value.byteOffset, value.length);
      }
    } else if (isMap(value)) {
      out = new Map();
      const entries = [...Map.prototype.entries.call(value)];
      work.push(() => {
        for (const [key, item] of entries) out.set(clone(key, memory, work), clone(item, memory, work));
      });
    } else if (isSet(value)) {
      out = new Set();
      const items = [...Set.prototype.values.call(value)];
      work.push(() => {
        for (const item of items) out.add(clone(item, memory, work));
      });
    } else if (value instanceof DOMException) {
      out = new DOMException(value.message, value.name);
    } else if (k === "error") {
      const name = value.name;
      const Ctor = ERRORS[ERROR_NAMES.has(name) ? name : "Error"];
      const message = Object.getOwnPropertyDescriptor(value, "message");
      out = message !== undefined && "value" in message ? new Ctor(String(message.value)) : new Ctor();
      const stack = value.stack;
      if (typeof stack === "string") {
        Object.defineProperty(out, "stack", { value: stack, writable: true, configurable: true });
      }
      if (Object.hasOwn(value, "cause")) {
        const cause = value.cause;
        work.push(() => {
          Object.defineProperty(out, "cause", { value: clone(cause, memory, work), writable: true, configurable: true });
        });
      }
    } else {
      throw fail(`a ${Object.prototype.toString.call(value).slice(8, -1)}`);
    }
    memory.set(value, out);
    return out;
  }

  return function structuredClone(value, options = undefined) {
    if (arguments.length < 1) {
      throw new TypeError("structuredClone: 1 argument required, but only 0 present");
    }
    const transfer = options?.transfer ?? [];
    const memory = new Map();
    const transferred = [];
    for (const buffer of transfer) {
      if (!isArrayBuffer(buffer)) throw fail("a transfer list entry that is not an ArrayBuffer");
      if (transferred.includes(buffer)) throw fail("an ArrayBuffer listed twice for transfer");
      if (buffer.detached) throw fail("a detached ArrayBuffer");
      transferred.push(buffer);
    }
    const work = [];
    const out = clone(value, memory, work);
    while (work.length > 0) work.pop()();
    for (const buffer of transferred) {
      // Not in the value: still detached, as the standard says.
      buffer.transfer();
    }
    return out;
  };
}
