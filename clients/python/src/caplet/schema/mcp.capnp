# mcp.capnp — an upstream MCP server's tools, as a capability.
#
# Who calls it: JavaScript workers granted `mcp:NAME` (`BuiltinGrant.Kind.mcp`)
# in their `env`, and any client the broker hands one to. The broker serves
# it: it runs or connects to the upstream MCP server `[mcp_servers.NAME]` of
# its configuration, as an MCP client (the official Rust SDK, `rmcp`).
#
# What it is for: each tool the upstream lists is one method of a capability
# made for that server at grant time. Its interface is not in this file: the
# broker builds it from the tool list (`tools/list`), one method per tool,
# named after the tool, every method taking a `ToolCall` and answering a
# `ToolResult`. A worker calls `env.BINDING.TOOL(args)` with a plain object;
# the isolate-host sends it as JSON text and parses the answer, so the worker
# sees JSON values, never these structs.
#
# What it can touch: only the tools of that one upstream. Headers the broker
# sends to an HTTP upstream (credentials from `[secrets]`) never reach the
# worker.
#
# Errors: a Cap'n Proto exception of type `failed` whose reason is one line
# starting with a stable snake_case kind:
#   - `type_error`: the arguments do not match the tool's `inputSchema`
#     (checked before the upstream is called; the reason names the field).
#     The isolate-host throws it as a JS `TypeError`.
#   - `tool_error`: the tool answered with `isError`; the reason is its text.
#   - `upstream`: the upstream refused the call (a JSON-RPC error).
#   - `too_large`: the result is over 16 MiB of JSON.
#   - `timeout`: the tool did not answer within the server's
#     `call_timeout_ms` (default 60 s); the upstream is sent a cancellation.
#   - `redacted`: the result held a secret of the server's configuration
#     in a way that could not be blanked out (it is otherwise replaced by
#     `[redacted]`).
# An upstream that is down (its process died and is being restarted, or it
# cannot be reached) answers an exception of type `disconnected`, reason
# `disconnected: mcp:NAME: …`; the broker starts it again or reconnects
# (after 50 ms, doubling up to 5 s while starts fail) and later calls are
# answered.

@0xff4e940035fc8eae;

# ==============================================================================
# Tool calls
# ==============================================================================

struct ToolCall {
  # The params of every tool method.

  arguments @0 :Text;
  # The tool's arguments: a JSON object, as text.
}

struct ToolResult {
  # The results of every tool method.

  json @0 :Text;
  # The tool's `structuredContent` as JSON text when it has one; else its
  # text content (the text blocks joined by a newline) as a JSON string.
}
