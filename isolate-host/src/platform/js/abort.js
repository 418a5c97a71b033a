// AbortController and AbortSignal (DOM Standard §3.1–3.2), with the static
// AbortSignal.abort, .timeout (on the worker's setTimeout, so it fires only
// where timers exist) and .any.

import { EventTarget, Event } from "./events.js";
import { DOMException } from "./dom_exception.js";
import { requiredArguments, tag, unclonable } from "./internal.js";

const construct = Symbol("construct");

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  #algorithms = new Set();
  #dependent = false;
  #sources = [];
  #dependents = [];
  #onabort = null;
  #onabortListener = null;

  constructor(key) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    super();
  }

  static abort(reason = undefined) {
    const signal = new AbortSignal(construct);
    signal.#aborted = true;
    signal.#reason = reason === undefined
      ? new DOMException("This signal is aborted.", "AbortError")
      : reason;
    return signal;
  }

  static timeout(milliseconds) {
    requiredArguments(arguments.length, 1, "AbortSignal.timeout");
    const ms = Number(milliseconds);
    if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER) {
      throw new TypeError("AbortSignal.timeout: milliseconds must be a non-negative finite number");
    }
    const setTimeout = globalThis.setTimeout;
    if (typeof setTimeout !== "function") {
      throw new DOMException("AbortSignal.timeout needs timers, which this worker does not have", "NotSupportedError");
    }
    const signal = new AbortSignal(construct);
    setTimeout(() => {
      signalAbort(signal, new DOMException("The operation timed out.", "TimeoutError"));
    }, Math.trunc(ms));
    return signal;
  }

  static any(signals) {
    requiredArguments(arguments.length, 1, "AbortSignal.any");
    const list = [...signals];
    for (const s of list) {
      if (!(s instanceof AbortSignal)) throw new TypeError("AbortSignal.any: not an AbortSignal");
    }
    const result = new AbortSignal(construct);
    for (const s of list) {
      if (s.#aborted) {
        result.#aborted = true;
        result.#reason = s.#reason;
        return result;
      }
    }
    result.#dependent = true;
    for (const s of list) {
      const sources = s.#dependent ? s.#sources : [s];
      for (const source of sources) {
        if (!result.#sources.includes(source)) {
          result.#sources.push(source);
          source.#dependents.push(result);
        }
      }
    }
    return result;
  }

  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  get onabort() { return this.#onabort; }
  set onabort(handler) {
    this.#onabort = typeof handler === "function" || (typeof handler === "object" && handler !== null)
      ? handler
      : null;
    if (this.#onabortListener === null) {
      this.#onabortListener = (event) => {
        const h = this.#onabort;
        if (typeof h === "function") h.call(this, event);
      };
      this.addEventListener("abort", this.#onabortListener);
    }
  }

  static addAlgorithm(signal, algorithm) {
    if (!signal.#aborted) signal.#algorithms.add(algorithm);
  }
  static removeAlgorithm(signal, algorithm) {
    signal.#algorithms.delete(algorithm);
  }

  // DOM §3.2 "signal abort".
  static abortSignal(signal, reason) {
    if (signal.#aborted) return;
    signal.#aborted = true;
    signal.#reason = reason === undefined
      ? new DOMException("This signal is aborted.", "AbortError")
      : reason;
    const dependents = [];
    for (const dependent of signal.#dependents) {
      if (!dependent.#aborted) {
        dependent.#aborted = true;
        dependent.#reason = signal.#reason;
        dependents.push(dependent);
      }
    }
    AbortSignal.#runAbortSteps(signal);
    for (const dependent of dependents) AbortSignal.#runAbortSteps(dependent);
  }

  static #runAbortSteps(signal) {
    const algorithms = [...signal.#algorithms];
    signal.#algorithms.clear();
    for (const algorithm of algorithms) algorithm();
    signal.dispatchEvent(new Event("abort"));
  }
}

/** Aborts `signal` with `reason` (for the platform's own users: fetch). */
export const signalAbort = AbortSignal.abortSignal;
/** Runs `algorithm` when `signal` aborts (before its abort event). */
export const addAbortAlgorithm = AbortSignal.addAlgorithm;
export const removeAbortAlgorithm = AbortSignal.removeAlgorithm;
delete AbortSignal.abortSignal;
delete AbortSignal.addAlgorithm;
delete AbortSignal.removeAlgorithm;
tag(AbortSignal);
unclonable.add(AbortSignal.prototype);

export class AbortController {
  #signal = new AbortSignal(construct);
  get signal() { return this.#signal; }
  abort(reason = undefined) {
    signalAbort(this.#signal, reason);
  }
}
tag(AbortController);
unclonable.add(AbortController.prototype);
