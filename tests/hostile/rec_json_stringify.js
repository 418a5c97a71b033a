// JSON.stringify of a deeply nested object built without recursion.
// expect: stack_overflow
export default () => {
  let o = {};
  for (let i = 0; i < 1e5; i++) o = { o };
  return JSON.stringify(o).length;
};
