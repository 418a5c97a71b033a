//! The broker's configuration file, `caplet.toml`: egress policies,
//! secrets and volume quotas for the built-in capabilities (see
//! [`crate::builtins`]), and the per-principal quotas of [`crate::quota`].
//! `caplet run --config` and `caplet serve --config` read the same file.
//!
//! ```toml
//! [secrets]
//! github = { env = "GITHUB_TOKEN" }   # read from the broker's environment
//! other = { value = "s3cr3t" }        # kept in this file (make it chmod 600)
//!
//! [http.github]                        # granted as `http:github`
//! hosts = ["api.github.com"]
//! methods = ["GET"]
//! path_prefixes = ["/repos/"]
//! credentials = [{ host = "api.github.com", header = "Authorization", value = "Bearer {secret:github}" }]
//! limits = { max_response_bytes = 1048576, total_time_ms = 10000 }
//! ca_file = "certs/internal-ca.pem"    # PEM CAs trusted besides the system's
//!                                      # (relative to this file)
//!
//! [fs]                                 # the quota of every volume …
//! max_bytes = 67108864
//! max_entries = 10000
//!
//! [fs.volumes.workspace]               # … unless its name has its own
//! max_bytes = 1048576
//!
//! [dns]                                # names the broker resolves itself,
//! "db.internal" = ["10.1.2.3"]         # before asking the system
//!
//! [store]                              # fs and kv in PostgreSQL, shared by
//! url = "postgres://caplet@db:5432/caplet"  # brokers (default: SQLite in
//! password_secret = "db"               # the data directory); `[secrets]`
//! max_connections = 16                 # names the password; the pool size
//!
//! [mcp_servers.calc]                   # an upstream MCP server, granted
//! command = ["calc-mcp", "--stdio"]    # as `mcp:calc` (see `upstream`)
//! env = { CALC_TOKEN = "{secret:other}" }
//!
//! [mcp_servers.docs]                   # one over streamable HTTP, with
//! url = "https://mcp.example.com/mcp"  # headers filled from `[secrets]`
//! headers = { Authorization = "Bearer {secret:other}" }
//! call_timeout_ms = 20000              # per tool call (default 60000)
//!
//! [quotas]                             # what one principal may hold
//! workers = 256                        # (`caplet serve --quota` wins)
//! memory_bytes = 17179869184
//! ```
//!
//! `[quotas]` is the per-principal quotas only; the quotas of volumes stay
//! under `[fs]`, as before.
//!
//! Pinned names change only what a name resolves to: the address rules
//! still apply (`10.1.2.3` is refused unless a policy's `allow_ranges`
//! re-allows it).
//!
//! Every `CAPLET_SECRET_<NAME>` environment variable is also a secret
//! (`<name>` in lower case); the file wins on a clash. Unknown keys are
//! errors, so a typo cannot silently widen or narrow a policy. Every error
//! is one line naming the file, the line and the key, e.g.
//! `caplet.toml:4: http.github.hostz: unknown field `hostz`, …`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use caplet_egress::{Policy, PolicyConfig, Secrets};
use caplet_store::Quota;
use serde::Deserialize;

use crate::error::Error;
use crate::quota::Quotas;

/// The default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "caplet-data";

/// The prefix of environment variables read as secrets.
pub use caplet_egress::secrets::ENV_PREFIX as SECRET_ENV_PREFIX;

/// `caplet.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileConfig {
    secrets: BTreeMap<String, SecretSource>,
    http: BTreeMap<String, PolicyConfig>,
    fs: FsConfig,
    dns: BTreeMap<String, Vec<String>>,
    quotas: Quotas,
    mcp: crate::mcp_config::McpConfig,
    mcp_servers: BTreeMap<String, crate::mcp_config::McpServerConfig>,
    store: StoreFileConfig,
}

/// `[store]`: where fs and kv live when not in the data directory.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreFileConfig {
    url: Option<String>,
    password_secret: Option<String>,
    max_connections: Option<usize>,
}

/// Checks a store URL: PostgreSQL's, `postgres://USER@HOST:PORT/DB`.
pub fn check_store_url(url: &str) -> Result<(), String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err("expected a postgres:// url (without one, fs and kv live in the data directory)".into())
    }
}

/// Where one secret comes from: exactly one of `env` or `value`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretSourceTable {
    env: Option<String>,
    value: Option<String>,
}

/// A [`SecretSourceTable`] whose errors never repeat what was written: a
/// secret pasted as a bare string must not end up in a log line.
#[derive(Debug)]
struct SecretSource {
    env: Option<String>,
    value: Option<String>,
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Table;
        const NOT_A_TABLE: &str =
            "a secret is a table: { env = \"VARIABLE\" } or { value = \"...\" }";
        impl<'de> serde::de::Visitor<'de> for Table {
            type Value = SecretSourceTable;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(NOT_A_TABLE)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                SecretSourceTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Err(E::custom(NOT_A_TABLE))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Err(E::custom(NOT_A_TABLE))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Err(E::custom(NOT_A_TABLE))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Err(E::custom(NOT_A_TABLE))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Err(E::custom(NOT_A_TABLE))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                _: A,
            ) -> Result<Self::Value, A::Error> {
                Err(serde::de::Error::custom(NOT_A_TABLE))
            }
        }
        let table = deserializer.deserialize_any(Table)?;
        Ok(SecretSource {
            env: table.env,
            value: table.value,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FsConfig {
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
    volumes: BTreeMap<String, QuotaConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct QuotaConfig {
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
}

/// The checked configuration of the built-in capabilities.
#[derive(Debug, Clone)]
pub struct BuiltinConfig {
    /// Where the SQLite database of `fs` and `kv` lives (opened at the
    /// first `fs` or `kv` grant).
    pub data_dir: PathBuf,
    /// Egress policies by name (`http:NAME`).
    pub policies: BTreeMap<String, Policy>,
    /// Secrets the policies' credential rules refer to.
    pub secrets: Secrets,
    /// The quota of a volume without its own.
    pub default_quota: Quota,
    /// Quotas by volume name.
    pub volume_quotas: BTreeMap<String, Quota>,
    /// Host names (lower case) the gateways resolve to these addresses
    /// without asking the system.
    pub dns: BTreeMap<String, Vec<IpAddr>>,
    /// What one principal may hold (`[quotas]`); not a built-in's, but
    /// configured in the same file.
    pub quotas: Quotas,
    /// `[mcp]`: what `caplet mcp` grants its scripts.
    pub mcp: crate::mcp_config::McpConfig,
    /// `[mcp_servers.NAME]`: upstream MCP servers (`mcp:NAME`), checked.
    pub mcp_servers: BTreeMap<String, crate::upstream::UpstreamConfig>,
    /// `[store]` (or `--store`): the PostgreSQL database of `fs` and `kv`;
    /// `None` keeps them in SQLite in [`BuiltinConfig::data_dir`].
    pub postgres: Option<caplet_store::PgOptions>,
}

impl Default for BuiltinConfig {
    /// No policies, no secrets, default quotas, data in `caplet-data/`.
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            policies: BTreeMap::new(),
            secrets: Secrets::new(),
            default_quota: Quota::default(),
            volume_quotas: BTreeMap::new(),
            dns: BTreeMap::new(),
            quotas: Quotas::DEFAULTS,
            mcp: Default::default(),
            mcp_servers: BTreeMap::new(),
            postgres: None,
        }
    }
}

impl BuiltinConfig {
    /// No configuration file: secrets from the environment only.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self {
            secrets: Secrets::from_env(SECRET_ENV_PREFIX)
                .map_err(|e| Error::Config(format!("environment: {e}")))?,
            ..Self::default()
        })
    }

    /// Reads and checks `path`, with secrets from the environment.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::parse_in(dir, &path.display().to_string(), &text, |name| {
            std::env::var(name).ok()
        })
    }

    /// Parses and checks the text of a configuration file called `origin`
    /// (for messages); `env` looks up environment variables. Relative paths
    /// in it (`ca_file`) are taken from the working directory.
    pub fn parse(
        origin: &str,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        Self::parse_in(Path::new(""), origin, text, env)
    }

    /// Like [`BuiltinConfig::parse`], with relative paths taken from `dir`
    /// (the configuration file's directory).
    pub fn parse_in(
        dir: &Path,
        origin: &str,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let line = text[..span.start].matches('\n').count() + 1;
                    match key_at(text, span.start) {
                        Some(key) => Error::Config(format!("{origin}:{line}: {key}: {message}")),
                        None => Error::Config(format!("{origin}:{line}: {message}")),
                    }
                }
                None => Error::Config(format!("{origin}: {message}")),
            }
        })?;
        let bad = |key: String, why: String| Error::Config(format!("{origin}: {key}: {why}"));

        let vars = std::env::vars_os().filter(|(k, _)| {
            k.to_str()
                .is_some_and(|k| k.starts_with(SECRET_ENV_PREFIX) && env(k).is_some())
        });
        let mut secrets = Secrets::from_vars(SECRET_ENV_PREFIX, vars)
            .map_err(|e| Error::Config(format!("environment: {e}")))?;
        for (name, source) in &file.secrets {
            let key = format!("secrets.{name}");
            let value = match (&source.env, &source.value) {
                (Some(var), None) => env(var).ok_or_else(|| {
                    bad(
                        key.clone(),
                        format!("environment variable {var} is not set"),
                    )
                })?,
                (None, Some(value)) => value.clone(),
                _ => return Err(bad(key, "give exactly one of `env` or `value`".into())),
            };
            secrets
                .insert(name, &value)
                .map_err(|e| bad(key.clone(), e.to_string()))?;
        }

        let mut policies = BTreeMap::new();
        for (name, policy) in &file.http {
            let key = format!("http.{name}");
            check_name(name).map_err(|why| bad(key.clone(), why))?;
            let policy = policy
                .to_policy_in(dir)
                .map_err(|e| bad(key.clone(), e.to_string()))?;
            // Checks that every secret the policy's credentials use exists.
            caplet_egress::Gateway::new(policy.clone(), &secrets)
                .map_err(|e| bad(key.clone(), e.to_string()))?;
            policies.insert(name.clone(), policy);
        }

        let base = Quota::default();
        let default_quota = Quota {
            max_bytes: file.fs.max_bytes.unwrap_or(base.max_bytes),
            max_entries: file.fs.max_entries.unwrap_or(base.max_entries),
        };
        let mut volume_quotas = BTreeMap::new();
        for (name, quota) in &file.fs.volumes {
            check_name(name).map_err(|why| bad(format!("fs.volumes.{name}"), why))?;
            volume_quotas.insert(
                name.clone(),
                Quota {
                    max_bytes: quota.max_bytes.unwrap_or(default_quota.max_bytes),
                    max_entries: quota.max_entries.unwrap_or(default_quota.max_entries),
                },
            );
        }
        let mut dns = BTreeMap::new();
        for (name, addresses) in &file.dns {
            let key = format!("dns.{name}");
            if name.is_empty() || name.parse::<IpAddr>().is_ok() {
                return Err(bad(key, "expected a host name".into()));
            }
            if addresses.is_empty() {
                return Err(bad(key, "give at least one address".into()));
            }
            let mut ips = Vec::new();
            for address in addresses {
                ips.push(
                    address.parse::<IpAddr>().map_err(|_| {
                        bad(key.clone(), format!("{address:?} is not an IP address"))
                    })?,
                );
            }
            dns.insert(name.to_ascii_lowercase(), ips);
        }
        let mut mcp_servers = BTreeMap::new();
        for (name, server) in &file.mcp_servers {
            let key = format!("mcp_servers.{name}");
            check_name(name).map_err(|why| bad(key.clone(), why))?;
            let upstream = crate::upstream::UpstreamConfig::new(name, server, &secrets)
                .map_err(|why| bad(key, why))?;
            mcp_servers.insert(name.clone(), upstream);
        }
        file.quotas
            .check()
            .map_err(|why| Error::Config(format!("{origin}: quotas.{why}")))?;
        let postgres = match &file.store.url {
            None => {
                if file.store.password_secret.is_some() || file.store.max_connections.is_some() {
                    return Err(bad("store".into(), "give the url of the database".into()));
                }
                None
            }
            Some(url) => {
                check_store_url(url).map_err(|why| bad("store.url".into(), why))?;
                let mut options = caplet_store::PgOptions::new(url.clone());
                if let Some(name) = &file.store.password_secret {
                    let password = secrets.get(name).ok_or_else(|| {
                        bad(
                            "store.password_secret".into(),
                            format!("no secret called {name:?} in [secrets]"),
                        )
                    })?;
                    options.password = Some(password.to_string());
                }
                if let Some(n) = file.store.max_connections {
                    if !(1..=1024).contains(&n) {
                        return Err(bad(
                            "store.max_connections".into(),
                            "between 1 and 1024".into(),
                        ));
                    }
                    options.max_connections = n;
                }
                Some(options)
            }
        };
        Ok(Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            policies,
            secrets,
            default_quota,
            volume_quotas,
            dns,
            quotas: file.quotas,
            mcp: file.mcp.clone(),
            mcp_servers,
            postgres,
        })
    }

    /// Keeps `fs` and `kv` in the PostgreSQL database at `url` (`--store`),
    /// with the password and pool size of `[store]` if it has them.
    pub fn set_store_url(&mut self, url: &str) -> Result<(), Error> {
        check_store_url(url).map_err(|why| Error::Config(format!("--store: {why}")))?;
        match &mut self.postgres {
            Some(options) => options.url = url.to_string(),
            None => self.postgres = Some(caplet_store::PgOptions::new(url)),
        }
        Ok(())
    }

    /// Adds a policy `host` allowing only that host (default ports, methods
    /// and limits, no credentials), unless a policy of that name exists.
    /// `caplet run` does this for `--grant NAME=http:HOST`.
    pub fn add_host_policy(&mut self, host: &str) -> Result<(), Error> {
        if self.policies.contains_key(host) {
            return Ok(());
        }
        let policy = Policy::default()
            .allow_hosts([host])
            .map_err(|e| Error::BadGrant(format!("http:{host}: {e}")))?;
        self.policies.insert(host.to_string(), policy);
        Ok(())
    }

    /// The quota of volume `name`.
    pub fn quota(&self, name: &str) -> Quota {
        self.volume_quotas
            .get(name)
            .copied()
            .unwrap_or(self.default_quota)
    }
}

/// A volume, store or policy name: 1–64 bytes of ASCII letters, digits,
/// `_`, `-` and `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name {name:?} must be 1 to 64 ASCII letters, digits, `_`, `-` or `.`"
        ))
    }
}

/// The dotted key at byte `offset` of a TOML text: the last table header
/// before it, and the key on its line, e.g. `http.api.hostz`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();
    let header = |l: &str| {
        l.trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if line.starts_with('[') {
        return Some(header(line));
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(header);
    let key = line
        .split('=')
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BuiltinConfig, Error> {
        BuiltinConfig::parse("caplet.toml", text, |name| {
            (name == "API_TOKEN").then(|| "tok-123".to_string())
        })
    }

    #[test]
    fn store_section_names_a_postgres_database_and_its_password_secret() {
        assert!(parse("").unwrap().postgres.is_none());
        let config = parse(
            "[secrets]\ndb = { value = \"pw\" }\n[store]\nurl = \"postgres://caplet@db:5432/caplet\"\npassword_secret = \"db\"\nmax_connections = 4\n",
        )
        .unwrap();
        let pg = config.postgres.clone().unwrap();
        assert_eq!(pg.url, "postgres://caplet@db:5432/caplet");
        assert_eq!(pg.password.as_deref(), Some("pw"));
        assert_eq!(pg.max_connections, 4);
        assert!(
            !format!("{config:?}").contains("pw\""),
            "the password is never printed"
        );
        // --store keeps the file's password.
        let mut config = config;
        config.set_store_url("postgres://other@h/db").unwrap();
        let pg = config.postgres.unwrap();
        assert_eq!(
            (pg.url.as_str(), pg.password.as_deref()),
            ("postgres://other@h/db", Some("pw"))
        );
        for (text, error) in [
            (
                "[store]\nurl = \"mysql://x\"\n",
                "caplet.toml: store.url: expected a postgres:// url",
            ),
            (
                "[store]\nurl = \"postgres://u@h/d\"\npassword_secret = \"nope\"\n",
                "caplet.toml: store.password_secret: no secret called \"nope\" in [secrets]",
            ),
            (
                "[store]\npassword_secret = \"db\"\n",
                "caplet.toml: store: give the url of the database",
            ),
            (
                "[store]\nurl = \"postgres://u@h/d\"\nmax_connections = 0\n",
                "caplet.toml: store.max_connections: between 1 and 1024",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(error), "{e}");
        }
        let mut config = parse("").unwrap();
        assert!(config.set_store_url("sqlite://x").is_err());
    }

    #[test]
    fn reads_policies_secrets_and_quotas() {
        let config = parse(
            r#"
[secrets]
api = { env = "API_TOKEN" }
lit = { value = "v" }

[http.api]
hosts = ["api.example.com"]
credentials = [{ host = "api.example.com", header = "Authorization", value = "Bearer {secret:api}" }]

[fs]
max_bytes = 1000

[fs.volumes.small]
max_entries = 3

[dns]
"DB.internal" = ["10.1.2.3", "::1"]
"#,
        )
        .unwrap();
        assert!(config.policies.contains_key("api"));
        assert!(config.secrets.contains("api") && config.secrets.contains("lit"));
        assert_eq!(
            config.quota("small"),
            Quota {
                max_bytes: 1000,
                max_entries: 3
            }
        );
        assert_eq!(config.quota("other").max_bytes, 1000);
        assert_eq!(config.dns["db.internal"].len(), 2);
        assert_eq!(config.quotas, Quotas::DEFAULTS);
    }

    #[test]
    fn reads_the_per_principal_quotas() {
        let config = parse("[quotas]\nworkers = 10\nconnections = 3\n").unwrap();
        assert_eq!(
            config.quotas,
            Quotas {
                workers: 10,
                connections: 3,
                ..Quotas::DEFAULTS
            }
        );
    }

    #[test]
    fn errors_are_one_line_and_name_the_key() {
        let cases = [
            ("[http.api]\nhostz = [\"x\"]\n", "caplet.toml:2: http.api.hostz: unknown field"),
            ("[fs]\nmax_bytes = \"lots\"\n", "caplet.toml:2: fs.max_bytes: invalid type"),
            ("[secrets]\nk = { env = \"MISSING\" }\n", "caplet.toml: secrets.k: environment variable MISSING is not set"),
            ("[secrets]\nk = {}\n", "caplet.toml: secrets.k: give exactly one of"),
            ("[secrets]\nk = \"hunter2\"\n", "caplet.toml:2: secrets.k: a secret is a table"),
            ("[secrets]\nk = 12345\n", "caplet.toml:2: secrets.k: a secret is a table"),
            ("[http.api]\nallow_ranges = [\"10.0.0.0/33\"]\n", "caplet.toml: http.api: bad_config: invalid address range"),
            ("[http.api]\ncredentials = [{ host = \"a.b\", header = \"X\", value = \"{secret:nope}\" }]\n", "caplet.toml: http.api: "),
            ("[http.\"a b\"]\n", "caplet.toml: http.a b: name"),
            ("[nope]\n", "caplet.toml:1: nope: unknown field"),
            ("[dns]\n\"a.b\" = [\"x\"]\n", "caplet.toml: dns.a.b: \"x\" is not an IP address"),
            ("[quotas]\nworkerz = 1\n", "caplet.toml:2: quotas.workerz: unknown field `workerz`"),
            ("[quotas]\nworkers = -1\n", "caplet.toml:2: quotas.workers: invalid value"),
            ("[quotas]\ncached_ids = 0\n", "caplet.toml: quotas.cached_ids: a quota must be at least 1"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{text:?}: {error}");
            assert!(
                !error.contains("hunter2") && !error.contains("12345"),
                "{error}"
            );
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn names_are_checked() {
        check_name("workspace").unwrap();
        check_name("api.example.com").unwrap();
        for bad in ["", "a/b", "a b", "..\u{0}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
