// Web Crypto as JWT code uses it: RS256 and PS256 tokens (signed by Node.js)
// verified with the public key imported as JWK and as SPKI, a tampered
// payload refused; an RSA key's algorithm has modulusLength and
// publicExponent (RsaHashedKeyAlgorithm); an ECDSA JWK has no "alg" (the
// spec's export steps set none); a JWK carrying "alg" is still refused
// without usages for a secret key (SyntaxError); a verify-only key cannot
// sign (InvalidAccessError).
const N = "nIUuXN86JxNUDcMDMi7fnWyITQDscxpw-hyacgpe-XVKMIyMuNyOPImApPxJmEfKcHecwmAQaHoa9BDonei4JiOMWFl8tcb54vpXusgonYYMq6HFsqZR3Zvk17zK9uJWD2e0t9diTIKml4XR_HdMRwsLeqD2rACkGj0MhEsbBjSzYa6LHin5RJ08YlaHefRs-SkRG64ozwNTcDieUT5Vk5ogiM7p7gi5VjiGGWN8WLod9z5nl19tm6CCyVahMb3khvGYlavN0MQTA64_KfWKFSTcI4cdRnUDiGXjqcIA4EN5JJ-gVJcrUobIHxIiWb1-riZnDl_5H0RwKQIwXNR3yQ";
const SPKI = ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnIUuXN86JxNUDcMDMi7fnWyITQDscxpw","+hyacgpe+XVKMIyMuNyOPImApPxJmEfKcHecwmAQaHoa9BDonei4JiOMWFl8tcb54vpXusgonYYM","q6HFsqZR3Zvk17zK9uJWD2e0t9diTIKml4XR/HdMRwsLeqD2rACkGj0MhEsbBjSzYa6LHin5RJ08","YlaHefRs+SkRG64ozwNTcDieUT5Vk5ogiM7p7gi5VjiGGWN8WLod9z5nl19tm6CCyVahMb3khvGY","lavN0MQTA64/KfWKFSTcI4cdRnUDiGXjqcIA4EN5JJ+gVJcrUobIHxIiWb1+riZnDl/5H0RwKQIw","XNR3yQIDAQAB"].join("");
const RS256_JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZ2VudCIsImlhdCI6MTczMzM2MDAwMH0.maFXgsdkH8XREg_2Mk1q33ok1DxCmQTIVYJHYX5DuF6ByQAL65gfr9we2O_gEfk-mbTZt_xT-9fKm88JRPRJbRbeYe7a-v4S8Uztnll2IolPyBJxzoXEI48ZEa-UUZ0rhz-SLStupPsxHyhDdcsLjZ8UQrM9TFQoewXlU47KL5ZhdpjMvr1Vwgtod1Ji5ojeSmwtFujMMFaNjHbAr8M7ZeOhD-Px5QcPNIUb8P9OBt2C8oUJyB52g9AcVrktBpVVmJADfCP-aXROLdcBYpMiVatAQCXy0KV6LZktghTlv6D-dkQKhNe_ry5iJVQL6u76YGwF_vRS5A8dqWEcsBPBag";
const PS256_JWT = "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZ2VudCIsImlhdCI6MTczMzM2MDAwMH0.iDs0cacHzBdXzXePmrKblaLqf1Ri81R93Jt4YNcR4hCa9PHL2XJZuGAnXZBVQCSOHH1RLhm8f0xVGV7TwWilM-RpTbPJ5YDiYCnDSHRKpjv1v2McJRXzj2lGxmz5OA5X81NRmEmkIAT71XkPLNWgIAASNX5ZBa0U88ou7F9t-63hBPXImJdjTknrO93vUfylTCSIKMtofzfEGlRCRjtu3gN0URJAp7ISYtTEISTRDN8tB2oCGw1Sx6H5eVucQSeC6ayqfx_8NHBFQXx8a5x_YOvsv0cdcIJ1HXe5vru0zbfyofdFU4N2_N0XIEbnTNai_VTeDTxheNurQrNvgtTTnw";
const s = crypto.subtle;
const bytes = (b64) => Uint8Array.from(atob(b64.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
async function verify(jwt, key, params) {
  const [h, p, sig] = jwt.split(".");
  const good = await s.verify(params, key, bytes(sig), new TextEncoder().encode(`${h}.${p}`));
  const forged = btoa(JSON.stringify({ sub: "admin", iat: 1733360000 })).replace(/=+$/, "");
  const bad = await s.verify(params, key, bytes(sig), new TextEncoder().encode(`${h}.${forged}`));
  return [good, bad, JSON.parse(atob(p)).sub];
}
export default async function run() {
  const out = {};
  const jwk = { kty: "RSA", n: N, e: "AQAB" };
  for (const [name, jwt, params] of [
    ["RSASSA-PKCS1-v1_5", RS256_JWT, { name: "RSASSA-PKCS1-v1_5" }],
    ["RSA-PSS", PS256_JWT, { name: "RSA-PSS", saltLength: 32 }],
  ]) {
    const fromJwk = await s.importKey("jwk", { ...jwk, alg: name === "RSA-PSS" ? "PS256" : "RS256" }, { name, hash: "SHA-256" }, true, ["verify"]);
    const fromSpki = await s.importKey("spki", bytes(SPKI), { name, hash: "SHA-256" }, false, ["verify"]);
    out[name] = {
      jwk: await verify(jwt, fromJwk, params),
      spki: await verify(jwt, fromSpki, params),
      algorithm: { ...fromSpki.algorithm, publicExponent: [...fromSpki.algorithm.publicExponent] },
      exported: Object.keys(await s.exportKey("jwk", fromJwk)).sort(),
      sign: await s.sign(params, fromJwk, new Uint8Array(1)).then(() => "signed", (e) => e.name),
    };
  }
  const ec = await s.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  out.ecJwk = Object.keys(await s.exportKey("jwk", ec.privateKey)).sort();
  out.hmacNoUsages = await s.importKey("jwk", { kty: "oct", k: "a2V5", alg: "HS256" }, { name: "HMAC", hash: "SHA-256" }, true, [])
    .then(() => "imported", (e) => e.name);
  return out;
}
