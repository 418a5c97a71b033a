// navigator (HTML §8.9.1, the WorkerNavigator subset WinterTC names) and
// queueMicrotask (HTML §8.7).

import { reportError } from "./events.js";
import { requiredArguments, tag, unclonable } from "./internal.js";

const construct = Symbol("construct");

export class Navigator {
  #userAgent;
  constructor(key, userAgent) {
    if (key !== construct) throw new TypeError("Illegal constructor");
    this.#userAgent = userAgent;
  }
  get userAgent() { return this.#userAgent; }
}
tag(Navigator);
unclonable.add(Navigator.prototype);

export function makeNavigator(userAgent) {
  return new Navigator(construct, userAgent);
}

export function queueMicrotask(callback) {
  requiredArguments(arguments.length, 1, "queueMicrotask");
  if (typeof callback !== "function") {
    throw new TypeError("queueMicrotask: the callback is not a function");
  }
  Promise.resolve().then(() => {
    try {
      callback();
    } catch (error) {
      reportError(error);
    }
  });
}
