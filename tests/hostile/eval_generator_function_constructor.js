// The GeneratorFunction constructor cannot compile.
// expect: exception
// message: TypeError: eval is not supported
export default () => (function* () {}).constructor("yield 1")().next().value;
