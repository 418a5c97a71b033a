// ECMA-402 §19–20: the built-ins' locale methods go through Intl. They keep
// their names and lengths, work on every prototype that has them, and a
// bad receiver or locale throws as the standard says.
const attempt = (f) => { try { return f(); } catch (e) { return e.constructor.name; } };
export default function run() {
  const shapes = [
    Number.prototype.toLocaleString, BigInt.prototype.toLocaleString, Date.prototype.toLocaleString,
    Array.prototype.toLocaleString, Object.getPrototypeOf(Uint8Array.prototype).toLocaleString,
    Date.prototype.toLocaleDateString, Date.prototype.toLocaleTimeString, String.prototype.localeCompare,
    String.prototype.toLocaleUpperCase, String.prototype.toLocaleLowerCase,
  ].map((f) => `${f.name}/${f.length}`);
  return {
    shapes,
    values: [
      (1234.5).toLocaleString("de-DE"),
      12345678901234567890n.toLocaleString("en-US"),
      [1000, 2000].toLocaleString("en-US"),
      new Uint8Array([1, 2]).toLocaleString(),
      "a".localeCompare("b"),
      "i".toLocaleUpperCase("tr"),
      "I".toLocaleLowerCase("tr"),
      new Date(0).toLocaleDateString("en-US", { timeZone: "UTC" }),
    ],
    errors: [
      attempt(() => Date.prototype.toLocaleDateString.call({})),
      attempt(() => String.prototype.localeCompare.call(null, "a")),
      attempt(() => (1).toLocaleString("not a tag!")),
    ],
  };
}
