// eval is absent.
// expect: exception
// message: ReferenceError: eval is not defined
export default () => eval("1 + 1");
