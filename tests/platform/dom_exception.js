// WebIDL §3.14.1 DOMException: name, message, legacy code and constants.
export default function run() {
  const e = new DOMException("the operation was aborted", "AbortError");
  const plain = new DOMException();
  const named = new DOMException("gone", { name: "NotFoundError", cause: 42 });
  return {
    abort: [e.name, e.message, e.code, e instanceof Error, e instanceof DOMException, String(e)],
    plain: [plain.name, plain.message, plain.code],
    named: [named.name, named.code, named.cause],
    custom: [new DOMException("m", "MyOwnError").code, new DOMException("m", "SyntaxError").code,
      new DOMException("", "DataCloneError").code, new DOMException("", "TimeoutError").code],
    constants: [DOMException.INDEX_SIZE_ERR, DOMException.ABORT_ERR, DOMException.DATA_CLONE_ERR,
      e.TIMEOUT_ERR],
    onPrototype: ["name", "message", "code"].map((k) => Object.hasOwn(DOMException.prototype, k)),
    ownKeys: Object.keys(e),
    tag: Object.prototype.toString.call(e),
    hasStack: typeof e.stack === "string",
    protoChain: Object.getPrototypeOf(DOMException.prototype) === Error.prototype,
  };
}
