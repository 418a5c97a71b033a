// node:crypto: createHash, createHmac, timingSafeEqual, getHashes (native
// digests), and randomBytes, randomUUID, randomInt, getRandomValues, webcrypto
// and subtle from the platform's global crypto.
import { digest, hmac, timingSafeEqual as equal } from "caplet:crypto-native";
import { Buffer } from "node:buffer";

const ALGORITHMS = { md5: "md5", sha1: "sha1", "sha-1": "sha1", sha224: "sha224", sha256: "sha256", "sha-256": "sha256", sha384: "sha384", "sha-384": "sha384", sha512: "sha512", "sha-512": "sha512" };
const algorithm = (name) => {
  const found = ALGORITHMS[String(name).toLowerCase()];
  if (!found) throw new Error("Digest method not supported");
  return found;
};
// An error with Node's `code`, which Node code tests rather than the message.
const coded = (Ctor, code, message) => Object.assign(new Ctor(message), { code });
// How Node's ERR_INVALID_ARG_TYPE names what it got.
const received = (v) => {
  if (v === null || v === undefined) return `Received ${v}`;
  if (typeof v === "function") return `Received function ${v.name || "<anonymous>"}`;
  if (typeof v === "object") return `Received an instance of ${v.constructor?.name ?? "Object"}`;
  const shown = typeof v === "string" ? `'${v.length > 25 ? `${v.slice(0, 25)}...` : v}'` : typeof v === "bigint" ? `${v}n` : String(v);
  return `Received type ${typeof v} (${shown})`;
};
const toBytes = (data, encoding) => {
  if (typeof data === "string") return Buffer.from(data, encoding || "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw coded(TypeError, "ERR_INVALID_ARG_TYPE", `The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView. ${received(data)}`);
};
const output = (bytes, encoding) => {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return encoding === undefined || encoding === "buffer" ? b : b.toString(encoding);
};

class Digest {
  #chunks = [];
  #done = false;
  #finish;
  constructor(finish) { this.#finish = finish; }
  update(data, encoding) {
    if (this.#done) throw coded(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    this.#chunks.push(toBytes(data, encoding));
    return this;
  }
  digest(encoding) {
    if (this.#done) throw coded(Error, "ERR_CRYPTO_HASH_FINALIZED", "Digest already called");
    this.#done = true;
    return output(this.#finish(Buffer.concat(this.#chunks)), encoding);
  }
}
export class Hash extends Digest {}
export class Hmac extends Digest {}

export function createHash(name) {
  const alg = algorithm(name);
  return new Hash((data) => digest(alg, data));
}
export function createHmac(name, key) {
  const alg = algorithm(name);
  const k = key && typeof key === "object" && key.type === "secret" && key.export ? key.export() : toBytes(key);
  return new Hmac((data) => hmac(alg, k, data));
}
export function hash(name, data, encoding = "hex") {
  return createHash(name).update(data).digest(encoding);
}
export function timingSafeEqual(a, b) {
  const [x, y] = [toBytes(a), toBytes(b)];
  if (x.byteLength !== y.byteLength) {
    throw coded(RangeError, "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH", "Input buffers must have the same byte length");
  }
  return equal(x, y);
}
export function getHashes() {
  return ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
}

const platform = () => {
  const c = globalThis.crypto;
  if (!c || typeof c.getRandomValues !== "function") throw new Error("the platform's crypto.getRandomValues is not available in this worker");
  return c;
};
export function getRandomValues(array) {
  return platform().getRandomValues(array);
}
export function randomBytes(size, callback) {
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1) throw coded(RangeError, "ERR_OUT_OF_RANGE", `The value of "size" is out of range. It must be >= 0 && <= 2147483647. Received ${size}`);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 65536) platform().getRandomValues(out.subarray(i, Math.min(size, i + 65536)));
  if (typeof callback === "function") { queueMicrotask(() => callback(null, out)); return undefined; }
  return out;
}
export function randomUUID() {
  return platform().randomUUID();
}
export function randomInt(min, max, callback) {
  if (max === undefined || typeof max === "function") { callback = max; max = min; min = 0; }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min) throw coded(RangeError, "ERR_OUT_OF_RANGE", `The value of "max" is out of range. It must be greater than the value of "min" (${min}). Received ${max}`);
  const range = max - min;
  const limit = 2 ** 48 - (2 ** 48 % range);
  let x;
  do {
    const b = randomBytes(6);
    x = b.readUIntBE(0, 6);
  } while (x >= limit);
  const value = min + (x % range);
  if (typeof callback === "function") { queueMicrotask(() => callback(null, value)); return undefined; }
  return value;
}
export const webcrypto = {
  get subtle() { return platform().subtle; },
  getRandomValues: (a) => platform().getRandomValues(a),
  randomUUID: () => platform().randomUUID(),
};
export const subtle = globalThis.crypto ? globalThis.crypto.subtle : undefined;
export default { createHash, createHmac, hash, timingSafeEqual, getHashes, getRandomValues, randomBytes, randomUUID, randomInt, webcrypto, Hash, Hmac };
