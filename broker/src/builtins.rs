//! The built-in capabilities a broker serves itself: `fs` volumes and `kv`
//! stores (crate `caplet-store`: SQLite in the data directory, or the
//! PostgreSQL database of `[store]`) and `http` gateways (crate
//! `caplet-egress`), handed out by `Broker.builtin`.
//!
//! What a grant may reach comes from the [`BuiltinConfig`], never from the
//! request: volumes and stores are namespaced by the asking connection's
//! principal, an http grant must name a configured policy, and quotas are
//! the configuration's. The capability comes back with its compiled
//! interface schema (from `caplet::SCHEMA_NODES`), so the client can put it
//! into a worker's `env` like any other grant, where it goes through the
//! [`crate::membrane`] like any other.

use caplet::caplet_capnp::{builtin_grant, compiled_schema};
use caplet_capnp_js::schema::SchemaSet;
use capnp::message::{Builder, HeapAllocator};
use capnp::traits::HasTypeId;
use std::cell::OnceCell;

use crate::audit::BuiltinPolicy;
use crate::config::{check_name, BuiltinConfig};
use crate::error::Error;

/// One built-in interface, as a `CompiledSchema` message.
struct BuiltinSchema {
    message: Builder<HeapAllocator>,
}

/// The broker's built-in capabilities.
pub struct Builtins {
    config: BuiltinConfig,
    /// SQLite: opened at the first `fs` or `kv` grant, so a broker that
    /// never grants them never creates its data directory. PostgreSQL:
    /// connected (and migrated) by [`Builtins::connect_store`] at start.
    store: OnceCell<caplet_store::Backend>,
    fs: BuiltinSchema,
    kv: BuiltinSchema,
    http: BuiltinSchema,
    /// Upstream MCP servers, started at their first grant.
    upstreams: crate::upstream::Upstreams,
}

impl std::fmt::Debug for Builtins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builtins")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Builtins {
    /// Built-ins as `config` describes them.
    pub fn new(config: BuiltinConfig) -> Result<Self, Error> {
        let nodes = capnp::serialize::read_message(
            &mut &caplet::SCHEMA_NODES[..],
            capnp::message::ReaderOptions::new(),
        )?;
        let request: capnp::schema_capnp::code_generator_request::Reader<'_> = nodes.get_root()?;
        let schema = |file: &str, interface_id: u64| -> Result<BuiltinSchema, Error> {
            let mut mine = Vec::new();
            for node in request.get_nodes()? {
                let name = node.get_display_name()?.to_str()?;
                if name == file || name.starts_with(&format!("{file}:")) {
                    mine.push(node);
                }
            }
            let set = SchemaSet::from_nodes(mine).map_err(|e| Error::Schema(e.to_string()))?;
            set.check_interface(interface_id)
                .map_err(|e| Error::Schema(format!("{file}: {e}")))?;
            Ok(BuiltinSchema {
                message: crate::bindings::compiled_message(&set, interface_id)?,
            })
        };
        Ok(Self {
            fs: schema("fs.capnp", caplet::fs_capnp::volume::Client::TYPE_ID)?,
            kv: schema("kv.capnp", caplet::kv_capnp::store::Client::TYPE_ID)?,
            http: schema("http.capnp", caplet::http_capnp::gateway::Client::TYPE_ID)?,
            config,
            store: OnceCell::new(),
            upstreams: Default::default(),
        })
    }

    fn store(&self) -> Result<&caplet_store::Backend, Error> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        if self.config.postgres.is_some() {
            return Err(Error::Unavailable(
                "the postgres store is not connected".into(),
            ));
        }
        let store = caplet_store::Store::open(&self.config.data_dir).map_err(|e| {
            Error::Unavailable(format!(
                "cannot open the data directory {}: {e}",
                self.config.data_dir.display()
            ))
        })?;
        Ok(self
            .store
            .get_or_init(|| caplet_store::Backend::Sqlite(store)))
    }

    /// With a `[store]` database: connects to it and runs its migrations
    /// (a broker does this before it serves). Without: nothing, SQLite
    /// opens at the first grant.
    pub async fn connect_store(&self) -> Result<(), Error> {
        let Some(options) = &self.config.postgres else {
            return Ok(());
        };
        if self.store.get().is_some() {
            return Ok(());
        }
        let store = caplet_store::PgStore::connect(options)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot open the postgres store: {e}")))?;
        let _ = self.store.set(caplet_store::Backend::Postgres(store));
        Ok(())
    }

    /// Whether the store answers now (readiness): a round trip to
    /// PostgreSQL, a read of SQLite's schema version; `Ok` for a SQLite
    /// store not opened yet (it opens at the first grant).
    pub async fn ping(&self) -> Result<(), caplet_store::Error> {
        match self.store.get() {
            Some(store) => store.ping().await,
            None if self.config.postgres.is_some() => Err(caplet_store::Error::Unreachable(
                "the postgres store is not connected".into(),
            )),
            None => Ok(()),
        }
    }

    /// Whether the store answers, if it has been opened (a broker opens it
    /// at the first `fs` or `kv` grant).
    pub async fn ping_if_open(&self) -> Option<Result<(), caplet_store::Error>> {
        match self.store.get() {
            Some(store) => Some(store.ping().await),
            None => None,
        }
    }

    /// What a grant of `kind:name` reaches under this configuration, for
    /// `caplet audit` and `Broker.audit`.
    pub fn describe(
        config: &BuiltinConfig,
        kind: builtin_grant::Kind,
        name: &str,
        read_only: bool,
    ) -> Result<BuiltinPolicy, Error> {
        Ok(match kind {
            builtin_grant::Kind::Fs => {
                let quota = config.quota(name);
                BuiltinPolicy::Fs {
                    volume: name.to_string(),
                    read_only,
                    max_bytes: quota.max_bytes,
                    max_entries: quota.max_entries,
                }
            }
            builtin_grant::Kind::Kv => BuiltinPolicy::Kv {
                store: name.to_string(),
            },
            builtin_grant::Kind::Mcp => {
                let upstream = config
                    .mcp_servers
                    .get(name)
                    .ok_or_else(|| no_server(name))?;
                BuiltinPolicy::Mcp {
                    server: name.to_string(),
                    command: upstream.command().to_vec(),
                    env: upstream.env_names().map(str::to_string).collect(),
                    url: upstream.url(),
                    headers: upstream.header_names().map(str::to_string).collect(),
                    tools: Vec::new(),
                }
            }
            builtin_grant::Kind::Http => BuiltinPolicy::Http {
                name: name.to_string(),
                policy: Box::new(config.policies.get(name).cloned().ok_or_else(|| {
                    Error::BadGrant(format!(
                        "http:{name}: no such policy in the broker's configuration"
                    ))
                })?),
            },
        })
    }

    /// The upstream MCP server `grant` (of kind `mcp`) names, started at
    /// its first grant; its [`crate::upstream::Upstream::grant`] is the
    /// capability.
    pub async fn upstream(
        &self,
        grant: builtin_grant::Reader<'_>,
    ) -> Result<std::rc::Rc<crate::upstream::Upstream>, Error> {
        let name = grant
            .get_name()?
            .to_str()
            .map_err(|_| Error::BadGrant("the name is not valid utf-8".into()))?;
        check_name(name).map_err(|why| Error::BadGrant(format!("mcp:{name}: {why}")))?;
        self.upstreams.get(&self.config.mcp_servers, name).await
    }

    /// Binding `b` as the tools of an upstream MCP server, if its interface
    /// is the one this broker makes of one of its configured servers (same
    /// name, same tools; the server is started if need be); `None` for any
    /// other interface, which `Broker.types` declares from its schema.
    pub async fn upstream_binding(
        &self,
        b: &crate::types::TypedBinding,
    ) -> Result<Option<crate::types::UpstreamBinding>, Error> {
        let Some(server) = crate::types::upstream_server(b) else {
            return Ok(None);
        };
        if !self.config.mcp_servers.contains_key(&server) {
            return Ok(None);
        }
        let up = self
            .upstreams
            .get(&self.config.mcp_servers, &server)
            .await?;
        let tools: Vec<&rmcp::model::Tool> = up.tools().collect();
        let (id, _) = crate::upstream::interface_schema(&server, &tools)?;
        Ok(
            (id == b.interface_id).then(|| crate::types::UpstreamBinding {
                name: b.name.clone(),
                server,
                tools: tools.into_iter().cloned().collect(),
            }),
        )
    }

    /// What `grant` reaches (see [`Builtins::describe`]).
    pub fn policy(&self, grant: builtin_grant::Reader<'_>) -> Result<BuiltinPolicy, Error> {
        let name = grant
            .get_name()?
            .to_str()
            .map_err(|_| Error::BadGrant("the name is not valid utf-8".into()))?;
        Self::describe(&self.config, grant.get_kind()?, name, grant.get_read_only())
    }

    /// The capability `grant` names, for `principal`, and the
    /// `CompiledSchema` of its interface.
    pub fn grant(
        &self,
        principal: &str,
        grant: builtin_grant::Reader<'_>,
    ) -> Result<(capnp::capability::Client, compiled_schema::Reader<'_>), Error> {
        let kind = grant.get_kind()?;
        let name = grant
            .get_name()?
            .to_str()
            .map_err(|_| Error::BadGrant("the name is not valid utf-8".into()))?;
        let kind_name = match kind {
            builtin_grant::Kind::Fs => "fs",
            builtin_grant::Kind::Kv => "kv",
            builtin_grant::Kind::Http => "http",
            builtin_grant::Kind::Mcp => "mcp",
        };
        check_name(name).map_err(|why| Error::BadGrant(format!("{kind_name}:{name}: {why}")))?;
        let failed = |e: caplet_store::Error| Error::BadGrant(format!("{kind_name}:{name}: {e}"));
        let (client, schema) = match kind {
            builtin_grant::Kind::Fs => {
                let quota = self.config.quota(name);
                let volume = self
                    .store()?
                    .volume_client(principal, name, grant.get_read_only(), quota)
                    .map_err(failed)?;
                (volume.client, &self.fs)
            }
            builtin_grant::Kind::Kv => {
                let kv = self.store()?.kv_client(principal, name).map_err(failed)?;
                (kv.client, &self.kv)
            }
            builtin_grant::Kind::Http => {
                let policy = self.config.policies.get(name).ok_or_else(|| {
                    Error::BadGrant(format!(
                        "http:{name}: no such policy in the broker's configuration"
                    ))
                })?;
                let mut gateway = caplet_egress::Gateway::new(policy.clone(), &self.config.secrets)
                    .map_err(|e| Error::BadGrant(format!("http:{name}: {e}")))?;
                if !self.config.dns.is_empty() {
                    gateway = gateway.with_resolver(PinnedResolver {
                        pinned: self.config.dns.clone(),
                    });
                }
                (
                    caplet_egress::GatewayServer::client(gateway).client,
                    &self.http,
                )
            }
            builtin_grant::Kind::Mcp => {
                return Err(Error::BadGrant(format!(
                    "mcp:{name}: an upstream is granted with Builtins::upstream"
                )))
            }
        };
        Ok((
            client,
            schema
                .message
                .get_root_as_reader::<compiled_schema::Reader>()?,
        ))
    }
}

fn no_server(name: &str) -> Error {
    Error::BadGrant(format!(
        "mcp:{name}: no such MCP server in the broker's configuration"
    ))
}

/// Resolves the configuration's `[dns]` names itself, and every other name
/// through the system.
struct PinnedResolver {
    pinned: std::collections::BTreeMap<String, Vec<std::net::IpAddr>>,
}

impl caplet_egress::Resolver for PinnedResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
    ) -> futures::future::LocalBoxFuture<'a, std::io::Result<Vec<std::net::IpAddr>>> {
        match self.pinned.get(host) {
            Some(ips) => Box::pin(std::future::ready(Ok(ips.clone()))),
            None => caplet_egress::SystemResolver.resolve(host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schemas_are_usable_from_js() {
        let builtins = Builtins::new(BuiltinConfig::default()).unwrap();
        for schema in [&builtins.fs, &builtins.kv, &builtins.http] {
            let compiled = schema
                .message
                .get_root_as_reader::<compiled_schema::Reader>()
                .unwrap();
            let set = SchemaSet::from_nodes(compiled.get_nodes().unwrap().iter()).unwrap();
            set.check_interface(compiled.get_interface_id()).unwrap();
        }
    }
}
