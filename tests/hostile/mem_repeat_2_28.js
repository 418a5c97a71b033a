// A 256 MiB string, above the heap limit.
// expect: memory_limit_exceeded
export default () => "a".repeat(2 ** 28).length;
