// Reading a stream that never ends to its end: the memory limit stops it.
// expect: memory_limit_exceeded
export default () =>
  new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1 << 16)); } })).text();
