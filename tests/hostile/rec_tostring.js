// A toString that converts itself to a string.
// expect: stack_overflow
const o = {};
o.toString = () => `${o}`;
export default () => String(o);
