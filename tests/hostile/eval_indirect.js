// globalThis.eval is absent.
// expect: ok "undefined"
export default () => typeof globalThis.eval;
