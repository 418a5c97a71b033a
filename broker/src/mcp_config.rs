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
