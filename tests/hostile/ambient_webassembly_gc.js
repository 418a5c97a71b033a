// No WebAssembly, gc or Intl.
// expect: ok ["undefined","undefined","undefined"]
export default () => [typeof WebAssembly, typeof gc, typeof Intl];
