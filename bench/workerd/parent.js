// The workerd peer of caplet-bench: a parent worker holding a Worker Loader
// binding (env.LOADER), driven over HTTP on a Unix socket by caplet-bench
// (bench/src/workerd.rs). Each request does one measured thing and answers
// with a value the bench checks:
//   /noop                  nothing (the HTTP round trip alone)
//   /cold?i=I              LOADER.load() of a fresh trivial worker + run(I)
//   /warm?n=N&i=I          N calls of run(I) on one loaded worker
//   /fib?n=ARG             fib(ARG) in one loaded worker
//   /load?from=A&to=B      LOADER.get of workers dA..dB-1, each run once;
//                          answers how many were loaded anew
//   /check?from=A&to=B     the same again: answers how many had to be
//                          loaded anew (0: all were still live)
//   /calls?n=N&inflight=K  a loaded worker makes N calls to ping() of the
//                          parent's Bench entrypoint, K in flight
import { WorkerEntrypoint } from "cloudflare:workers";

// The capability the dynamic workers call: an RPC entrypoint of this parent.
export class Bench extends WorkerEntrypoint {
  ping(n) {
    return n;
  }
}

const DATE = "2025-06-01";
const TRIVIAL = "export default { run(input) { return input; } };";
const FIB = `function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
export default { run(n) { return fib(n); } };`;
const CALLS = `export default {
  async run({ calls, inflight }, env) {
    let sent = 0, sum = 0;
    async function lane() {
      while (sent < calls) {
        sent++;
        const n = await env.BENCH.ping(1);
        sum += n;
      }
    }
    const lanes = [];
    for (let i = 0; i < inflight; i++) lanes.push(lane());
    await Promise.all(lanes);
    return sum;
  },
};`;

function code(source, env) {
  // No network for the dynamic worker (globalOutbound: null), as a caplet
  // worker has none unless granted.
  return { compatibilityDate: DATE, mainModule: "w.js", modules: { "w.js": source }, env, globalOutbound: null };
}

let loadedAnew = 0;

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const q = (name) => Number(url.searchParams.get(name));
    switch (url.pathname) {
      case "/noop":
        return new Response("noop");
      case "/cold": {
        const worker = env.LOADER.load(code(TRIVIAL));
        return new Response(String(await worker.getEntrypoint().run(q("i"))));
      }
      case "/warm": {
        const run = env.LOADER.get("warm", () => code(TRIVIAL)).getEntrypoint();
        let out;
        for (let k = 0; k < q("n"); k++) out = await run.run(q("i"));
        return new Response(String(out));
      }
      case "/fib": {
        const run = env.LOADER.get("fib", () => code(FIB)).getEntrypoint();
        return new Response(String(await run.run(q("n"))));
      }
      case "/load":
      case "/check": {
        let anew = 0;
        for (let i = q("from"); i < q("to"); i++) {
          const worker = env.LOADER.get(`d${i}`, () => {
            anew++;
            return code(TRIVIAL);
          });
          if ((await worker.getEntrypoint().run(i)) !== i) {
            return new Response(`worker d${i} answered wrong`, { status: 500 });
          }
        }
        return new Response(String(anew));
      }
      case "/calls": {
        const bench = ctx.exports.Bench({ props: {} });
        const run = env.LOADER.get("calls", () => code(CALLS, { BENCH: bench })).getEntrypoint();
        return new Response(String(await run.run({ calls: q("n"), inflight: q("inflight") })));
      }
      default:
        return new Response("unknown path", { status: 404 });
    }
  },
};
