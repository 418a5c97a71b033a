// The GeneratorFunction constructor cannot compile.
// expect: exception
export default () => (function* () {}).constructor("yield 1")().next().value;
