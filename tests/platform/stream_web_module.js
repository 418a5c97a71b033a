// node:stream/web and node:util/types (also under their bare names): the
// classes are the platform's own globals, so streams from either mix.
import { ReadableStream, TransformStream, TextDecoderStream, CountQueuingStrategy } from "node:stream/web";
import web from "stream/web";
import { isPromise, isDate } from "node:util/types";
import types from "util/types";
import util from "node:util";

export default async function run() {
  const upper = new TransformStream({ transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); } });
  const source = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("node "));
      controller.enqueue(new TextEncoder().encode("streams"));
      controller.close();
    },
  }, new CountQueuingStrategy({ highWaterMark: 2 }));
  let text = "";
  for await (const chunk of source.pipeThrough(new TextDecoderStream()).pipeThrough(upper)) text += chunk;
  return {
    text,
    same: [ReadableStream === globalThis.ReadableStream, web.WritableStream === globalThis.WritableStream, typeof web.CompressionStream],
    types: [isPromise(Promise.resolve()), isDate(new Date(0)), isDate({}), types.isMap(new Map()), types === util.types],
  };
}
