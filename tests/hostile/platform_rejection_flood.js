// Promises rejected with no handler, endlessly: each one runs the rejection
// tracker (which keeps it in js/events.js). The CPU limit still ends the
// loop; a tracker that swallowed the engine's stop let it run to the wall
// time instead.
// memory-mb: 128
// expect: cpu_limit_exceeded
export default () => {
  for (;;) Promise.reject(1);
};
