#!/usr/bin/env python3
"""Code mode figures for BENCHMARKS.md.

1. Latency of `caplet mcp`'s `execute` over stdio: the time from writing a
   `tools/call` request to reading its response, for a trivial script and
   for a script making 10 capability calls (awaited one after another, on
   a kv grant), median and p90 over N runs each (after warm-up runs).
2. Token efficiency: the characters of `caplet types` for the built-ins
   (fs, kv, http) next to the characters of the equivalent MCP tool list
   (`caplet types --mcp-tool-list`: one tool per method, params and results
   as JSON Schema), and of the summary the tool descriptions carry.

Usage: scripts/bench-mcp.py [CAPLET] [N]   (default target/release/caplet, 200)
Plain JSON-RPC lines, no SDK, so the figures are caplet's own.
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time

CAPLET = sys.argv[1] if len(sys.argv) > 1 else "target/release/caplet"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
GRANTS = ["--grant", "fs=fs:bench", "--grant", "kv=kv:bench", "--grant", "fetch=http:example.com"]

TRIVIAL = "return 1"
TEN_CALLS = """
let found = 0;
for (let i = 0; i < 10; i++) {
  const r = await env.kv.get({ key: "k" + i });
  if (r.found) found++;
}
return found;
"""


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def execute_latency():
    data = tempfile.mkdtemp(prefix="caplet-bench-mcp-")
    proc = subprocess.Popen(
        [CAPLET, "mcp", "--data", data, *GRANTS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    next_id = [0]

    def call(method, params):
        next_id[0] += 1
        message = {"jsonrpc": "2.0", "id": next_id[0], "method": method, "params": params}
        start = time.perf_counter()
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        while True:
            answer = json.loads(proc.stdout.readline())
            if answer.get("id") == next_id[0]:
                return time.perf_counter() - start, answer

    call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "bench", "version": "0"}})
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    proc.stdin.flush()
    results = {}
    for name, code in [("trivial", TRIVIAL), ("10 calls", TEN_CALLS)]:
        times = []
        for i in range(N + 20):
            took, answer = call("tools/call", {"name": "execute", "arguments": {"code": code}})
            if answer.get("result", {}).get("isError") or "error" in answer:
                raise SystemExit(f"execute failed: {answer}")
            if name == "10 calls":
                assert len(answer["result"]["structuredContent"]["calls"]) == 10, answer
            if i >= 20:
                times.append(took * 1e6)
        results[name] = times
    proc.stdin.close()
    proc.wait()
    return results


def characters():
    out = {}
    decls = subprocess.run([CAPLET, "types", *GRANTS], capture_output=True, text=True, check=True).stdout
    tools = subprocess.run([CAPLET, "types", "--mcp-tool-list", *GRANTS],
                           capture_output=True, text=True, check=True).stdout
    out["declarations (with docs)"] = len(decls)
    summary, in_doc = [], False
    for line in decls.splitlines():
        t = line.strip()
        if in_doc:
            in_doc = not t.endswith("*/")
            continue
        if t.startswith("/**"):
            in_doc = not t.endswith("*/")
            continue
        if not t.startswith("///"):
            summary.append(line)
    out["declarations without docs (tool descriptions)"] = len("\n".join(summary) + "\n")
    listed = json.loads(tools)
    out[f"MCP tool list, {len(listed['tools'])} tools, input+output JSON Schema"] = len(tools.strip())
    for tool in listed["tools"]:
        tool.pop("outputSchema")
    out["MCP tool list, input JSON Schema only"] = len(json.dumps(listed, separators=(",", ":")))
    return out


def main():
    for name, times in execute_latency().items():
        print(f"execute over stdio, {name:8}: median {statistics.median(times):8.0f} µs, "
              f"p90 {percentile(times, 0.9):8.0f} µs  (n={len(times)})")
    for name, count in characters().items():
        print(f"{name:55}: {count:6} characters")


if __name__ == "__main__":
    main()
