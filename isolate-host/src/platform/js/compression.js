// CompressionStream and DecompressionStream (WHATWG Compression) over
// `flate2`: each is a TransformStream whose steps call the native coder.
import { unclonable } from "./internal.js";
import { TransformStream } from "./streams.js";

export function install(native) {

  function bytesOf(chunk) {
    if (chunk instanceof Uint8Array) return chunk;
    if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
    throw new TypeError("a compression stream chunk must be an ArrayBuffer or an ArrayBufferView");
  }

  function transform(format, decompress) {
    const coder = native.coder(String(format), decompress);
    return new TransformStream({
      // An error after the end of the data is thrown once what the data
      // made is enqueued, as the standard's steps do.
      transform(chunk, controller) {
        for (const out of native.push(coder, bytesOf(chunk))) controller.enqueue(out);
        native.rethrow(coder);
      },
      flush(controller) {
        for (const out of native.finish(coder)) controller.enqueue(out);
        native.rethrow(coder);
      },
    });
  }

  class CompressionStream {
    #stream;
    constructor(format) {
      if (arguments.length < 1) throw new TypeError("CompressionStream needs a format");
      this.#stream = transform(format, false);
    }
    get readable() { return this.#stream.readable; }
    get writable() { return this.#stream.writable; }
    get [Symbol.toStringTag]() { return "CompressionStream"; }
  }

  class DecompressionStream {
    #stream;
    constructor(format) {
      if (arguments.length < 1) throw new TypeError("DecompressionStream needs a format");
      this.#stream = transform(format, true);
    }
    get readable() { return this.#stream.readable; }
    get writable() { return this.#stream.writable; }
    get [Symbol.toStringTag]() { return "DecompressionStream"; }
  }

  unclonable.add(CompressionStream.prototype);
  unclonable.add(DecompressionStream.prototype);
  return { CompressionStream, DecompressionStream };
}
