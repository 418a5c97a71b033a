// No WebAssembly or gc (Intl exists: the platform's, built on first use).
// expect: ok ["undefined","undefined","object"]
export default () => [typeof WebAssembly, typeof gc, typeof Intl];
