// A chain of 20,000 proxies, each forwarding to the next.
// expect: stack_overflow
export default () => {
  let p = {};
  for (let i = 0; i < 2e4; i++) p = new Proxy(p, {});
  return p.x;
};
