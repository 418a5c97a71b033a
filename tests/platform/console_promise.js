// console writes a promise with its state, as Node.js does (Promise { 1 },
// Promise { <pending> }, Promise { <rejected> RangeError: no }), where
// JSON would write {}; the value inside is written as console writes
// values (JSON), so inside an object the promise is that text, quoted.
export default async function run() {
  const rejected = Promise.reject(new RangeError("no"));
  rejected.catch(() => {});
  console.log(Promise.resolve(1), new Promise(() => {}), rejected);
  console.log({ p: Promise.resolve({ a: [1n] }), s: Promise.resolve("s") });
  console.log(Promise.resolve(new Map([["k", 1]])), Promise.reject(undefined).catch(() => 2));
  const settled = Promise.resolve(3);
  await settled;
  console.log("after", settled);
  return "done";
}
