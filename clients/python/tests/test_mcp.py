"""`Builtin.mcp` against a real `caplet serve` whose `caplet.toml` names an
upstream MCP server written with the official Python SDK
(`tests/mcp/typed.py` of the repository, run by this interpreter): granted
to a worker that calls two tools, one with bad arguments; called from
Python through `McpTools`; declared by `Connection.types`; and an unknown
server refused."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Awaitable, Callable, Dict, Iterator, List, TypeVar

import pytest

import caplet
from caplet import Builtin, McpTools, Refused, ToolError, WorkerCode

from conftest import ROOT, Server, make_server

T = TypeVar("T")

UPSTREAM = os.path.join(ROOT, "tests", "mcp", "typed.py")


def run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())


@pytest.fixture
def shop_server(tmp_path: Any) -> Iterator[Server]:
    """A broker with `[mcp_servers.shop]`: typed.py on this interpreter,
    which has the `mcp` package."""
    config = tmp_path / "caplet.toml"
    config.write_text(f"[mcp_servers.shop]\ncommand = [{sys.executable!r}, {UPSTREAM!r}]\n".replace("'", '"'))
    yield from make_server(["--config", str(config)])


WORKER = """
export default {
  async run(input, env) {
    const order = await env.shop.place_order({
      customer: input,
      lines: [{ sku: "tea", quantity: 2 }, { sku: "mug", quantity: 1, size: "large" }],
      ship_to: { street: "1 Main St", city: "Springfield" },
    });
    let refused = null;
    try {
      await env.shop.search({ query: "tea", limit: "two" });
    } catch (e) {
      refused = `${e.name}: ${e.message}`;
    }
    return { order, refused };
  },
};
"""


def test_a_worker_granted_an_upstream_calls_its_tools(shop_server: Server) -> None:
    async def main() -> caplet.Invocation:
        async with await caplet.connect(shop_server.socket) as conn:
            code = WorkerCode(WORKER).grant("shop", Builtin.mcp("shop"))
            return await conn.run(code, input="ann")

    inv = run(main)
    assert inv.output["order"] == {"id": 7, "total": 5.5, "lines": 2}
    refused = inv.output["refused"]
    assert refused.startswith("TypeError: "), refused
    assert 'field "limit"' in refused, refused
    # Both calls went through the broker and are in the call log, the bad
    # one with the kind of the broker's check.
    calls = [(c["binding"], c["method"], c["outcome"]) for c in inv.calls]
    assert calls == [("shop", "place_order", "ok"), ("shop", "search", "type_error")], inv.calls


def test_mcp_tools_called_from_python_and_granted(shop_server: Server) -> None:
    async def main() -> Dict[str, Any]:
        async with await caplet.connect(shop_server.socket) as conn:
            tools = await conn.builtin(Builtin.mcp("shop"))
            assert isinstance(tools, McpTools)
            out: Dict[str, Any] = {"tools": tools.tools}
            out["search"] = await tools.call("search", {"query": "cup", "limit": 2, "sort": "price"})
            with pytest.raises(ToolError) as bad:
                await tools.call("search", {"query": "cup", "sort": "size"})
            out["bad"] = bad.value
            with pytest.raises(ToolError) as failed:
                await tools.call("cancel", {"order_id": 7})
            out["failed"] = failed.value
            with pytest.raises(ValueError, match="no tool 'serch'"):
                await tools.call("serch", {"query": "cup"})
            # The same capability, granted to a worker as it is.
            inv = await conn.run(
                WorkerCode("export default { run: async (_, env) => (await env.t.search({ query: 'x', limit: 1 })).result }").grant(
                    "t", tools
                )
            )
            out["granted"] = inv.output
            return out

    out = run(main)
    assert out["tools"] == ("place_order", "search", "cancel")
    assert out["search"] == {"result": ["cup-1", "cup-0"]}
    bad = out["bad"]
    assert bad.kind == "type_error"
    assert 'field "sort"' in bad.message, bad.message
    failed = out["failed"]
    assert failed.kind == "tool_error"
    assert failed.message.startswith("cancel(): "), failed.message
    assert failed.message.endswith("order 7 has shipped"), failed.message
    assert out["granted"] == ["x-0"]


def test_types_declare_the_tools_from_their_json_schemas(shop_server: Server) -> None:
    async def main() -> str:
        async with await caplet.connect(shop_server.socket) as conn:
            code = WorkerCode("export default {}").grant("shop", Builtin.mcp("shop")).grant("kv", Builtin.kv("main"))
            return await conn.types(code)

    text = run(main)
    assert "interface Env {\n" in text, text
    assert "  kv: Store;\n" in text, text
    assert "  shop: ShopTools;\n" in text, text
    # As the worker calls them: JSON values in and out, nested models
    # written out; not the ToolCall/ToolResult interface of the wire.
    assert (
        "  search(args: { limit?: number; max_price?: number | null; query: string; "
        'sort?: "price" | "name"; tags?: Array<string>; }): Promise<{ result: Array<string>; }>;\n'
    ) in text, text
    assert "ship_to: { city: string; street: string; zip?: string | null; }" in text, text
    assert "ToolCall" not in text, text


def test_an_unknown_upstream_is_refused(shop_server: Server) -> None:
    async def main() -> List[str]:
        async with await caplet.connect(shop_server.socket) as conn:
            with pytest.raises(Refused) as refused:
                await conn.builtin(Builtin.mcp("nope"))
            return [refused.value.kind, refused.value.message]

    kind, message = run(main)
    assert kind == "bad_grant"
    assert "nope" in message, message
