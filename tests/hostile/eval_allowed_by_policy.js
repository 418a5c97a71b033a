// With policy.allowEval, eval and Function work.
// policy: allow-eval
// expect: ok [2,3]
export default () => [eval("1 + 1"), new Function("return 3")()];
