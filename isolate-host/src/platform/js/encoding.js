// TextEncoder and TextDecoder (WHATWG Encoding) over `encoding_rs`.
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

  return { TextEncoder, TextDecoder };
}
