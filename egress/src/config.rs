//! The serializable form of a [`Policy`], for the broker's configuration
//! file (JSON, TOML … anything serde reads).
//!
//! Omitted fields take the [`Policy`] defaults; unknown fields are an error,
//! so a typo cannot silently widen or narrow a policy. Example (JSON):
//!
//! ```json
//! {
//!   "hosts": ["api.github.com", "*.githubusercontent.com"],
//!   "methods": ["GET"],
//!   "path_prefixes": ["/repos/"],
//!   "credentials": [
//!     { "host": "api.github.com", "header": "Authorization",
//!       "value": "Bearer {secret:github}" }
//!   ],
//!   "limits": { "max_response_bytes": 1048576, "total_time_ms": 10000 },
//!   "ca_file": "certs/internal-ca.pem"
//! }
//! ```
//!
//! `ca_file` names a PEM file of CA certificates trusted for `https` in
//! addition to the default roots, relative to the configuration file's
//! directory (see [`PolicyConfig::to_policy_in`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::policy::{
    CredentialRule, Policy, MAX_RESPONSE_BYTES_LIMIT, MAX_RESPONSE_HEADER_BYTES_LIMIT,
};

/// A [`Policy`] as written in configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Allowed host patterns (`api.example.com`, `*.example.com`, an IP, `*`).
    pub hosts: Vec<String>,
    /// Allowed ports; omitted means 80 and 443.
    pub ports: Option<Vec<u16>>,
    /// Allowed methods; omitted means GET, HEAD, POST, PUT, PATCH, DELETE,
    /// OPTIONS.
    pub methods: Option<Vec<String>>,
    /// Allowed path prefixes; omitted means `/` (everything).
    pub path_prefixes: Option<Vec<String>>,
    /// CIDR ranges re-allowed despite the default address rules.
    pub allow_ranges: Vec<String>,
    /// Credential headers to inject.
    pub credentials: Vec<CredentialConfig>,
    /// Limits; omitted fields keep their defaults.
    pub limits: LimitsConfig,
    /// A PEM file of CA certificates trusted for `https` in addition to the
    /// default roots; relative paths are taken from the configuration
    /// file's directory.
    pub ca_file: Option<PathBuf>,
}

/// One credential rule as written in configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// Host pattern the header is added for.
    pub host: String,
    /// Header name.
    pub header: String,
    /// Header value template, with `{secret:NAME}` placeholders.
    pub value: String,
}

/// Limits as written in configuration; see [`crate::policy::Limits`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest response body, in bytes.
    pub max_response_bytes: Option<u64>,
    /// Largest request body, in bytes.
    pub max_request_bytes: Option<u64>,
    /// Most response headers.
    pub max_response_headers: Option<usize>,
    /// Largest response head, in bytes.
    pub max_response_header_bytes: Option<usize>,
    /// Most caller-supplied request headers.
    pub max_request_headers: Option<usize>,
    /// Largest total size of caller-supplied headers, in bytes.
    pub max_request_header_bytes: Option<usize>,
    /// Time for a whole fetch, in milliseconds.
    pub total_time_ms: Option<u64>,
    /// Most redirects followed.
    pub max_redirects: Option<u8>,
}

impl PolicyConfig {
    /// Checks and converts to a [`Policy`], reading a relative `ca_file`
    /// from the working directory; fails with `bad_config`, e.g. for a
    /// response limit too large for one message.
    pub fn to_policy(&self) -> Result<Policy> {
        self.to_policy_in(Path::new(""))
    }

    /// Like [`PolicyConfig::to_policy`], reading a relative `ca_file` from
    /// `dir` (the configuration file's directory).
    pub fn to_policy_in(&self, dir: &Path) -> Result<Policy> {
        let l = &self.limits;
        let over = |key: &str, value: u64, limit: u64| {
            Error::Config(format!(
                "limits.{key} = {value} is over {limit}, the most one answer can carry"
            ))
        };
        if let Some(value) = l
            .max_response_bytes
            .filter(|&v| v > MAX_RESPONSE_BYTES_LIMIT)
        {
            return Err(over("max_response_bytes", value, MAX_RESPONSE_BYTES_LIMIT));
        }
        if let Some(value) = l
            .max_response_header_bytes
            .filter(|&v| v > MAX_RESPONSE_HEADER_BYTES_LIMIT)
        {
            return Err(over(
                "max_response_header_bytes",
                value as u64,
                MAX_RESPONSE_HEADER_BYTES_LIMIT as u64,
            ));
        }
        let mut policy = Policy::default()
            .allow_hosts(self.hosts.iter().map(String::as_str))?
            .allow_ranges(self.allow_ranges.iter().map(String::as_str))?;
        if let Some(ports) = &self.ports {
            policy = policy.allow_ports(ports.iter().copied());
        }
        if let Some(methods) = &self.methods {
            policy = policy.allow_methods(methods.iter().map(String::as_str));
        }
        if let Some(prefixes) = &self.path_prefixes {
            policy = policy.allow_path_prefixes(prefixes.iter().map(String::as_str))?;
        }
        for rule in &self.credentials {
            policy = policy.inject(CredentialRule::new(&rule.host, &rule.header, &rule.value)?);
        }
        let limits = &mut policy.limits;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = l.$field { limits.$field = v; } )* };
        }
        set!(
            max_response_bytes,
            max_request_bytes,
            max_response_headers,
            max_response_header_bytes,
            max_request_headers,
            max_request_header_bytes,
            max_redirects
        );
        if let Some(ms) = l.total_time_ms {
            limits.total_time = Duration::from_millis(ms);
        }
        if let Some(file) = &self.ca_file {
            policy = policy.trust_ca_file(&dir.join(file))?;
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_documented_policy() {
        let config: PolicyConfig = serde_json::from_str(
            r#"{
              "hosts": ["api.github.com", "*.githubusercontent.com"],
              "methods": ["GET"],
              "path_prefixes": ["/repos/"],
              "credentials": [
                { "host": "api.github.com", "header": "Authorization",
                  "value": "Bearer {secret:github}" }
              ],
              "limits": { "max_response_bytes": 1048576, "total_time_ms": 10000 }
            }"#,
        )
        .unwrap();
        let policy = config.to_policy().unwrap();
        assert_eq!(policy.hosts.len(), 2);
        assert_eq!(policy.methods.len(), 1);
        assert_eq!(policy.ports, [80, 443].into());
        assert_eq!(policy.credentials.len(), 1);
        assert_eq!(policy.limits.max_response_bytes, 1 << 20);
        assert_eq!(policy.limits.total_time, Duration::from_secs(10));
        assert_eq!(policy.limits.max_redirects, 5);
    }

    #[test]
    fn empty_config_is_the_default_policy() {
        let config: PolicyConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.to_policy().unwrap(), Policy::default());
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(serde_json::from_str::<PolicyConfig>(r#"{"host": ["x"]}"#).is_err());
        let config: PolicyConfig =
            serde_json::from_str(r#"{"allow_ranges": ["10.0.0.0/33"]}"#).unwrap();
        assert_eq!(
            config.to_policy().unwrap_err().to_string(),
            "bad_config: invalid address range \"10.0.0.0/33\""
        );
    }

    #[test]
    fn response_limits_must_fit_in_one_answer() {
        let limits = |json: &str| -> Result<Policy> {
            serde_json::from_str::<PolicyConfig>(&format!(r#"{{"limits": {json}}}"#))
                .unwrap()
                .to_policy()
        };
        assert_eq!(
            limits(r#"{"max_response_bytes": 104857600}"#)
                .unwrap_err()
                .to_string(),
            "bad_config: limits.max_response_bytes = 104857600 is over 67108864, the most one answer can carry"
        );
        assert!(limits(r#"{"max_response_header_bytes": 1048577}"#)
            .unwrap_err()
            .to_string()
            .contains("limits.max_response_header_bytes = 1048577 is over 1048576"));
        let policy = limits(r#"{"max_response_bytes": 67108864}"#).unwrap();
        assert_eq!(policy.limits.max_response_bytes, MAX_RESPONSE_BYTES_LIMIT);
    }
}
