// The console namespace (WHATWG Console Standard) around five native log
// methods (each given the JSON replacer `shown` first): grouping indents
// later lines, counters and timers (timers read the worker's frozen clock,
// so they move only across I/O), assert, table, dir, trace.

const timers = new Map();
// The native that reads a promise's state (set by makeConsole).
let promiseState = () => undefined;
const counts = new Map();

function cell(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol" || typeof value === "function") return String(value);
  if (value !== null && typeof value === "object") {
    try { return JSON.stringify(value) ?? String(value); } catch { return String(value); }
  }
  return String(value);
}

function drawTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  const center = (text, width) => {
    const left = Math.floor((width - text.length) / 2);
    return " ".repeat(left) + text + " ".repeat(width - text.length - left);
  };
  const line = (l, m, r) => l + widths.map((w) => "─".repeat(w)).join(m) + r;
  const row = (cells) => "│" + cells.map((c, i) => center(c, widths[i])).join("│") + "│";
  return [line("┌", "┬", "┐"), row(header), line("├", "┼", "┤"), ...rows.map(row), line("└", "┴", "┘")].join("\n");
}

// Console Standard §2.2.1 Formatter: %s %d %i %f %o %O %j %c and %% in a
// first string argument consume the arguments after it.
function format(data) {
  if (typeof data[0] !== "string" || data.length < 2 || !data[0].includes("%")) return data;
  const args = data.slice(1);
  let used = 0;
  const text = data[0].replace(/%([sdifoOjc%])/g, (match, spec) => {
    if (spec === "%") return "%";
    if (used >= args.length) return match;
    const arg = args[used++];
    switch (spec) {
      case "s": return typeof arg === "string" ? arg : cell(arg);
      case "d": case "i": return typeof arg === "symbol" ? "NaN" : String(Number.parseInt(arg, 10));
      case "f": return typeof arg === "symbol" ? "NaN" : String(Number.parseFloat(arg));
      case "c": return "";
      default: return cell(arg);
    }
  });
  return [text, ...args.slice(used)];
}

const TypedArray = Object.getPrototypeOf(Uint8Array);
const toString = Object.prototype.toString;

// A JSON.stringify replacer for console arguments (one per argument): what
// JSON would drop or throw on is shown instead. A Map becomes an object when
// its keys are strings or numbers, else a list of [key, value] pairs; a Set
// or typed array a list; Headers an object; a RegExp, URLSearchParams, or an
// error inside an object, its text; a promise the text of its state
// (`promised`); a BigInt "12n"; a reference back to an enclosing object
// "[Circular]".
function shown() {
  // The objects being written, outermost first: as given, and as written.
  const given = [];
  const written = [];
  return function (key, value) {
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value !== "object" || value === null) return value;
    while (written.length > 0 && written[written.length - 1] !== this) {
      written.pop();
      given.pop();
    }
    if (given.includes(value)) return "[Circular]";
    let out = value;
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === Array.prototype) {
      // Plain data, the common case: no class to look for.
    } else if (value instanceof Map) {
      const entries = [...value];
      out = entries.every(([k]) => typeof k === "string" || typeof k === "number")
        ? Object.fromEntries(entries)
        : entries;
    } else if (value instanceof Set || value instanceof TypedArray) {
      out = Array.from(value);
    } else if (value instanceof RegExp) {
      return String(value);
    } else if (toString.call(value) === "[object Headers]") {
      out = Object.fromEntries(value);
    } else if (toString.call(value) === "[object URLSearchParams]") {
      return String(value);
    } else if (value instanceof Error && key !== "") {
      return `${value.name}: ${value.message}`;
    } else if (value instanceof Promise) {
      return promised(value);
    }
    given.push(value);
    written.push(out);
    return out;
  };
}

// A promise as text with its state, as Node.js shows it (`Promise { 1 }`,
// `Promise { <pending> }`, `Promise { <rejected> Error: no }`), its value
// written as console writes values.
function promised(promise) {
  const state = promiseState(promise);
  if (state === undefined) return "Promise {}";
  if (state[0] === "pending") return "Promise { <pending> }";
  const value = state[1];
  let text;
  if (value instanceof Error) text = `${value.name}: ${value.message}`;
  else if (typeof value === "string") text = JSON.stringify(value);
  else {
    try { text = JSON.stringify(value, shown()) ?? String(value); } catch { text = String(value); }
  }
  return `Promise { ${state[0] === "rejected" ? "<rejected> " : ""}${text} }`;
}

/** Builds the console object around the natives. */
export function makeConsole(nativeLog, nativeInfo, nativeWarn, nativeError, nativeDebug, nativePromiseState) {
  promiseState = nativePromiseState;
  let depth = 0;
  const indented = (native) => function (...data) {
    data = format(data);
    if (depth > 0) native(shown, " ".repeat(2 * depth - 1), ...data);
    else native(shown, ...data);
  };
  const log = indented(nativeLog);
  const info = indented(nativeInfo);
  const warn = indented(nativeWarn);
  const error = indented(nativeError);
  const debug = indented(nativeDebug);
  const elapsed = (label) => `${label}: ${Date.now() - timers.get(label)}ms`;

  const console = {
    log, info, warn, error, debug,
    assert(condition = false, ...data) {
      if (condition) return;
      if (data.length === 0) data.push("Assertion failed");
      else if (typeof data[0] === "string") data[0] = `Assertion failed: ${data[0]}`;
      else data.unshift("Assertion failed:");
      error(...data);
    },
    count(label = "default") {
      label = String(label);
      const n = (counts.get(label) ?? 0) + 1;
      counts.set(label, n);
      info(`${label}: ${n}`);
    },
    countReset(label = "default") {
      label = String(label);
      if (counts.has(label)) counts.set(label, 0);
      else warn(`Count for '${label}' does not exist`);
    },
    group(...data) {
      if (data.length > 0) log(...data);
      depth++;
    },
    groupCollapsed(...data) {
      if (data.length > 0) log(...data);
      depth++;
    },
    groupEnd() {
      if (depth > 0) depth--;
    },
    time(label = "default") {
      label = String(label);
      if (timers.has(label)) warn(`Timer '${label}' already exists`);
      else timers.set(label, Date.now());
    },
    timeLog(label = "default", ...data) {
      label = String(label);
      if (!timers.has(label)) warn(`Timer '${label}' does not exist`);
      else info(elapsed(label), ...data);
    },
    timeEnd(label = "default") {
      label = String(label);
      if (!timers.has(label)) {
        warn(`Timer '${label}' does not exist`);
        return;
      }
      const text = elapsed(label);
      timers.delete(label);
      info(text);
    },
    dir(item, _options) {
      log(item);
    },
    dirxml(...data) {
      log(...data);
    },
    table(data, properties = undefined) {
      if (data === null || typeof data !== "object") {
        log(data);
        return;
      }
      const columns = [];
      let hasValues = false;
      const rows = [];
      for (const key of Object.keys(data)) {
        const value = data[key];
        const row = { key, cells: new Map(), value: undefined, primitive: false };
        if (value !== null && typeof value === "object") {
          for (const column of properties ?? Object.keys(value)) {
            if (!columns.includes(column)) columns.push(column);
            if (Object.hasOwn(value, column)) row.cells.set(column, cell(value[column]));
          }
        } else {
          hasValues = true;
          row.primitive = true;
          row.value = cell(value);
        }
        rows.push(row);
      }
      const header = ["(idx)", ...columns.map(String), ...(hasValues ? ["Values"] : [])];
      const body = rows.map((r) => [
        r.key,
        ...columns.map((c) => r.cells.get(c) ?? ""),
        ...(hasValues ? [r.primitive ? r.value : ""] : []),
      ]);
      log(drawTable(header, body));
    },
    trace(...data) {
      const frames = (new Error().stack ?? "").split("\n").slice(1)
        .filter((line) => line.trim() !== "" && !line.includes("caplet:platform/"));
      const head = data.length > 0 ? ["Trace:", ...data] : ["Trace"];
      if (frames.length > 0) {
        const last = head.pop();
        head.push(`${typeof last === "string" ? last : cell(last)}\n${frames.join("\n")}`);
      }
      error(...head);
    },
  };
  Object.defineProperty(console, Symbol.toStringTag, { value: "console", configurable: true });
  return console;
}
