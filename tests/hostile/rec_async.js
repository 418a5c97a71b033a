// An async function that calls itself before its first await.
// expect: stack_overflow
async function f() {
  return await f();
}
export default () => f();
