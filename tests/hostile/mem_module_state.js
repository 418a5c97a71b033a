// Keeps what it allocates in module state, so it stays allocated after the error.
// expect: memory_limit_exceeded
const kept = [];
export default () => {
  for (;;) kept.push(new Float64Array(4096));
};
