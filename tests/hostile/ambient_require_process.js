// No require, process, Deno or Bun.
// expect: ok ["undefined","undefined","undefined","undefined"]
export default () => [typeof require, typeof process, typeof Deno, typeof Bun];
