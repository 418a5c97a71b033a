//! Broker-held secrets (API keys, tokens) and the redactor that keeps them
//! out of everything returned to a caller.
//!
//! Secrets are loaded by the broker from its configuration or environment
//! and handed to a gateway; agent code never holds them. `Debug` output
//! shows secret names only, never values.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// Replacement for a secret found in output.
pub const REDACTED: &str = "[redacted]";

/// A named set of secret values.
#[derive(Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl Secrets {
    /// An empty set.
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Adds or replaces a secret. Fails with `bad_config` when the value is
    /// empty or cannot be sent in an HTTP header (control characters).
    pub fn insert(&mut self, name: &str, value: &str) -> Result<()> {
        if name.is_empty() {
            return Err(Error::Config("secret name is empty".into()));
        }
        if value.is_empty() {
            return Err(Error::Config(format!("secret {name} is empty")));
        }
        if value.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::Config(format!(
                "secret {name} contains control characters"
            )));
        }
        self.values.insert(name.to_string(), value.to_string());
        Ok(())
    }

    /// Loads every environment variable named `PREFIX<NAME>` as secret
    /// `<name>` (lower-cased), e.g. `CAPLET_SECRET_GITHUB` → `github` with
    /// prefix `CAPLET_SECRET_`. Variables that are not UTF-8 are skipped.
    pub fn from_env(prefix: &str) -> Result<Secrets> {
        Secrets::from_vars(prefix, std::env::vars_os())
    }

    /// Like [`Secrets::from_env`], over any list of variables.
    pub fn from_vars(
        prefix: &str,
        vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    ) -> Result<Secrets> {
        let mut secrets = Secrets::new();
        for (key, value) in vars {
            let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
                continue;
            };
            if let Some(name) = key.strip_prefix(prefix) {
                secrets.insert(&name.to_ascii_lowercase(), value)?;
            }
        }
        Ok(secrets)
    }

    /// The value of secret `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether a secret called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A redactor for the given secrets (unknown names are ignored).
    pub(crate) fn redactor<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut values: Vec<Vec<u8>> = names
            .into_iter()
            .filter_map(|name| self.get(name))
            .map(|value| value.as_bytes().to_vec())
            .collect();
        // Longest first, so a secret containing another is redacted whole.
        values.sort_by_key(|value| std::cmp::Reverse(value.len()));
        values.dedup();
        Redactor { values }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.values.keys().map(|name| (name, REDACTED)))
            .finish()
    }
}

/// Replaces every occurrence of a set of secret values by [`REDACTED`].
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<Vec<u8>>,
}

impl Redactor {
    /// `bytes` with every secret replaced; returns the input untouched
    /// when it holds none.
    pub fn redact_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        let mut bytes = bytes;
        for secret in &self.values {
            if find(&bytes, secret).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(bytes.len());
            let mut rest = &bytes[..];
            while let Some(at) = find(rest, secret) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[at + secret.len()..];
            }
            out.extend_from_slice(rest);
            bytes = out;
        }
        bytes
    }

    /// `text` with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.values {
            if let Ok(secret) = std::str::from_utf8(secret) {
                text = text.replace(secret, REDACTED);
            }
        }
        text
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.values.len())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_values() {
        let mut secrets = Secrets::new();
        secrets.insert("github", "ghp_topsecret").unwrap();
        let debug = format!("{secrets:?}");
        assert!(!debug.contains("ghp_topsecret"), "{debug}");
        assert!(debug.contains("github"), "{debug}");
        let redactor = secrets.redactor(["github"]);
        assert!(!format!("{redactor:?}").contains("ghp_topsecret"));
    }

    #[test]
    fn rejects_unusable_values() {
        let mut secrets = Secrets::new();
        assert!(secrets.insert("a", "").is_err());
        assert!(secrets.insert("a", "x\r\ny").is_err());
        let err = secrets.insert("a", "zzz\nvalue").unwrap_err().to_string();
        assert!(!err.contains("zzz"), "{err}");
    }

    #[test]
    fn loads_from_prefixed_variables() {
        let vars = [
            ("CAPLET_SECRET_GITHUB", "g1"),
            ("CAPLET_SECRET_Stripe", "s1"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let secrets = Secrets::from_vars("CAPLET_SECRET_", vars).unwrap();
        assert_eq!(secrets.get("github"), Some("g1"));
        assert_eq!(secrets.get("stripe"), Some("s1"));
        assert!(!secrets.contains("home"));
    }

    #[test]
    fn redacts_every_occurrence() {
        let mut secrets = Secrets::new();
        secrets.insert("a", "tok").unwrap();
        secrets.insert("b", "tokenlong").unwrap();
        let redactor = secrets.redactor(["a", "b", "missing"]);
        assert_eq!(
            redactor.redact("x tokenlong y tok z"),
            "x [redacted] y [redacted] z"
        );
        assert_eq!(
            redactor.redact_bytes(b"tok\x00tok".to_vec()),
            b"[redacted]\x00[redacted]".to_vec()
        );
        assert_eq!(
            redactor.redact_bytes(b"nothing".to_vec()),
            b"nothing".to_vec()
        );
    }
}
