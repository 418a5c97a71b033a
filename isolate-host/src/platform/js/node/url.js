// node:url: the WHATWG URL and URLSearchParams of the platform, and the
// file-URL helpers.
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
export function format(url) {
  return String(url);
}
export default { URL, URLSearchParams, fileURLToPath, pathToFileURL, format };
