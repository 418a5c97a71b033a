// Streams Standard: readable (default and byte sources), writable,
// transform, piping, tee, queuing strategies, async iteration.
export default async function run() {
  const out = {};
  const log = [];

  // A pull source, read to the end; desiredSize follows the strategy.
  let n = 0;
  const counter = new ReadableStream({
    start(c) { log.push(`start ${c.desiredSize}`); },
    pull(c) { n++; if (n <= 3) c.enqueue(n); else c.close(); },
  }, new CountQueuingStrategy({ highWaterMark: 2 }));
  const chunks = [];
  for await (const chunk of counter) chunks.push(chunk);
  out.pulled = chunks;
  out.start = log.splice(0);
  out.lockedAfterIteration = counter.locked;

  // A reader locks; releaseLock unlocks; cancel reaches the source.
  let cancelledWith;
  const cancellable = new ReadableStream({ cancel(reason) { cancelledWith = reason; } });
  const reader = cancellable.getReader();
  out.locked = [cancellable.locked, (() => { try { cancellable.getReader(); } catch (e) { return e.constructor.name; } })()];
  await reader.cancel("enough");
  out.cancelled = [cancelledWith, await reader.read()];
  reader.releaseLock();
  out.unlocked = cancellable.locked;

  // An error in start errors the stream; reads reject with it.
  const broken = new ReadableStream({ start(c) { c.error(new TypeError("bad source")); } });
  out.errored = await broken.getReader().read().then(() => "read", (e) => e.message);

  // A byte stream read with a BYOB reader fills the given buffer.
  const bytes = new ReadableStream({
    type: "bytes",
    pull(c) {
      const request = c.byobRequest;
      if (request) {
        const view = request.view;
        for (let i = 0; i < view.byteLength && i < 4; i++) view[i] = 10 + i;
        request.respond(Math.min(4, view.byteLength));
      } else {
        c.enqueue(new Uint8Array([1, 2]));
      }
    },
    autoAllocateChunkSize: 8,
  });
  const byob = bytes.getReader({ mode: "byob" });
  const first = await byob.read(new Uint8Array(3));
  out.byob = [Array.from(first.value), first.done, first.value.byteLength];
  byob.releaseLock();
  const defaultRead = await bytes.getReader().read();
  out.autoAllocated = Array.from(defaultRead.value);

  // A byte source enqueuing: BYOB reads with min wait for enough bytes.
  const enqueued = new ReadableStream({
    type: "bytes",
    start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.enqueue(new Uint8Array([4, 5])); c.close(); },
  });
  const r2 = enqueued.getReader({ mode: "byob" });
  const a = await r2.read(new Uint8Array(4), { min: 4 });
  const b = await r2.read(new Uint8Array(4));
  const c = await r2.read(new Uint8Array(4));
  out.byobMin = [Array.from(a.value), Array.from(b.value), c.done, c.value.byteLength];

  // Writable: writes in order, close waits for them, backpressure via ready.
  const written = [];
  const sink = new WritableStream({
    write(chunk) { written.push(chunk); },
    close() { written.push("closed"); },
  }, new CountQueuingStrategy({ highWaterMark: 1 }));
  const writer = sink.getWriter();
  out.desired = writer.desiredSize;
  writer.write("a");
  out.desiredAfterWrite = writer.desiredSize;
  await writer.write("b");
  await writer.close();
  out.written = written;
  out.writeAfterClose = await writer.write("c").then(() => "written", (e) => e.constructor.name);

  // Abort reaches the sink and errors the stream.
  let abortReason;
  const abortable = new WritableStream({ abort(reason) { abortReason = reason; } });
  await abortable.abort("stop");
  out.aborted = [abortReason, await abortable.getWriter().closed.then(() => "closed", (e) => e)];

  // Transform + pipeThrough + pipeTo.
  const upper = new TransformStream({
    transform(chunk, controller) { controller.enqueue(String(chunk).toUpperCase()); },
    flush(controller) { controller.enqueue("!"); },
  });
  const collected = [];
  await ReadableStream.from(["x", "y"]).pipeThrough(upper).pipeTo(new WritableStream({
    write(chunk) { collected.push(chunk); },
  }));
  out.piped = collected;

  // Identity transform, tee.
  const [left, right] = ReadableStream.from([1, 2, 3]).pipeThrough(new TransformStream()).tee();
  const drain = async (s) => { const all = []; for await (const x of s) all.push(x); return all; };
  out.tee = await Promise.all([drain(left), drain(right)]);

  // pipeTo with an aborted signal rejects with its reason and cancels.
  let sourceCancelled;
  const controller = new AbortController();
  controller.abort("halt");
  const result = await new ReadableStream({ cancel(r) { sourceCancelled = r; } })
    .pipeTo(new WritableStream(), { signal: controller.signal }).then(() => "done", (e) => e);
  out.pipeAbort = [result, sourceCancelled];

  // Strategies.
  const bl = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
  out.strategies = [bl.highWaterMark, bl.size(new Uint8Array(5)), new CountQueuingStrategy({ highWaterMark: 3 }).size("x")];
  out.tags = [String(new ReadableStream()), String(new WritableStream()), String(new TransformStream())];
  out.badType = (() => { try { new ReadableStream({ type: "nope" }); } catch (e) { return e.constructor.name; } })();
  return out;
}
