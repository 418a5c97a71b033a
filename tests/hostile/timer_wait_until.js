// ctx.waitUntil(promise) keeps the invocation open until the promise settles
// (here, after the result was computed); a timer not behind it is cancelled
// when it settles.
// expect: ok true
let fired = 0;
let runs = 0;
export default (input, env, ctx) => {
  runs++;
  const ok = fired === runs - 1;
  ctx.waitUntil(new Promise((resolve) => setTimeout(() => { fired++; resolve(); }, 20)));
  ctx.waitUntil(Promise.reject(new Error("a rejection is waited for too")));
  setTimeout(() => { fired += 100; }, 1000);
  return ok;
};
