// JSON.parse of a million nested arrays.
// expect: stack_overflow
export default () => JSON.parse("[".repeat(1e6));
