// new Function(...) cannot compile.
// expect: exception
// message: TypeError: eval is not supported
export default () => new Function("return 1")();
