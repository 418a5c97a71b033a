"""An upstream MCP server written with the official Python SDK's MCPServer
(FastMCP in mcp 1.x), for tests/mcp.rs: caplet grants its tools to workers
as `mcp:calc`. It writes its process id to the file named by its first
argument, so a test can kill it. Usage:

    upstream.py PID_FILE
"""

import os
import sys

from pydantic import BaseModel

from mcp.server.mcpserver import MCPServer

server = MCPServer("calc")


class Sum(BaseModel):
    total: int
    terms: int


@server.tool()
def add(a: int, b: int) -> Sum:
    """Add two whole numbers."""
    return Sum(total=a + b, terms=2)


@server.tool()
def greet(name: str) -> str:
    """A greeting for `name`, as text."""
    return f"hello, {name}"


@server.tool()
def fail(reason: str) -> str:
    """Always fails with `reason`."""
    raise ValueError(reason)


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        f.write(str(os.getpid()))
    server.run("stdio")
