// A loop that catches whatever stops it, and loops again.
// expect: cpu_limit_exceeded
export default () => {
  for (;;) {
    try {
      for (;;) {}
    } catch (e) {}
  }
};
