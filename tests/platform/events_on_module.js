// node:events' named exports beyond EventEmitter and once: on() as an
// async iterator (events queued before they are read, an `error` event
// rejecting it, `close` events ending it, an AbortSignal aborting it, break
// removing its listeners), listenerCount, getEventListeners,
// setMaxListeners.
import { EventEmitter, on, listenerCount, getEventListeners, setMaxListeners } from "node:events";

export default async function run() {
  const out = [];
  const e = new EventEmitter();
  setTimeout(() => {
    e.emit("data", 1, "a");
    e.emit("data", 2, "b");
    e.emit("end");
    e.emit("data", 3, "c");
  }, 1);
  const got = [];
  for await (const args of on(e, "data", { close: ["end"] })) got.push(args.join(""));
  out.push(got.join(","), String(listenerCount(e, "data")), String(listenerCount(e, "end")));

  const f = new EventEmitter();
  setTimeout(() => { f.emit("x", 1); f.emit("error", new Error("broken")); }, 1);
  const seen = [];
  try {
    for await (const [v] of on(f, "x")) seen.push(v);
  } catch (error) {
    seen.push(error.message);
  }
  out.push(seen.join(","), String(f.listenerCount("x")), String(f.listenerCount("error")));

  const g = new EventEmitter();
  const controller = new AbortController();
  setTimeout(() => { g.emit("tick", "t"); controller.abort(); }, 1);
  const ticks = [];
  try {
    for await (const [t] of on(g, "tick", { signal: controller.signal })) ticks.push(t);
  } catch (error) {
    ticks.push(error.name);
  }
  out.push(ticks.join(","), String(g.listenerCount("tick")));

  const h = new EventEmitter();
  setTimeout(() => { h.emit("n", 1); h.emit("n", 2); }, 1);
  for await (const [n] of on(h, "n")) {
    if (n === 2) break;
  }
  out.push(String(h.listenerCount("n")));

  const k = new EventEmitter();
  const listener = () => {};
  k.on("a", listener);
  out.push(String(getEventListeners(k, "a")[0] === listener));
  setMaxListeners(3, k);
  out.push(String(k.getMaxListeners()));
  return out;
}
