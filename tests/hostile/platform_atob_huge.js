// atob of a 12 MiB base64 string: its 9 MiB result does not fit next to it
// in the 16 MiB heap, and the decoder's own buffers live outside the heap
// only while it runs.
// expect: memory_limit_exceeded
export default () => atob("QUFB".repeat(3 << 20)).length;
