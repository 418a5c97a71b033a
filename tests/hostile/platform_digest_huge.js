// SHA-256 of 8 MiB, half the heap: hashed in place, without a copy.
// expect: ok "2daeb1f36095b44b318410b3f4e8b5d989dcc7bb023d1426c492dab0a3053e74"
export default async () => {
  const digest = await crypto.subtle.digest("SHA-256", new Uint8Array(8 << 20));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
};
