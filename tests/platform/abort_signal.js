// DOM Standard §3.1–3.2: AbortController and AbortSignal.
export default function run() {
  const out = {};
  const controller = new AbortController();
  const signal = controller.signal;
  const events = [];
  signal.addEventListener("abort", (e) => events.push(["listener", e.type, signal.aborted, e.target === signal]));
  signal.onabort = (e) => events.push(["onabort", e.type]);
  out.before = [signal.aborted, signal.reason, signal instanceof EventTarget];
  controller.abort();
  out.after = [signal.aborted, signal.reason.name, signal.reason.message, signal.reason instanceof DOMException];
  // A second abort changes nothing and fires nothing.
  controller.abort("again");
  out.events = events;
  out.reasonKept = signal.reason.name;

  // A reason given is kept as it is; throwIfAborted throws it.
  const reasoned = new AbortController();
  reasoned.abort({ why: "custom" });
  try { reasoned.signal.throwIfAborted(); out.thrown = "nothing"; } catch (e) { out.thrown = e; }
  out.notAborted = new AbortController().signal.throwIfAborted() ?? "no throw";

  // AbortSignal.abort() is aborted from the start.
  const aborted = AbortSignal.abort();
  out.staticAbort = [aborted.aborted, aborted.reason.name, AbortSignal.abort("r").reason];

  // AbortSignal.any follows the first of its sources to abort.
  const a = new AbortController();
  const b = new AbortController();
  const any = AbortSignal.any([a.signal, b.signal]);
  const nested = AbortSignal.any([any]);
  let fired = 0;
  any.addEventListener("abort", () => fired++);
  b.abort("b went first");
  a.abort("a too late");
  out.any = [any.aborted, any.reason, nested.aborted, nested.reason, fired];
  out.anyOfAborted = AbortSignal.any([new AbortController().signal, AbortSignal.abort("already")]).reason;
  out.anyOfNone = AbortSignal.any([]).aborted;

  // The constructor is not for scripts; timeout needs timers.
  const errors = [];
  try { new AbortSignal(); } catch (e) { errors.push(e.constructor.name); }
  try { AbortSignal.any([{}]); } catch (e) { errors.push(e.constructor.name); }
  try { AbortSignal.timeout(-1); } catch (e) { errors.push(e.constructor.name); }
  out.errors = errors;
  out.tags = [String(signal), String(controller)];

  // addEventListener's signal option removes the listener on abort.
  const target = new EventTarget();
  const remover = new AbortController();
  let calls = 0;
  target.addEventListener("x", () => calls++, { signal: remover.signal });
  target.dispatchEvent(new Event("x"));
  remover.abort();
  target.dispatchEvent(new Event("x"));
  target.addEventListener("x", () => calls += 10, { signal: remover.signal });
  target.dispatchEvent(new Event("x"));
  out.listenerCalls = calls;
  return out;
}
