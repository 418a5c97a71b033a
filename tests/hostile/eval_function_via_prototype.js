// The Function constructor reached through a function's prototype chain cannot compile.
// expect: exception
// message: TypeError: eval is not supported
export default () => (() => {}).constructor("return 1")();
