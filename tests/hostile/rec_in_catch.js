// Recursion that catches each stack overflow and recurses again from the
// catch block: exponential work, which the CPU limit ends.
// expect: cpu_limit_exceeded
function f() {
  try {
    return f();
  } catch (e) {
    return f();
  }
}
export default () => f();
