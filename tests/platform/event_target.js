// DOM Standard §2.2–2.10: EventTarget, Event and CustomEvent, from the
// standard's examples and the dispatch algorithm's edge cases.
export default function run() {
  const out = {};
  const target = new EventTarget();
  const seen = [];

  // §2.2: listeners run in order; capture listeners first at the target.
  target.addEventListener("ping", () => seen.push("bubble 1"));
  target.addEventListener("ping", () => seen.push("capture"), { capture: true });
  target.addEventListener("ping", () => seen.push("bubble 2"), false);
  // The same (type, callback, capture) is added once.
  const twice = () => seen.push("once only");
  target.addEventListener("ping", twice);
  target.addEventListener("ping", twice);
  // An object with handleEvent is a listener, called with itself as this.
  const handler = { name: "handler", handleEvent(e) { seen.push(`${this.name} ${e.type}`); } };
  target.addEventListener("ping", handler);
  out.dispatched = target.dispatchEvent(new Event("ping"));
  out.order = seen.splice(0);

  // §2.9: eventPhase, target and currentTarget during and after dispatch.
  const phases = new Event("phase");
  target.addEventListener("phase", (e) => {
    seen.push([e.eventPhase, e.target === target, e.currentTarget === target, e.composedPath().length]);
  });
  target.dispatchEvent(phases);
  out.during = seen.splice(0);
  out.after = [phases.eventPhase, phases.target === target, phases.currentTarget, phases.composedPath()];

  // preventDefault only cancels a cancelable event, and never in a passive listener.
  target.addEventListener("cancel", (e) => e.preventDefault());
  out.notCancelable = target.dispatchEvent(new Event("cancel"));
  const cancelable = new Event("cancel", { cancelable: true });
  out.cancelable = [target.dispatchEvent(cancelable), cancelable.defaultPrevented, cancelable.returnValue];
  const passive = new EventTarget();
  passive.addEventListener("p", (e) => e.preventDefault(), { passive: true });
  out.passive = passive.dispatchEvent(new Event("p", { cancelable: true }));

  // once removes the listener before it runs.
  let count = 0;
  target.addEventListener("once", () => count++, { once: true });
  target.dispatchEvent(new Event("once"));
  target.dispatchEvent(new Event("once"));
  out.onceCount = count;

  // stopImmediatePropagation stops the remaining listeners; stopPropagation
  // after the capture listeners stops the others at the target too.
  target.addEventListener("stop", (e) => { seen.push("a"); e.stopImmediatePropagation(); });
  target.addEventListener("stop", () => seen.push("b"));
  target.addEventListener("halt", (e) => { seen.push("capture"); e.stopPropagation(); }, true);
  target.addEventListener("halt", () => seen.push("not run"));
  target.dispatchEvent(new Event("stop"));
  target.dispatchEvent(new Event("halt"));
  out.stopped = seen.splice(0);

  // A listener removed during dispatch does not run; one added does not either.
  const late = () => seen.push("late");
  const removed = () => seen.push("removed");
  target.addEventListener("change", () => {
    target.removeEventListener("change", removed);
    target.addEventListener("change", late);
  });
  target.addEventListener("change", removed);
  target.dispatchEvent(new Event("change"));
  out.changed = seen.splice(0);
  target.dispatchEvent(new Event("change"));
  out.changedAgain = seen.splice(0);

  // An aborted signal removes the listener.
  const controller = { aborted: false, listeners: [], addEventListener(t, f) { this.listeners.push(f); } };
  target.addEventListener("sig", () => seen.push("sig"), { signal: controller });
  target.dispatchEvent(new Event("sig"));
  controller.listeners.forEach((f) => f());
  target.dispatchEvent(new Event("sig"));
  out.signal = seen.splice(0);

  // A throwing listener is reported and the others still run.
  target.addEventListener("boom", () => { throw new Error("listener failed"); });
  target.addEventListener("boom", () => seen.push("after the throw"));
  target.dispatchEvent(new Event("boom"));
  out.afterThrow = seen.splice(0);

  // Dispatching an event that is being dispatched is an InvalidStateError.
  const busy = new Event("busy");
  target.addEventListener("busy", () => {
    try { target.dispatchEvent(busy); } catch (e) { seen.push(`${e.name} ${e.code} ${e instanceof DOMException}`); }
  });
  target.dispatchEvent(busy);
  out.redispatch = seen.splice(0);

  // Constructor defaults and the init dictionary.
  const plain = new Event("x");
  out.defaults = [plain.type, plain.bubbles, plain.cancelable, plain.composed, plain.isTrusted,
    plain.defaultPrevented, plain.eventPhase, plain.target, plain.cancelBubble];
  const init = new Event("y", { bubbles: true, cancelable: 1, composed: "yes" });
  out.init = [init.bubbles, init.cancelable, init.composed];
  out.constants = [Event.NONE, Event.CAPTURING_PHASE, Event.AT_TARGET, Event.BUBBLING_PHASE, plain.AT_TARGET];
  out.tags = [String(plain), String(target), Object.prototype.toString.call(new CustomEvent("c"))];

  // CustomEvent carries detail (null by default).
  const custom = new CustomEvent("c", { detail: { n: 1 } });
  out.custom = [custom.detail, new CustomEvent("d").detail, custom instanceof Event, custom.type];

  // Required arguments and brand checks are TypeErrors.
  const errors = [];
  for (const f of [() => new Event(), () => target.addEventListener("x"),
                   () => target.dispatchEvent({ type: "x" }),
                   () => Object.getOwnPropertyDescriptor(Event.prototype, "type").get.call({})]) {
    try { f(); errors.push("no error"); } catch (e) { errors.push(e.constructor.name); }
  }
  out.errors = errors;
  return out;
}
