// Fills a Map with fresh keys.
// expect: memory_limit_exceeded
// memory-mb: 4
export default () => {
  const m = new Map();
  for (let i = 0; ; i++) m.set("key" + i, { i });
};
