// Web Crypto from a confined isolate-host: randomness from the kernel, and
// crypto.subtle against published vectors (FIPS 180, RFC 4231, RFC 5869,
// RFC 6070, RFC 7914, RFC 8032, RFC 6979, the GCM specification) and a real
// RS256/PS256 JWT signed with OpenSSL.
const RSA_N = "nQnAI18ck8-mtOAa4q6KIGTNZbHSYpZQ1Iso0jZVwSnBdCWE_dhG5wNZq2xCL6iBxYj0DgUsss0AbVNuEJ7C2eZkxAEtRV1vQb8vKZe4g54B8QzHplovJP-utCUX5PNLfgBpoF6HVUgnBm7Sdh-IQ2cn2-bRUTFz5h-J1W_Vr4b2PklY5vVlj3bo-hCgjMpttqC7F6rORKIOP85bmYqIkmqFv8Um43SqREVRmYHx_fRMBsf1nkWQIBsu14TT5jIKEfKw0haecnmnCg7ZEWgDO_nfCsQIBPM_Sg2wl1RaDtWSc5ZG_21EwJg7e6JoFLOh3EAvgj_u6yfSzJKOcTcQ6w";
const RSA_SPKI = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnQnAI18ck8+mtOAa4q6KIGTNZbHSYpZQ1Iso0jZVwSnBdCWE/dhG5wNZq2xCL6iBxYj0DgUsss0AbVNuEJ7C2eZkxAEtRV1vQb8vKZe4g54B8QzHplovJP+utCUX5PNLfgBpoF6HVUgnBm7Sdh+IQ2cn2+bRUTFz5h+J1W/Vr4b2PklY5vVlj3bo+hCgjMpttqC7F6rORKIOP85bmYqIkmqFv8Um43SqREVRmYHx/fRMBsf1nkWQIBsu14TT5jIKEfKw0haecnmnCg7ZEWgDO/nfCsQIBPM/Sg2wl1RaDtWSc5ZG/21EwJg7e6JoFLOh3EAvgj/u6yfSzJKOcTcQ6wIDAQAB";
const RS256_JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXBsZXQiLCJpYXQiOjE3MDAwMDAwMDB9.CR3GPkbGwYw04Bnhba_HyDbdvNNR1JhEL5oC8K2z5835rj2Qz3xiT9LrTktmrMFOjIOdTZp9cfaG0YB1PqwvYv8EsuIuR2YvqQ9gByoY8eJc0bAVjGdN_tUIvfHpk6THwbm2GewFppzaf6hKFExOf2MF06vSjUEVMOXn9JFhPhpf58wORcKx1kQtykB8NSlI9cJerx-Daxb27zi9p4fejJJhHGy3LS9rlPvupnjR3FKzJatUq06FZZorEBelBzGUzTtD41BEs74Dnlai5UACJlqVHZucyDX1XetOOEEsiOFZJ6CI4F3Xu4AmYpUOCAqFwtJhkoEJuKTidz5HKTvAPQ";
const PS256_JWT = "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXBsZXQiLCJpYXQiOjE3MDAwMDAwMDB9.XE3KSHp3IRjRgbLd_CbGxREZEYsuVi9YkgWl1emJYK1M2tyzRpLeltLgYGBoImcCLII_YhXjz5grx3VY_FE4F7FDgaipNNBfF6aDE5RI6akhDgUrvXGJuYfqrTY1SVf9BVEPYyQcJci8tdoKR9cOGWeI3pEBypqdxVFx58mFHEkBJ8rype3GldcS2I8a0VC3SIaF-9Yd7mV7gMNIMSczlXraxKKNKIn94oCthqPq63mDM2Nlas48RYX0plvUQAujU972TXy3hx_WQD3Byh-xRlGtgdBtIRsX_jnZeP7BN8mTO5TWp4860ldqmNiUaBnw9QK3KzZFxaKbstVGQyYeJQ";

const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((x) => parseInt(x, 16)));
const utf8 = (s) => new TextEncoder().encode(s);
const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const subtle = crypto.subtle;

async function digests() {
  const abc = utf8("abc");
  const out = [];
  for (const h of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"]) out.push(hex(await subtle.digest(h, abc)));
  return out;
}

async function hmac() {
  const key = await subtle.importKey("raw", new Uint8Array(20).fill(0x0b), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
  const sig = await subtle.sign("HMAC", key, utf8("Hi There"));
  const jefe = await subtle.importKey("raw", utf8("Jefe"), { name: "HMAC", hash: "SHA-384" }, false, ["sign"]);
  return [hex(sig), await subtle.verify("HMAC", key, sig, utf8("Hi There")),
    await subtle.verify("HMAC", key, sig, utf8("Hi there")),
    hex(await subtle.sign("HMAC", jefe, utf8("what do ya want for nothing?"))),
    (await subtle.exportKey("jwk", key)).alg];
}

async function derive() {
  const pw = await subtle.importKey("raw", utf8("password"), "PBKDF2", false, ["deriveBits"]);
  const a = await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: utf8("salt"), iterations: 2 }, pw, 160);
  const pw2 = await subtle.importKey("raw", utf8("passwd"), "PBKDF2", false, ["deriveBits"]);
  const b = await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: utf8("salt"), iterations: 1 }, pw2, 512);
  const ikm = await subtle.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits"]);
  const c = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"),
    info: unhex("f0f1f2f3f4f5f6f7f8f9") }, ikm, 336);
  return [hex(a), hex(b), hex(c)];
}

async function gcm() {
  const key = await subtle.importKey("raw", unhex("feffe9928665731c6d6a8f9467308308"), "AES-GCM", false, ["encrypt", "decrypt"]);
  const iv = unhex("cafebabefacedbaddecaf888");
  const p = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
  const c = await subtle.encrypt({ name: "AES-GCM", iv }, key, p);
  const back = await subtle.decrypt({ name: "AES-GCM", iv }, key, c);
  let wrong;
  try { await subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, c); } catch (e) { wrong = e.name; }
  return [hex(c), hex(back) === hex(p), wrong];
}

async function ed25519() {
  const priv = await subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519",
    d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
    "Ed25519", false, ["sign"]);
  const sig = await subtle.sign("Ed25519", priv, new Uint8Array(0));
  const { privateKey, publicKey } = await subtle.generateKey("Ed25519", false, ["sign", "verify"]);
  const s = await subtle.sign("Ed25519", privateKey, utf8("m"));
  return [hex(sig), await subtle.verify("Ed25519", publicKey, s, utf8("m")), await subtle.verify("Ed25519", publicKey, s, utf8("n"))];
}

async function ecdsa() {
  const pub = await subtle.importKey("jwk", { kty: "EC", crv: "P-256",
    x: "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y", y: "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk" },
    { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const sig = unhex("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
  const alg = { name: "ECDSA", hash: "SHA-256" };
  const { privateKey, publicKey } = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const s = await subtle.sign(alg, privateKey, utf8("hi"));
  const spki = await subtle.exportKey("spki", publicKey);
  return [await subtle.verify(alg, pub, sig, utf8("sample")), await subtle.verify(alg, pub, sig, utf8("Sample")),
    await subtle.verify(alg, publicKey, s, utf8("hi")), new Uint8Array(s).length, new Uint8Array(spki).length,
    publicKey.algorithm.namedCurve, privateKey.type];
}

async function jwt() {
  const verify = async (token, alg, key) => {
    const [h, p, s] = token.split(".");
    return subtle.verify(alg, key, b64url(s), utf8(`${h}.${p}`));
  };
  const rs = await subtle.importKey("jwk", { kty: "RSA", n: RSA_N, e: "AQAB", alg: "RS256" },
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
  const spki = Uint8Array.from(atob(RSA_SPKI), (c) => c.charCodeAt(0));
  const ps = await subtle.importKey("spki", spki, { name: "RSA-PSS", hash: "SHA-256" }, true, ["verify"]);
  const forged = RS256_JWT.replace(/\.[^.]*\./, ".eyJzdWIiOiJhZG1pbiJ9.");
  const claims = JSON.parse(new TextDecoder().decode(b64url(RS256_JWT.split(".")[1])));
  return [await verify(RS256_JWT, "RSASSA-PKCS1-v1_5", rs), await verify(forged, "RSASSA-PKCS1-v1_5", rs),
    await verify(PS256_JWT, { name: "RSA-PSS", saltLength: 32 }, ps), claims.sub, rs.algorithm.modulusLength];
}

async function errors() {
  const name = async (f) => { try { await f(); return "ok"; } catch (e) { return `${e.name}: ${e.message}`; } };
  const key = await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
  return [
    await name(() => subtle.digest("MD5", new Uint8Array(1))),
    await name(() => subtle.exportKey("raw", key)),
    await name(() => subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, key, new Uint8Array(16))),
    await name(() => subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["sign"])),
    await name(() => subtle.importKey("jwk", { kty: "oct", k: "!!" }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"])),
    (await name(() => subtle.importKey("spki", new Uint8Array(3), "Ed25519", true, ["verify"]))).split(":")[0],
  ];
}

export default async function run() {
  const words = new Uint32Array(16);
  const filled = crypto.getRandomValues(words) === words && words.some((w) => w !== 0);
  const uuid = crypto.randomUUID();
  return {
    random: [filled, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid),
      uuid !== crypto.randomUUID(),
      (() => { try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { return e.name; } })()],
    digests: await digests(),
    hmac: await hmac(),
    derive: await derive(),
    gcm: await gcm(),
    ed25519: await ed25519(),
    ecdsa: await ecdsa(),
    jwt: await jwt(),
    errors: await errors(),
    tags: [String(crypto), String(subtle), Object.prototype.toString.call(await subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]))],
  };
}
