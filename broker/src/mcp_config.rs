//! The `[mcp]` section of `caplet.toml`: what `caplet mcp` grants the
//! workers its `execute` tool runs, their limits, and how much of a result
//! it returns.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[mcp]` as written; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Built-ins granted to every script, as `BINDING = "SPEC"` (the
    /// `--grant` syntax: `fs = "fs:workspace"`).
    pub grants: BTreeMap<String, String>,
    /// Limits of every script, as `NAME = VALUE` with NAME a field of
    /// `Limits` (`cpuTimeMs = 500`).
    pub limits: BTreeMap<String, u64>,
    /// Results and logs are cut at this many characters (default 24000).
    pub max_chars: Option<usize>,
}

/// `[mcp_servers.NAME]` as written: an upstream MCP server a worker may be
/// granted as `mcp:NAME`. Exactly one of `command` or `url`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpServerConfig {
    /// A program and its arguments, started by the broker and spoken to
    /// over its stdin and stdout (the MCP stdio transport).
    pub command: Option<Vec<String>>,
    /// The URL of an MCP server speaking the streamable HTTP transport
    /// (`http://` or `https://`, the system's roots for TLS).
    pub url: Option<String>,
    /// Environment variables of the command's process, besides the few it
    /// inherits from the broker (`PATH`, `HOME`, locale, `TZ`, `TMPDIR`;
    /// never a secret), as `NAME = "TEMPLATE"`
    /// where the template may hold `{secret:NAME}` placeholders.
    pub env: BTreeMap<String, String>,
    /// Headers of every request to `url`, as `NAME = "TEMPLATE"` where the
    /// template may hold `{secret:NAME}` placeholders
    /// (`Authorization = "Bearer {secret:github}"`). Only with `url`.
    pub headers: BTreeMap<String, String>,
    /// How long one tool call may take, in milliseconds, before it fails
    /// with `timeout` (default 60000).
    pub call_timeout_ms: Option<u64>,
}
