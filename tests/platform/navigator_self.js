// HTML: self is the global object; navigator.userAgent names caplet;
// queueMicrotask runs after the current task, errors are reported.
export default async function run() {
  const order = [];
  queueMicrotask(() => order.push("microtask"));
  queueMicrotask(() => { throw new Error("from a microtask"); });
  order.push("sync");
  await null;
  await null;
  let notFunction;
  try { queueMicrotask("x"); } catch (e) { notFunction = e.constructor.name; }
  return {
    self: self === globalThis && globalThis.self === self,
    userAgent: navigator.userAgent.startsWith("caplet/"),
    tag: Object.prototype.toString.call(navigator),
    order,
    notFunction,
    wasm: typeof WebAssembly,
  };
}
