// An endless chain of promise jobs, never returning to the host.
// The chain's promises pile up: with the usual 16 MiB the heap fills first
// (and QuickJS's out-of-memory error rejects the chain), so this case gets
// room enough for the CPU limit to end it.
// memory-mb: 128
// expect: cpu_limit_exceeded
export default () => {
  const again = () => Promise.resolve().then(again);
  again();
  return new Promise(() => {});
};
