// A finally block that loops again once the first loop is stopped.
// expect: cpu_limit_exceeded
export default () => {
  try {
    for (;;) {}
  } finally {
    for (;;) {}
  }
};
