// A loop started from a queueMicrotask callback.
// expect: cpu_limit_exceeded
export default () => {
  queueMicrotask(() => {
    for (;;) {}
  });
  return new Promise(() => {});
};
