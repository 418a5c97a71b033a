// performance.now() is the frozen clock, as Date.now() is: it stands still
// while JS computes, from a timeOrigin of 0 (as in Cloudflare Workers).
// expect: ok ["object",0,0,true]
export default () => {
  const start = performance.now();
  let x = 0;
  for (let i = 0; i < 3e5; i++) x += i;
  return [typeof performance, performance.now() - start, performance.timeOrigin, start === Date.now()];
};
