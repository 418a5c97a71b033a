// Every node: module that would grant authority fails to import, under
// node:NAME and the bare name, with a message saying what to grant instead.
const REFUSED = ["fs", "fs/promises", "http", "https", "http2", "net", "tls", "dgram", "dns", "child_process",
  "cluster", "worker_threads", "os", "process", "v8", "vm", "inspector", "module", "readline", "repl", "tty",
  "perf_hooks", "async_hooks", "diagnostics_channel", "zlib", "stream", "sqlite"];

export default async function run() {
  const out = [];
  for (const name of REFUSED) {
    for (const specifier of [`node:${name}`, name]) {
      try {
        await import(specifier);
        out.push(`${specifier}: imported`);
      } catch (e) {
        out.push(`${specifier}: ${e.message}`);
      }
    }
  }
  return out;
}
