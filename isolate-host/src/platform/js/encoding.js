// TextEncoder, TextDecoder, TextEncoderStream and TextDecoderStream (WHATWG
// Encoding) over `encoding_rs`.

import { unclonable } from "./internal.js";
import { TransformStream } from "./streams.js";

export function install(native) {

  function bytesOf(input, what) {
    if (input instanceof Uint8Array) return input;
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`);
  }

  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") {
      return native.encode(String(input).toWellFormed());
    }
    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) {
        throw new TypeError("TextEncoder.encodeInto destination must be a Uint8Array");
      }
      const [read, written] = native.encodeInto(String(source).toWellFormed(), destination);
      return { read, written };
    }
    get [Symbol.toStringTag]() { return "TextEncoder"; }
  }

  class TextDecoder {
    #state;
    #encoding;
    #fatal;
    #ignoreBOM;
    constructor(label = "utf-8", options = undefined) {
      if (options !== undefined && options !== null && typeof options !== "object") {
        throw new TypeError("TextDecoder options must be an object");
      }
      const fatal = Boolean(options?.fatal);
      const ignoreBOM = Boolean(options?.ignoreBOM);
      label = String(label).toWellFormed();
      const name = native.encodingName(label);
      if (name === null) throw new RangeError(`the encoding label ${JSON.stringify(label)} is not supported`);
      this.#state = native.decoder(label, fatal, ignoreBOM);
      this.#encoding = name;
      this.#fatal = fatal;
      this.#ignoreBOM = ignoreBOM;
    }
    get encoding() { return this.#encoding; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input = undefined, options = undefined) {
      if (options !== undefined && options !== null && typeof options !== "object") {
        throw new TypeError("TextDecoder.decode options must be an object");
      }
      const bytes = input === undefined ? new Uint8Array(0) : bytesOf(input, "TextDecoder.decode input");
      return native.decode(this.#state, bytes, Boolean(options?.stream));
    }
    get [Symbol.toStringTag]() { return "TextDecoder"; }
  }

  class TextEncoderStream {
    #stream;
    constructor() {
      // A high surrogate that ended the last chunk waits for its pair.
      let pending = "";
      this.#stream = new TransformStream({
        transform(chunk, controller) {
          let text = pending + String(chunk);
          pending = "";
          const last = text.charCodeAt(text.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) {
            pending = text.slice(-1);
            text = text.slice(0, -1);
          }
          if (text.length > 0) controller.enqueue(native.encode(text.toWellFormed()));
        },
        flush(controller) {
          if (pending !== "") controller.enqueue(native.encode("\ufffd"));
        },
      });
    }
    get encoding() { return "utf-8"; }
    get readable() { return this.#stream.readable; }
    get writable() { return this.#stream.writable; }
    get [Symbol.toStringTag]() { return "TextEncoderStream"; }
  }

  class TextDecoderStream {
    #stream;
    #decoder;
    constructor(label = "utf-8", options = undefined) {
      const decoder = new TextDecoder(label, options);
      this.#decoder = decoder;
      this.#stream = new TransformStream({
        transform(chunk, controller) {
          const text = decoder.decode(bytesOf(chunk, "a TextDecoderStream chunk"), { stream: true });
          if (text.length > 0) controller.enqueue(text);
        },
        flush(controller) {
          const text = decoder.decode();
          if (text.length > 0) controller.enqueue(text);
        },
      });
    }
    get encoding() { return this.#decoder.encoding; }
    get fatal() { return this.#decoder.fatal; }
    get ignoreBOM() { return this.#decoder.ignoreBOM; }
    get readable() { return this.#stream.readable; }
    get writable() { return this.#stream.writable; }
    get [Symbol.toStringTag]() { return "TextDecoderStream"; }
  }

  for (const klass of [TextEncoder, TextDecoder, TextEncoderStream, TextDecoderStream]) unclonable.add(klass.prototype);
  return { TextEncoder, TextDecoder, TextEncoderStream, TextDecoderStream };
}
