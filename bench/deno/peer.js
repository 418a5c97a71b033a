// The V8-isolate peer of caplet-bench: Deno Workers, each a V8 isolate with
// no permissions. Run by caplet-bench as
//   deno run --quiet --unstable-worker-options --allow-read=DIR peer.js MODE N [ARG]
// and prints one JSON line: {"samples": [seconds…]} or, for `density`,
// {"bytes_per_worker": [per batch…], "reached": N}.
//   cold N       new Worker + postMessage + reply + terminate, N times
//   warm N       postMessage + reply to one live worker, N times
//   fib N ARG    fib(ARG) in one live worker, N times
//   density N    N live idle workers (each answered once); RSS growth per worker
//   throughput C KIND SECS   C clients at once for SECS seconds, each either
//                sending messages to its own live worker (KIND warm) or
//                creating, messaging and terminating workers (KIND cold);
//                prints {"rate": ops/s, "samples": [latency of each op…],
//                "cores_busy": CPU seconds of this process per second}
import process from "node:process";

const [mode, countText, argText, secsText] = Deno.args;
const count = Number(countText);
const url = new URL("./worker.js", import.meta.url).href;

function spawn() {
  return new Worker(url, { type: "module", deno: { permissions: "none" } });
}

function ask(worker, message) {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage(message);
  });
}

async function expect(worker, message, want) {
  const got = await ask(worker, message);
  if (got !== want) throw new Error(`worker answered ${got}, expected ${want}`);
}

const samples = [];
if (mode === "cold") {
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const worker = spawn();
    await expect(worker, i, i);
    worker.terminate();
    samples.push((performance.now() - start) / 1e3);
  }
  console.log(JSON.stringify({ samples }));
} else if (mode === "warm" || mode === "fib") {
  const worker = spawn();
  const arg = Number(argText);
  const message = mode === "fib" ? { fib: arg } : 1;
  const want = mode === "fib" ? fibOf(arg) : 1;
  await expect(worker, message, want);
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await expect(worker, message, want);
    samples.push((performance.now() - start) / 1e3);
  }
  worker.terminate();
  console.log(JSON.stringify({ samples }));
} else if (mode === "density") {
  const batch = Math.max(1, Math.floor(count / 10));
  const live = [spawn()];
  await expect(live[0], 0, 0);
  const perWorker = [];
  while (live.length < count) {
    const size = Math.min(batch, count - live.length);
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < size; i++) {
      const worker = spawn();
      await expect(worker, i, i);
      live.push(worker);
    }
    perWorker.push((Deno.memoryUsage().rss - before) / size);
  }
  console.log(JSON.stringify({ bytes_per_worker: perWorker, reached: live.length }));
  for (const worker of live) worker.terminate();
} else if (mode === "throughput") {
  const warm = argText === "warm";
  const workers = [];
  for (let c = 0; warm && c < count; c++) {
    workers.push(spawn());
    await expect(workers[c], 0, 0);
  }
  let ops = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + Number(secsText) * 1e3;
  async function client(c) {
    for (let i = 1; performance.now() < deadline; i++) {
      const t = performance.now();
      if (warm) {
        await expect(workers[c], i, i);
      } else {
        const worker = spawn();
        await expect(worker, i, i);
        worker.terminate();
      }
      samples.push((performance.now() - t) / 1e3);
      ops++;
    }
  }
  const clients = [];
  for (let c = 0; c < count; c++) clients.push(client(c));
  await Promise.all(clients);
  const seconds = (performance.now() - start) / 1e3;
  const cpu = process.cpuUsage(cpuStart);
  const rate = ops / seconds;
  for (const worker of workers) worker.terminate();
  const cores_busy = (cpu.user + cpu.system) / 1e6 / seconds;
  console.log(JSON.stringify({ rate, samples, cores_busy }));
} else {
  throw new Error(`unknown mode ${mode}`);
}

function fibOf(n) {
  let a = 0, b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}
