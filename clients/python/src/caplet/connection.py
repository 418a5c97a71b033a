"""A connection to a caplet broker, the workers it loads, and their
invocations.

Everything here is asyncio on top of pycapnp. pycapnp needs its KJ event
loop running inside asyncio's: `connect` starts it when it is not running
yet and stops it when the last connection it started it for closes, so
`asyncio.run(main())` is enough. (`caplet.run(main())` does the same for
the whole of `main`.)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

import capnp

from . import _schemas
from .code import Builtin, InterfaceSchema, WorkerCode, new_message
from .errors import CapletError, InvokeError, from_rpc

__all__ = [
    "connect",
    "connect_tcp",
    "run",
    "Connection",
    "Worker",
    "Capability",
    "McpTools",
    "Invocation",
    "InvocationStream",
    "LogLine",
    "Stats",
]

T = TypeVar("T")


def run(main: Awaitable[T]) -> T:
    """Runs `main` in a new asyncio loop with pycapnp's event loop inside."""

    async def wrapped() -> T:
        return await main

    return asyncio.run(capnp.run(wrapped()))  # type: ignore[no-any-return]


async def _rpc(call: Awaitable[T]) -> T:
    """Awaits a pycapnp call, turning its exception into a caplet error."""
    try:
        return await call
    except capnp.KjException as e:
        raise from_rpc(e) from None


# ---- pycapnp's event loop ----------------------------------------------------

_kj_loops: Dict[int, Tuple[Any, int]] = {}


async def _enter_kj_loop() -> bool:
    """Starts pycapnp's event loop in this asyncio loop unless it runs.
    Returns whether this call started (or joined a loop started by) us."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    if key in _kj_loops:
        manager, count = _kj_loops[key]
        _kj_loops[key] = (manager, count + 1)
        return True
    if getattr(loop, "_kj_loop", None) is not None:
        return False
    manager = capnp.kj_loop()
    await manager.__aenter__()
    _kj_loops[key] = (manager, 1)
    return True


async def _leave_kj_loop() -> None:
    key = id(asyncio.get_running_loop())
    manager, count = _kj_loops[key]
    if count > 1:
        _kj_loops[key] = (manager, count - 1)
        return
    del _kj_loops[key]
    await manager.__aexit__(None, None, None)


# ---- results -----------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    """One console line of a worker: `level` is `debug`, `info`, `warn` or
    `error`."""

    level: str
    text: str

    @staticmethod
    def _read(reader: Any) -> "LogLine":
        return LogLine(str(reader.level), reader.text)


@dataclass(frozen=True)
class Stats:
    """Resource use of one invocation, measured in the isolate-host."""

    wall_time_us: int
    cpu_time_us: int
    peak_memory_bytes: int


@dataclass
class Invocation:
    """The result of one invocation: `output` is the worker's return value,
    already parsed from JSON."""

    output: Any
    output_json: str
    logs: List[LogLine] = field(default_factory=list)
    stats: Stats = field(default_factory=lambda: Stats(0, 0, 0))
    calls: List[Dict[str, Any]] = field(default_factory=list)
    calls_dropped: int = 0
    """Calls made beyond the call log's bounds, not in `calls`."""

    @staticmethod
    def _read(results: Any) -> "Invocation":
        logs = [LogLine._read(line) for line in results.logs]
        s = results.stats
        stats = Stats(s.wallTimeUs, s.cpuTimeUs, s.peakMemoryBytes)
        calls = _read_calls(results)
        dropped = int(results.callsDropped)
        if results._has("error"):
            error = results.error
            invocation = Invocation(None, "", logs, stats, calls, dropped)
            kind = _snake(str(error.kind))
            raise InvokeError(kind, error.message, error.stack, invocation)
        text = results.output
        return Invocation(json.loads(text) if text else None, text, logs, stats, calls, dropped)


def _read_calls(results: Any) -> List[Dict[str, Any]]:
    """The call log (`calls` of the results): one dict per capability call,
    with the keys `binding`, `interface`, `method`, `start_us`,
    `duration_us`, `params_bytes`, `results_bytes`, `outcome` (`ok` or the
    error kind) and `pipelined_on` (the index of the call it was pipelined
    on, or None)."""
    if not results._has("calls"):
        return []
    return [_read_call(r) for r in results.calls]


def _read_call(r: Any) -> Dict[str, Any]:
    """One `CallRecord` as a dict (see `_read_calls`)."""
    return {
        "binding": r.binding,
        "interface": r.interface,
        "method": r.method,
        "start_us": r.startUs,
        "duration_us": r.durationUs,
        "params_bytes": r.paramsBytes,
        "results_bytes": r.resultsBytes,
        "outcome": r.outcome,
        "pipelined_on": r.pipelinedOn if r.pipelinedOn >= 0 else None,
    }


def _snake(name: str) -> str:
    """`cpuLimitExceeded` → `cpu_limit_exceeded`."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


# ---- capabilities ------------------------------------------------------------


class Capability:
    """A Cap'n Proto capability, with the interface schema it implements
    when known: what `Connection.builtin` and `Worker.entrypoint` return.

    Call its methods as on the pycapnp capability (`await
    volume.read(path="/a")`); a failure raises the caplet error of its
    family (`StorageError`, `Disconnected`, …) instead of pycapnp's
    `KjException`. A call's result can be used before it is awaited:
    reading a capability field of it sends pipelined calls
    (`types.adder(start=1).adder.add(n=2)`). Grant it to a worker as it is.
    """

    def __init__(self, cap: Any, schema: Optional[InterfaceSchema] = None) -> None:
        self.cap = cap
        """The typed pycapnp capability."""
        self.schema = schema
        """Its interface schema, sent along when it is granted."""

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.cap, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> "_Call":
            return _Call(method(*args, **kwargs))

        return call


class _Call:
    """A call in flight: awaitable (errors become caplet errors), and its
    capability fields usable at once (pipelined)."""

    def __init__(self, promise: Any) -> None:
        self._promise = promise

    def __await__(self) -> Any:
        return _rpc(self._promise).__await__()

    def __getattr__(self, name: str) -> Capability:
        return Capability(getattr(self._promise, name))


class McpTools(Capability):
    """The tools of an upstream MCP server (`Builtin.mcp(name)`), as
    `Connection.builtin` returns them. `await tools.call("search",
    {"query": "tea"})` calls one: the broker checks the arguments against
    the tool's `inputSchema` (a mismatch raises `ToolError` with kind
    `type_error`, naming the field) and answers the tool's structured
    content, or its text, returned here parsed from JSON. A tool that fails
    raises `ToolError` with kind `tool_error`. Grant it to a worker as it
    is."""

    def __init__(self, cap: Any, schema: InterfaceSchema, loader: Any, tools: Tuple[str, ...]) -> None:
        super().__init__(cap, schema)
        # pycapnp's schemas of `cap` live in the loader: keep it as long.
        self._loader = loader
        self.tools = tools
        """The tools' names, in the order the server lists them."""

    @classmethod
    def _from_results(cls, results: Any) -> "McpTools":
        """Types the capability of a `Broker.builtin` answer for an `mcp`
        grant with the interface the broker made from the tool list."""
        compiled = results.interfaceSchema.compiled
        loader = capnp.SchemaLoader()
        names: Tuple[str, ...] = ()
        for node in compiled.nodes:
            loader.load_dynamic(node)
            if node.id == compiled.interfaceId:
                names = tuple(m.name for m in node.interface.methods)
        interface = loader.get(compiled.interfaceId).as_interface()
        typed = results.cap.as_interface(interface)
        return cls(typed, InterfaceSchema._from_reader(results.interfaceSchema), loader, names)

    async def call(self, tool: str, arguments: Optional[Mapping[str, Any]] = None) -> Any:
        """Calls `tool` with `arguments` (JSON values) and returns its
        result. A name the server does not list raises `ValueError`."""
        if tool not in self.tools:
            raise ValueError(f"no tool {tool!r}: the server lists {list(self.tools)}")
        text = json.dumps(dict(arguments or {}))
        results = await _rpc(self.cap._send(tool, arguments=text))
        return json.loads(results.json)


_BUILTIN_INTERFACES: Dict[str, Callable[[], Any]] = {
    "fs": lambda: _schemas.fs_capnp.Volume,
    "kv": lambda: _schemas.kv_capnp.Store,
    "http": lambda: _schemas.http_capnp.Gateway,
}


class _Sink(_schemas.caplet_capnp.LogSink.Server):  # type: ignore[misc]
    """The `LogSink` a streamed invocation hands the broker. Without
    `call`, pycapnp answers call records `unimplemented`, and the broker
    sends no more."""

    def __init__(self, queue: "asyncio.Queue[LogLine]") -> None:
        self.queue = queue

    async def write(self, line: Any, _context: Any, **kwargs: Any) -> None:
        self.queue.put_nowait(LogLine._read(line))


class _CallSink(_Sink):
    """A `_Sink` that also takes the call records (`LogSink.call`)."""

    def __init__(
        self, queue: "asyncio.Queue[LogLine]", on_call: Callable[[Dict[str, Any]], None]
    ) -> None:
        super().__init__(queue)
        self.on_call = on_call

    async def call(self, record: Any, _context: Any, **kwargs: Any) -> None:
        self.on_call(_read_call(record))


# ---- connection and workers --------------------------------------------------


async def connect(path: str) -> "Connection":
    """Connects to `caplet serve` on its Unix socket (`path`). The principal
    is this process's user (`unix:<uid>`)."""
    started = await _enter_kj_loop()
    try:
        stream = await capnp.AsyncIoStream.create_unix_connection(path)
    except OSError as e:
        if started:
            await _leave_kj_loop()
        raise ConnectionError(f"connect to {path}: {e.strerror or e}") from None
    client = capnp.TwoPartyClient(stream)
    broker = client.bootstrap().cast_as(_schemas.caplet_capnp.Broker)
    return Connection(client, broker, started)


async def connect_tcp(host: str, port: int, *, token: str) -> "Connection":
    """Connects to `caplet serve --listen` over TCP and authenticates with
    `token` (the principal is the token's name). A wrong token raises
    `Refused` with kind `unauthenticated`."""
    started = await _enter_kj_loop()
    try:
        stream = await capnp.AsyncIoStream.create_connection(host=host, port=port)
    except OSError as e:
        if started:
            await _leave_kj_loop()
        raise ConnectionError(f"connect to {host}:{port}: {e.strerror or e}") from None
    client = capnp.TwoPartyClient(stream)
    gatekeeper = client.bootstrap().cast_as(_schemas.caplet_capnp.Gatekeeper)
    try:
        # Waited for, never pipelined: until it succeeds the connection is
        # held to small messages.
        broker = (await _rpc(gatekeeper.authenticate(token))).broker
    except CapletError:
        connection = Connection(client, None, started)
        await connection.close()
        raise
    return Connection(client, broker, started)


class Connection:
    """One connection to a broker. Use it as `async with`, or call
    `close()`; workers loaded through it stop working once it is closed."""

    def __init__(self, client: Any, broker: Any, owns_loop: bool) -> None:
        self._client = client
        self._broker = broker
        self._owns_loop = owns_loop
        self._closed = False

    @property
    def broker(self) -> Any:
        """The raw pycapnp `Broker` capability, for what this package does
        not wrap."""
        return self._broker

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._broker = None
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - already closed by the peer
            pass
        self._client = None
        if self._owns_loop:
            await _leave_kj_loop()

    async def builtin(self, spec: Builtin) -> Capability:
        """A built-in capability (`Builtin.fs(...)`, `.kv(...)`,
        `.http(...)`, `.mcp(...)`: then an `McpTools`) to call from Python
        or to grant."""
        grant = new_message("BuiltinGrant")
        spec._fill(grant)
        results = await _rpc(self._broker.builtin(grant))
        if spec.kind == "mcp":
            return McpTools._from_results(results)
        typed = results.cap.as_interface(_BUILTIN_INTERFACES[spec.kind]())
        return Capability(typed, InterfaceSchema._from_reader(results.interfaceSchema))

    async def _code(self, code: WorkerCode) -> Any:
        resolved: List[Tuple[str, Any, InterfaceSchema]] = []
        for name, cap, schema in code.grants:
            if isinstance(cap, Builtin):
                cap = await self.builtin(cap)
            if isinstance(cap, Capability):
                chosen = schema or cap.schema
                if chosen is None:
                    raise ValueError(f"grant {name!r} needs a schema: pass schema=InterfaceSchema(...)")
                resolved.append((name, cap.cap, chosen))
            else:
                assert schema is not None
                resolved.append((name, cap, schema))
        message = new_message("WorkerCode")
        code._fill(message, resolved)
        return message

    async def load(self, code: Union[WorkerCode, str]) -> "Worker":
        """Compiles `code` into a fresh worker. Raises `CodeError` for bad
        code, `Refused` for bad grants, limits over the maxima, quotas and
        no free host."""
        if isinstance(code, str):
            code = WorkerCode(code)
        message = await self._code(code)
        return Worker((await _rpc(self._broker.load(message))).worker)

    async def types(self, code: WorkerCode) -> str:
        """The TypeScript declarations (`.d.ts`) of `code`'s `env`, as
        `caplet types` prints them (`Broker.types`): what a model needs to
        write the worker. An upstream MCP server's tools are declared from
        their JSON Schemas."""
        message = await self._code(code)
        return str((await _rpc(self._broker.types(message.env))).typescript)

    async def get(self, id: str, code: Union[WorkerCode, str]) -> "Worker":
        """Like `load`, but cached under `id` for this principal: the same id
        with the same code returns the worker already loaded (sharing its
        module state); with other code it raises `Refused` (`id_conflict`).
        The cache is per broker and best-effort."""
        if isinstance(code, str):
            code = WorkerCode(code)
        message = await self._code(code)
        return Worker((await _rpc(self._broker.get(id, message))).worker)

    async def run(
        self, source: Union[WorkerCode, str], input: Any = None, *, entrypoint: str = "run"
    ) -> "Invocation":
        """Loads a worker, invokes it once and returns the `Invocation`."""
        worker = await self.load(source)
        return await worker.invoke(entrypoint, input)


class Worker:
    """A loaded worker. It lives as long as this object (and its
    connection) do."""

    def __init__(self, cap: Any) -> None:
        self.cap = cap
        """The raw pycapnp `Worker` capability."""

    async def invoke(self, entrypoint: str = "run", input: Any = None) -> Invocation:
        """Calls `entrypoint` of the main module's default export with
        `input` (any JSON-able value). Raises `InvokeError` when the worker
        fails; its `invocation` keeps the logs and stats."""
        results = await _rpc(self.cap.invoke(entrypoint, json.dumps(input)))
        return Invocation._read(results)

    def invoke_stream(
        self,
        entrypoint: str = "run",
        input: Any = None,
        on_call: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> "InvocationStream":
        """Like `invoke`, but yields each log line while the worker runs::

            stream = worker.invoke_stream("run", data)
            async for line in stream:
                print(line.level, line.text)
            print(stream.result.output)

        With `on_call`, each record of the call log (a dict as in
        `Invocation.calls`) is passed to it while the worker runs: in the
        order the calls started, each once it and every call before it were
        answered, all before the stream ends (the `n`th is `calls[n]`)."""
        return InvocationStream(self, entrypoint, json.dumps(input), on_call)

    async def entrypoint(self, export: str, schema: InterfaceSchema) -> Capability:
        """An export of the main module served as a typed capability of
        `schema`'s interface (`default` names the default export). Its
        methods are called like any pycapnp capability's, with pipelining,
        and it can be granted to another worker. After a limit trip rebuilds
        the worker's runtime it raises `Disconnected`: ask again."""
        message = new_message("InterfaceSchema")
        schema._fill(message)
        results = await _rpc(self.cap.entrypoint(export, message))
        return Capability(results.cap.as_interface(schema.interface), schema)


class InvocationStream:
    """An invocation whose log lines arrive while it runs. Iterate it with
    `async for`; afterwards `result` holds the `Invocation` (or iterating
    raised the `InvokeError`)."""

    def __init__(
        self,
        worker: Worker,
        entrypoint: str,
        input_json: str,
        on_call: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> None:
        self._worker = worker
        self._entrypoint = entrypoint
        self._input = input_json
        self._on_call = on_call
        self._result: Optional[Invocation] = None

    @property
    def result(self) -> Invocation:
        """The finished invocation."""
        if self._result is None:
            raise RuntimeError("the invocation has not finished: iterate the stream first")
        return self._result

    async def __aiter__(self) -> AsyncIterator[LogLine]:
        queue: "asyncio.Queue[LogLine]" = asyncio.Queue()
        sink = _Sink(queue) if self._on_call is None else _CallSink(queue, self._on_call)
        call = asyncio.ensure_future(
            _rpc(self._worker.cap.invoke(self._entrypoint, self._input, sink))
        )
        try:
            while not call.done() or not queue.empty():
                if queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, call}, return_when=asyncio.FIRST_COMPLETED)
                    if getter in done:
                        yield getter.result()
                    else:
                        getter.cancel()
                else:
                    yield queue.get_nowait()
            # The sink's lines all arrive before the call returns.
            self._result = Invocation._read(call.result())
        finally:
            if not call.done():
                call.cancel()
