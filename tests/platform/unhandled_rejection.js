// A promise rejected with no handler by the end of the invocation is
// reported on the console as `Uncaught (in promise) …`, as Cloudflare
// Workers and browsers do, and the invocation goes on: one rejected in the
// background, a task whose exception nobody awaits, a non-error reason.
// Not reported: a rejection handled later (within the invocation), an
// awaited one that is caught, a Promise.allSettled of failing tasks, the
// promise passed to ctx.waitUntil, and the entrypoint's own rejection,
// which is the invocation's error.
export default async function run(input, env, ctx) {
  Promise.reject(new Error("lost"));
  const later = Promise.reject(new Error("handled later"));
  await null;
  later.catch(() => {});
  (async () => { throw new TypeError("background task"); })();
  try { await (async () => { throw new Error("caught"); })(); } catch {}
  await Promise.allSettled([1, 2].map(async (i) => { if (i === 2) throw new Error("settled"); }));
  ctx.waitUntil(Promise.reject(new Error("waited")));
  Promise.reject("a string");
  await new Promise((resolve) => setTimeout(resolve, 1));
  throw new RangeError("the invocation's own");
}
