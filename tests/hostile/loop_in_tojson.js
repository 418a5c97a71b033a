// The result's toJSON loops: serialising the output runs under the CPU limit too.
// expect: cpu_limit_exceeded
export default () => ({
  toJSON() {
    for (;;) {}
  },
});
