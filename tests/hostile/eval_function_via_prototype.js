// The Function constructor reached through a function's prototype chain cannot compile.
// expect: exception
export default () => (() => {}).constructor("return 1")();
