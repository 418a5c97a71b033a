"""caplet's errors as Python exceptions, one class per family.

Every error has a stable snake_case `kind` (the same names as the broker's
reasons and `InvokeError.Kind`) and a one-line `message`. They are built
from what the broker sends: the Cap'n Proto exception type (`failed`,
`overloaded`, `disconnected`) and the reason, which by protocol starts with
the kind and a colon (`syntax_error: main.js:3:7: …`); or, for a worker
that ran and failed, the structured `InvokeError` of the results.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from .connection import Invocation

__all__ = [
    "CapletError",
    "CodeError",
    "InvokeError",
    "Refused",
    "Disconnected",
    "StorageError",
    "ToolError",
    "from_rpc",
]


class CapletError(Exception):
    """Base class of every error this package raises for caplet."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        """The stable snake_case kind, e.g. `syntax_error`."""
        self.message = message
        """The rest of the reason: one line naming the cause."""


class CodeError(CapletError):
    """The worker's code was refused before it ran: `syntax_error`,
    `module_not_found`, `module_too_large`, `bad_code`, `schema_error`,
    `entrypoint_not_found`."""


class InvokeError(CapletError):
    """The worker ran and failed: `exception`, `output_not_serializable`,
    `bad_input`, `never_settled`, `internal`, or a tripped limit
    (`cpu_limit_exceeded`, `memory_limit_exceeded`, `wall_time_exceeded`,
    `stack_overflow`, `output_too_large`, `subrequest_limit_exceeded`,
    `calls_in_flight_exceeded`, …). `invocation` holds the logs and stats,
    which survive the failure."""

    def __init__(
        self, kind: str, message: str, stack: str = "", invocation: Optional["Invocation"] = None
    ) -> None:
        super().__init__(kind, message)
        self.stack = stack
        """The JavaScript stack, when there is one."""
        self.invocation = invocation
        """The failed invocation's logs and stats."""

    LIMIT_KINDS = frozenset(
        {
            "cpu_limit_exceeded",
            "memory_limit_exceeded",
            "wall_time_exceeded",
            "stack_overflow",
            "output_too_large",
            "subrequest_limit_exceeded",
            "calls_in_flight_exceeded",
            "timer_limit_exceeded",
        }
    )

    @property
    def is_limit(self) -> bool:
        """Whether a limit tripped (the worker's module state was reset)."""
        return self.kind in self.LIMIT_KINDS


class Refused(CapletError):
    """The broker refused the request: `bad_grant`, `limit_too_high`,
    `id_conflict`, `overloaded` (no host free, too many calls, a quota),
    `unauthenticated`, `unavailable`; a per-principal quota answers
    `overloaded` with kind `quota_exceeded`."""


class Disconnected(CapletError):
    """The connection, the worker's isolate-host or an upstream went away
    (kind `disconnected`)."""


class StorageError(CapletError):
    """A built-in `fs` volume or `kv` store refused an operation: `not_found`,
    `exists`, `quota_exceeded`, `read_only`, `too_large`, `bad_path`, …"""


class ToolError(CapletError):
    """A tool of an upstream MCP server (`Builtin.mcp`) called from Python
    failed: `type_error` (the arguments do not match the tool's
    `inputSchema`; the message names the field), `tool_error` (the tool
    answered an error; the message is its text), `upstream` (the server
    refused the call)."""


_TOOL_KINDS = frozenset({"type_error", "tool_error", "upstream"})
_CODE_KINDS = frozenset(
    {
        "syntax_error",
        "module_not_found",
        "module_too_large",
        "bad_code",
        "schema_error",
        "entrypoint_not_found",
    }
)
_REFUSED_KINDS = frozenset(
    {
        "bad_grant",
        "limit_too_high",
        "id_conflict",
        "overloaded",
        "unauthenticated",
        "unavailable",
        "too_many_calls",
    }
)
_STORAGE_KINDS = frozenset(
    {
        "not_found",
        "exists",
        "not_a_directory",
        "is_a_directory",
        "not_empty",
        "read_only",
        "too_large",
        "bad_path",
        "bad_key",
        "bad_cursor",
        "too_many",
        "bad_name",
        "storage",
    }
)
_KIND = re.compile(r"^([a-z][a-z0-9_]*): ?(.*)$", re.DOTALL)
_PREFIXES = ("remote exception: ", "(remote):")


def split_reason(reason: str) -> "tuple[Optional[str], str]":
    """Splits a broker reason `kind: message` into its parts (kind None when
    the reason carries none). Only the first line is kept."""
    text = reason.strip()
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix) :].strip()
                stripped = True
    line = text.splitlines()[0] if text else ""
    match = _KIND.match(line)
    if match is None:
        return None, line
    return match.group(1), match.group(2)


def from_rpc(error: Any) -> CapletError:
    """The caplet error for a pycapnp `KjException` (or any exception)."""
    kj_type = str(getattr(error, "type", "") or "").upper()
    reason = str(getattr(error, "description", None) or error)
    kind, message = split_reason(reason)
    if kj_type == "DISCONNECTED":
        return Disconnected("disconnected", f"{kind}: {message}" if kind else message)
    if kj_type == "OVERLOADED":
        return Refused(kind or "overloaded", message)
    if kind is None:
        return CapletError("failed" if not kj_type else kj_type.lower(), message)
    if kind in _CODE_KINDS:
        return CodeError(kind, message)
    if kind in _REFUSED_KINDS:
        return Refused(kind, message)
    if kind in _STORAGE_KINDS:
        return StorageError(kind, message)
    if kind in _TOOL_KINDS:
        return ToolError(kind, message)
    return CapletError(kind, message)
