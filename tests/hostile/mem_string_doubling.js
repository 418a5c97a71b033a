// Doubles a flat string (toLowerCase copies it out of the rope) until the
// heap is full.
// expect: memory_limit_exceeded
export default () => {
  let s = "ab";
  for (;;) s = (s + s).toLowerCase();
};
