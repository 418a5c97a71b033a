// Helpers and vectors for the crypto unit tests (not shipped to workers).
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g)?.map((x) => parseInt(x, 16)) ?? []);
const utf8 = (s) => new TextEncoderShim().encode(s);
function TextEncoderShim() {}
TextEncoderShim.prototype.encode = (s) => new Uint8Array([...unescape(encodeURIComponent(s))].map((c) => c.charCodeAt(0)));
const b64url = (s) => {
  const b = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atobShim(b + "===".slice((b.length + 3) % 4));
  return new Uint8Array([...bin].map((c) => c.charCodeAt(0)));
};
function atobShim(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let bits = 0, value = 0, out = "";
  for (const c of s.replace(/=+$/, "")) {
    value = (value << 6) | alphabet.indexOf(c); bits += 6;
    if (bits >= 8) { bits -= 8; out += String.fromCharCode((value >> bits) & 0xff); }
  }
  return out;
}
const RSA_N = "nQnAI18ck8-mtOAa4q6KIGTNZbHSYpZQ1Iso0jZVwSnBdCWE_dhG5wNZq2xCL6iBxYj0DgUsss0AbVNuEJ7C2eZkxAEtRV1vQb8vKZe4g54B8QzHplovJP-utCUX5PNLfgBpoF6HVUgnBm7Sdh-IQ2cn2-bRUTFz5h-J1W_Vr4b2PklY5vVlj3bo-hCgjMpttqC7F6rORKIOP85bmYqIkmqFv8Um43SqREVRmYHx_fRMBsf1nkWQIBsu14TT5jIKEfKw0haecnmnCg7ZEWgDO_nfCsQIBPM_Sg2wl1RaDtWSc5ZG_21EwJg7e6JoFLOh3EAvgj_u6yfSzJKOcTcQ6w";
const RSA_SPKI = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnQnAI18ck8+mtOAa4q6KIGTNZbHSYpZQ1Iso0jZVwSnBdCWE/dhG5wNZq2xCL6iBxYj0DgUsss0AbVNuEJ7C2eZkxAEtRV1vQb8vKZe4g54B8QzHplovJP+utCUX5PNLfgBpoF6HVUgnBm7Sdh+IQ2cn2+bRUTFz5h+J1W/Vr4b2PklY5vVlj3bo+hCgjMpttqC7F6rORKIOP85bmYqIkmqFv8Um43SqREVRmYHx/fRMBsf1nkWQIBsu14TT5jIKEfKw0haecnmnCg7ZEWgDO/nfCsQIBPM/Sg2wl1RaDtWSc5ZG/21EwJg7e6JoFLOh3EAvgj/u6yfSzJKOcTcQ6wIDAQAB";
const RS256_JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXBsZXQiLCJpYXQiOjE3MDAwMDAwMDB9.CR3GPkbGwYw04Bnhba_HyDbdvNNR1JhEL5oC8K2z5835rj2Qz3xiT9LrTktmrMFOjIOdTZp9cfaG0YB1PqwvYv8EsuIuR2YvqQ9gByoY8eJc0bAVjGdN_tUIvfHpk6THwbm2GewFppzaf6hKFExOf2MF06vSjUEVMOXn9JFhPhpf58wORcKx1kQtykB8NSlI9cJerx-Daxb27zi9p4fejJJhHGy3LS9rlPvupnjR3FKzJatUq06FZZorEBelBzGUzTtD41BEs74Dnlai5UACJlqVHZucyDX1XetOOEEsiOFZJ6CI4F3Xu4AmYpUOCAqFwtJhkoEJuKTidz5HKTvAPQ";
const PS256_JWT = "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXBsZXQiLCJpYXQiOjE3MDAwMDAwMDB9.XE3KSHp3IRjRgbLd_CbGxREZEYsuVi9YkgWl1emJYK1M2tyzRpLeltLgYGBoImcCLII_YhXjz5grx3VY_FE4F7FDgaipNNBfF6aDE5RI6akhDgUrvXGJuYfqrTY1SVf9BVEPYyQcJci8tdoKR9cOGWeI3pEBypqdxVFx58mFHEkBJ8rype3GldcS2I8a0VC3SIaF-9Yd7mV7gMNIMSczlXraxKKNKIn94oCthqPq63mDM2Nlas48RYX0plvUQAujU972TXy3hx_WQD3Byh-xRlGtgdBtIRsX_jnZeP7BN8mTO5TWp4860ldqmNiUaBnw9QK3KzZFxaKbstVGQyYeJQ";
