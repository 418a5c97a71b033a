// Timers fire in the order of their deadlines, equal deadlines in the order
// they were set, each with its arguments; the promise jobs and microtasks a
// timer queues run before the next timer; a timer set inside a timer fires
// later; clearTimeout cancels; a string callback (which would need eval) is
// refused.
// expect: ok ["sync","microtask","a0","b0 x y","job after b0","c0","nested","d300","e400","TypeError"]
export default () => new Promise((resolve) => {
  const log = [];
  setTimeout(() => log.push("e400"), 400);
  setTimeout(() => log.push("d300"), 300);
  setTimeout(() => log.push("a0"), 0);
  setTimeout((x, y) => {
    log.push(`b0 ${x} ${y}`);
    Promise.resolve().then(() => log.push("job after b0"));
  }, 0, "x", "y");
  const cancelled = setTimeout(() => log.push("cancelled"), 0);
  setTimeout(() => {
    log.push("c0");
    setTimeout(() => log.push("nested"), 0);
  }, 0);
  clearTimeout(cancelled);
  queueMicrotask(() => log.push("microtask"));
  log.push("sync");
  try { setTimeout("log.push('eval')", 0); } catch (e) { setTimeout(() => log.push(e.name), 450); }
  setTimeout(() => resolve(log), 500);
});
