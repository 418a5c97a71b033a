// The entrypoint is a getter that never returns.
// expect: cpu_limit_exceeded
export default {
  get run() {
    for (;;) {}
  },
};
