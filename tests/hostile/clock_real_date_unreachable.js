// The constructor reached through Date.prototype is the frozen one.
// expect: ok [true,true,"string"]
export default () => {
  const D = Date.prototype.constructor;
  const a = new D().getTime();
  let x = 0;
  for (let i = 0; i < 3e5; i++) x += i;
  return [D === Date, new D().getTime() === a, typeof D()];
};
