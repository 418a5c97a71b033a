"""Runs scripts through `caplet mcp --config CONFIG` with the official MCP
Python SDK's client, one `execute` after another, and prints one JSON
report on stdout for tests/mcp.rs to check: the description of `execute`,
and each result's `isError`, structured content and text. Usage:

    drive.py CAPLET CONFIG DATA_DIR CODE...
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client


async def drive(caplet, config, data, scripts):
    server = StdioServerParameters(
        command=caplet, args=["mcp", "--config", config, "--data", data]
    )
    report = {"results": []}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            report["execute"] = next(
                t.description for t in tools.tools if t.name == "execute"
            )
            for code in scripts:
                result = await session.call_tool("execute", {"code": code})
                report["results"].append(
                    {
                        "is_error": bool(result.is_error),
                        "structured": result.structured_content,
                        "text": [c.text for c in result.content if c.type == "text"],
                    }
                )
    return report


if __name__ == "__main__":
    caplet, config, data, *scripts = sys.argv[1:]
    print(json.dumps(asyncio.run(drive(caplet, config, data, scripts))))
