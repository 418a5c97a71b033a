// HTML timers: deadline order (then creation order), arguments, a timer
// set inside a timer fires later, clearTimeout/clearInterval, intervals,
// an exception in a callback reported while the invocation goes on, and
// the frozen clock (performance.now() equals Date.now(), timeOrigin 0,
// moving only when a timer fires).
export default async function run() {
  const order = [];
  const start = Date.now();
  const startPerf = performance.now();
  let x = 0;
  for (let i = 0; i < 1e5; i++) x += i;
  const still = performance.now() - startPerf;
  await new Promise((resolve) => {
    setTimeout(() => order.push("b40"), 40);
    setTimeout((p, q) => order.push(`a0 ${p}${q}`), 0, "x", "y");
    const dropped = setTimeout(() => order.push("dropped"), 0);
    setTimeout(() => {
      order.push("c0");
      setTimeout(() => order.push("nested"), 0);
      throw new Error("from a timer");
    }, 0);
    clearTimeout(dropped);
    let ticks = 0;
    const every = setInterval(() => {
      if (++ticks === 2) clearInterval(every);
    }, 5);
    setTimeout(() => { order.push(`ticks ${ticks}`); resolve(); }, 80);
  });
  let notFunction;
  try { setTimeout("1", 0); } catch (e) { notFunction = e.name; }
  return {
    order,
    still,
    moved: Date.now() - start >= 80,
    sameClock: performance.now() === Date.now(),
    timeOrigin: performance.timeOrigin,
    notFunction,
    x: x > 0,
  };
}
