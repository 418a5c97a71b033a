// A getter-only `then` on Object.prototype that never returns, and a plain
// object as the result: following the result as a thenable reads `then`,
// which runs into the CPU limit like any other loop of the worker's own.
// expect: cpu_limit_exceeded
export default () => {
  Object.defineProperty(Object.prototype, "then", {
    get() {
      for (;;) {}
    },
    configurable: true,
  });
  return { done: true };
};
