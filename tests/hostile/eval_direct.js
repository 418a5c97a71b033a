// eval is absent.
// expect: exception
export default () => eval("1 + 1");
