// 6 MiB of invalid UTF-8 decodes to 6 Mi replacement characters, a 12 MiB
// string next to its input: over the 16 MiB heap, a clean memory error.
// expect: memory_limit_exceeded
export default () => new TextDecoder().decode(new Uint8Array(6 << 20).fill(0xff)).length;
