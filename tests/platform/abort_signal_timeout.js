// DOM Standard §3.2: AbortSignal.timeout aborts with a TimeoutError
// DOMException once the time has passed (on the worker's timers).
export default async function run() {
  const signal = AbortSignal.timeout(5);
  const before = signal.aborted;
  const event = await new Promise((resolve) => signal.addEventListener("abort", resolve));
  return [before, signal.aborted, event.type, signal.reason.name, signal.reason.code, signal.reason.message];
}
