// PBKDF2 with 4 billion iterations would hold the host's one thread for
// hours where no CPU limit can interrupt it: it is refused up front.
// expect: exception
// message: OperationError: pbkdf2 would run 4294967295 hmac rounds
export default async () => {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(8), "PBKDF2", false, ["deriveBits"]);
  const salt = new Uint8Array(16);
  return crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: 2 ** 32 - 1 }, key, 256);
};
