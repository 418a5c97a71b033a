// Date.now() and new Date() stand still while JavaScript computes.
// expect: ok [0,0,true]
export default () => {
  const start = Date.now();
  const date = new Date();
  let x = 0;
  for (let i = 0; i < 3e5; i++) x += i;
  return [Date.now() - start, new Date() - date, x > 0];
};
