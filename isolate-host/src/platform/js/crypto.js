// crypto and crypto.subtle (Web Crypto) over `ring`: this glue normalises
// algorithms, keeps CryptoKey's shape and usages, and returns promises; the
// natives do the cryptography and throw DOMExceptions with the right names.

import { DOMException } from "./dom_exception.js";
import { serializable, unclonable } from "./internal.js";

export function install(native) {

  function domError(name, message) {
    return new DOMException(message, name);
  }

  function bytesOf(input, what) {
    if (input instanceof Uint8Array) return input;
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`);
  }

  const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
    Int32Array, Uint32Array, BigInt64Array, BigUint64Array];

  const HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const ALGORITHMS = ["HMAC", "AES-GCM", "PBKDF2", "HKDF", "ECDSA", "Ed25519",
    "RSASSA-PKCS1-v1_5", "RSA-PSS", ...HASHES];

  // The algorithm's registered name, case-insensitively, and its dictionary.
  function normalize(algorithm, op) {
    const dict = typeof algorithm === "string" ? { name: algorithm } : algorithm;
    if (dict === null || typeof dict !== "object") throw new TypeError(`${op}: the algorithm must be a string or an object`);
    if (dict.name === undefined) throw new TypeError(`${op}: the algorithm has no name`);
    const upper = String(dict.name).toUpperCase();
    const name = ALGORITHMS.find((n) => n.toUpperCase() === upper);
    if (name === undefined) throw domError("NotSupportedError", `${op}: the algorithm ${String(dict.name)} is not supported`);
    return { dict, name };
  }

  function hashOf(dict, op) {
    if (dict.hash === undefined) throw new TypeError(`${op}: the algorithm needs a hash`);
    const { name } = normalize(dict.hash, op);
    if (!HASHES.includes(name)) throw domError("NotSupportedError", `${op}: ${name} is not a hash`);
    return name;
  }

  // What a key of each algorithm is, natively, and which usages it allows.
  const KINDS = {
    HMAC: { kind: "secret", usages: { secret: ["sign", "verify"] } },
    "AES-GCM": { kind: "secret", usages: { secret: ["encrypt", "decrypt", "wrapKey", "unwrapKey"] } },
    PBKDF2: { kind: "secret", usages: { secret: ["deriveBits", "deriveKey"] } },
    HKDF: { kind: "secret", usages: { secret: ["deriveBits", "deriveKey"] } },
    ECDSA: { kind: "EC", usages: { private: ["sign"], public: ["verify"] } },
    Ed25519: { kind: "Ed25519", usages: { private: ["sign"], public: ["verify"] } },
    "RSASSA-PKCS1-v1_5": { kind: "RSA", usages: { private: ["sign"], public: ["verify"] } },
    "RSA-PSS": { kind: "RSA", usages: { private: ["sign"], public: ["verify"] } },
  };

  const kMaterial = Symbol("material");
  let constructing = false;

  class CryptoKey {
    #type; #extractable; #algorithm; #usages;
    constructor(material, type, extractable, algorithm, usages) {
      if (!constructing) throw new TypeError("CryptoKey cannot be constructed");
      this.#type = type;
      this.#extractable = extractable;
      this.#algorithm = Object.freeze(algorithm);
      this.#usages = usages;
      Object.defineProperty(this, kMaterial, { value: material });
    }
    get type() { return this.#type; }
    get extractable() { return this.#extractable; }
    get algorithm() { return this.#algorithm; }
    get usages() { return [...this.#usages]; }
    get [Symbol.toStringTag]() { return "CryptoKey"; }
    static {
      // A clone shares the key material (never changed) and copies the rest.
      serializable.set(CryptoKey.prototype, (key) => {
        if (!(#type in key)) return undefined;
        const algorithm = { ...key.#algorithm };
        if (algorithm.hash !== undefined) algorithm.hash = { ...algorithm.hash };
        if (algorithm.publicExponent !== undefined) algorithm.publicExponent = algorithm.publicExponent.slice();
        constructing = true;
        try {
          return new CryptoKey(key[kMaterial], key.#type, key.#extractable, algorithm, [...key.#usages]);
        } finally {
          constructing = false;
        }
      });
    }
  }

  function makeKey(material, algorithm, extractable, usages) {
    const [type, bits, curve, publicExponent] = native.keyInfo(material);
    const allowed = KINDS[algorithm.name].usages[type] ?? [];
    for (const usage of usages) {
      if (!allowed.includes(usage)) {
        throw domError("SyntaxError", `a ${type} ${algorithm.name} key cannot be used to ${usage}`);
      }
    }
    // WebIDL order: a parent dictionary's members first, each dictionary's
    // in lexicographic order (RsaHashedKeyAlgorithm: modulusLength,
    // publicExponent, then hash).
    const shown = { name: algorithm.name };
    if (KINDS[algorithm.name].kind === "RSA") {
      shown.modulusLength = bits;
      shown.publicExponent = publicExponent;
    }
    if (algorithm.hash !== undefined) shown.hash = { name: algorithm.hash };
    if (algorithm.name === "HMAC" || algorithm.name === "AES-GCM") shown.length = bits;
    if (curve !== null && curve !== undefined) shown.namedCurve = curve;
    constructing = true;
    try {
      return new CryptoKey(material, type, type === "public" ? true : Boolean(extractable), shown, usages);
    } finally {
      constructing = false;
    }
  }

  function keyParams(name, dict, op) {
    const params = { name };
    if (name === "HMAC" || KINDS[name].kind === "RSA") params.hash = hashOf(dict, op);
    if (name === "ECDSA") {
      if (dict.namedCurve === undefined) throw new TypeError(`${op}: ECDSA needs a namedCurve`);
      params.namedCurve = String(dict.namedCurve);
    }
    return params;
  }

  function checkKey(key, name, usage, op) {
    if (!(key instanceof CryptoKey)) throw new TypeError(`${op}: the key is not a CryptoKey`);
    if (key.algorithm.name !== name) {
      throw domError("InvalidAccessError", `${op}: the key is for ${key.algorithm.name}, not ${name}`);
    }
    if (!key.usages.includes(usage)) {
      throw domError("InvalidAccessError", `${op}: the key's usages do not include ${usage}`);
    }
  }

  const JWK_ALG = {
    HMAC: { "SHA-1": "HS1", "SHA-256": "HS256", "SHA-384": "HS384", "SHA-512": "HS512" },
    "RSASSA-PKCS1-v1_5": { "SHA-1": "RS1", "SHA-256": "RS256", "SHA-384": "RS384", "SHA-512": "RS512" },
    "RSA-PSS": { "SHA-1": "PS1", "SHA-256": "PS256", "SHA-384": "PS384", "SHA-512": "PS512" },
  };

  function jwkAlg(key) {
    const { name } = key.algorithm;
    if (JWK_ALG[name]) return JWK_ALG[name][key.algorithm.hash.name];
    if (name === "AES-GCM") return `A${key.algorithm.length}GCM`;
    if (name === "ECDSA") return key.algorithm.namedCurve === "P-256" ? "ES256" : "ES384";
    if (name === "Ed25519") return "Ed25519";
    return undefined;
  }

  function usagesOf(keyUsages, op) {
    if (keyUsages === null || typeof keyUsages !== "object" || typeof keyUsages[Symbol.iterator] !== "function") {
      throw new TypeError(`${op}: keyUsages must be a sequence`);
    }
    return [...new Set(Array.from(keyUsages, String))];
  }

  class SubtleCrypto {
    constructor() { throw new TypeError("SubtleCrypto cannot be constructed"); }

    async digest(algorithm, data) {
      const { name } = normalize(algorithm, "digest");
      if (!HASHES.includes(name)) throw domError("NotSupportedError", `digest: ${name} is not a hash`);
      return native.digest(name, bytesOf(data, "digest data"));
    }

    async importKey(format, keyData, algorithm, extractable, keyUsages) {
      format = String(format);
      const { dict, name } = normalize(algorithm, "importKey");
      if (!KINDS[name]) throw domError("NotSupportedError", `importKey: ${name} has no keys`);
      const usages = usagesOf(keyUsages, "importKey");
      const params = keyParams(name, dict, "importKey");
      if (!["raw", "spki", "pkcs8", "jwk"].includes(format)) {
        throw new TypeError(`importKey: the format ${format} is not one of raw, spki, pkcs8, jwk`);
      }
      let data;
      if (format === "jwk") {
        if (keyData === null || typeof keyData !== "object") throw new TypeError("importKey: a jwk must be an object");
        data = keyData;
        if (data.ext === false && extractable) {
          throw domError("DataError", "importKey: the jwk is not extractable");
        }
        if (Array.isArray(data.key_ops) && !usages.every((u) => data.key_ops.includes(u))) {
          throw domError("DataError", "importKey: the usages are not all in the jwk's key_ops");
        }
      } else {
        data = bytesOf(keyData, "importKey keyData");
        data = new Uint8Array(data);
      }
      const material = native.importKey(format, KINDS[name].kind, params.namedCurve ?? null, data);
      if ((name === "HMAC" || name === "AES-GCM") && native.keyInfo(material)[1] === 0) {
        throw domError("DataError", `importKey: a ${name} key cannot be empty`);
      }
      if (name === "AES-GCM" && ![128, 192, 256].includes(native.keyInfo(material)[1])) {
        throw domError("DataError", "importKey: an AES key is 128, 192 or 256 bits");
      }
      const key = makeKey(material, params, extractable, usages);
      if (format === "jwk" && data.alg !== undefined) {
        const want = jwkAlg(key);
        if (want !== undefined && data.alg !== want && !(name === "Ed25519" && data.alg === "EdDSA")) {
          throw domError("DataError", `importKey: the jwk alg ${data.alg} does not match ${want}`);
        }
      }
      if (key.usages.length === 0 && key.type !== "public") {
        throw domError("SyntaxError", "importKey: a secret or private key needs at least one usage");
      }
      return key;
    }

    async exportKey(format, key) {
      format = String(format);
      if (!(key instanceof CryptoKey)) throw new TypeError("exportKey: the key is not a CryptoKey");
      if (!["raw", "spki", "pkcs8", "jwk"].includes(format)) {
        throw new TypeError(`exportKey: the format ${format} is not one of raw, spki, pkcs8, jwk`);
      }
      if (!key.extractable) throw domError("InvalidAccessError", "exportKey: the key is not extractable");
      const out = native.exportKey(format, key[kMaterial]);
      if (format !== "jwk") return out;
      // An ECDSA JWK gets no alg (Web Crypto §23.8 export; ES256 names the
      // hash, which the key does not fix).
      const alg = key.algorithm.name === "ECDSA" ? undefined : jwkAlg(key);
      if (alg !== undefined) out.alg = alg;
      out.key_ops = key.usages;
      out.ext = key.extractable;
      return out;
    }

    async generateKey(algorithm, extractable, keyUsages) {
      const { dict, name } = normalize(algorithm, "generateKey");
      const usages = usagesOf(keyUsages, "generateKey");
      if (name === "HMAC" || name === "AES-GCM") {
        const params = keyParams(name, dict, "generateKey");
        let bits;
        if (name === "AES-GCM") {
          bits = Number(dict.length);
          if (![128, 192, 256].includes(bits)) throw domError("OperationError", "generateKey: an AES key is 128, 192 or 256 bits");
        } else {
          bits = dict.length === undefined ? { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 }[params.hash] : Number(dict.length);
          if (!(Number.isSafeInteger(bits) && bits > 0) || bits % 8 !== 0) {
            throw domError("OperationError", "generateKey: the HMAC length must be a positive multiple of 8");
          }
        }
        const key = makeKey(native.generateKey("secret", bits / 8), params, extractable, usages);
        if (usages.length === 0) throw domError("SyntaxError", "generateKey: a secret key needs at least one usage");
        return key;
      }
      if (name === "ECDSA" || name === "Ed25519") {
        const params = keyParams(name, dict, "generateKey");
        const [priv, pub] = native.generateKey(KINDS[name].kind, params.namedCurve ?? null);
        const privateKey = makeKey(priv, params, extractable, usages.filter((u) => u === "sign"));
        const publicKey = makeKey(pub, params, true, usages.filter((u) => u === "verify"));
        if (usages.some((u) => u !== "sign" && u !== "verify")) {
          throw domError("SyntaxError", `generateKey: ${name} keys can only sign and verify`);
        }
        if (privateKey.usages.length === 0) throw domError("SyntaxError", "generateKey: the private key needs the sign usage");
        return { privateKey, publicKey };
      }
      throw domError("NotSupportedError", `generateKey: generating ${name} keys is not supported`);
    }

    async sign(algorithm, key, data) {
      const { dict, name } = normalize(algorithm, "sign");
      checkKey(key, name, "sign", "sign");
      const hash = name === "ECDSA" ? hashOf(dict, "sign") : (key.algorithm.hash?.name ?? "");
      return native.sign(name, hash, key[kMaterial], new Uint8Array(bytesOf(data, "sign data")));
    }

    async verify(algorithm, key, signature, data) {
      const { dict, name } = normalize(algorithm, "verify");
      checkKey(key, name, "verify", "verify");
      const hash = name === "ECDSA" ? hashOf(dict, "verify") : (key.algorithm.hash?.name ?? "");
      let saltLength = null;
      if (name === "RSA-PSS") {
        if (dict.saltLength === undefined) throw new TypeError("verify: RSA-PSS needs a saltLength");
        saltLength = Number(dict.saltLength);
        if (!(Number.isSafeInteger(saltLength) && saltLength >= 0)) {
          throw new TypeError("verify: saltLength must be a non-negative integer");
        }
      }
      return native.verify(name, hash, saltLength, key[kMaterial],
        new Uint8Array(bytesOf(signature, "verify signature")), new Uint8Array(bytesOf(data, "verify data")));
    }

    async encrypt(algorithm, key, data) {
      return gcm(true, algorithm, key, data);
    }

    async decrypt(algorithm, key, data) {
      return gcm(false, algorithm, key, data);
    }

    async deriveBits(algorithm, baseKey, length = null) {
      const { dict, name } = normalize(algorithm, "deriveBits");
      checkKey(baseKey, name, "deriveBits", "deriveBits");
      const hash = hashOf(dict, "deriveBits");
      const bits = length === null || length === undefined ? null : Number(length);
      if (bits !== null && !(Number.isSafeInteger(bits) && bits >= 0)) {
        throw new TypeError(`deriveBits: the length must be a non-negative integer, got ${String(length)}`);
      }
      if (name === "PBKDF2") {
        if (dict.salt === undefined) throw new TypeError("deriveBits: PBKDF2 needs a salt");
        if (dict.iterations === undefined) throw new TypeError("deriveBits: PBKDF2 needs iterations");
        return native.pbkdf2(hash, baseKey[kMaterial], new Uint8Array(bytesOf(dict.salt, "salt")),
          Number(dict.iterations) >>> 0, bits);
      }
      if (name === "HKDF") {
        if (dict.salt === undefined) throw new TypeError("deriveBits: HKDF needs a salt");
        if (dict.info === undefined) throw new TypeError("deriveBits: HKDF needs info");
        return native.hkdf(hash, baseKey[kMaterial], new Uint8Array(bytesOf(dict.salt, "salt")),
          new Uint8Array(bytesOf(dict.info, "info")), bits);
      }
      throw domError("NotSupportedError", `deriveBits: ${name} does not derive bits`);
    }

    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
      const target = normalize(derivedKeyType, "deriveKey");
      let bits;
      if (target.name === "AES-GCM") bits = Number(target.dict.length);
      else if (target.name === "HMAC") {
        const hash = hashOf(target.dict, "deriveKey");
        bits = target.dict.length === undefined ? { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 }[hash] : Number(target.dict.length);
      } else throw domError("NotSupportedError", `deriveKey: cannot derive ${target.name} keys`);
      if (!(Number.isSafeInteger(bits) && bits > 0)) {
        throw domError("OperationError", "deriveKey: the derived key length must be a positive integer");
      }
      const { name } = normalize(algorithm, "deriveKey");
      checkKey(baseKey, name, "deriveKey", "deriveKey");
      const derived = deriveWith(algorithm, baseKey, bits);
      return subtle.importKey("raw", derived, derivedKeyType, extractable, keyUsages);
    }

    get [Symbol.toStringTag]() { return "SubtleCrypto"; }
  }

  function deriveWith(algorithm, baseKey, bits) {
    const { dict, name } = normalize(algorithm, "deriveKey");
    const hash = hashOf(dict, "deriveKey");
    if (name === "PBKDF2") {
      return native.pbkdf2(hash, baseKey[kMaterial], new Uint8Array(bytesOf(dict.salt, "salt")), Number(dict.iterations) >>> 0, bits);
    }
    return native.hkdf(hash, baseKey[kMaterial], new Uint8Array(bytesOf(dict.salt, "salt")), new Uint8Array(bytesOf(dict.info, "info")), bits);
  }

  function gcm(encrypt, algorithm, key, data) {
    const op = encrypt ? "encrypt" : "decrypt";
    const { dict, name } = normalize(algorithm, op);
    if (name !== "AES-GCM") throw domError("NotSupportedError", `${op}: ${name} does not ${op}`);
    checkKey(key, name, op, op);
    if (dict.iv === undefined) throw new TypeError(`${op}: AES-GCM needs an iv`);
    const aad = dict.additionalData === undefined ? new Uint8Array(0) : new Uint8Array(bytesOf(dict.additionalData, "additionalData"));
    const tagLength = dict.tagLength === undefined ? 128 : Number(dict.tagLength);
    if (!(Number.isSafeInteger(tagLength) && tagLength >= 0)) {
      throw new TypeError(`${op}: tagLength must be a non-negative integer`);
    }
    return native.aesGcm(encrypt, key[kMaterial], new Uint8Array(bytesOf(dict.iv, "iv")), aad, tagLength,
      new Uint8Array(bytesOf(data, `${op} data`)));
  }

  const subtle = Object.create(SubtleCrypto.prototype);

  class Crypto {
    constructor() { throw new TypeError("Crypto cannot be constructed"); }
    get subtle() { return subtle; }
    getRandomValues(array) {
      if (!INTEGER_ARRAYS.some((T) => array instanceof T)) {
        throw domError("TypeMismatchError", "getRandomValues needs an integer typed array");
      }
      native.getRandomValues(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return array;
    }
    randomUUID() { return native.randomUUID(); }
    get [Symbol.toStringTag]() { return "Crypto"; }
  }

  const crypto = Object.create(Crypto.prototype);
  unclonable.add(Crypto.prototype);
  unclonable.add(SubtleCrypto.prototype);
  return { crypto, Crypto, CryptoKey, SubtleCrypto };
}
