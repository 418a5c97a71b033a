"""What a worker is made of: its modules, limits and grants.

`WorkerCode` is a plain Python description; the connection turns it into
the schema's `WorkerCode` when it loads the worker (built-in grants are
resolved there, with one `Broker.builtin` call each).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from . import _schemas

__all__ = ["Limits", "InterfaceSchema", "Builtin", "WorkerCode"]


@dataclass(frozen=True)
class Limits:
    """Per-worker resource limits; 0 (the default) means the broker's default.

    Values above the broker's maxima make the load fail with `Refused`
    (`limit_too_high`). Units are in each name.
    """

    memory_bytes: int = 0
    cpu_time_ms: int = 0
    wall_time_ms: int = 0
    stack_bytes: int = 0
    module_bytes: int = 0
    output_bytes: int = 0
    log_bytes: int = 0
    subrequests: int = 0
    calls_in_flight: int = 0
    pending_timers: int = 0

    def _fill(self, builder: Any) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value < 0:
                raise ValueError(f"Limits.{field.name} must not be negative, got {value}")
            head, *rest = field.name.split("_")
            setattr(builder, head + "".join(part.title() for part in rest), value)


class InterfaceSchema:
    """The Cap'n Proto interface a granted capability implements, so that
    JavaScript can call it with plain objects.

    Make one from `.capnp` source with `InterfaceSchema.source(text,
    "file.capnp:Interface")` or `InterfaceSchema.file(path, "Interface")`.
    The schema is also loaded into pycapnp, so `interface` is the typed
    pycapnp interface (useful to subclass `.Server` or to type a capability
    the worker serves).
    """

    def __init__(
        self,
        files: Mapping[str, str],
        interface_name: str,
        compiled: Any = None,
    ) -> None:
        self.files: Dict[str, str] = dict(files)
        """The schema files by name."""
        self.interface_name = interface_name
        """`file.capnp:Interface` (or `file.capnp:Outer.Inner`)."""
        self._compiled = compiled
        self._module: Any = None
        self._path: Optional[str] = None

    @classmethod
    def source(cls, text: str, interface: str, *, imports: Optional[Mapping[str, str]] = None) -> "InterfaceSchema":
        """A schema from `.capnp` source text. `interface` is
        `file.capnp:Interface`; `imports` adds more files by name, for
        `import "other.capnp"`."""
        file_name, sep, name = interface.partition(":")
        if not sep or not file_name or not name:
            raise ValueError(f"interface must be `file.capnp:Interface`, got {interface!r}")
        files = {file_name: text}
        files.update(imports or {})
        return cls(files, interface)

    @classmethod
    def file(cls, path: Union[str, "os.PathLike[str]"], interface: str) -> "InterfaceSchema":
        """A schema from a `.capnp` file on disk; `interface` is the
        interface's name within it (`Inventory` or `Outer.Inner`)."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        schema = cls.source(text, f"{os.path.basename(os.fspath(path))}:{interface}")
        schema._path = os.fspath(path)
        return schema

    @classmethod
    def _from_reader(cls, reader: Any) -> "InterfaceSchema":
        """Keeps a schema the broker sent (as `Broker.builtin` returns it)."""
        return cls({}, "", compiled=reader)

    @property
    def interface(self) -> Any:
        """The pycapnp interface type this schema names."""
        if self._module is None:
            if self._compiled is not None:
                raise ValueError("a compiled schema from the broker has no pycapnp type here")
            file_name = self.interface_name.partition(":")[0]
            if self._path is None:
                # pycapnp loads files only: write the source out once.
                folder = tempfile.mkdtemp(prefix="caplet-schema-")
                for other, text in self.files.items():
                    target = os.path.join(folder, other)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "w", encoding="utf-8") as f:
                        f.write(text)
                self._path = os.path.join(folder, file_name)
            self._module = _schemas.load(self._path)
        node = self._module
        for part in self.interface_name.partition(":")[2].split("."):
            node = getattr(node, part)
        return node

    def _fill(self, builder: Any) -> None:
        if self._compiled is not None:
            which = self._compiled.which()
            if which == "source":
                builder.source = self._compiled.source
            else:
                builder.compiled = self._compiled.compiled
            return
        source = builder.init("source")
        source.interfaceName = self.interface_name
        files = source.init("files", len(self.files))
        for i, (name, text) in enumerate(self.files.items()):
            files[i].name = name
            files[i].text = text


@dataclass(frozen=True)
class Builtin:
    """A built-in capability the broker serves, to grant or to call:
    `Builtin.fs("workspace")`, `Builtin.fs("docs", read_only=True)`,
    `Builtin.kv("main")`, `Builtin.http("github")` (an egress policy of the
    broker's `caplet.toml`), `Builtin.mcp("shop")` (an upstream MCP server
    of it)."""

    kind: str
    name: str
    read_only: bool = False

    @staticmethod
    def fs(name: str, read_only: bool = False) -> "Builtin":
        """A file volume of this principal."""
        return Builtin("fs", name, read_only)

    @staticmethod
    def kv(name: str) -> "Builtin":
        """A key/value store of this principal."""
        return Builtin("kv", name)

    @staticmethod
    def http(policy: str) -> "Builtin":
        """The outbound HTTP gateway bound to a named policy. Granted as
        `fetch`, it also gives the worker a global `fetch()`."""
        return Builtin("http", policy)

    @staticmethod
    def mcp(server: str) -> "Builtin":
        """The tools of the upstream MCP server `[mcp_servers.<server>]` of
        the broker's `caplet.toml`, one method per tool: a worker calls
        `await env.<binding>.<tool>(args)`. From Python,
        `Connection.builtin` returns them as `McpTools`. The broker starts
        the server at the first grant; one it cannot reach is refused
        (`unavailable`)."""
        return Builtin("mcp", server)

    def _fill(self, builder: Any) -> None:
        if self.kind not in ("fs", "kv", "http", "mcp"):
            raise ValueError(f"unknown built-in kind {self.kind!r}: fs, kv, http or mcp")
        builder.kind = self.kind
        builder.name = self.name
        builder.readOnly = self.read_only


Grant = Tuple[str, Any, Optional[InterfaceSchema]]


class WorkerCode:
    """A worker's modules, limits, policy and grants.

    `WorkerCode(source)` is a one-module worker named `main`. With `modules`
    (names to sources) the worker has several; `main` names the one whose
    default export is invoked. A module whose name ends in `.json` is a JSON
    document. `grant()` returns the code, so calls chain::

        code = WorkerCode(src).grant("fs", Builtin.fs("workspace"))
    """

    def __init__(
        self,
        source: Optional[str] = None,
        *,
        main: str = "main.js",
        modules: Optional[Mapping[str, str]] = None,
        limits: Optional[Limits] = None,
        principal: str = "",
        allow_eval: bool = False,
    ) -> None:
        self.modules: Dict[str, str] = dict(modules or {})
        if source is not None:
            if main in self.modules:
                raise ValueError(f"module {main!r} is given both as source and in modules")
            self.modules = {main: source, **self.modules}
        if not self.modules:
            raise ValueError("a worker needs at least one module: pass source or modules")
        if main not in self.modules:
            raise ValueError(f"main module {main!r} is not among the modules {sorted(self.modules)}")
        self.main = main
        self.limits = limits or Limits()
        self.principal = principal
        self.allow_eval = allow_eval
        self.grants: List[Grant] = []

    def grant(self, binding: str, cap: Any, schema: Optional[InterfaceSchema] = None) -> "WorkerCode":
        """Grants `cap` to the worker as `env.<binding>`.

        `cap` is a `Builtin`, a capability from `Connection.builtin()` (its
        schema comes with it), or any pycapnp capability or server object
        together with its `schema`.
        """
        if any(name == binding for name, _, _ in self.grants):
            raise ValueError(f"binding {binding!r} is granted twice")
        carries_schema = isinstance(getattr(cap, "__dict__", {}).get("schema"), InterfaceSchema)
        if schema is None and not isinstance(cap, Builtin) and not carries_schema:
            raise ValueError(f"grant {binding!r} needs a schema: pass schema=InterfaceSchema(...)")
        self.grants.append((binding, cap, schema))
        return self

    def _fill(self, builder: Any, resolved: List[Tuple[str, Any, InterfaceSchema]]) -> None:
        builder.mainModule = self.main
        modules = builder.init("modules", len(self.modules))
        for i, (name, text) in enumerate(self.modules.items()):
            modules[i].name = name
            modules[i].kind = "json" if name.endswith(".json") else "js"
            modules[i].source = text
        env = builder.init("env", len(resolved))
        for i, (name, cap, schema) in enumerate(resolved):
            env[i].name = name
            env[i].cap = cap
            schema._fill(env[i].init("interfaceSchema"))
        self.limits._fill(builder.init("limits"))
        builder.init("policy").allowEval = self.allow_eval
        builder.principal = self.principal


def new_message(struct: str) -> Any:
    """A new builder of a struct of `caplet.capnp`."""
    return getattr(_schemas.caplet_capnp, struct).new_message()
