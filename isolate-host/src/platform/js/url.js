// URL and URLSearchParams (WHATWG URL) over the `url` crate: the natives
// parse and set; this glue keeps the object shapes of the standard.
import { unclonable } from "./internal.js";

export function install(native) {
  const FIELDS = ["href", "origin", "protocol", "username", "password", "host",
    "hostname", "port", "pathname", "search", "hash"];
  const kParts = Symbol("parts");
  const kQuery = Symbol("query");
  const kList = Symbol("list");
  const kUrl = Symbol("url");
  const toUSV = (v) => String(v).toWellFormed();

  function update(params) {
    const url = params[kUrl];
    if (url === null) return;
    const flat = [];
    for (const [k, v] of params[kList]) flat.push(k, v);
    const query = native.serializeQuery(flat);
    url[kParts] = native.set(url[kParts][0], "search", query);
  }

  class URLSearchParams {
    constructor(init = "") {
      this[kList] = [];
      this[kUrl] = null;
      if (init !== null && typeof init === "object" || typeof init === "function") {
        const iter = init[Symbol.iterator];
        if (iter !== undefined && iter !== null) {
          if (typeof iter !== "function") throw new TypeError("URLSearchParams init is not iterable");
          for (const pair of init) {
            if (pair === null || typeof pair !== "object" && typeof pair !== "function") {
              throw new TypeError("each URLSearchParams init pair must be a sequence");
            }
            const items = Array.from(pair);
            if (items.length !== 2) {
              throw new TypeError("each URLSearchParams init pair must have exactly two items");
            }
            this[kList].push([toUSV(items[0]), toUSV(items[1])]);
          }
        } else {
          for (const key of Reflect.ownKeys(init)) {
            if (typeof key === "symbol") continue;
            const desc = Reflect.getOwnPropertyDescriptor(init, key);
            if (desc !== undefined && desc.enumerable) {
              this[kList].push([toUSV(key), toUSV(init[key])]);
            }
          }
        }
      } else {
        let text = toUSV(init);
        if (text.startsWith("?")) text = text.slice(1);
        this[kList] = pairs(text);
      }
    }
    get size() { return this[kList].length; }
    append(name, value) {
      check(this, arguments.length, 2, "append");
      this[kList].push([toUSV(name), toUSV(value)]);
      update(this);
    }
    delete(name, value) {
      check(this, arguments.length, 1, "delete");
      name = toUSV(name);
      if (value === undefined) {
        this[kList] = this[kList].filter(([k]) => k !== name);
      } else {
        value = toUSV(value);
        this[kList] = this[kList].filter(([k, v]) => k !== name || v !== value);
      }
      update(this);
    }
    get(name) {
      check(this, arguments.length, 1, "get");
      name = toUSV(name);
      const found = this[kList].find(([k]) => k === name);
      return found === undefined ? null : found[1];
    }
    getAll(name) {
      check(this, arguments.length, 1, "getAll");
      name = toUSV(name);
      return this[kList].filter(([k]) => k === name).map(([, v]) => v);
    }
    has(name, value) {
      check(this, arguments.length, 1, "has");
      name = toUSV(name);
      if (value === undefined) return this[kList].some(([k]) => k === name);
      value = toUSV(value);
      return this[kList].some(([k, v]) => k === name && v === value);
    }
    set(name, value) {
      check(this, arguments.length, 2, "set");
      name = toUSV(name);
      value = toUSV(value);
      const list = this[kList];
      const at = list.findIndex(([k]) => k === name);
      if (at === -1) {
        list.push([name, value]);
      } else {
        list[at][1] = value;
        this[kList] = list.filter(([k], i) => i <= at || k !== name);
      }
      update(this);
    }
    sort() {
      // Stable, by UTF-16 code units, as the standard says.
      const list = this[kList].map((pair, i) => [pair, i]);
      list.sort(([a, i], [b, j]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : i - j));
      this[kList] = list.map(([pair]) => pair);
      update(this);
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") throw new TypeError("forEach callback is not a function");
      for (let i = 0; i < this[kList].length; i++) {
        const [k, v] = this[kList][i];
        callback.call(thisArg, v, k, this);
      }
    }
    keys() { return iterate(this, ([k]) => k); }
    values() { return iterate(this, ([, v]) => v); }
    entries() { return iterate(this, ([k, v]) => [k, v]); }
    [Symbol.iterator]() { return this.entries(); }
    toString() {
      const flat = [];
      for (const [k, v] of this[kList]) flat.push(k, v);
      return native.serializeQuery(flat);
    }
    get [Symbol.toStringTag]() { return "URLSearchParams"; }
  }

  function pairs(text) {
    const flat = native.parseQuery(text);
    const list = [];
    for (let i = 0; i < flat.length; i += 2) list.push([flat[i], flat[i + 1]]);
    return list;
  }

  function check(self, got, want, name) {
    if (!(self instanceof URLSearchParams)) throw new TypeError(`${name} called on a non-URLSearchParams`);
    if (got < want) {
      throw new TypeError(`URLSearchParams.${name} needs ${want} argument(s), got ${got}`);
    }
  }

  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  const ParamsIteratorPrototype = Object.create(IteratorPrototype, {
    [Symbol.toStringTag]: { value: "URLSearchParams Iterator", configurable: true },
  });
  function iterate(params, map) {
    let index = 0;
    const it = Object.create(ParamsIteratorPrototype);
    it.next = function next() {
      const list = params[kList];
      if (index >= list.length) return { value: undefined, done: true };
      return { value: map(list[index++]), done: false };
    };
    return it;
  }

  class URL {
    constructor(url, base = undefined) {
      if (arguments.length < 1) throw new TypeError("URL constructor needs a url argument");
      const input = toUSV(url);
      const parts = base === undefined ? native.parse(input) : native.parse(input, toUSV(base));
      if (parts === null) {
        throw new TypeError(base === undefined
          ? `invalid url: ${JSON.stringify(input)}`
          : `invalid url: ${JSON.stringify(input)} against base ${JSON.stringify(toUSV(base))}`);
      }
      this[kParts] = parts;
      this[kQuery] = null;
    }
    static canParse(url, base = undefined) {
      const input = toUSV(url);
      return (base === undefined ? native.parse(input) : native.parse(input, toUSV(base))) !== null;
    }
    static parse(url, base = undefined) {
      try {
        return new URL(url, base);
      } catch {
        return null;
      }
    }
    get searchParams() {
      let params = this[kQuery];
      if (params === null) {
        params = new URLSearchParams(this[kParts][9]);
        params[kUrl] = this;
        this[kQuery] = params;
      }
      return params;
    }
    toString() { return this[kParts][0]; }
    toJSON() { return this[kParts][0]; }
    get [Symbol.toStringTag]() { return "URL"; }
  }

  FIELDS.forEach((field, i) => {
    const desc = {
      get() {
        if (!(this instanceof URL)) throw new TypeError(`URL.${field} read from a non-URL`);
        return this[kParts][i];
      },
      enumerable: true,
      configurable: true,
    };
    if (field !== "origin") {
      desc.set = function (value) {
        if (!(this instanceof URL)) throw new TypeError(`URL.${field} set on a non-URL`);
        const parts = native.set(this[kParts][0], field, toUSV(value));
        if (parts === null) throw new TypeError(`invalid url: ${JSON.stringify(toUSV(value))}`);
        const searchChanged = parts[9] !== this[kParts][9];
        this[kParts] = parts;
        if (searchChanged && this[kQuery] !== null) this[kQuery][kList] = pairs(parts[9].slice(1));
      };
    }
    Object.defineProperty(URL.prototype, field, desc);
  });

  unclonable.add(URL.prototype);
  unclonable.add(URLSearchParams.prototype);
  return { URL, URLSearchParams };
}
