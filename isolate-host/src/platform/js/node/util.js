// node:util: format, inspect, promisify, callbackify, deprecate, inherits,
// isDeepStrictEqual, types, and the platform's TextEncoder/TextDecoder.
// Written for caplet after Node.js's documented behaviour (util.format's
// specifiers, util.inspect's default output for plain data).

import { promiseState } from "caplet:util-native";

const kCustomPromisify = Symbol.for("nodejs.util.promisify.custom");
const kInspect = Symbol.for("nodejs.util.inspect.custom");
const toStr = Object.prototype.toString;
const tagOf = (v) => toStr.call(v).slice(8, -1);

export const types = {
  isDate: (v) => v instanceof Date,
  isRegExp: (v) => v instanceof RegExp,
  isMap: (v) => v instanceof Map,
  isSet: (v) => v instanceof Set,
  isWeakMap: (v) => v instanceof WeakMap,
  isWeakSet: (v) => v instanceof WeakSet,
  isPromise: (v) => v instanceof Promise,
  isNativeError: (v) => v instanceof Error,
  isArrayBuffer: (v) => v instanceof ArrayBuffer,
  isAnyArrayBuffer: (v) => v instanceof ArrayBuffer,
  isArrayBufferView: (v) => ArrayBuffer.isView(v),
  isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
  isUint8Array: (v) => v instanceof Uint8Array,
  isDataView: (v) => v instanceof DataView,
  isAsyncFunction: (v) => typeof v === "function" && tagOf(v) === "AsyncFunction",
  isGeneratorFunction: (v) => typeof v === "function" && /GeneratorFunction$/.test(tagOf(v)),
  isGeneratorObject: (v) => tagOf(v) === "Generator",
  isBoxedPrimitive: (v) => v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt || v instanceof Symbol,
  isProxy: () => false,
};

// Node's quoting: single quotes, or double quotes when the text has a single
// quote and no double one, or backticks when it has both and no backtick.
const quote = (s) => {
  const q = !s.includes("'") ? "'" : !s.includes('"') ? '"' : !s.includes("`") && !s.includes("${") ? "`" : "'";
  return q + s.replace(/\\/g, "\\\\").replace(new RegExp(q, "g"), "\\" + q).replace(/\n/g, "\\n").replace(/\t/g, "\\t") + q;
};
const identifier = /^[A-Za-z_$][\w$]*$/;

export function inspect(value, options) {
  const opts = typeof options === "object" && options !== null ? options : {};
  const depth = opts.depth === undefined ? 2 : opts.depth === null ? Infinity : opts.depth;
  const seen = [];
  // Objects a cycle leads back to, each with its <ref *N> number.
  const circular = new Map();
  const fmt = (v, level, inner) => {
    switch (typeof v) {
      case "string": return inner ? quote(v) : v === undefined ? "" : inner === false ? v : quote(v);
      case "number": return Object.is(v, -0) ? "-0" : String(v);
      case "bigint": return `${v}n`;
      case "boolean": case "undefined": return String(v);
      case "symbol": return v.toString();
      case "function": {
        const name = v.name ? `: ${v.name}` : " (anonymous)";
        const kind = /^class\s/.test(Function.prototype.toString.call(v)) ? "class" : types.isAsyncFunction(v) ? "AsyncFunction" : "Function";
        return kind === "class" ? `[class ${v.name || "(anonymous)"}]` : `[${kind}${name}]`;
      }
    }
    if (v === null) return "null";
    if (typeof v[kInspect] === "function") return String(v[kInspect](depth - level, opts, inspect));
    if (seen.includes(v)) {
      if (!circular.has(v)) circular.set(v, circular.size + 1);
      return `[Circular *${circular.get(v)}]`;
    }
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}`.trimEnd() : `${v.name}: ${v.message}`;
    if (level > depth) return Array.isArray(v) ? "[Array]" : `[${v.constructor && v.constructor.name || "Object"}]`;
    seen.push(v);
    try {
      const text = body(v, level);
      return circular.has(v) ? `<ref *${circular.get(v)}> ${text}` : text;
    } finally {
      seen.pop();
    }
  };
  // An own property as Node shows it: accessors are named, never called.
  const item = (o, k, level) => {
    const d = Object.getOwnPropertyDescriptor(o, k);
    if (d !== undefined && !("value" in d)) return d.get && d.set ? "[Getter/Setter]" : d.get ? "[Getter]" : "[Setter]";
    return fmt(o[k], level + 1, true);
  };
  const property = (o, k, level) => {
    const key = typeof k === "symbol" ? `[${k.toString()}]` : identifier.test(k) ? k : quote(k);
    return `${key}: ${item(o, k, level)}`;
  };
  const body = (v, level) => {
    // `values`: the array or typed array whose items `parts` are, to group
    // more than six of them in columns as Node.js does.
    const wrap = (open, parts, close, prefix = "", values) => {
      if (parts.length === 0) return `${prefix}${open}${close}`;
      const entries = parts.length;
      if (values !== undefined && entries > 6) parts = group(parts, values, 2 * level);
      const one = `${prefix}${open} ${parts.join(", ")} ${close}`;
      if (entries === parts.length && one.length <= 72 && !one.includes("\n")) return one;
      const pad = "  ".repeat(level + 1);
      return `${prefix}${open}\n${pad}${parts.join(`,\n${pad}`)}\n${"  ".repeat(level)}${close}`;
    };
    const props = (o, skipIndex) => [
      ...Object.keys(o).filter((k) => !(skipIndex && /^\d+$/.test(k))),
      ...Object.getOwnPropertySymbols(o).filter((k) => Object.prototype.propertyIsEnumerable.call(o, k)),
    ].map((k) => property(o, k, level));
    if (Array.isArray(v)) {
      const items = [];
      let i = 0;
      for (; i < v.length && items.length < 100; i++) {
        if (i in v) {
          items.push(item(v, String(i), level));
          continue;
        }
        let holes = 1;
        while (i + holes < v.length && !(i + holes in v)) holes++;
        items.push(`<${holes} empty item${holes === 1 ? "" : "s"}>`);
        i += holes - 1;
      }
      if (i < v.length) items.push(more(v.length - i));
      return wrap("[", items.concat(props(v, true)), "]", "", v);
    }
    if (v instanceof Map) return wrap("{", [...v].map(([k, x]) => `${fmt(k, level + 1, true)} => ${fmt(x, level + 1, true)}`), "}", `Map(${v.size}) `);
    if (v instanceof Set) return wrap("{", [...v].map((x) => fmt(x, level + 1, true)), "}", `Set(${v.size}) `);
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const name = v.constructor && v.constructor.name || "TypedArray";
      if (name === "Buffer") return `<Buffer ${[...v.subarray(0, 50)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}${v.length > 50 ? ` ... ${v.length - 50} more bytes` : ""}>`;
      const items = [...v.subarray(0, maxArrayLength)].map((x) => fmt(x, level + 1, true));
      if (v.length > maxArrayLength) items.push(more(v.length - maxArrayLength));
      return wrap("[", items, "]", `${name}(${v.length}) `, v);
    }
    const state = promiseState(v);
    if (state !== undefined) {
      if (state[0] === "pending") return "Promise { <pending> }";
      const shown = fmt(state[1], level + 1, true);
      return wrap("{", [state[0] === "rejected" ? `<rejected> ${shown}` : shown], "}", "Promise ");
    }
    const proto = Object.getPrototypeOf(v);
    const name = proto === null ? "[Object: null prototype]" : proto === Object.prototype ? "" : (proto.constructor && proto.constructor.name) || "";
    return wrap("{", props(v, false), "}", name ? `${name} ` : "");
  };
  return fmt(value, 0, true);
}
inspect.custom = kInspect;

// util.inspect's defaults (Node.js's inspectDefaultOptions).
const maxArrayLength = 100;
const breakLength = 128;
const more = (n) => `... ${n} more item${n === 1 ? "" : "s"}`;

// Node.js's groupArrayElements: the items of an array (`output`, with its
// "... more items" last when `values` has more than maxArrayLength) laid
// out in as many columns as make a roughly square block, at most 15 and
// within breakLength; numbers aligned right, anything else left.
function group(output, values, indentation) {
  let outputLength = output.length;
  if (maxArrayLength < output.length) outputLength--;
  const separatorSpace = 2;
  const dataLen = [];
  let totalLength = 0;
  let maxLength = 0;
  for (let i = 0; i < outputLength; i++) {
    const len = output[i].length;
    dataLen.push(len);
    totalLength += len + separatorSpace;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + separatorSpace;
  if (!(actualMax * 3 + indentation < breakLength && (totalLength / actualMax > 5 || maxLength <= 6))) return output;
  const averageBias = Math.sqrt(actualMax - totalLength / output.length);
  const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
  const columns = Math.min(
    Math.round(Math.sqrt(2.5 * biasedMax * outputLength) / biasedMax),
    Math.floor((breakLength - indentation) / actualMax),
    3 * 4,
    15,
  );
  if (columns <= 1) return output;
  const maxLineLength = [];
  for (let i = 0; i < columns; i++) {
    let lineLength = 0;
    for (let j = i; j < output.length; j += columns) if (dataLen[j] > lineLength) lineLength = dataLen[j];
    maxLineLength.push(lineLength + separatorSpace);
  }
  let numbers = true;
  for (let i = 0; i < output.length; i++) {
    if (typeof values[i] !== "number" && typeof values[i] !== "bigint") { numbers = false; break; }
  }
  const rows = [];
  for (let i = 0; i < outputLength; i += columns) {
    const max = Math.min(i + columns, outputLength);
    let row = "";
    let j = i;
    for (; j < max - 1; j++) {
      const cell = `${output[j]}, `;
      row += numbers ? cell.padStart(maxLineLength[j - i]) : cell.padEnd(maxLineLength[j - i]);
    }
    row += numbers ? output[j].padStart(maxLineLength[j - i] - separatorSpace) : output[j];
    rows.push(row);
  }
  if (maxArrayLength < output.length) rows.push(output[outputLength]);
  return rows;
}

// Whether `%s` prints `value` with its own toString (one the program
// defined: own, or on a class that is not a global's), as Node does.
function userToString(value) {
  if (typeof value.toString !== "function") return false;
  if (Object.hasOwn(value, "toString")) return true;
  let holder = value;
  do holder = Object.getPrototypeOf(holder); while (holder !== null && !Object.hasOwn(holder, "toString"));
  const ctor = holder === null ? undefined : Object.getOwnPropertyDescriptor(holder, "constructor")?.value;
  return !(typeof ctor === "function" && ctor.name !== "" && globalThis[ctor.name] === ctor);
}

export function format(first, ...args) {
  if (typeof first !== "string") return [first, ...args].map((a) => (typeof a === "string" ? a : inspect(a))).join(" ");
  let i = 0;
  let out = first.replace(/%([sdifjoOc%])/g, (m, c) => {
    if (c === "%") return "%";
    if (i >= args.length) return m;
    const a = args[i++];
    switch (c) {
      case "s": return typeof a === "string" ? a : typeof a === "bigint" ? `${a}n` : typeof a === "object" && a !== null && !userToString(a) ? inspect(a, { depth: 1 }) : String(a);
      case "d": return typeof a === "bigint" ? `${a}n` : typeof a === "object" ? "NaN" : String(Number(a));
      case "i": return typeof a === "bigint" ? `${a}n` : String(parseInt(a, 10));
      case "f": return String(parseFloat(a));
      case "j": try { return JSON.stringify(a); } catch { return "[Circular]"; }
      case "o": case "O": return inspect(a);
      case "c": return "";
    }
    return m;
  });
  for (; i < args.length; i++) out += " " + (typeof args[i] === "string" ? args[i] : inspect(args[i]));
  return out;
}

export function promisify(original) {
  if (typeof original !== "function") throw new TypeError('The "original" argument must be of type function');
  if (original[kCustomPromisify]) return original[kCustomPromisify];
  return function (...args) {
    return new Promise((resolve, reject) => {
      original.call(this, ...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values : values[0])));
    });
  };
}
promisify.custom = kCustomPromisify;

export function callbackify(original) {
  if (typeof original !== "function") throw new TypeError('The "original" argument must be of type function');
  return function (...args) {
    const cb = args.pop();
    original.apply(this, args).then((v) => cb(null, v), (e) => cb(e || new Error("Promise was rejected with a falsy value")));
  };
}

export function deprecate(fn, message, code) {
  let warned = false;
  return function (...args) {
    if (!warned) {
      warned = true;
      console.warn(`[${code || "DEP"}] DeprecationWarning: ${message}`);
    }
    return new.target ? Reflect.construct(fn, args, new.target) : fn.apply(this, args);
  };
}

export function inherits(ctor, superCtor) {
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
  Object.setPrototypeOf(ctor, superCtor);
  Object.defineProperty(ctor, "super_", { value: superCtor, writable: true, configurable: true });
}

export function isDeepStrictEqual(a, b) {
  return deepEqual(a, b, []);
}

export function deepEqual(a, b, seen) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (tagOf(a) !== tagOf(b)) return false;
  for (const [x, y] of seen) if (x === a && y === b) return true;
  seen.push([a, b]);
  if (a instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof RegExp) return String(a) === String(b) && a.lastIndex === b.lastIndex;
  if (a instanceof Error && (a.message !== b.message || a.name !== b.name)) return false;
  if (ArrayBuffer.isView(a)) {
    if (a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  if (a instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k), seen)) return false;
  } else if (a instanceof Set) {
    if (a.size !== b.size) return false;
    outer: for (const v of a) {
      if (b.has(v)) continue;
      if (typeof v === "object" && v !== null) for (const w of b) if (deepEqual(v, w, seen)) continue outer;
      return false;
    }
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k], seen)) return false;
  return true;
}

export const TextEncoder = globalThis.TextEncoder;
export const TextDecoder = globalThis.TextDecoder;
export const isArray = Array.isArray;

export default { format, inspect, promisify, callbackify, deprecate, inherits, isDeepStrictEqual, types, TextEncoder, TextDecoder, isArray };
