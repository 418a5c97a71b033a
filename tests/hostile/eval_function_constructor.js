// new Function(...) cannot compile.
// expect: exception
export default () => new Function("return 1")();
