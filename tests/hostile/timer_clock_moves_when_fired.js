// The frozen clock moves only when a timer fires (a new segment), never while
// a timer's callback computes.
// expect: ok [0,true,0,true]
export default async () => {
  const start = Date.now();
  let x = 0;
  for (let i = 0; i < 3e5; i++) x += i;
  const computing = Date.now() - start;
  const [fired, inCallback] = await new Promise((resolve) =>
    setTimeout(() => {
      const at = Date.now();
      for (let i = 0; i < 3e5; i++) x += i;
      resolve([at, performance.now() - at]);
    }, 30));
  return [computing, fired - start >= 30, inCallback, x > 0];
};
