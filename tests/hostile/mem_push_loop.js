// Grows an array without end.
// expect: memory_limit_exceeded
export default () => {
  const all = [];
  for (;;) all.push(new Array(1000).fill(1));
};
