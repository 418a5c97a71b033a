// structuredClone of a value nested six times deeper than a recursive clone
// gets with the 256 KiB stack (about 500 levels): the
// clone does not recurse, so it neither overflows nor takes the host down.
// expect: ok [3000,true]
export default () => {
  let value = {};
  for (let i = 0; i < 3000; i++) value = { value };
  let copy = structuredClone(value);
  let depth = 0;
  while (copy.value) { copy = copy.value; depth++; }
  return [depth, copy !== value];
};
