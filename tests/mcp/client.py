"""Drives `caplet mcp` with the official MCP Python SDK's client, over stdio
or streamable HTTP, and prints one JSON report on stdout for tests/all/mcp.rs to
check. Usage:

    client.py stdio CAPLET DATA_DIR     # starts `caplet mcp` itself
    client.py http URL TOKEN            # a running `caplet mcp --http`
    client.py upstream CAPLET DATA_DIR CONFIG PID_FILE
                                        # `caplet mcp --config CONFIG`
                                        # granting the upstream of
                                        # upstream.py, which it kills
"""

import asyncio
import json
import os
import queue
import signal
import sys
import threading

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

# A script using both grants: it writes and reads a file, stores and reads
# back a key, logs a line and returns a value.
SCRIPT = """
const bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
await env.fs.write({ path: "/notes/todo.txt", content: bytes("buy milk"), createParents: true });
const file = await env.fs.read({ path: "/notes/todo.txt" });
const text = String.fromCharCode(...file.content);
await env.kv.put({ key: "todo", value: file.content });
const stored = await env.kv.get({ key: "todo" });
console.log("read", text);
return { text, found: stored.found, size: stored.value.length };
"""

ARROW = "async (env) => { const r = await env.kv.get({ key: 'todo' }); return r.found; }"

MODULE = "export default { async run(input, env) { return 40 + 2; } };"


def summary(result):
    """The parts of a tool result a test checks."""
    return {
        "is_error": bool(result.is_error),
        "structured": result.structured_content,
        "text": [c.text for c in result.content if c.type == "text"],
    }


async def exercise(session):
    await session.initialize()
    report = {}
    tools = await session.list_tools()
    report["tools"] = {t.name: t.description for t in tools.tools}
    report["execute_schema"] = next(t.input_schema for t in tools.tools if t.name == "execute")
    found = await session.call_tool("search", {"query": "read a file"})
    report["search"] = found.content[0].text
    report["script"] = summary(await session.call_tool("execute", {"code": SCRIPT}))
    report["arrow"] = summary(await session.call_tool("execute", {"code": ARROW}))
    report["module"] = summary(await session.call_tool("execute", {"code": MODULE}))
    report["syntax"] = summary(await session.call_tool("execute", {"code": "return (1 +;"}))
    report["thrown"] = summary(
        await session.call_tool("execute", {"code": "console.warn('about to'); throw new Error('boom')"})
    )
    report["cpu"] = summary(await session.call_tool("execute", {"code": "while (true) {}"}))
    big = "return 'x'.repeat(30000)"
    report["big"] = summary(await session.call_tool("execute", {"code": big}))
    # Several at once: each in its own worker.
    many = await asyncio.gather(
        *(session.call_tool("execute", {"code": f"return {i} * 2"}) for i in range(4))
    )
    report["concurrent"] = [summary(r)["structured"]["result"] for r in many]
    return report


async def over_stdio(caplet, data):
    server = StdioServerParameters(
        command=caplet,
        args=["mcp", "--grant", "fs=fs:notes", "--grant", "kv=kv:main",
              "--data", data, "--limit-default", "cpuTimeMs=200"],
    )
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            return await exercise(session)


async def over_http(url, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                return await exercise(session)


# The "done when": one script reads a file, calls two upstream
# tools and stores a key; it returns only what is needed.
UPSTREAM_SCRIPT = """
const file = await env.fs.read({ path: "/in/numbers.txt" });
const [a, b] = new TextDecoder().decode(file.content).split(",").map(Number);
const sum = await env.calc.add({ a, b });
const hello = await env.calc.greet({ name: "ada" });
await env.kv.put({ key: "sum", value: new TextEncoder().encode(String(sum.total)) });
return { total: sum.total, hello: hello.result };
"""

SEED = """
await env.fs.write({ path: "/in/numbers.txt", content: new TextEncoder().encode("2,40"), createParents: true });
return true;
"""

# Bad arguments are refused before the upstream is called, as a TypeError;
# a tool that fails rejects with an RpcError.
BAD_ARGS = """
const ok = await env.calc.add({ a: 1, b: 2 });
let bad, failed;
try { await env.calc.add({ a: "two", b: 1 }); } catch (e) { bad = { name: e.name, message: e.message }; }
try { await env.calc.fail({ reason: "nope" }); } catch (e) { failed = { name: e.name, type: e.type, message: e.message }; }
const stored = await env.kv.get({ key: "sum" });
return { ok: ok.total, bad, failed, stored: new TextDecoder().decode(stored.value) };
"""

ADD = "return (await env.calc.add({ a: 20, b: 22 })).total;"


async def upstream(caplet, data, config, pid_file):
    # caplet's stderr, line by line: the broker says there when it has
    # started an upstream again.
    read_fd, write_fd = os.pipe()
    lines = queue.Queue()

    def pump():
        with os.fdopen(read_fd, "r", errors="replace") as stream:
            for line in stream:
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    errlog = os.fdopen(write_fd, "w")
    server = StdioServerParameters(
        command=caplet, args=["mcp", "--config", config, "--data", data]
    )
    report = {}
    async with stdio_client(server, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            report["execute"] = next(t.description for t in tools.tools if t.name == "execute")
            found = await session.call_tool("search", {"query": "add numbers"})
            report["search"] = found.content[0].text
            report["seed"] = summary(await session.call_tool("execute", {"code": SEED}))
            report["script"] = summary(await session.call_tool("execute", {"code": UPSTREAM_SCRIPT}))
            report["bad_args"] = summary(await session.call_tool("execute", {"code": BAD_ARGS}))
            # Kill the upstream: the next call is `disconnected` (or, if the
            # broker was quicker, answered by the restarted upstream) ...
            with open(pid_file) as f:
                first_pid = int(f.read())
            os.kill(first_pid, signal.SIGKILL)
            report["after_kill"] = summary(await session.call_tool("execute", {"code": ADD}))
            # ... and once the broker says the upstream is up again, calls
            # are answered.
            loop = asyncio.get_running_loop()
            while True:
                line = await loop.run_in_executor(None, lines.get, True, 60)
                if "is up again" in line:
                    break
            report["restarted"] = summary(await session.call_tool("execute", {"code": ADD}))
            with open(pid_file) as f:
                report["new_pid"] = int(f.read()) != first_pid
    return report


def main():
    mode = sys.argv[1]
    if mode == "stdio":
        report = asyncio.run(over_stdio(sys.argv[2], sys.argv[3]))
    elif mode == "upstream":
        report = asyncio.run(upstream(*sys.argv[2:6]))
    elif mode == "http":
        report = asyncio.run(over_http(sys.argv[2], sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
