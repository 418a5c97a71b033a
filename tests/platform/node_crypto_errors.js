// node:crypto's errors carry Node's `code`, which Node code tests: unequal
// lengths in timingSafeEqual, a digest taken twice, data of the wrong type,
// sizes out of range.
import crypto from "node:crypto";

const out = [];
const tries = {
  timingSafeEqual: () => crypto.timingSafeEqual(Buffer.from("a"), Buffer.from("ab")),
  digestTwice: () => { const h = crypto.createHash("sha256"); h.digest(); h.digest(); },
  updateAfterDigest: () => { const h = crypto.createHmac("sha256", "k"); h.digest(); h.update("x"); },
  updateNumber: () => crypto.createHash("sha256").update(5),
  randomBytes: () => crypto.randomBytes(-1),
  randomInt: () => crypto.randomInt(5, 1),
  unknownHash: () => crypto.createHash("nope"),
};
for (const [name, f] of Object.entries(tries)) {
  try {
    f();
    out.push(`${name}: no error`);
  } catch (e) {
    out.push(`${name}: ${e.name} ${e.code ?? "-"} ${e.message}`);
  }
}
out.push(String(crypto.timingSafeEqual(Buffer.from("same"), new TextEncoder().encode("same"))));
globalThis.out = out;
export default () => globalThis.out;
