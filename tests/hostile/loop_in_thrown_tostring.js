// A thrown non-error whose toString loops: describing the error runs under the CPU limit too.
// expect: cpu_limit_exceeded
export default async () => {
  throw {
    toString() {
      for (;;) {}
    },
  };
};
