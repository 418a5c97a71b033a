// WHATWG Compression: CompressionStream and DecompressionStream for gzip,
// deflate and deflate-raw, against streams from other implementations
// (zlib's and Python's gzip) and in round trips through pipeThrough.
const unhex = (s) => new Uint8Array(s.match(/../g).map((x) => parseInt(x, 16)));

function source(chunks) {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function collect(stream) {
  const reader = stream.getReader();
  const parts = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return all;
}

const text = (bytes) => new TextDecoder().decode(bytes);

async function failure(format, bytes) {
  try {
    await collect(source([bytes]).pipeThrough(new DecompressionStream(format)));
    return "decompressed";
  } catch (e) {
    return e.name;
  }
}

export default async function run() {
  const known = {
    gzip: text(await collect(source([unhex("1f8b0800000000000203cb48cdc9c95728cf2fca49010085114a0d0b000000")])
      .pipeThrough(new DecompressionStream("gzip")))),
    deflate: text(await collect(source([unhex("789ccb48"), unhex("cdc9c90700062c0215")])
      .pipeThrough(new DecompressionStream("deflate")))),
    raw: text(await collect(source([unhex("cb48cdc9c90700")]).pipeThrough(new DecompressionStream("deflate-raw")))),
  };
  const input = new TextEncoder().encode("caplet ".repeat(1000));
  const trips = {};
  for (const format of ["gzip", "deflate", "deflate-raw"]) {
    const compressed = await collect(source([input.subarray(0, 100), input.buffer.slice(100)])
      .pipeThrough(new CompressionStream(format)));
    const back = await collect(source([compressed.subarray(0, 5), compressed.subarray(5)])
      .pipeThrough(new DecompressionStream(format)));
    trips[format] = [compressed.length < 100, back.length, text(back) === "caplet ".repeat(1000)];
  }
  const gz = await collect(source([new Uint8Array([1, 2, 3])]).pipeThrough(new CompressionStream("gzip")));
  return {
    known,
    trips,
    gzipMagic: [gz[0], gz[1], gz[2]],
    errors: [
      await failure("gzip", unhex("1f8b0800000000000203cb48cdc9c95728cf2fca4901")),
      await failure("deflate", new TextEncoder().encode("not zlib")),
      await failure("deflate", unhex("789ccb48cdc9c90700062c021500")),
      await failure("deflate-raw", new Uint8Array(0)),
    ],
    format: (() => { try { new CompressionStream("br"); } catch (e) { return [e.name, e.message]; } })(),
    tags: [String(new CompressionStream("gzip")), String(new DecompressionStream("deflate"))],
  };
}
