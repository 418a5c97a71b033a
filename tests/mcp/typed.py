"""An upstream MCP server written with the official Python SDK's MCPServer
(FastMCP in mcp 1.x) whose tools' input schemas cover what `caplet types`
has to declare: required and optional fields, string enums, integers and
numbers, booleans, arrays, nested objects (pydantic models, which the SDK
writes as `$defs` and `$ref`) and nullable fields; one tool always
fails. tests/all/typescript/upstream.rs grants it as `mcp:shop` and
checks the declarations with `tsc`; the Python package's tests call it
through a broker. Usage:

    typed.py
"""

from enum import Enum
from typing import Literal, Optional

from pydantic import BaseModel, Field

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("shop")


class Size(str, Enum):
    small = "small"
    large = "large"


class Address(BaseModel):
    street: str
    city: str
    zip: Optional[str] = None


class Line(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    size: Size = Size.small


class Order(BaseModel):
    id: int
    total: float
    lines: int


@server.tool()
def place_order(
    customer: str,
    lines: list[Line],
    ship_to: Address,
    express: bool = False,
    note: Optional[str] = None,
) -> Order:
    """Places an order of `lines` for `customer`, shipped to `ship_to`."""
    total = sum(line.quantity * (2.5 if line.size == Size.large else 1.5) for line in lines)
    return Order(id=7, total=total + (10.0 if express else 0.0), lines=len(lines))


@server.tool()
def search(
    query: str,
    sort: Literal["price", "name"] = "name",
    limit: int = 10,
    max_price: Optional[float] = None,
    tags: list[str] = [],
) -> list[str]:
    """Product names matching `query`, sorted by `sort`."""
    names = [f"{query}-{i}" for i in range(limit)]
    return sorted(names, reverse=sort == "price")


@server.tool()
def cancel(order_id: int) -> str:
    """Cancels order `order_id`: always fails, as the order has shipped."""
    # A ToolError's text reaches the client (other exceptions are hidden).
    raise ToolError(f"order {order_id} has shipped")


if __name__ == "__main__":
    server.run("stdio")
