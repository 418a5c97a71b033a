// setInterval fires again and again until clearInterval, called from its
// own callback here; ids are numbers, and cleared ids stay cleared.
// expect: ok [3,true,3]
export default () => new Promise((resolve) => {
  let n = 0;
  let other = 0;
  const stopped = setInterval(() => other++, 1);
  clearInterval(stopped);
  const id = setInterval(() => {
    n++;
    if (n === 3) {
      clearInterval(id);
      setTimeout(() => resolve([n, typeof id === "number" && id !== stopped, n + other]), 50);
    }
  }, 5);
});
