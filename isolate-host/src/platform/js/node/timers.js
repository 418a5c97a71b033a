// node:timers: the platform's timers (a timer is a host task; the frozen
// clock moves only when one fires).
const timer = (name) => (...args) => {
  const f = globalThis[name];
  if (typeof f !== "function") throw new TypeError(`${name} is not available in this worker`);
  return f(...args);
};
export const setTimeout = timer("setTimeout");
export const clearTimeout = timer("clearTimeout");
export const setInterval = timer("setInterval");
export const clearInterval = timer("clearInterval");
export const setImmediate = (f, ...args) => setTimeout(f, 0, ...args);
export const clearImmediate = (t) => clearTimeout(t);
export default { setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate };
