// A 1 GiB buffer, above the heap limit.
// expect: memory_limit_exceeded
export default () => new ArrayBuffer(2 ** 30).byteLength;
