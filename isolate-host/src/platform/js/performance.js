// performance (High Resolution Time): `now()` reads the worker's frozen
// clock (a native), `timeOrigin` is 0, as in Cloudflare Workers.

import { tag, unclonable } from "./internal.js";

const construct = Symbol("construct");
let clock;

export class Performance {
  constructor(key) {
    if (key !== construct) throw new TypeError("Illegal constructor");
  }
  get timeOrigin() { return 0; }
  now() { return clock(); }
  toJSON() { return { timeOrigin: this.timeOrigin }; }
}
tag(Performance);
unclonable.add(Performance.prototype);

/** The global `performance`, whose `now()` is `now` (the frozen clock). */
export function makePerformance(now) {
  clock = now;
  return new Performance(construct);
}
