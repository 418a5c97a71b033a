// Catastrophic backtracking: the interrupt handler is polled inside the regex engine.
// expect: cpu_limit_exceeded
export default () => /(a+)+$/.test("a".repeat(40) + "b");
