//! `caplet audit`: everything a worker's grants can reach, as Markdown or
//! JSON (`caplet_broker::audit`), and the difference from an earlier report
//! (`--diff`, exit status 3 when the surface grew).

use std::path::PathBuf;
use std::process::ExitCode;

use caplet::caplet_capnp::limits;
use caplet_broker::audit::{self, AuditBinding, Diff};

use super::types::{builtin_bindings, check_unique, parse_schema, schema_bindings, SchemaArg};
use caplet_client::{Builtin, BuiltinKind};

/// Exit status when `--diff` finds that the surface grew.
const GREW: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A built-in capability granted as env.BINDING (repeatable), as for
    /// `caplet run`: fs:VOLUME, fs:VOLUME:ro, kv:STORE, http:POLICY or
    /// mcp:SERVER (started to list its tools). The `[mcp] grants` of
    /// --config come first; a flag wins for the same binding.
    #[arg(long = "grant", value_name = "BINDING=SPEC", value_parser = caplet_client::parse_grant)]
    grants: Vec<(String, Builtin)>,
    /// A client-provided interface granted as env.BINDING (repeatable):
    /// FILE.capnp:Interface=BINDING.
    #[arg(long = "schema", value_name = "FILE.capnp:Interface=BINDING", value_parser = parse_schema)]
    schemas: Vec<SchemaArg>,
    /// A limit the worker asks for, as NAME=VALUE with NAME a field of
    /// `Limits` in schema/caplet.capnp (repeatable); the rest take the
    /// broker's defaults.
    #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = super::parse_limit)]
    limits: Vec<(String, u64)>,
    /// `markdown` (for people) or `json` (a stable shape, for tools and
    /// --diff).
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,
    /// An earlier `--format json` report: print what grew and what shrank
    /// instead, and exit with status 3 if anything grew.
    #[arg(long, value_name = "OLD.json")]
    diff: Option<PathBuf>,
    #[command(flatten)]
    broker: super::BrokerArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Markdown,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = args.broker.config(1)?;
    let mut bindings = Vec::new();
    // As `caplet mcp --config` grants its scripts: `[mcp] grants`, then
    // the --grant flags.
    let grants = super::types::config_grants(&config.builtins, &args.grants)?;
    let typed = builtin_bindings(&grants, &config.builtins)?;
    for ((name, builtin), typed) in grants.iter().zip(typed) {
        if builtin.kind == BuiltinKind::Http {
            // As `caplet run` does: http:HOST without such a policy allows
            // just that host.
            config.builtins.add_host_policy(&builtin.name)?;
        }
        let mut policy = caplet_broker::builtins::Builtins::describe(
            &config.builtins,
            super::types::builtin_kind(builtin.kind),
            &builtin.name,
            builtin.read_only,
        )?;
        if let audit::BuiltinPolicy::Mcp { tools, .. } = &mut policy {
            // The upstream's tools, with their descriptions and schemas.
            *tools = super::types::upstream_tools(&config.builtins, &builtin.name)?
                .into_iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name,
                        "description": t.description,
                        "input_schema": t.input_schema,
                    })
                })
                .collect();
        }
        let budget = if builtin.budget.is_empty() {
            None
        } else {
            let message = builtin.budget.to_message();
            caplet_broker::grant::Grant::describe_budget(
                name,
                &typed.schema,
                typed.interface_id,
                message.get_root_as_reader()?,
            )?
        };
        bindings.push(AuditBinding {
            name: name.clone(),
            schema: typed.schema,
            interface_id: typed.interface_id,
            builtin: Some(policy),
            budget,
        });
    }
    for typed in schema_bindings(&args.schemas)? {
        bindings.push(AuditBinding {
            name: typed.name,
            schema: typed.schema,
            interface_id: typed.interface_id,
            builtin: None,
            budget: None,
        });
    }
    check_unique(bindings.iter().map(|b| b.name.as_str()))?;
    let limits = worker_limits(&args.limits, &config.limits)?;
    let report = audit::report(&bindings, &limits, &config.limits, &config.builtins.quotas);

    let Some(old) = &args.diff else {
        match args.format {
            Format::Markdown => print!("{}", audit::markdown(&report)),
            Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        }
        return Ok(ExitCode::SUCCESS);
    };
    let text = super::read_file(old, "earlier report")?;
    let old: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a JSON audit report: {e}", old.display()))?;
    if !old["bindings"].is_array() || !old["interfaces"].is_array() {
        anyhow::bail!(
            "--diff: the earlier report has no bindings and interfaces: make it with --format json"
        );
    }
    let diff = Diff::between(&old, &report);
    match args.format {
        Format::Markdown => print!("{}", diff.markdown()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&diff.json())?),
    }
    Ok(if diff.grew.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(GREW)
    })
}

/// The worker's effective limits: `asked`, defaulted and checked against
/// the broker's maxima as a load would.
fn worker_limits(
    asked: &[(String, u64)],
    policy: &caplet_broker::LimitPolicy,
) -> anyhow::Result<caplet_broker::Limits> {
    let mut message = capnp::message::Builder::new_default();
    let mut out = message.init_root::<limits::Builder>();
    let mut requested = caplet_broker::Limits {
        memory_bytes: 0,
        cpu_time_ms: 0,
        wall_time_ms: 0,
        stack_bytes: 0,
        module_bytes: 0,
        output_bytes: 0,
        log_bytes: 0,
        subrequests: 0,
        calls_in_flight: 0,
        pending_timers: 0,
    };
    for (name, value) in asked {
        super::set_limit(&mut requested, name, *value).map_err(anyhow::Error::msg)?;
    }
    requested.write(out.reborrow());
    Ok(policy.resolve(out.into_reader())?)
}
