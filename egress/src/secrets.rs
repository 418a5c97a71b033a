//! Broker-held secrets (API keys, tokens) and the redactor that keeps them
//! out of everything returned to a caller.
//!
//! Secrets are loaded by the broker from its configuration or environment
//! and handed to a gateway; agent code never holds them. `Debug` output
//! shows secret names only, never values. The [`Redactor`] finds a secret
//! in any case, percent-encoded or in base64.

use std::collections::BTreeMap;
use std::fmt;

use aho_corasick::AhoCorasick;

use crate::error::{Error, Result};

/// Replacement for a secret found in output.
pub const REDACTED: &str = "[redacted]";

/// What replaces a secret inside an HTTP token (a header name), where `[`
/// and `]` are not allowed: the name stays one a client can use.
pub const REDACTED_TOKEN: &str = "redacted";

/// The prefix of environment variables a broker reads as secrets
/// (`CAPLET_SECRET_NAME` is the secret `NAME`).
pub const ENV_PREFIX: &str = "CAPLET_SECRET_";

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
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether a secret called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A redactor for the given secrets (unknown names are ignored).
    pub(crate) fn redactor<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Redactor {
        Redactor::new(names.into_iter().filter_map(|name| self.get(name)))
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
///
/// An occurrence is any spelling a server could send a secret back in:
///
/// - the value itself, in any ASCII case;
/// - percent-encoded, wholly or in part, once or twice (`%2D`, `%252D`),
///   with `+` for a space as in forms;
/// - base64 (standard or URL-safe alphabet) inside a longer base64 text, at
///   any of the three byte alignments (e.g. `Basic base64(user:secret)`):
///   the run of characters that depends on the secret alone is replaced.
///   Only for secrets whose run is at least [`MIN_BASE64_RUN`] characters,
///   so a short secret does not blank out unrelated text.
///
/// Overlapping occurrences are replaced as one.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every spelling of every secret, searched for in one pass.
    searcher: Option<AhoCorasick>,
    secrets: usize,
}

/// Shortest base64 run of a secret that is searched for.
pub const MIN_BASE64_RUN: usize = 8;

impl Redactor {
    /// A redactor for these secret values.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Redactor {
        use base64::Engine;
        let mut needles: Vec<Vec<u8>> = Vec::new();
        let mut secrets = 0;
        for value in values {
            if value.is_empty() {
                continue;
            }
            secrets += 1;
            needles.push(value.as_bytes().to_vec());
            for offset in 0..3 {
                let mut input = vec![0u8; offset];
                input.extend_from_slice(value.as_bytes());
                for engine in [
                    base64::engine::general_purpose::STANDARD_NO_PAD,
                    base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ] {
                    let encoded = engine.encode(&input);
                    // Characters whose 6 bits come from the secret alone.
                    let first = (offset * 4).div_ceil(3);
                    let last = (input.len() * 4) / 3;
                    if last >= first + MIN_BASE64_RUN {
                        needles.push(encoded.as_bytes()[first..last].to_vec());
                    }
                }
            }
        }
        needles.sort();
        needles.dedup();
        let searcher = (!needles.is_empty()).then(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&needles)
                .expect("secret needles form a valid automaton")
        });
        Redactor { searcher, secrets }
    }

    /// `bytes` with every occurrence of a secret replaced; returns the input
    /// untouched when it holds none.
    pub fn redact_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        let Some(searcher) = &self.searcher else {
            return bytes;
        };
        let mut found: Vec<(usize, usize)> = Vec::new();
        let mut collect = |view: &[u8], map: &dyn Fn(usize, usize) -> (usize, usize)| {
            for hit in searcher.find_overlapping_iter(view) {
                found.push(map(hit.start(), hit.end()));
            }
        };
        collect(&bytes, &|start, end| (start, end));
        if bytes.contains(&b'%') || bytes.contains(&b'+') {
            let once = Decoded::new(&bytes, false);
            collect(&once.bytes, &|s, e| once.original(s, e));
            let plus = Decoded::new(&bytes, true);
            collect(&plus.bytes, &|s, e| plus.original(s, e));
            if once.bytes.contains(&b'%') {
                let twice = Decoded::new(&once.bytes, false);
                collect(&twice.bytes, &|s, e| {
                    let (s, e) = twice.original(s, e);
                    once.original(s, e)
                });
            }
        }
        if found.is_empty() {
            return bytes;
        }
        found.sort_unstable();
        let mut out = Vec::with_capacity(bytes.len());
        let mut done = 0;
        let mut ranges = found.into_iter().peekable();
        while let Some((start, mut end)) = ranges.next() {
            while let Some(&(next_start, next_end)) = ranges.peek() {
                if next_start > end {
                    break;
                }
                end = end.max(next_end);
                ranges.next();
            }
            out.extend_from_slice(&bytes[done..start]);
            out.extend_from_slice(REDACTED.as_bytes());
            done = end;
        }
        out.extend_from_slice(&bytes[done..]);
        out
    }

    /// `token` (a header name) with every occurrence of a secret replaced
    /// by [`REDACTED_TOKEN`], so it stays a valid token.
    pub fn redact_token(&self, token: &str) -> String {
        self.redact(token).replace(REDACTED, REDACTED_TOKEN)
    }

    /// `text` with every occurrence of a secret replaced.
    pub fn redact(&self, text: &str) -> String {
        if self.searcher.is_none() {
            return text.to_string();
        }
        let bytes = self.redact_bytes(text.as_bytes().to_vec());
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets)
    }
}

/// Text with its percent escapes (`%XX`, any case) decoded, remembering
/// where each decoded byte came from.
struct Decoded {
    bytes: Vec<u8>,
    /// For each escape: its index in `bytes`, and in the input (3 bytes).
    escapes: Vec<(usize, usize)>,
}

impl Decoded {
    /// Decodes `input`'s escapes, and `+` as a space when `plus`.
    fn new(input: &[u8], plus: bool) -> Decoded {
        let mut bytes = Vec::with_capacity(input.len());
        let mut escapes = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let hex = |at: usize| input.get(at).and_then(|b| (*b as char).to_digit(16));
            match (input[i], hex(i + 1), hex(i + 2)) {
                (b'%', Some(high), Some(low)) => {
                    escapes.push((bytes.len(), i));
                    bytes.push((high * 16 + low) as u8);
                    i += 3;
                }
                (b'+', _, _) if plus => {
                    bytes.push(b' ');
                    i += 1;
                }
                (byte, _, _) => {
                    bytes.push(byte);
                    i += 1;
                }
            }
        }
        Decoded { bytes, escapes }
    }

    /// The input range the decoded range `start..end` came from.
    fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.position(start).0, self.position(end - 1).1)
    }

    /// The input range of decoded byte `at`.
    fn position(&self, at: usize) -> (usize, usize) {
        match self
            .escapes
            .binary_search_by_key(&at, |&(decoded, _)| decoded)
        {
            Ok(k) => (self.escapes[k].1, self.escapes[k].1 + 3),
            Err(0) => (at, at + 1),
            Err(k) => {
                let (decoded, input) = self.escapes[k - 1];
                let at = input + 3 + (at - decoded - 1);
                (at, at + 1)
            }
        }
    }
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

    fn one(secret: &str) -> Redactor {
        Redactor::new([secret])
    }

    #[test]
    fn a_secret_in_a_header_name_leaves_a_valid_name() {
        let r = one("sk-live-abc123");
        assert_eq!(r.redact_token("x-sk-live-abc123"), "x-redacted");
        assert_eq!(r.redact_token("x-plain"), "x-plain");
    }

    #[test]
    fn matching_ignores_case() {
        let r = one("sk-Live-abc123");
        assert_eq!(
            r.redact("a SK-LIVE-ABC123 b sk-live-abc123"),
            "a [redacted] b [redacted]"
        );
    }

    #[test]
    fn percent_encoded_forms_are_found() {
        let r = one("sk-live abc+1");
        for (text, want) in [
            (
                "?a=Bearer%20sk-live%20abc%2B1&b",
                "?a=Bearer%20[redacted]&b",
            ),
            ("?a=sk%2dlive+abc%2b1", "?a=[redacted]"),
            ("%73%6B%2D%6C%69%76%65%20%61%62%63%2B%31!", "[redacted]!"),
            ("sk%252Dlive%2520abc%252B1", "[redacted]"),
            ("%zz sk-live abc+1 %", "%zz [redacted] %"),
        ] {
            assert_eq!(r.redact(text), want, "{text}");
        }
        // `+` is a space only in its own view: a literal `+` still matches.
        assert_eq!(r.redact("x=sk-live%20abc+1"), "x=[redacted]");
    }

    #[test]
    fn base64_forms_are_found_at_every_alignment() {
        use base64::Engine;
        let secret = "sk-live-0123456789";
        let r = one(secret);
        for prefix in ["", "u", "us", "user:", "Bearer "] {
            for engine in [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                let encoded = engine.encode(format!("{prefix}{secret}"));
                let out = r.redact(&format!("Basic {encoded}"));
                assert!(out.starts_with("Basic ") && out.contains(REDACTED), "{out}");
                // Left: `Basic `, the prefix's characters, at most 3 more.
                let left = out.replace(REDACTED, "");
                let most = "Basic ".len() + (prefix.len() * 4).div_ceil(3) + 3;
                assert!(left.len() <= most, "{prefix:?}: {out}");
            }
        }
        // Short secrets are not searched for in base64.
        let r = one("abc");
        assert_eq!(r.redact("YWJj"), "YWJj");
        assert_eq!(r.redact("xABCx"), "x[redacted]x");
    }

    #[test]
    fn overlapping_occurrences_become_one() {
        let r = Redactor::new(["abcabc", "cab"]);
        assert_eq!(r.redact("xabcabcabcx"), "x[redacted]x");
        let r = Redactor::new(["aaaa"]);
        assert_eq!(r.redact("aaaaaa"), "[redacted]");
    }
}
