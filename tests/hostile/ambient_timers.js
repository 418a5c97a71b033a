// Timers exist, as host tasks: no clock moves while JS computes, only when a
// timer fires; no setImmediate or requestAnimationFrame.
// expect: ok [["function","function","function","function","function","undefined","undefined"],0,true]
export default async () => {
  const kinds = [typeof setTimeout, typeof setInterval, typeof clearTimeout, typeof clearInterval,
                 typeof queueMicrotask, typeof setImmediate, typeof requestAnimationFrame];
  const start = Date.now();
  let x = 0;
  for (let i = 0; i < 3e5; i++) x += i;
  const computing = Date.now() - start;
  const fired = await new Promise((resolve) => setTimeout(() => resolve(Date.now()), 20));
  return [kinds, computing, fired - start >= 20];
};
