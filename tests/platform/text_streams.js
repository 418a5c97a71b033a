// WHATWG Encoding's streams: TextEncoderStream keeps a surrogate pair split
// across chunks together; TextDecoderStream keeps a character split across
// chunks together and reports fatal errors as TypeErrors.
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
    if (done) return parts;
    parts.push(value);
  }
}

export default async function run() {
  const emoji = "😀";
  const encoded = await collect(source(["a", emoji[0], emoji[1] + "b", "", "\ud800"]).pipeThrough(new TextEncoderStream()));
  const bytes = new TextEncoder().encode("x€😀");
  const decoded = await collect(source([bytes.subarray(0, 2), bytes.subarray(2, 5), bytes.subarray(5)])
    .pipeThrough(new TextDecoderStream()));
  const latin = await collect(source([new Uint8Array([0xe9, 0x80])]).pipeThrough(new TextDecoderStream("latin1")));
  let fatal;
  try {
    await collect(source([new Uint8Array([0x61, 0xff])]).pipeThrough(new TextDecoderStream("utf-8", { fatal: true })));
  } catch (e) {
    fatal = e.name;
  }
  let truncated;
  try {
    await collect(source([new Uint8Array([0xe2, 0x82])]).pipeThrough(new TextDecoderStream("utf-8", { fatal: true })));
  } catch (e) {
    truncated = e.name;
  }
  const ds = new TextDecoderStream("utf-16", { ignoreBOM: true });
  return {
    encoded: encoded.map((chunk) => [...chunk]),
    decoded,
    latin,
    fatal,
    truncated,
    attributes: [new TextEncoderStream().encoding, ds.encoding, ds.fatal, ds.ignoreBOM,
      ds.readable instanceof ReadableStream, ds.writable instanceof WritableStream],
    label: (() => { try { new TextDecoderStream("nope"); } catch (e) { return e.name; } })(),
  };
}
