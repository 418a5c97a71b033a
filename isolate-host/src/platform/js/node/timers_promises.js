// node:timers/promises: promise forms of the platform's timers.
import { setTimeout as later, clearTimeout } from "node:timers";
const abortError = (signal) => Object.assign(new Error("The operation was aborted"), { name: "AbortError", code: "ABORT_ERR", cause: signal && signal.reason });
export function setTimeout(delay, value, options = {}) {
  const { signal } = options;
  if (signal && signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const id = later(() => resolve(value), delay);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(id); reject(abortError(signal)); }, { once: true });
  });
}
export function setImmediate(value, options) {
  return setTimeout(0, value, options);
}
export async function* setInterval(delay, value, options = {}) {
  for (;;) yield await setTimeout(delay, value, options);
}
export const scheduler = { wait: (delay, options) => setTimeout(delay, undefined, options), yield: () => setImmediate() };
export default { setTimeout, setImmediate, setInterval, scheduler };
