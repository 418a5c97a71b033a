// Fetch Standard objects (Headers, Request, Response, the Body mixin) and
// File API objects (Blob, File, FormData), plus fetch() over the worker's
// http gateway (native.js: fetchSend). The gateway handles the request's
// redirect mode itself (it follows redirects, returns the 3xx for
// "manual", fails before a second request for "error") and takes a whole
// body, so a streamed request body is read to its end before it is sent.

import { DOMException } from "./dom_exception.js";
import { AbortController, AbortSignal, addAbortAlgorithm, removeAbortAlgorithm } from "./abort.js";
import { ReadableStream, createReadableStream, isDisturbed } from "./streams.js";
import { requiredArguments, serializable, tag, unclonable } from "./internal.js";
import { utf8Encode, utf8Decode, fetchSend, multipartParse } from "./native.js";

const construct = Symbol("construct");

// ============================================================================
// Helpers
// ============================================================================

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HTTP_WS = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function byteString(value) { return String(value); }
function usv(value) { return String(value).toWellFormed(); }
function encode(text) { return utf8Encode(usv(text)); }

function bytesOf(source) {
  if (source instanceof ArrayBuffer) return new Uint8Array(source.slice(0));
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
  }
  return null;
}

function concat(chunks, total) {
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) { out.set(chunk, at); at += chunk.byteLength; }
  return out;
}

function parseURL(input, base = undefined) {
  const URLClass = globalThis.URL;
  if (typeof URLClass === "function") {
    try { return new URLClass(input, base).href; }
    catch { throw new TypeError(`invalid URL ${JSON.stringify(String(input))}`); }
  }
  // Without the URL global only absolute URLs are accepted, unchanged.
  const text = String(input);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) throw new TypeError(`invalid URL ${JSON.stringify(text)}`);
  return text;
}

// The gateway gives header values as UTF-8 text; Headers hold byte strings
// (one character per byte), as a browser's do.
function isomorphicDecode(text) {
  const bytes = utf8Encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

function isURLSearchParams(v) {
  return v !== null && typeof v === "object" && Object.prototype.toString.call(v) === "[object URLSearchParams]";
}

// ============================================================================
// Headers (Fetch §5.2)
// ============================================================================

function checkName(name) {
  name = byteString(name);
  if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
  return name.toLowerCase();
}
function checkValue(value) {
  value = byteString(value).replace(HTTP_WS, "");
  if (/[\0\r\n]/.test(value) || /[^\x00-\xff]/.test(value)) throw new TypeError(`invalid header value ${JSON.stringify(value)}`);
  return value;
}

let headerList, setGuard;

export class Headers {
  #list = [];
  #guard = "none";
  static { headerList = (h) => h.#list; setGuard = (h, guard) => { h.#guard = guard; }; }

  constructor(init = undefined) {
    if (init !== undefined) fillHeaders(this, init);
  }
  #mutable() {
    if (this.#guard === "immutable") throw new TypeError("the headers are immutable");
  }
  append(name, value) {
    requiredArguments(arguments.length, 2, "Headers.append");
    const n = checkName(name);
    const v = checkValue(value);
    this.#mutable();
    this.#list.push([n, v]);
  }
  delete(name) {
    requiredArguments(arguments.length, 1, "Headers.delete");
    const n = checkName(name);
    this.#mutable();
    this.#list = this.#list.filter(([k]) => k !== n);
  }
  get(name) {
    requiredArguments(arguments.length, 1, "Headers.get");
    const n = checkName(name);
    const values = this.#list.filter(([k]) => k === n).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }
  getSetCookie() {
    return this.#list.filter(([k]) => k === "set-cookie").map(([, v]) => v);
  }
  has(name) {
    requiredArguments(arguments.length, 1, "Headers.has");
    const n = checkName(name);
    return this.#list.some(([k]) => k === n);
  }
  set(name, value) {
    requiredArguments(arguments.length, 2, "Headers.set");
    const n = checkName(name);
    const v = checkValue(value);
    this.#mutable();
    const at = this.#list.findIndex(([k]) => k === n);
    if (at < 0) { this.#list.push([n, v]); return; }
    this.#list[at][1] = v;
    this.#list = this.#list.filter(([k], i) => k !== n || i === at);
  }
  // "sort and combine": names sorted, values joined, set-cookie kept apart.
  #sorted() {
    const names = [...new Set(this.#list.map(([k]) => k))].sort();
    const out = [];
    for (const name of names) {
      if (name === "set-cookie") {
        for (const [k, v] of this.#list) if (k === name) out.push([name, v]);
      } else {
        out.push([name, this.get(name)]);
      }
    }
    return out;
  }
  forEach(callback, thisArg = undefined) {
    requiredArguments(arguments.length, 1, "Headers.forEach");
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: the callback is not a function");
    for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this);
  }
  entries() { return this.#sorted()[Symbol.iterator](); }
  keys() { return this.#sorted().map(([k]) => k)[Symbol.iterator](); }
  values() { return this.#sorted().map(([, v]) => v)[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
}
tag(Headers);
unclonable.add(Headers.prototype);

function fillHeaders(headers, init) {
  if (init === null || (typeof init !== "object" && typeof init !== "function")) {
    throw new TypeError("headers must be an object or a sequence of pairs");
  }
  if (init instanceof Headers) {
    for (const [k, v] of headerList(init)) headers.append(k, v);
  } else if (typeof init[Symbol.iterator] === "function") {
    for (const pair of init) {
      const list = typeof pair === "string" ? null : [...pair];
      if (list === null || list.length !== 2) throw new TypeError("each header must be a [name, value] pair");
      headers.append(list[0], list[1]);
    }
  } else {
    for (const key of Reflect.ownKeys(init)) {
      const desc = Reflect.getOwnPropertyDescriptor(init, key);
      if (desc?.enumerable && typeof key === "string") headers.append(key, init[key]);
    }
  }
}

function immutableHeaders(pairs) {
  const headers = new Headers();
  for (const [k, v] of pairs) headers.append(k, v);
  setGuard(headers, "immutable");
  return headers;
}

// ============================================================================
// Blob and File (File API §3, §4)
// ============================================================================

let blobBytes;

function normalizeType(type) {
  const t = String(type);
  return /^[\x20-\x7e]*$/.test(t) ? t.toLowerCase() : "";
}

export class Blob {
  #bytes;
  #type;
  static {
    blobBytes = (b) => b.#bytes;
    // A clone shares the bytes: a Blob never changes them.
    serializable.set(Blob.prototype, (b) => (#bytes in b ? new Blob(construct, { bytes: b.#bytes, type: b.#type }) : undefined));
  }

  constructor(blobParts = undefined, options = undefined) {
    if (blobParts === construct) { this.#bytes = options.bytes; this.#type = options.type; return; }
    const endings = options?.endings === undefined ? "transparent" : String(options.endings);
    if (endings !== "transparent" && endings !== "native") throw new TypeError("endings must be 'transparent' or 'native'");
    const chunks = [];
    let total = 0;
    if (blobParts !== undefined) {
      if (blobParts === null || typeof blobParts[Symbol.iterator] !== "function" || typeof blobParts === "string") {
        throw new TypeError("Blob: blobParts must be a sequence");
      }
      for (const part of blobParts) {
        let bytes;
        if (part instanceof Blob) bytes = part.#bytes;
        else if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) bytes = bytesOf(part);
        else {
          let text = usv(part);
          if (endings === "native") text = text.replace(/\r\n|\r/g, "\n");
          bytes = encode(text);
        }
        chunks.push(bytes);
        total += bytes.byteLength;
      }
    }
    this.#bytes = concat(chunks, total);
    this.#type = options?.type === undefined ? "" : normalizeType(options.type);
  }
  get size() { return this.#bytes.byteLength; }
  get type() { return this.#type; }
  slice(start = undefined, end = undefined, contentType = undefined) {
    const size = this.#bytes.byteLength;
    const clamp = (v, fallback) => {
      if (v === undefined) return fallback;
      const n = Math.trunc(Number(v)) || 0;
      return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
    };
    const from = clamp(start, 0);
    const to = clamp(end, size);
    const bytes = this.#bytes.slice(from, Math.max(from, to));
    return new Blob(construct, { bytes, type: contentType === undefined ? "" : normalizeType(contentType) });
  }
  text() { return Promise.resolve(utf8Decode(this.#bytes, false)); }
  arrayBuffer() { return Promise.resolve(this.#bytes.slice().buffer); }
  bytes() { return Promise.resolve(this.#bytes.slice()); }
  stream() { return bytesStream(this.#bytes); }
}
tag(Blob);

export class File extends Blob {
  #name;
  #lastModified;
  constructor(fileBits, fileName, options = undefined) {
    requiredArguments(arguments.length, 2, "File");
    super(fileBits, options);
    this.#name = usv(fileName);
    this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
  }
  get name() { return this.#name; }
  get lastModified() { return this.#lastModified; }
  get webkitRelativePath() { return ""; }
  static {
    serializable.set(File.prototype, (f) => {
      if (!(#name in f)) return undefined;
      return new File([f], f.#name, { type: f.type, lastModified: f.#lastModified });
    });
  }
}
tag(File);

function bytesStream(bytes) {
  let sent = false;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (!sent && bytes.byteLength > 0) controller.enqueue(bytes.slice());
      sent = true;
      controller.close();
    },
  });
}

// ============================================================================
// FormData (XHR Standard §5)
// ============================================================================

function formEntry(name, value, filename) {
  name = usv(name);
  if (value instanceof Blob) {
    if (!(value instanceof File) || filename !== undefined) {
      value = new File([value], filename === undefined ? (value instanceof File ? value.name : "blob") : usv(filename), {
        type: value.type,
        lastModified: value instanceof File ? value.lastModified : undefined,
      });
    }
  } else {
    value = usv(value);
  }
  return [name, value];
}

let formList;

export class FormData {
  #entries = [];
  static { formList = (f) => f.#entries; }
  constructor(form = undefined, submitter = undefined) {
    if (form !== undefined) throw new TypeError("FormData: there are no form elements in a worker");
  }
  append(name, value, filename = undefined) {
    requiredArguments(arguments.length, 2, "FormData.append");
    this.#entries.push(formEntry(name, value, filename));
  }
  delete(name) {
    requiredArguments(arguments.length, 1, "FormData.delete");
    name = usv(name);
    this.#entries = this.#entries.filter(([k]) => k !== name);
  }
  get(name) {
    requiredArguments(arguments.length, 1, "FormData.get");
    name = usv(name);
    return this.#entries.find(([k]) => k === name)?.[1] ?? null;
  }
  getAll(name) {
    requiredArguments(arguments.length, 1, "FormData.getAll");
    name = usv(name);
    return this.#entries.filter(([k]) => k === name).map(([, v]) => v);
  }
  has(name) {
    requiredArguments(arguments.length, 1, "FormData.has");
    name = usv(name);
    return this.#entries.some(([k]) => k === name);
  }
  set(name, value, filename = undefined) {
    requiredArguments(arguments.length, 2, "FormData.set");
    const entry = formEntry(name, value, filename);
    const at = this.#entries.findIndex(([k]) => k === entry[0]);
    if (at < 0) { this.#entries.push(entry); return; }
    this.#entries[at] = entry;
    this.#entries = this.#entries.filter(([k], i) => k !== entry[0] || i === at);
  }
  forEach(callback, thisArg = undefined) {
    for (const [k, v] of [...this.#entries]) callback.call(thisArg, v, k, this);
  }
  entries() { return this.#entries.map((e) => [...e])[Symbol.iterator](); }
  keys() { return this.#entries.map(([k]) => k)[Symbol.iterator](); }
  values() { return this.#entries.map(([, v]) => v)[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
}
tag(FormData);
unclonable.add(FormData.prototype);

let boundaries = 0;
function multipart(form) {
  // A boundary that cannot occur in the entries (checked below).
  const boundary = `----caplet-form-boundary-${(++boundaries).toString(16).padStart(8, "0")}`;
  const escape = (s) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
  const chunks = [];
  let total = 0;
  const push = (bytes) => { chunks.push(bytes); total += bytes.byteLength; };
  for (const [name, value] of formList(form)) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escape(name.replace(/\r\n|\r|\n/g, "\r\n"))}"`;
    if (typeof value === "string") {
      push(encode(`${head}\r\n\r\n${value.replace(/\r\n|\r|\n/g, "\r\n")}\r\n`));
    } else {
      head += `; filename="${escape(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
      push(encode(head));
      push(blobBytes(value));
      push(encode("\r\n"));
    }
  }
  push(encode(`--${boundary}--\r\n`));
  return { bytes: concat(chunks, total), type: `multipart/form-data; boundary=${boundary}` };
}

// ============================================================================
// Body (Fetch §5.4)
// ============================================================================

/** The body and its Content-Type for a BodyInit (Fetch "extract a body"). */
function extractBody(init) {
  if (init instanceof ReadableStream) {
    if (isDisturbed(init) || init.locked) throw new TypeError("the body stream is disturbed or locked");
    return { stream: init, bytes: null, type: null };
  }
  if (init instanceof Blob) return { stream: null, bytes: blobBytes(init), type: init.type || null };
  if (init instanceof FormData) {
    const { bytes, type } = multipart(init);
    return { stream: null, bytes, type };
  }
  if (isURLSearchParams(init)) {
    return { stream: null, bytes: encode(init.toString()), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  const bytes = bytesOf(init);
  if (bytes !== null) return { stream: null, bytes, type: null };
  return { stream: null, bytes: encode(init), type: "text/plain;charset=UTF-8" };
}

class Body {
  constructor(stream, bytes) {
    this.source = bytes;
    this.streamValue = stream;
    this.used = false;
  }
  get stream() {
    if (this.streamValue === null) {
      this.streamValue = bytesStream(this.source ?? new Uint8Array());
      if (this.used) this.streamValue.cancel();
    }
    return this.streamValue;
  }
  get disturbed() {
    return this.used || (this.streamValue !== null && isDisturbed(this.streamValue));
  }
  // The whole body; past `limit` bytes the stream is cancelled and the
  // read fails with `tooLarge(limit)`.
  async consume(limit = Infinity, tooLarge = undefined) {
    if (this.disturbed || this.streamValue?.locked) throw new TypeError("the body was already read");
    this.used = true;
    if (this.streamValue === null) return this.source.slice();
    const reader = this.streamValue.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) throw new TypeError("a body chunk is not a Uint8Array");
      chunks.push(value);
      total += value.byteLength;
      if (total > limit) {
        const error = tooLarge(limit);
        reader.cancel(error).catch(() => {});
        throw error;
      }
    }
    return concat(chunks, total);
  }
  clone() {
    if (this.disturbed || this.streamValue?.locked) throw new TypeError("the body was already read");
    if (this.streamValue === null) return new Body(null, this.source);
    const [a, b] = this.streamValue.tee();
    this.streamValue = a;
    return new Body(b, null);
  }
}

function mimeEssence(headers) {
  const type = headers.get("content-type");
  return type === null ? "" : type.split(";")[0].trim().toLowerCase();
}

async function formDataOf(bodyOwner, bytes, headers) {
  const essence = mimeEssence(headers);
  if (essence === "application/x-www-form-urlencoded") {
    // Parsed by URLSearchParams (the url crate's WHATWG parser).
    const Params = globalThis.URLSearchParams;
    if (typeof Params !== "function") throw new TypeError("formData(): URLSearchParams is not available");
    const form = new FormData();
    for (const [k, v] of new Params(utf8Decode(bytes, false))) form.append(k, v);
    return form;
  }
  if (essence === "multipart/form-data") {
    // Parsed in Rust by the multer crate (RFC 7578).
    const form = new FormData();
    for (const [name, value] of multipartParse(bytes, headers.get("content-type"))) {
      if (typeof value === "string") form.append(name, value);
      else form.append(name, new File([value.bytes], value.filename, { type: value.type }));
    }
    return form;
  }
  throw new TypeError(`formData(): the body's content type ${JSON.stringify(essence)} is not form data`);
}

/** Body mixin methods shared by Request and Response. */
function mixBody(klass, bodyOf, headersOf) {
  const methods = {
    get body() { const b = bodyOf(this); return b === null ? null : b.stream; },
    get bodyUsed() { const b = bodyOf(this); return b !== null && b.disturbed; },
    async arrayBuffer() { return (await consume(this)).buffer; },
    async bytes() { return consume(this); },
    async text() { return utf8Decode(await consume(this), false); },
    async json() { return JSON.parse(utf8Decode(await consume(this), false)); },
    async blob() {
      const bytes = await consume(this);
      const type = headersOf(this).get("content-type") ?? "";
      return new Blob(construct, { bytes, type: normalizeType(type) });
    },
    async formData() { return formDataOf(this, await consume(this), headersOf(this)); },
  };
  async function consume(self) {
    const b = bodyOf(self);
    if (b === null) return new Uint8Array();
    return b.consume();
  }
  for (const key of Reflect.ownKeys(methods)) {
    const desc = Reflect.getOwnPropertyDescriptor(methods, key);
    Object.defineProperty(klass.prototype, key, { ...desc, enumerable: true });
  }
}

// ============================================================================
// Request (Fetch §5.5)
// ============================================================================

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
const REDIRECTS = new Set(["follow", "error", "manual"]);

let requestState;

export class Request {
  #r;
  static { requestState = (r) => r.#r; }

  constructor(input, init = undefined) {
    requiredArguments(arguments.length, 1, "Request");
    init = init ?? {};
    let base;
    if (input instanceof Request) {
      base = input.#r;
    } else {
      base = {
        method: "GET", url: parseURL(input), headers: [], body: null, redirect: "follow",
        signal: null, credentials: "same-origin", mode: "cors", cache: "default",
        referrer: "about:client", referrerPolicy: "", integrity: "", keepalive: false,
      };
    }
    const r = { ...base };
    if (init.method !== undefined) {
      let method = byteString(init.method);
      if (!TOKEN.test(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
      if (FORBIDDEN_METHODS.has(method.toUpperCase())) throw new TypeError(`method ${method} is forbidden`);
      if (NORMALIZED_METHODS.has(method.toUpperCase())) method = method.toUpperCase();
      r.method = method;
    }
    if (init.redirect !== undefined) {
      const redirect = String(init.redirect);
      if (!REDIRECTS.has(redirect)) throw new TypeError(`invalid redirect mode ${JSON.stringify(redirect)}`);
      r.redirect = redirect;
    }
    for (const key of ["credentials", "mode", "cache", "referrerPolicy", "integrity"]) {
      if (init[key] !== undefined) r[key] = String(init[key]);
    }
    if (init.referrer !== undefined) r.referrer = String(init.referrer) === "" ? "" : parseURL(init.referrer);
    if (init.keepalive !== undefined) r.keepalive = Boolean(init.keepalive);
    // The request's signal follows the given one (or the input's).
    const given = init.signal !== undefined ? init.signal : (input instanceof Request ? input.signal : null);
    if (given !== null && !(given instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
    r.signal = given === null ? new AbortController().signal : AbortSignal.any([given]);
    r.headers = new Headers(init.headers !== undefined ? init.headers : (input instanceof Request ? input.headers : undefined));
    let body = null;
    if (init.body !== undefined && init.body !== null) {
      if (r.method === "GET" || r.method === "HEAD") throw new TypeError(`a ${r.method} request cannot have a body`);
      const extracted = extractBody(init.body);
      if (extracted.stream !== null && init.duplex !== "half") throw new TypeError("a streamed request body needs duplex: 'half'");
      body = new Body(extracted.stream, extracted.bytes);
      if (extracted.type !== null && !r.headers.has("content-type")) r.headers.append("content-type", extracted.type);
    } else if (input instanceof Request && input.#r.body !== null) {
      if (input.#r.body.disturbed) throw new TypeError("the input request's body was already read");
      body = input.#r.body;
      // The input's body moves to the new request.
      input.#r.body = new Body(null, new Uint8Array());
      input.#r.body.used = true;
    }
    r.body = body;
    this.#r = r;
  }
  get method() { return this.#r.method; }
  get url() { return this.#r.url; }
  get headers() { return this.#r.headers; }
  get destination() { return ""; }
  get referrer() { return this.#r.referrer === "" ? "" : this.#r.referrer === "about:client" ? "about:client" : this.#r.referrer; }
  get referrerPolicy() { return this.#r.referrerPolicy; }
  get mode() { return this.#r.mode; }
  get credentials() { return this.#r.credentials; }
  get cache() { return this.#r.cache; }
  get redirect() { return this.#r.redirect; }
  get integrity() { return this.#r.integrity; }
  get keepalive() { return this.#r.keepalive; }
  get signal() { return this.#r.signal; }
  get duplex() { return "half"; }
  clone() {
    const body = this.#r.body === null ? null : this.#r.body.clone();
    const copy = new Request(this.#r.url, { method: this.#r.method, headers: this.#r.headers, redirect: this.#r.redirect, signal: this.#r.signal });
    copy.#r.body = body;
    return copy;
  }
}
mixBody(Request, (r) => requestState(r).body, (r) => requestState(r).headers);
tag(Request);
unclonable.add(Request.prototype);

// ============================================================================
// Response (Fetch §5.6)
// ============================================================================

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

let responseState;

export class Response {
  #r;
  static { responseState = (r) => r.#r; }

  constructor(body = null, init = undefined) {
    if (body === construct) { this.#r = init; return; }
    init = init ?? {};
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`invalid status ${init.status}`);
    const statusText = init.statusText === undefined ? "" : byteString(init.statusText);
    if (!REASON.test(statusText)) throw new TypeError("invalid statusText");
    const headers = new Headers(init.headers);
    let b = null;
    if (body !== null && body !== undefined) {
      if (NULL_BODY_STATUS.has(status)) throw new TypeError(`a response with status ${status} cannot have a body`);
      const extracted = extractBody(body);
      b = new Body(extracted.stream, extracted.bytes);
      if (extracted.type !== null && !headers.has("content-type")) headers.append("content-type", extracted.type);
    }
    this.#r = { type: "default", status, statusText, headers, body: b, url: "", redirected: false };
  }
  static error() {
    const r = new Response(construct, { type: "error", status: 0, statusText: "", headers: immutableHeaders([]), body: null, url: "", redirected: false });
    return r;
  }
  static redirect(url, status = 302) {
    requiredArguments(arguments.length, 1, "Response.redirect");
    const location = parseURL(url);
    status = Number(status);
    if (!REDIRECT_STATUS.has(status)) throw new RangeError(`invalid redirect status ${status}`);
    return new Response(construct, {
      type: "default", status, statusText: "", headers: immutableHeaders([["location", location]]),
      body: null, url: "", redirected: false,
    });
  }
  static json(data, init = undefined) {
    requiredArguments(arguments.length, 1, "Response.json");
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Response.json: the data is not JSON-serializable");
    const response = new Response(text, init);
    const headers = response.#r.headers;
    if (!headers.has("content-type") || headers.get("content-type") === "text/plain;charset=UTF-8") {
      headers.set("content-type", "application/json");
    }
    return response;
  }
  get type() { return this.#r.type; }
  get url() { return this.#r.url; }
  get redirected() { return this.#r.redirected; }
  get status() { return this.#r.status; }
  get ok() { return this.#r.status >= 200 && this.#r.status <= 299; }
  get statusText() { return this.#r.statusText; }
  get headers() { return this.#r.headers; }
  clone() {
    const r = this.#r;
    const body = r.body === null ? null : r.body.clone();
    const headers = new Headers(r.headers);
    if (r.type !== "default") setGuard(headers, "immutable");
    return new Response(construct, { ...r, headers, body });
  }
}
mixBody(Response, (r) => responseState(r).body, (r) => responseState(r).headers);
tag(Response);
unclonable.add(Response.prototype);

// ============================================================================
// fetch (Fetch §5.7), over the worker's http gateway
// ============================================================================

// The largest request body fetch() reads from a stream: the size of a
// whole request the gateway takes in one message (gateway.rs,
// MAX_REQUEST_BYTES); the broker's policy may allow less.
const MAX_REQUEST_BODY = 32 << 20;

export function fetch(input, init = undefined) {
  if (arguments.length < 1) return Promise.reject(new TypeError("fetch: 1 argument required, but only 0 present"));
  let request;
  try { request = new Request(input, init); }
  catch (e) { return Promise.reject(e); }
  const r = requestState(request);
  const signal = r.signal;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    let cancel = null;
    let responseBody = null;
    let settled = false;
    const onAbort = () => {
      if (cancel !== null) cancel();
      if (!settled) { settled = true; reject(signal.reason); }
      else if (responseBody !== null) responseBody.abort(signal.reason);
    };
    addAbortAlgorithm(signal, onAbort);
    // A streamed body is read to its end (the gateway takes one message),
    // at most MAX_REQUEST_BODY bytes of it.
    const body = r.body === null ? Promise.resolve(new Uint8Array())
      : r.body.consume(MAX_REQUEST_BODY, (limit) => new TypeError(`fetch: the request body exceeds ${limit} bytes`));
    body.then((bytes) => {
      if (settled) return;
      const headers = [...headerList(r.headers)];
      const sent = fetchSend(r.method, r.url, headers, bytes, r.redirect);
      cancel = sent.cancel;
      return sent.promise.then((answer) => {
        cancel = null;
        if (settled) return;
        // "manual" gives the redirect itself, as Deno and workerd do (a
        // browser would give an opaqueredirect with status 0 instead).
        let controller;
        const stream = createReadableStream({
          start(c) {
            controller = c;
            if (answer.body.byteLength > 0) c.enqueue(answer.body);
            c.close();
          },
        }, 0);
        responseBody = { abort: (reason) => { try { controller.error(reason); } catch {} } };
        const response = new Response(construct, {
          type: "basic",
          status: answer.status,
          statusText: answer.statusText,
          headers: immutableHeaders(answer.headers.map(([k, v]) => [k, isomorphicDecode(v)])),
          body: NULL_BODY_STATUS.has(answer.status) || r.method === "HEAD" ? null : new Body(stream, null),
          url: answer.url || r.url,
          redirected: answer.redirected,
        });
        settled = true;
        resolve(response);
      });
    }).catch((error) => {
      if (settled) return;
      settled = true;
      removeAbortAlgorithm(signal, onAbort);
      reject(error instanceof TypeError || error instanceof DOMException ? error : toNetworkError(error));
    });
  });
}

// A refused or failed request keeps the gateway's RpcError (its kind, e.g.
// `denied: …`, says why), except the network errors of the standard's
// redirect handling: a redirect refused by the "error" mode
// (`redirected: …`) and one past the policy's max_redirects (the standard's
// limit of 20, here the policy's); anything else becomes a TypeError, as the
// standard's network error does. The RpcError stays as the `cause`.
const TOO_MANY_REDIRECTS = /^denied: redirect \d+ to .*: more than \d+ redirects$/s;
function toNetworkError(error) {
  if (error instanceof Error && error.name === "RpcError") {
    const message = String(error.message);
    if (!message.startsWith("redirected: ") && !TOO_MANY_REDIRECTS.test(message)) return error;
    return new TypeError(`fetch failed: ${message}`, { cause: error });
  }
  return new TypeError(`fetch failed: ${error}`);
}
