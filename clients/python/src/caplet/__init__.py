"""caplet for Python: load sandboxed JavaScript workers into a caplet
broker, grant them capabilities (built-in volumes and stores, or objects
served from Python), invoke them and stream their logs.

    import asyncio, caplet

    async def main():
        async with await caplet.connect("caplet.sock") as conn:
            inv = await conn.run("export default { run: (x) => x * 2 }", input=21)
            print(inv.output)  # 42

    asyncio.run(main())

Errors are exceptions with a stable `.kind`, one class per family:
`CodeError`, `InvokeError`, `Refused`, `Disconnected`, `StorageError`,
`ToolError`.
"""

from .code import Builtin, InterfaceSchema, Limits, WorkerCode
from .connection import (
    Capability,
    Connection,
    Invocation,
    InvocationStream,
    LogLine,
    McpTools,
    Stats,
    Worker,
    connect,
    connect_tcp,
    run,
)
from .route import Routed, Router
from .errors import CapletError, CodeError, Disconnected, InvokeError, Refused, StorageError, ToolError
from ._schemas import caplet_capnp, fs_capnp, http_capnp, kv_capnp

__all__ = [
    "Builtin",
    "Capability",
    "CapletError",
    "CodeError",
    "Connection",
    "Disconnected",
    "InterfaceSchema",
    "Invocation",
    "InvocationStream",
    "InvokeError",
    "Limits",
    "LogLine",
    "McpTools",
    "Refused",
    "Routed",
    "Router",
    "Stats",
    "StorageError",
    "ToolError",
    "Worker",
    "WorkerCode",
    "caplet_capnp",
    "connect",
    "connect_tcp",
    "fs_capnp",
    "http_capnp",
    "kv_capnp",
    "run",
]
