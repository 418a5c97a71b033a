// node:url: the WHATWG URL and URLSearchParams of the platform, the
// file-URL helpers, and the legacy parse/format/resolve over WHATWG URL.
import querystring from "node:querystring";
const need = (name) => {
  const value = globalThis[name];
  if (value === undefined) throw new TypeError(`${name} is not available in this worker`);
  return value;
};
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export function fileURLToPath(url) {
  const u = typeof url === "string" ? new (need("URL"))(url) : url;
  if (u.protocol !== "file:") throw new TypeError("The URL must be of scheme file");
  if (u.hostname !== "") throw new TypeError('File URL host must be "localhost" or empty on linux');
  if (/%2f/i.test(u.pathname)) throw new TypeError("File URL path must not include encoded / characters");
  return decodeURIComponent(u.pathname);
}
export function pathToFileURL(path) {
  const encoded = String(path).split("/").map((s) => encodeURIComponent(s)).join("/");
  return new (need("URL"))(`file://${encoded.startsWith("/") ? "" : "/"}${encoded}`);
}

// The legacy API (url.parse, url.format, url.resolve, Url), on the WHATWG
// parser: caplet has no second URL parser. So a parsed URL is normalised
// as WHATWG says (dot segments resolved, characters percent-encoded, host
// names lowercased and punycoded), where Node's legacy parser keeps more
// of the text as written.
const SLASHED = new Set(["http:", "https:", "ftp:", "gopher:", "file:", "ws:", "wss:"]);
// A base for relative references; its host never shows in a result.
const BASE = "http://relative.invalid/";

export function Url() {
  this.protocol = null;
  this.slashes = null;
  this.auth = null;
  this.host = null;
  this.port = null;
  this.hostname = null;
  this.hash = null;
  this.search = null;
  this.query = null;
  this.pathname = null;
  this.path = null;
  this.href = null;
}

export function parse(input, parseQueryString = false, slashesDenoteHost = false) {
  if (input instanceof Url) return input;
  if (typeof input !== "string") {
    throw Object.assign(new TypeError(`The "url" argument must be of type string. Received ${input === null ? "null" : typeof input}`), { code: "ERR_INVALID_ARG_TYPE" });
  }
  const text = input.trim();
  const Whatwg = need("URL");
  const out = new Url();
  let u = Whatwg.parse(text);
  const relative = u === null;
  if (relative && slashesDenoteHost && text.startsWith("//")) {
    u = new Whatwg(`http:${text}`);
  } else if (relative) {
    // "/." keeps a leading "//" in the path (WHATWG's own serialisation trick).
    u = new Whatwg(text.startsWith("//") ? `/.${text}` : text, BASE);
  } else {
    out.protocol = u.protocol;
    out.slashes = SLASHED.has(u.protocol) || /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? true : null;
  }
  if (!relative || (slashesDenoteHost && text.startsWith("//"))) {
    if (u.username !== "" || u.password !== "") {
      out.auth = decodeURIComponent(u.username) + (u.password !== "" ? `:${decodeURIComponent(u.password)}` : "");
    }
    if (u.host !== "") {
      out.host = u.host;
      out.hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
      out.port = u.port === "" ? null : u.port;
    } else if (out.slashes) {
      out.host = "";
      out.hostname = "";
    }
  }
  const bare = relative && !text.startsWith("/");
  const pathname = bare ? u.pathname.slice(1) : u.pathname;
  out.pathname = pathname === "" && (relative || u.host === "") ? null : pathname;
  if (relative && /^[?#]/.test(text)) out.pathname = null;
  out.search = u.search === "" ? null : u.search;
  out.hash = u.hash === "" ? null : u.hash;
  const query = u.search === "" ? null : u.search.slice(1);
  if (parseQueryString) {
    out.query = Object.assign(Object.create(null), querystring.parse(query ?? ""));
  } else {
    out.query = query;
  }
  out.path = (out.pathname ?? "") + (out.search ?? "") || null;
  out.href = relative && !out.host ? (out.pathname ?? "") + (out.search ?? "") + (out.hash ?? "") : u.href;
  return out;
}

export function format(url) {
  if (typeof url === "string") url = parse(url);
  else if (url instanceof need("URL")) return url.href;
  if (url === null || typeof url !== "object") {
    throw Object.assign(new TypeError(`The "urlObject" argument must be one of type object or string. Received ${url === null ? "null" : typeof url}`), { code: "ERR_INVALID_ARG_TYPE" });
  }
  let protocol = url.protocol ?? "";
  if (protocol !== "" && !protocol.endsWith(":")) protocol += ":";
  let host = "";
  if (url.host) host = url.host;
  else if (url.hostname) host = (url.hostname.includes(":") ? `[${url.hostname}]` : url.hostname) + (url.port ? `:${url.port}` : "");
  const auth = url.auth ? `${encodeURIComponent(url.auth).replace(/%3A/i, ":")}@` : "";
  let pathname = url.pathname ?? "";
  let search = url.search ?? "";
  if (!search && url.query && typeof url.query === "object") {
    const q = querystring.stringify(url.query);
    if (q) search = `?${q}`;
  } else if (!search && typeof url.query === "string" && url.query) {
    search = `?${url.query}`;
  }
  if (search && !search.startsWith("?")) search = `?${search}`;
  let hash = url.hash ?? "";
  if (hash && !hash.startsWith("#")) hash = `#${hash}`;
  const slashes = url.slashes || SLASHED.has(protocol);
  let prefix = "";
  if (slashes || host) {
    prefix = `//${auth}${host}`;
    if (pathname && !pathname.startsWith("/")) pathname = `/${pathname}`;
  }
  pathname = pathname.replace(/[?#]/g, encodeURIComponent);
  search = search.replace(/#/g, "%23");
  return protocol + prefix + pathname + search + hash;
}

export function resolve(from, to) {
  const Whatwg = need("URL");
  if (Whatwg.canParse(from)) return new Whatwg(to, from).href;
  const u = new Whatwg(to, new Whatwg(from, BASE));
  if (u.origin !== new Whatwg(BASE).origin) return u.href;
  const path = from.startsWith("/") ? u.pathname : u.pathname.slice(1);
  return path + u.search + u.hash;
}

export default { URL, URLSearchParams, fileURLToPath, pathToFileURL, format, parse, resolve, Url };
