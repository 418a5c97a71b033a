// WHATWG Compression, "decompress and enqueue a chunk": after the end of
// the compressed data nothing may follow. The output of the data is
// enqueued first (step 4), then input the context did not consume throws
// a TypeError (step 5): trailing junk, and for "gzip" a second member too
// (the standard decodes one member; Chrome and WPT's
// decompression-extra-input agree; Node.js 20 accepts both). Input that
// ends early enqueues what it made, then throws ("decompress flush and
// enqueue", step 4). Data from WPT's resources/decompression-input.js.
const gzip = new Uint8Array([31, 139, 8, 0, 0, 0, 0, 0, 0, 3, 75, 173, 40, 72, 77, 46, 73, 77, 81, 200, 47, 45, 41, 40, 45, 1, 0, 176, 1, 57, 179, 15, 0, 0, 0]);
const deflate = new Uint8Array([120, 156, 75, 173, 40, 72, 77, 46, 73, 77, 81, 200, 47, 45, 41, 40, 45, 1, 0, 48, 173, 6, 36]);
const raw = deflate.subarray(2, deflate.length - 4);
const junk = new Uint8Array([0x12, 0x34, 0x56]);
const concat = (...parts) => {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return all;
};

// What the readable side gives for `chunks` written (then closed) as WPT
// does: each chunk read as text, then "done" or the error.
async function decompress(format, chunks) {
  const ds = new DecompressionStream(format);
  const reader = ds.readable.getReader();
  const writer = ds.writable.getWriter();
  for (const chunk of chunks) writer.write(chunk).catch(() => {});
  writer.close().catch(() => {});
  const seen = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return [...seen, "done"];
      seen.push(new TextDecoder().decode(value));
    }
  } catch (e) {
    return [...seen, `${e.name}: ${e.message}`];
  }
}

export default async function run() {
  const out = {};
  for (const [format, data] of [["gzip", gzip], ["deflate", deflate], ["deflate-raw", raw]]) {
    out[format] = {
      whole: await decompress(format, [data]),
      junkInTheChunk: await decompress(format, [concat(data, junk)]),
      junkInANewChunk: await decompress(format, [data, junk]),
      twoStreams: await decompress(format, [concat(data, data)]),
      // The message is flate2's (gzip's names the trailer's checksum).
      truncated: (await decompress(format, [data.subarray(0, data.length - 1)]))
        .map((seen) => seen.split(":")[0]),
    };
  }
  return out;
}
