// Event, EventTarget and CustomEvent (DOM Standard §2), for targets outside
// any tree: dispatch runs the target's capturing listeners, then its other
// listeners, both in the AT_TARGET phase. An exception thrown by a listener
// is reported (reportError) and does not stop the others.

import { DOMException } from "./dom_exception.js";
import { requiredArguments, unclonable } from "./internal.js";

const NONE = 0;
const CAPTURING_PHASE = 1;
const AT_TARGET = 2;
const BUBBLING_PHASE = 3;

/** Reports an exception the way a host reports an uncaught one: on the console. */
export function reportError(error) {
  requiredArguments(arguments.length, 1, "reportError");
  console.error("Uncaught", error);
}

// Promises rejected while no handler was attached (HTML's "about-to-be-
// notified rejected promises"), with their reasons: the engine's rejection
// tracker adds one when it rejects unhandled and takes it out when a
// handler comes later.
const unhandled = new Map();

/** The engine's rejection tracker: `promise` was rejected with no handler
 *  (`handled` false), or got its first handler after that (true). */
export function trackRejection(promise, reason, handled) {
  if (handled) unhandled.delete(promise);
  else unhandled.set(promise, reason);
}

/** Reports, as Workers and browsers do, each promise still rejected with no
 *  handler (`Uncaught (in promise) …` on the console), except `awaited`,
 *  the ones the host itself waits on; forgets them all. */
export function reportRejections(awaited) {
  const reasons = [];
  for (const [promise, reason] of unhandled) {
    if (!awaited.includes(promise)) reasons.push(reason);
  }
  unhandled.clear();
  for (const reason of reasons) console.error("Uncaught (in promise)", reason);
}

export class Event {
  #type;
  #bubbles;
  #cancelable;
  #composed;
  #target = null;
  #currentTarget = null;
  #phase = NONE;
  #stopPropagation = false;
  #stopImmediate = false;
  #canceled = false;
  #inPassiveListener = false;
  #dispatching = false;
  #initialized = true;
  #timeStamp = Date.now();

  constructor(type, eventInitDict = undefined) {
    requiredArguments(arguments.length, 1, "Event constructor");
    const init = eventInitDict ?? {};
    if (typeof init !== "object" && typeof init !== "function") {
      throw new TypeError("Event constructor: eventInitDict must be an object");
    }
    this.#type = String(type);
    this.#bubbles = Boolean(init.bubbles);
    this.#cancelable = Boolean(init.cancelable);
    this.#composed = Boolean(init.composed);
  }

  get type() { return this.#type; }
  get target() { return this.#target; }
  get srcElement() { return this.#target; }
  get currentTarget() { return this.#currentTarget; }
  get eventPhase() { return this.#phase; }
  get bubbles() { return this.#bubbles; }
  get cancelable() { return this.#cancelable; }
  get composed() { return this.#composed; }
  get defaultPrevented() { return this.#canceled; }
  get isTrusted() { this.#type; return false; }
  get timeStamp() { return this.#timeStamp; }
  get cancelBubble() { return this.#stopPropagation; }
  set cancelBubble(value) { if (value) this.#stopPropagation = true; }
  get returnValue() { return !this.#canceled; }
  set returnValue(value) { if (!value) this.#cancel(); }

  composedPath() {
    return this.#currentTarget === null ? [] : [this.#currentTarget];
  }
  stopPropagation() { this.#stopPropagation = true; }
  stopImmediatePropagation() {
    this.#stopPropagation = true;
    this.#stopImmediate = true;
  }
  preventDefault() { this.#cancel(); }
  initEvent(type, bubbles = false, cancelable = false) {
    requiredArguments(arguments.length, 1, "Event.initEvent");
    if (this.#dispatching) return;
    this.#initialized = true;
    this.#stopPropagation = false;
    this.#stopImmediate = false;
    this.#canceled = false;
    this.#target = null;
    this.#type = String(type);
    this.#bubbles = Boolean(bubbles);
    this.#cancelable = Boolean(cancelable);
  }

  #cancel() {
    if (this.#cancelable && !this.#inPassiveListener) this.#canceled = true;
  }

  // Dispatch (DOM §2.9), for a target with no parent.
  static dispatch(event, target, listeners) {
    if (!(#dispatching in event)) {
      throw new TypeError("EventTarget.dispatchEvent: argument is not an Event");
    }
    if (event.#dispatching || !event.#initialized) {
      throw new DOMException("the event is already being dispatched", "InvalidStateError");
    }
    event.#dispatching = true;
    event.#target = target;
    event.#currentTarget = target;
    event.#phase = AT_TARGET;
    try {
      for (const capture of [true, false]) {
        if (event.#stopPropagation) break;
        // Listeners added during dispatch do not run; removed ones do not either.
        for (const listener of listeners(event.#type).slice()) {
          if (listener.removed || listener.capture !== capture) continue;
          if (listener.once) listener.remove();
          event.#inPassiveListener = listener.passive;
          try {
            const callback = listener.callback;
            if (typeof callback === "function") {
              callback.call(target, event);
            } else {
              const handle = callback.handleEvent;
              if (typeof handle !== "function") {
                throw new TypeError("the listener has no handleEvent method");
              }
              handle.call(callback, event);
            }
          } catch (error) {
            reportError(error);
          }
          event.#inPassiveListener = false;
          if (event.#stopImmediate) break;
        }
        if (event.#stopImmediate) break;
      }
    } finally {
      event.#phase = NONE;
      event.#currentTarget = null;
      event.#dispatching = false;
      event.#stopPropagation = false;
      event.#stopImmediate = false;
    }
    return !event.#canceled;
  }
}

const dispatch = Event.dispatch;
delete Event.dispatch;

for (const [key, value] of [
  ["NONE", NONE], ["CAPTURING_PHASE", CAPTURING_PHASE],
  ["AT_TARGET", AT_TARGET], ["BUBBLING_PHASE", BUBBLING_PHASE],
]) {
  const desc = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(Event, key, desc);
  Object.defineProperty(Event.prototype, key, desc);
}
Object.defineProperty(Event.prototype, Symbol.toStringTag, { value: "Event", configurable: true });
unclonable.add(Event.prototype);

function flatten(options) {
  if (typeof options === "boolean" || options === undefined || options === null) {
    return { capture: Boolean(options), once: false, passive: false, signal: null };
  }
  if (typeof options !== "object" && typeof options !== "function") {
    return { capture: Boolean(options), once: false, passive: false, signal: null };
  }
  const signal = options.signal ?? null;
  if (signal !== null && (typeof signal !== "object" || !("aborted" in signal))) {
    throw new TypeError("addEventListener: signal is not an AbortSignal");
  }
  return {
    capture: Boolean(options.capture),
    once: Boolean(options.once),
    passive: Boolean(options.passive),
    signal,
  };
}

export class EventTarget {
  #listeners = new Map();

  constructor() {}

  addEventListener(type, callback, options = undefined) {
    requiredArguments(arguments.length, 2, "EventTarget.addEventListener");
    const { capture, once, passive, signal } = flatten(options);
    if (signal?.aborted) return;
    if (callback === null || callback === undefined) return;
    if (typeof callback !== "function" && typeof callback !== "object") {
      throw new TypeError("EventTarget.addEventListener: the listener is not an object");
    }
    type = String(type);
    let list = this.#listeners.get(type);
    if (list === undefined) {
      list = [];
      this.#listeners.set(type, list);
    }
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const listener = {
      callback, capture, once, passive, removed: false,
      remove() {
        listener.removed = true;
        const at = list.indexOf(listener);
        if (at >= 0) list.splice(at, 1);
      },
    };
    list.push(listener);
    if (signal !== null) {
      signal.addEventListener("abort", () => listener.remove(), { once: true });
    }
  }

  removeEventListener(type, callback, options = undefined) {
    requiredArguments(arguments.length, 2, "EventTarget.removeEventListener");
    const capture = typeof options === "object" && options !== null
      ? Boolean(options.capture)
      : Boolean(options);
    const list = this.#listeners.get(String(type));
    const found = list?.find((l) => l.callback === callback && l.capture === capture);
    found?.remove();
  }

  dispatchEvent(event) {
    requiredArguments(arguments.length, 1, "EventTarget.dispatchEvent");
    return dispatch(event, this, (type) => this.#listeners.get(type) ?? []);
  }
}
Object.defineProperty(EventTarget.prototype, Symbol.toStringTag, { value: "EventTarget", configurable: true });
unclonable.add(EventTarget.prototype);

export class CustomEvent extends Event {
  #detail;
  constructor(type, eventInitDict = undefined) {
    requiredArguments(arguments.length, 1, "CustomEvent constructor");
    super(type, eventInitDict);
    this.#detail = eventInitDict?.detail ?? null;
  }
  get detail() { return this.#detail; }
  initCustomEvent(type, bubbles = false, cancelable = false, detail = null) {
    requiredArguments(arguments.length, 1, "CustomEvent.initCustomEvent");
    if (this.eventPhase !== NONE) return;
    this.initEvent(type, bubbles, cancelable);
    this.#detail = detail;
  }
}
Object.defineProperty(CustomEvent.prototype, Symbol.toStringTag, { value: "CustomEvent", configurable: true });

// ErrorEvent and PromiseRejectionEvent (HTML §8.1.7): the shapes of the
// `error` and `unhandledrejection` events, for code that builds or tests them.
export class ErrorEvent extends Event {
  #message;
  #filename;
  #lineno;
  #colno;
  #error;
  constructor(type, eventInitDict = undefined) {
    requiredArguments(arguments.length, 1, "ErrorEvent constructor");
    super(type, eventInitDict);
    const init = eventInitDict ?? {};
    this.#message = init.message === undefined ? "" : String(init.message);
    this.#filename = init.filename === undefined ? "" : String(init.filename);
    this.#lineno = init.lineno === undefined ? 0 : Number(init.lineno) >>> 0;
    this.#colno = init.colno === undefined ? 0 : Number(init.colno) >>> 0;
    this.#error = init.error;
  }
  get message() { return this.#message; }
  get filename() { return this.#filename; }
  get lineno() { return this.#lineno; }
  get colno() { return this.#colno; }
  get error() { return this.#error; }
}
Object.defineProperty(ErrorEvent.prototype, Symbol.toStringTag, { value: "ErrorEvent", configurable: true });

export class PromiseRejectionEvent extends Event {
  #promise;
  #reason;
  constructor(type, eventInitDict) {
    requiredArguments(arguments.length, 2, "PromiseRejectionEvent constructor");
    const init = eventInitDict ?? {};
    if (init.promise === null || (typeof init.promise !== "object" && typeof init.promise !== "function")) {
      throw new TypeError("PromiseRejectionEvent constructor: eventInitDict.promise must be an object");
    }
    super(type, eventInitDict);
    this.#promise = init.promise;
    this.#reason = init.reason;
  }
  get promise() { return this.#promise; }
  get reason() { return this.#reason; }
}
Object.defineProperty(PromiseRejectionEvent.prototype, Symbol.toStringTag, { value: "PromiseRejectionEvent", configurable: true });
