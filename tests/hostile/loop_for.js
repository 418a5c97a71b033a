// An empty infinite loop.
// expect: cpu_limit_exceeded
export default () => { for (;;) {} };
