// The interfaces WinterTC's Minimum Common API names as globals: Web
// Crypto's (which cannot be constructed, as in browsers, and are the
// classes of crypto, crypto.subtle and its keys) and HTML's ErrorEvent
// and PromiseRejectionEvent.
export default async function run() {
  const refused = (C) => { try { new C(); return "constructed"; } catch (e) { return e.constructor.name; } };
  const key = await crypto.subtle.importKey("raw", new Uint8Array(16), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const plain = new ErrorEvent("error");
  const error = new Error("boom");
  const full = new ErrorEvent("error", { message: "boom", filename: "w.js", lineno: 3, colno: 7, error, cancelable: true });
  const promise = Promise.resolve(1);
  const rejection = new PromiseRejectionEvent("unhandledrejection", { promise, reason: "why" });
  let noPromise;
  try { new PromiseRejectionEvent("unhandledrejection", {}); } catch (e) { noPromise = e.constructor.name; }
  let noInit;
  try { new PromiseRejectionEvent("unhandledrejection"); } catch (e) { noInit = e.constructor.name; }
  return {
    crypto: [crypto instanceof Crypto, crypto.subtle instanceof SubtleCrypto, key instanceof CryptoKey],
    construct: [refused(Crypto), refused(SubtleCrypto), refused(CryptoKey)],
    tags: [Object.prototype.toString.call(plain), Object.prototype.toString.call(rejection)],
    plain: [plain.message, plain.filename, plain.lineno, plain.colno, plain.error, plain instanceof Event],
    full: [full.message, full.filename, full.lineno, full.colno, full.error === error, full.cancelable],
    rejection: [rejection.promise === promise, rejection.reason, rejection.type, rejection instanceof Event],
    noPromise,
    noInit,
  };
}
