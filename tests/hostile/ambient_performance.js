// No performance clock, no high-resolution time.
// expect: ok ["undefined","undefined"]
export default () => [typeof performance, typeof globalThis.performance?.now];
