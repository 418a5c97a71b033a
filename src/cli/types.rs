//! `caplet types`: print the TypeScript declarations of a worker's `env`
//! for the given grants (what `Broker.types` answers), without starting a
//! broker.

use std::path::PathBuf;
use std::sync::Arc;

use caplet::caplet_capnp::builtin_grant;
use caplet_broker::types::{self, TypedBinding};
use caplet_broker::upstream;
use rmcp::model::Tool;

use caplet_client::{Builtin, BuiltinKind};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A built-in capability granted as env.BINDING (repeatable), as for
    /// `caplet run`: fs:VOLUME, fs:VOLUME:ro, kv:STORE, http:POLICY or
    /// mcp:SERVER (a server of --config, started to list its tools).
    #[arg(long = "grant", value_name = "BINDING=SPEC", value_parser = caplet_client::parse_grant)]
    grants: Vec<(String, Builtin)>,
    /// A client-provided interface granted as env.BINDING (repeatable):
    /// FILE.capnp:Interface=BINDING. Imports resolve among the --schema
    /// files.
    #[arg(long = "schema", value_name = "FILE.capnp:Interface=BINDING", value_parser = parse_schema)]
    schemas: Vec<SchemaArg>,
    /// The configuration (caplet.toml), checked as `run` and `serve` read
    /// it; its `[mcp] grants` are declared too (what `caplet mcp --config`
    /// grants), before --grant flags, which win for the same binding.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the declarations' size in characters on stderr.
    #[arg(long)]
    stats: bool,
    /// Print instead the tool list (`tools/list` result, JSON) of an MCP
    /// server with one tool per method and the params as JSON Schema: what
    /// the declarations replace, for measuring.
    #[arg(long)]
    mcp_tool_list: bool,
}

/// One `--schema FILE.capnp:Interface=BINDING`.
#[derive(Debug, Clone)]
pub struct SchemaArg {
    file: PathBuf,
    interface: String,
    binding: String,
}

pub(crate) fn parse_schema(spec: &str) -> Result<SchemaArg, String> {
    let bad = || format!("expected FILE.capnp:Interface=BINDING, got {spec:?}");
    let (left, binding) = spec.rsplit_once('=').ok_or_else(bad)?;
    let (file, interface) = left.rsplit_once(':').ok_or_else(bad)?;
    if binding.is_empty() || interface.is_empty() || !file.ends_with(".capnp") {
        return Err(bad());
    }
    Ok(SchemaArg {
        file: PathBuf::from(file),
        interface: interface.to_string(),
        binding: binding.to_string(),
    })
}

/// The interface a built-in of `kind` implements.
pub(crate) fn builtin_kind(kind: BuiltinKind) -> builtin_grant::Kind {
    match kind {
        BuiltinKind::Fs => builtin_grant::Kind::Fs,
        BuiltinKind::Kv => builtin_grant::Kind::Kv,
        BuiltinKind::Http => builtin_grant::Kind::Http,
        BuiltinKind::Mcp => builtin_grant::Kind::Mcp,
    }
}

/// The typed bindings of built-in grants. An `mcp` grant's interface is
/// made from its upstream's tools: the upstream is started (from
/// `config`) to list them, and stopped.
pub(crate) fn builtin_bindings(
    grants: &[(String, Builtin)],
    config: &caplet_broker::BuiltinConfig,
) -> anyhow::Result<Vec<TypedBinding>> {
    let set = types::builtin_schema();
    let mut bindings = Vec::new();
    for (name, builtin) in grants {
        let (schema, interface_id) = match types::builtin_interface(builtin_kind(builtin.kind)) {
            Some(id) => (set.clone(), id),
            None => {
                let tools = upstream_tools(config, &builtin.name)?;
                let tools: Vec<&Tool> = tools.iter().collect();
                let (id, set) = upstream::interface_schema(&builtin.name, &tools)?;
                (Arc::new(set), id)
            }
        };
        bindings.push(TypedBinding {
            name: name.clone(),
            schema,
            interface_id,
        });
    }
    Ok(bindings)
}

/// The declarations of `grants` and `schemas`: upstream MCP servers
/// (`mcp:NAME`, started from `config` to list their tools) are declared
/// from their tools' JSON Schemas, the rest from their Cap'n Proto schemas.
pub(crate) fn grant_declarations(
    grants: &[(String, Builtin)],
    schemas: &[SchemaArg],
    config: &caplet_broker::BuiltinConfig,
) -> anyhow::Result<String> {
    let (upstreams, builtins): (Vec<_>, Vec<_>) = grants
        .iter()
        .cloned()
        .partition(|(_, b)| b.kind == BuiltinKind::Mcp);
    let mut bindings = builtin_bindings(&builtins, config)?;
    bindings.extend(schema_bindings(schemas)?);
    let mut declared = Vec::new();
    for (binding, builtin) in &upstreams {
        declared.push(types::UpstreamBinding {
            name: binding.clone(),
            server: builtin.name.clone(),
            tools: upstream_tools(config, &builtin.name)?,
        });
    }
    check_unique(
        bindings
            .iter()
            .map(|b| b.name.as_str())
            .chain(upstreams.iter().map(|(b, _)| b.as_str())),
    )?;
    Ok(types::declarations_with_upstreams(&bindings, &declared)?)
}

/// The tools upstream MCP server `server` of `config` lists: it is started,
/// asked and stopped.
pub(crate) fn upstream_tools(
    config: &caplet_broker::BuiltinConfig,
    server: &str,
) -> anyhow::Result<Vec<Tool>> {
    let upstream = config.mcp_servers.get(server).ok_or_else(|| {
        anyhow::anyhow!("bad_grant: mcp:{server}: no such MCP server in the configuration")
    })?;
    // On a thread of its own: the caller may be inside a runtime already.
    let upstream = upstream.clone();
    std::thread::spawn(move || -> anyhow::Result<Vec<Tool>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(runtime.block_on(upstream.list_tools())?)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("mcp:{server}: listing its tools failed"))?
}

/// Grants of `[mcp] grants` in `config`, then `flags` (which win for the
/// same binding).
pub(crate) fn config_grants(
    config: &caplet_broker::BuiltinConfig,
    flags: &[(String, Builtin)],
) -> anyhow::Result<Vec<(String, Builtin)>> {
    let mut grants: Vec<(String, Builtin)> = Vec::new();
    for (binding, spec) in &config.mcp.grants {
        let builtin: Builtin = spec
            .parse()
            .map_err(|e| anyhow::anyhow!("[mcp] grants.{binding}: {e}"))?;
        grants.push((binding.clone(), builtin));
    }
    for (binding, builtin) in flags {
        grants.retain(|(b, _)| b != binding);
        grants.push((binding.clone(), builtin.clone()));
    }
    Ok(grants)
}

/// Fails naming the first binding granted twice.
pub(crate) fn check_unique<'a>(names: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("binding {:?} is granted twice", twice[0]);
    }
    Ok(())
}

/// The typed bindings of `--schema` arguments. The files are compiled
/// together, so one may import another.
pub(crate) fn schema_bindings(schemas: &[SchemaArg]) -> anyhow::Result<Vec<TypedBinding>> {
    let mut bindings = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    for schema in schemas {
        let name = schema
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow::anyhow!("{}: not a file name", schema.file.display()))?
            .to_string();
        if !texts.iter().any(|(n, _)| *n == name) {
            texts.push((name, super::read_file(&schema.file, "schema")?));
        }
    }
    if texts.is_empty() {
        return Ok(bindings);
    }
    let files: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let set = Arc::new(caplet_capnp_js::compile::compile_files(&files)?);
    for schema in schemas {
        let name = schema
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        let interface_id = caplet_capnp_js::compile::resolve_interface(
            &set,
            &format!("{name}:{}", schema.interface),
        )?;
        bindings.push(TypedBinding {
            name: schema.binding.clone(),
            schema: set.clone(),
            interface_id,
        });
    }
    Ok(bindings)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => caplet_broker::BuiltinConfig::load(path)?,
        None => caplet_broker::BuiltinConfig::default(),
    };
    let grants = if args.config.is_some() {
        config_grants(&config, &args.grants)?
    } else {
        args.grants.clone()
    };
    let text = if args.mcp_tool_list {
        let mut bindings = builtin_bindings(&grants, &config)?;
        bindings.extend(schema_bindings(&args.schemas)?);
        check_unique(bindings.iter().map(|b| b.name.as_str()))?;
        let env: Vec<caplet_capnp_js::typescript::EnvBinding<'_>> = bindings
            .iter()
            .map(|b| caplet_capnp_js::typescript::EnvBinding {
                name: &b.name,
                schema: &b.schema,
                interface_id: b.interface_id,
            })
            .collect();
        let list = caplet_capnp_js::json_schema::mcp_tool_list(&env, &[&types::builtin_schema()])?;
        format!("{list}\n")
    } else {
        grant_declarations(&grants, &args.schemas, &config)?
    };
    print!("{text}");
    if args.stats {
        eprintln!(
            "{}: {} characters, {} lines",
            if args.mcp_tool_list {
                "tool list"
            } else {
                "declarations"
            },
            text.chars().count(),
            text.lines().count()
        );
    }
    Ok(())
}
