// No timers with real time.
// expect: ok ["undefined","undefined","undefined","undefined"]
export default () => [typeof setTimeout, typeof setInterval, typeof setImmediate, typeof requestAnimationFrame];
