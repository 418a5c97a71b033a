// structuredClone of platform objects (HTML §2.7): Blob, File and CryptoKey
// are serializable, so a clone is a new object of the same class with the
// same contents (a shared Blob stays shared, as any object does); the other
// platform objects are not, and throw a DataCloneError instead of becoming
// an empty plain object, as does an object that only inherits from Blob.
// (Node.js 20 differs: it makes the refused ones plain objects and a File
// a Blob; the expected output follows the standard.)
export default async function run() {
  const blob = new Blob(["blob bytes"], { type: "text/plain" });
  const file = new File(["file bytes"], "notes.txt", { type: "text/markdown", lastModified: 1733360000000 });
  const clone = structuredClone({ blob, file, again: blob });
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("key"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  const keyClone = structuredClone(key);
  const data = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
  const sig = await crypto.subtle.sign("HMAC", keyClone, data);
  const refused = {};
  for (const [name, make] of Object.entries({
    URL: () => new URL("https://example.com/"),
    URLSearchParams: () => new URLSearchParams("a=1"),
    TextEncoder: () => new TextEncoder(),
    TextDecoder: () => new TextDecoder(),
    TextDecoderStream: () => new TextDecoderStream(),
    CompressionStream: () => new CompressionStream("gzip"),
    crypto: () => crypto,
    SubtleCrypto: () => crypto.subtle,
    ReadableStreamDefaultReader: () => new ReadableStream().getReader(),
    WritableStreamDefaultWriter: () => new WritableStream().getWriter(),
    CountQueuingStrategy: () => new CountQueuingStrategy({ highWaterMark: 1 }),
    IntlNumberFormat: () => new Intl.NumberFormat("en"),
    fakeBlob: () => Object.create(Blob.prototype),
  })) {
    try {
      refused[name] = `cloned as ${Object.prototype.toString.call(structuredClone(make()))}`;
    } catch (e) {
      refused[name] = `${e.name} ${e instanceof DOMException}`;
    }
  }
  return {
    blob: [clone.blob instanceof Blob, clone.blob !== blob, clone.blob.type, clone.blob.size, await clone.blob.text(), clone.again === clone.blob],
    file: [clone.file instanceof File, clone.file.name, clone.file.type, clone.file.lastModified, await clone.file.text()],
    key: [keyClone instanceof CryptoKey, keyClone !== key, keyClone.type, keyClone.extractable, keyClone.usages, keyClone.algorithm],
    sameSignature: [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16),
    refused,
  };
}
