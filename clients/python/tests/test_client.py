"""The package against a real `caplet serve`: every API, every error class,
a Python capability with every Cap'n Proto type, pipelining into a JS
entrypoint, streamed logs, TCP with a token, and a server restart."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Awaitable, Callable, Dict, List, TypeVar

import pytest

import caplet
from caplet import (
    Builtin,
    CodeError,
    Disconnected,
    InterfaceSchema,
    InvokeError,
    Limits,
    Refused,
    StorageError,
    WorkerCode,
)

from conftest import Server

T = TypeVar("T")

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = InterfaceSchema.file(os.path.join(HERE, "types.capnp"), "Types")
ADDER = InterfaceSchema.file(os.path.join(HERE, "types.capnp"), "Adder")


def run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())


# ---- loading and invoking -------------------------------------------------------


def test_run_parses_input_and_output(server: Server) -> None:
    async def main() -> caplet.Invocation:
        async with await caplet.connect(server.socket) as conn:
            return await conn.run(
                "export default { run(x) { console.log('got', x.n); return {double: x.n * 2, list: [1, 'a', null]}; } }",
                input={"n": 21},
            )

    inv = run(main)
    assert inv.output == {"double": 42, "list": [1, "a", None]}
    assert inv.output_json == '{"double":42,"list":[1,"a",null]}'
    assert inv.logs == [caplet.LogLine("info", "got 21")]
    assert inv.stats.wall_time_us > 0
    assert inv.stats.peak_memory_bytes > 0


def test_load_with_modules_json_and_entrypoints(server: Server) -> None:
    code = WorkerCode(
        modules={
            "lib/util.js": "export const twice = (x) => x * 2;",
            "data.json": '{"base": 10}',
            "main.js": (
                "import { twice } from './lib/util.js'; import data from './data.json';"
                "let count = 0;"
                "export default { run: (x) => twice(x) + data.base, count: () => ++count };"
            ),
        },
        limits=Limits(cpu_time_ms=500, memory_bytes=32 << 20),
    )

    async def main() -> List[Any]:
        async with await caplet.connect(server.socket) as conn:
            worker = await conn.load(code)
            out = [(await worker.invoke("run", 5)).output]
            out.append((await worker.invoke("count")).output)
            out.append((await worker.invoke("count")).output)
            return out

    assert run(main) == [20, 1, 2]


def test_get_caches_by_id_and_refuses_other_code(server: Server) -> None:
    counter = "let n = 0; export default { run: () => ++n };"

    async def main() -> List[Any]:
        async with await caplet.connect(server.socket) as conn:
            a = await conn.get("counter", counter)
            b = await conn.get("counter", counter)
            out = [(await a.invoke()).output, (await b.invoke()).output]
            with pytest.raises(Refused) as refused:
                await conn.get("counter", "export default { run: () => 0 };")
            out.append(refused.value.kind)
            return out

    assert run(main) == [1, 2, "id_conflict"]


def test_builtin_volume_and_store_granted_and_called_from_python(server: Server) -> None:
    worker_js = """
    export default {
      async run(input, env) {
        await env.fs.write({ path: "/note.txt", content: new TextEncoderLite(input) });
        await env.kv.put({ key: "k", value: new Uint8Array([1, 2, 3]) });
        return (await env.fs.read({ path: "/note.txt" })).content.length;
      },
    };
    class TextEncoderLite { constructor(s) { return Uint8Array.from(s, (c) => c.charCodeAt(0)); } }
    """

    async def main() -> List[Any]:
        async with await caplet.connect(server.socket) as conn:
            code = WorkerCode(worker_js).grant("fs", Builtin.fs("workspace")).grant("kv", Builtin.kv("main"))
            inv = await conn.run(code, input="hello")
            volume = await conn.builtin(Builtin.fs("workspace"))
            content = (await volume.read(path="/note.txt")).content
            store = await conn.builtin(Builtin.kv("main"))
            value = (await store.get(key="k")).value
            # The same capability, obtained here, granted again.
            again = await conn.run(
                WorkerCode("export default { run: async (_, env) => (await env.v.stat({path: '/note.txt'})).entry.size }").grant("v", volume)
            )
            return [inv.output, content, value, again.output]

    assert run(main) == [5, b"hello", b"\x01\x02\x03", 5]


# ---- capabilities between Python and JavaScript --------------------------------


class Types(TYPES.interface.Server):  # type: ignore[misc]
    """Echoes every Cap'n Proto type back, so JS sees what Python sent."""

    async def echo(self, value: Any, _context: Any, **kwargs: Any) -> Any:
        return value

    async def adder(self, start: int, _context: Any, **kwargs: Any) -> Any:
        return Adder(start)


class Adder(ADDER.interface.Server):  # type: ignore[misc]
    def __init__(self, start: int) -> None:
        self.total = start

    async def add(self, n: int, _context: Any, **kwargs: Any) -> int:
        self.total += n
        return self.total


def test_a_python_capability_with_every_type(server: Server) -> None:
    worker_js = """
    export default {
      async run(_, env) {
        const value = {
          b: true, i8: -8, i16: -16, i32: -32, i64: -64n, u8: 8, u16: 16, u32: 32, u64: 64n,
          f32: 1.5, f64: 2.25, text: "héllo", data: new Uint8Array([0, 255]),
          color: "blue", ints: [1, 2, 3], texts: ["a", "b"],
          inner: { name: "in", tags: ["x"] }, inners: [{ name: "a", tags: [] }],
          choice: { num: 7 },
        };
        const { value: back } = await env.types.echo({ value });
        const adder = env.types.adder({ start: 10 }).adder;   // pipelined
        const sum = await adder.add({ n: 5 });
        return {
          same: JSON.stringify(back, (k, v) => typeof v === "bigint" ? v.toString() + "n" : v instanceof Uint8Array ? [...v] : v),
          sum: sum.total,
        };
      },
    };
    """

    async def main() -> Any:
        async with await caplet.connect(server.socket) as conn:
            code = WorkerCode(worker_js).grant("types", Types(), schema=TYPES)
            return (await conn.run(code)).output

    out = run(main)
    assert out["sum"] == 15
    assert out["same"] == (
        '{"b":true,"i8":-8,"i16":-16,"i32":-32,"i64":"-64n","u8":8,"u16":16,"u32":32,"u64":"64n",'
        '"f32":1.5,"f64":2.25,"text":"héllo","data":[0,255],"color":"blue","ints":[1,2,3],'
        '"texts":["a","b"],"inner":{"name":"in","tags":["x"]},"inners":[{"name":"a","tags":[]}],'
        '"choice":{"num":7}}'
    )


def test_pipelining_from_python_into_a_js_entrypoint(server: Server) -> None:
    worker_js = """
    let made = 0;
    class Adder { constructor(n) { this.total = n; } add({ n }) { this.total += n; return { total: this.total }; } }
    export const types = {
      echo: ({ value }) => ({ value }),
      adder: ({ start }) => { made++; return { adder: new Adder(start) }; },
    };
    export default { run: () => made };
    """

    async def main() -> List[Any]:
        async with await caplet.connect(server.socket) as conn:
            worker = await conn.load(worker_js)
            types = await worker.entrypoint("types", TYPES)
            adder = types.adder(start=1).adder  # not awaited: pipelined
            first, second = await asyncio.gather(adder.add(n=2), adder.add(n=3))
            made = (await worker.invoke()).output
            return [first.total, second.total, made]

    assert run(main) == [3, 6, 1]


def test_invoke_stream_yields_lines_while_the_worker_runs(server: Server) -> None:
    worker_js = """
    export default {
      async run(n, env) {
        for (let i = 0; i < n; i++) { console.log("line", i); await env.types.echo({ value: { choice: { none: null } } }); }
        console.warn("done");
        return n;
      },
    };
    """

    async def main() -> List[Any]:
        async with await caplet.connect(server.socket) as conn:
            worker = await conn.load(WorkerCode(worker_js).grant("types", Types(), schema=TYPES))
            stream = worker.invoke_stream("run", 3)
            seen = []
            async for line in stream:
                seen.append((line.level, line.text))
            return [seen, stream.result.output, len(stream.result.logs)]

    seen, output, kept = run(main)
    assert seen == [("info", "line 0"), ("info", "line 1"), ("info", "line 2"), ("warn", "done")]
    assert output == 3
    assert kept == 4


# ---- errors, one class per family ------------------------------------------------


def test_each_error_class(server: Server) -> None:
    async def main() -> List[Any]:
        out: List[Any] = []
        async with await caplet.connect(server.socket) as conn:
            with pytest.raises(CodeError) as code_error:
                await conn.load("export default {")
            out.append(code_error.value.kind)
            with pytest.raises(CodeError) as missing:
                await conn.load("import x from './nope.js'; export default {};")
            out.append(missing.value.kind)
            with pytest.raises(Refused) as too_high:
                await conn.load(WorkerCode("export default {}", limits=Limits(cpu_time_ms=10**9)))
            out.append(too_high.value.kind)
            with pytest.raises(Refused) as bad_grant:
                await conn.builtin(Builtin.http("no-such-policy"))
            out.append(bad_grant.value.kind)
            with pytest.raises(InvokeError) as thrown:
                await conn.run("export default { run() { console.log('before'); throw new TypeError('boom'); } }")
            out += [thrown.value.kind, thrown.value.message, thrown.value.is_limit]
            assert thrown.value.invocation is not None
            out.append([line.text for line in thrown.value.invocation.logs])
            with pytest.raises(InvokeError) as cpu:
                await conn.run(WorkerCode("export default { run() { for (;;) {} } }", limits=Limits(cpu_time_ms=50)))
            out += [cpu.value.kind, cpu.value.is_limit]
            volume = await conn.builtin(Builtin.fs("errors"))
            with pytest.raises(StorageError) as not_found:
                await volume.read(path="/missing")
            out.append(not_found.value.kind)
        return out

    assert run(main) == [
        "syntax_error",
        "module_not_found",
        "limit_too_high",
        "bad_grant",
        "exception",
        "TypeError: boom",
        False,
        ["before"],
        "cpu_limit_exceeded",
        True,
        "not_found",
    ]


def test_disconnected_on_restart_and_a_new_connection_works(server: Server) -> None:
    async def main() -> List[Any]:
        conn = await caplet.connect(server.socket)
        worker = await conn.load("export default { run: () => 'up' }")
        out: List[Any] = [(await worker.invoke()).output]
        server.restart()
        with pytest.raises(Disconnected) as lost:
            await worker.invoke()
        out.append(lost.value.kind)
        await conn.close()
        async with await caplet.connect(server.socket) as again:
            out.append((await again.run("export default { run: () => 'back' }")).output)
        return out

    assert run(main) == ["up", "disconnected", "back"]


# ---- TCP ---------------------------------------------------------------------------


def test_tcp_with_a_token(tcp_server: Server) -> None:
    assert tcp_server.tcp is not None
    host, port = tcp_server.tcp.rsplit(":", 1)

    async def main() -> List[Any]:
        out: List[Any] = []
        with pytest.raises(Refused) as refused:
            await caplet.connect_tcp(host, int(port), token="wrong")
        out.append(refused.value.kind)
        async with await caplet.connect_tcp(host, int(port), token="alice-token-0123456789") as conn:
            out.append((await conn.run("export default { run: (x) => x + 1 }", input=1)).output)
        return out

    assert run(main) == ["unauthenticated", 2]


def test_run_helper_and_errors_for_bad_arguments(server: Server) -> None:
    async def main() -> Any:
        async with await caplet.connect(server.socket) as conn:
            return (await conn.run("export default { run: () => 7 }")).output

    assert caplet.run(main()) == 7
    with pytest.raises(ValueError, match="needs a schema"):
        WorkerCode("export default {}").grant("x", object())
    with pytest.raises(ValueError, match="main module"):
        WorkerCode(modules={"a.js": ""}, main="b.js")
    with pytest.raises(ValueError, match="file.capnp:Interface"):
        InterfaceSchema.source("", "NoColon")


def test_connect_to_a_missing_socket_names_it() -> None:
    async def main() -> None:
        await caplet.connect("/nonexistent/caplet.sock")

    with pytest.raises(ConnectionError, match="/nonexistent/caplet.sock"):
        run(main)


def test_shipped_schemas_match_the_repository() -> None:
    shipped = os.path.join(os.path.dirname(caplet.__file__), "schema")
    repo = os.path.join(HERE, "..", "..", "..", "schema")
    for name in ("caplet.capnp", "fs.capnp", "kv.capnp", "http.capnp", "mcp.capnp"):
        with open(os.path.join(shipped, name)) as a, open(os.path.join(repo, name)) as b:
            assert a.read() == b.read(), f"{name} differs: copy schema/{name} into clients/python/src/caplet/schema/"


def test_an_entrypoint_after_a_limit_trip_is_disconnected_and_can_be_asked_again(server: Server) -> None:
    worker_js = """
    export const types = {
      echo: ({ value }) => ({ value }),
      adder: ({ start }) => ({ adder: { add: ({ n }) => ({ total: start + n }) } }),
    };
    export default { run() { for (;;) {} } };
    """

    async def main() -> List[Any]:
        async with await caplet.connect(server.socket) as conn:
            worker = await conn.load(WorkerCode(worker_js, limits=Limits(cpu_time_ms=50)))
            types = await worker.entrypoint("types", TYPES)
            out: List[Any] = [(await types.adder(start=1).adder.add(n=1)).total]
            with pytest.raises(InvokeError) as cpu:
                await worker.invoke()
            out.append(cpu.value.kind)
            with pytest.raises(Disconnected):
                await types.adder(start=1).adder.add(n=2)
            again = await worker.entrypoint("types", TYPES)
            out.append((await again.adder(start=1).adder.add(n=3)).total)
            return out

    assert run(main) == [2, "cpu_limit_exceeded", 4]


class Failing(TYPES.interface.Server):  # type: ignore[misc]
    """Answers `adder` with a failure."""

    async def echo(self, value: Any, _context: Any, **kwargs: Any) -> Any:
        return value

    async def adder(self, start: int, _context: Any, **kwargs: Any) -> Any:
        raise ValueError("no adder today")


def test_the_call_log_from_python(server: Server) -> None:
    worker_js = """
    export default {
      async run(_, env) {
        const adder = env.types.adder({ start: 1 }).adder;   // call 0
        const sum = adder.add({ n: 2 });                      // call 1, pipelined on 0
        const { total } = await sum;
        const got = await env.types.adder({ start: 5 });      // call 2
        const later = await got.adder.add({ n: 1 });          // call 3, on a returned capability
        let failed = null;
        try { await env.broken.adder({ start: 0 }); } catch (e) { failed = e.type; }  // call 4
        return [total, later.total, failed];
      },
    };
    """

    streamed: List[Dict[str, Any]] = []

    async def main() -> caplet.Invocation:
        async with await caplet.connect(server.socket) as conn:
            code = WorkerCode(worker_js).grant("types", Types(), schema=TYPES).grant("broken", Failing(), schema=TYPES)
            first = await conn.run(code)
            # Streamed live (`LogSink.call`): the same records, in order.
            worker = await conn.load(code)
            stream = worker.invoke_stream("run", None, on_call=streamed.append)
            async for _ in stream:
                pass
            live = stream.result
            assert streamed == live.calls
            assert live.calls_dropped == 0
            return first

    inv = run(main)
    assert inv.output == [3, 6, "failed"]
    assert inv.calls_dropped == 0
    assert [(c["method"], c["outcome"], c["pipelined_on"]) for c in streamed] == [
        (c["method"], c["outcome"], c["pipelined_on"]) for c in inv.calls
    ]
    summary = [(c["binding"], c["interface"], c["method"], c["outcome"], c["pipelined_on"]) for c in inv.calls]
    assert summary == [
        ("types", "Types", "adder", "ok", None),
        ("types", "Adder", "add", "ok", 0),
        ("types", "Types", "adder", "ok", None),
        ("types", "Adder", "add", "ok", None),
        ("broken", "Types", "adder", "failed", None),
    ]
    starts = [c["start_us"] for c in inv.calls]
    assert starts == sorted(starts), starts
    assert all(c["params_bytes"] > 0 for c in inv.calls)
