// An interval that is never cleared, awaited forever: the wall-clock limit
// ends it.
// wall-ms: 500
// expect: wall_time_exceeded
export default () => new Promise(() => setInterval(() => {}, 10));
