// No SharedArrayBuffer and no Atomics (so no Atomics.wait).
// expect: ok ["undefined","undefined"]
export default () => [typeof SharedArrayBuffer, typeof Atomics];
