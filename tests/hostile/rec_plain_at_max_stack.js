// Unbounded recursion with the largest stack a broker grants.
// stack-kb: 4096
// expect: stack_overflow
function f(n) {
  return f(n + 1) + 1;
}
export default () => f(0);
