// node:crypto digests and HMAC (FIPS 180 / RFC 1321 / RFC 4231 vectors).
// Error texts are caplet's where Node.js shows OpenSSL's.
import crypto, { createHash, createHmac, timingSafeEqual, getHashes } from "node:crypto";
const attempt = (f) => { try { return String(f()); } catch (e) { return e.name + ": " + e.message; } };
globalThis.out = [
  createHash("sha256").update("abc").digest("hex"),
  createHash("sha1").update("a").update("bc").digest("hex"),
  createHash("md5").update("abc").digest("base64"),
  createHash("sha512").update(new Uint8Array([97, 98, 99])).digest("hex").slice(0, 32),
  createHmac("sha256", "Jefe").update("what do ya want for nothing?").digest("hex"),
  String(createHash("sha384").update("").digest().length),
  String(timingSafeEqual(Buffer.from("abc"), Buffer.from("abc"))),
  String(timingSafeEqual(Buffer.from("abc"), Buffer.from("abd"))),
  attempt(() => timingSafeEqual(Buffer.from("a"), Buffer.from("ab"))),
  attempt(() => createHash("whirlpool")),
  getHashes().join(),
  typeof crypto.randomUUID,
  String(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID())),
  String(crypto.randomBytes(16).length),
  String(crypto.randomBytes(16).equals(crypto.randomBytes(16))),
  String((() => { const n = crypto.randomInt(10); return Number.isInteger(n) && n >= 0 && n < 10; })()),
  typeof crypto.webcrypto.subtle.digest,
];
export default () => globalThis.out;
