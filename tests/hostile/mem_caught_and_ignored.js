// Catches its own out-of-memory error and carries on. QuickJS's OOM error is
// catchable: the limit held (the allocation was refused, and the garbage is
// freed), and the invocation may continue within it.
// expect: ok "survived"
export default () => {
  try {
    const all = [];
    for (;;) all.push(new Array(1000).fill(1));
  } catch (e) {}
  return "survived";
};
