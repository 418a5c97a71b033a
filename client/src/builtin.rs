//! Built-in capabilities (`fs`, `kv`, `http`) asked of the broker with
//! `Broker.builtin`, and the grant specs the command line writes them in:
//! `fs:NAME`, `fs:NAME:ro`, `kv:NAME`, `http:POLICY`, `mcp:SERVER`, granted as
//! `--grant BINDING=SPEC`, optionally followed by a budget
//! (`,calls=N,bytes=B,expires=SECONDS,methods=a|b`).

use std::fmt;
use std::str::FromStr;

use caplet::caplet_capnp::{budget, builtin_grant};

/// Which built-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinKind {
    /// A file system volume (`fs.capnp:Volume`).
    Fs,
    /// A key/value store (`kv.capnp:Store`).
    Kv,
    /// An http gateway bound to a configured policy (`http.capnp:Gateway`).
    Http,
    /// The tools of a configured upstream MCP server (`mcp.capnp`).
    Mcp,
}

/// One built-in capability: its kind, its name (volume, store or policy),
/// for `fs` whether it is read-only, and the budget of its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builtin {
    pub kind: BuiltinKind,
    pub name: String,
    pub read_only: bool,
    /// The grant's budget (`Binding.budget`); the default limits nothing.
    pub budget: Budget,
}

/// What a grant may be used for (`Binding.budget`): 0 or empty means no
/// limit of that kind. Enforced by the broker for the grant and everything
/// reached through it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    /// Calls through the grant, in total.
    pub calls: u64,
    /// Bytes of params plus results, in total.
    pub bytes: u64,
    /// Milliseconds after the load from which every call fails.
    pub expires_in_ms: u64,
    /// The granted interface's methods that may be called.
    pub methods: Vec<String>,
}

impl Budget {
    /// Whether it limits anything.
    pub fn is_empty(&self) -> bool {
        *self == Budget::default()
    }

    /// This budget as a `Budget` message of its own.
    pub fn to_message(&self) -> capnp::message::Builder<capnp::message::HeapAllocator> {
        let mut message = capnp::message::Builder::new_default();
        self.write(message.init_root());
        message
    }

    pub(crate) fn write(&self, mut out: budget::Builder<'_>) {
        out.set_calls(self.calls);
        out.set_bytes(self.bytes);
        out.set_expires_in_ms(self.expires_in_ms);
        let mut methods = out.init_methods(self.methods.len() as u32);
        for (i, m) in self.methods.iter().enumerate() {
            methods.set(i as u32, m);
        }
    }

    /// Parses one `KEY=VALUE` option of a grant spec into this budget.
    fn set(&mut self, option: &str) -> Result<(), String> {
        let number = |value: &str| {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{option:?}: expected a whole number above 0"))
        };
        match option.split_once('=') {
            Some(("calls", value)) => self.calls = number(value)?,
            Some(("bytes", value)) => self.bytes = number(value)?,
            Some(("expires", value)) => {
                self.expires_in_ms = seconds_as_ms(value)
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| {
                        format!("{option:?}: expected seconds above 0, at most 3 decimals")
                    })?
            }
            Some(("methods", value)) => {
                self.methods = value.split('|').map(str::to_string).collect();
                if self.methods.iter().any(String::is_empty) {
                    return Err(format!("{option:?}: a method name is empty"));
                }
            }
            _ => {
                return Err(format!(
                    "unknown option {option:?}: expected calls=N, bytes=B, expires=SECONDS or methods=a|b"
                ))
            }
        }
        Ok(())
    }
}

/// `SECONDS` (a whole number, or with up to 3 decimals) in milliseconds;
/// `None` when it is not such a number or too large.
fn seconds_as_ms(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 3 {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let ms = format!("{fraction:0<3}").parse::<u64>().ok()?;
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(ms)
}

impl Builtin {
    /// A read-write volume.
    pub fn fs(name: impl Into<String>) -> Self {
        Self::new(BuiltinKind::Fs, name)
    }

    /// A read-only volume.
    pub fn fs_read_only(name: impl Into<String>) -> Self {
        Self {
            read_only: true,
            ..Self::fs(name)
        }
    }

    /// A key/value store.
    pub fn kv(name: impl Into<String>) -> Self {
        Self::new(BuiltinKind::Kv, name)
    }

    /// The upstream MCP server `server` of the broker's configuration.
    pub fn mcp(server: impl Into<String>) -> Self {
        Self::new(BuiltinKind::Mcp, server)
    }

    /// An http gateway with the broker's policy `policy`.
    pub fn http(policy: impl Into<String>) -> Self {
        Self::new(BuiltinKind::Http, policy)
    }

    fn new(kind: BuiltinKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            read_only: false,
            budget: Budget::default(),
        }
    }

    /// The same built-in, granted under `budget`.
    pub fn with_budget(self, budget: Budget) -> Self {
        Self { budget, ..self }
    }

    pub(crate) fn write(&self, mut out: builtin_grant::Builder<'_>) {
        out.set_kind(match self.kind {
            BuiltinKind::Fs => builtin_grant::Kind::Fs,
            BuiltinKind::Kv => builtin_grant::Kind::Kv,
            BuiltinKind::Http => builtin_grant::Kind::Http,
            BuiltinKind::Mcp => builtin_grant::Kind::Mcp,
        });
        out.set_name(&self.name);
        out.set_read_only(self.read_only);
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            BuiltinKind::Fs => "fs",
            BuiltinKind::Kv => "kv",
            BuiltinKind::Http => "http",
            BuiltinKind::Mcp => "mcp",
        };
        write!(f, "{kind}:{}", self.name)?;
        if self.read_only {
            f.write_str(":ro")?;
        }
        let b = &self.budget;
        for (key, value) in [("calls", b.calls), ("bytes", b.bytes)] {
            if value > 0 {
                write!(f, ",{key}={value}")?;
            }
        }
        if b.expires_in_ms > 0 {
            // Exact: whole seconds, or as many decimals as the milliseconds
            // need, so the spec parses back to the same budget.
            let (secs, ms) = (b.expires_in_ms / 1000, b.expires_in_ms % 1000);
            match ms {
                0 => write!(f, ",expires={secs}")?,
                _ => {
                    let fraction = format!("{ms:03}");
                    write!(f, ",expires={secs}.{}", fraction.trim_end_matches('0'))?
                }
            }
        }
        if !b.methods.is_empty() {
            write!(f, ",methods={}", b.methods.join("|"))?;
        }
        Ok(())
    }
}

impl FromStr for Builtin {
    type Err = String;

    /// Parses `fs:NAME`, `fs:NAME:ro`, `fs:NAME:rw`, `kv:NAME` or
    /// `http:POLICY`, then any budget options (`,calls=N,bytes=B,
    /// expires=SECONDS,methods=a|b`). The error is one line naming the bad
    /// part.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = text.split(',');
        let spec = parts.next().unwrap_or_default();
        let mut budget = Budget::default();
        for option in parts {
            budget
                .set(option)
                .map_err(|why| format!("bad grant spec {text:?}: {why}"))?;
        }
        let bad = |why: &str| Err(format!("bad grant spec {text:?}: {why}"));
        let Some((kind, rest)) = spec.split_once(':') else {
            return bad("expected KIND:NAME, e.g. fs:workspace, kv:main or http:api");
        };
        let kind = match kind {
            "fs" => BuiltinKind::Fs,
            "kv" => BuiltinKind::Kv,
            "http" => BuiltinKind::Http,
            "mcp" => BuiltinKind::Mcp,
            other => {
                return bad(&format!(
                    "unknown kind {other:?}: expected fs, kv, http or mcp"
                ))
            }
        };
        let (name, read_only) = match (kind, rest.rsplit_once(':')) {
            (BuiltinKind::Fs, Some((name, "ro"))) => (name, true),
            (BuiltinKind::Fs, Some((name, "rw"))) => (name, false),
            (BuiltinKind::Fs, Some((_, mode))) => {
                return bad(&format!("unknown mode {mode:?}: expected ro or rw"))
            }
            (_, Some(_)) => return bad("only fs grants take a mode"),
            (_, None) => (rest, false),
        };
        if name.is_empty() {
            return bad("the name is empty");
        }
        Ok(Self {
            kind,
            name: name.to_string(),
            read_only,
            budget,
        })
    }
}

/// Parses a command-line grant, `BINDING=SPEC`, e.g. `fs=fs:workspace:ro`.
pub fn parse_grant(text: &str) -> Result<(String, Builtin), String> {
    let Some((binding, spec)) = text.split_once('=') else {
        return Err(format!(
            "bad grant {text:?}: expected BINDING=SPEC, e.g. fs=fs:workspace"
        ));
    };
    if binding.is_empty() {
        return Err(format!("bad grant {text:?}: the binding name is empty"));
    }
    Ok((binding.to_string(), spec.parse()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_specs_parse_and_print() {
        for (text, builtin) in [
            ("fs:workspace", Builtin::fs("workspace")),
            ("fs:docs:ro", Builtin::fs_read_only("docs")),
            ("kv:main", Builtin::kv("main")),
            ("http:api.example.com", Builtin::http("api.example.com")),
            ("mcp:weather", Builtin::mcp("weather")),
        ] {
            assert_eq!(text.parse::<Builtin>().unwrap(), builtin);
            assert_eq!(builtin.to_string(), text);
        }
        assert_eq!("fs:a:rw".parse::<Builtin>().unwrap(), Builtin::fs("a"));
        assert_eq!(
            parse_grant("fetch=http:api").unwrap(),
            ("fetch".to_string(), Builtin::http("api"))
        );
        let budgeted = Builtin::kv("main").with_budget(Budget {
            calls: 100,
            bytes: 0,
            expires_in_ms: 60_000,
            methods: vec!["get".into(), "list".into()],
        });
        let text = "kv:main,calls=100,expires=60,methods=get|list";
        assert_eq!(text.parse::<Builtin>().unwrap(), budgeted);
        assert_eq!(budgeted.to_string(), text);
    }

    #[test]
    fn an_expiry_prints_exactly_and_parses_back() {
        for (ms, text) in [
            (1_500, "kv:main,expires=1.5"),
            (1, "kv:main,expires=0.001"),
            (60_250, "kv:main,expires=60.25"),
            (2_000, "kv:main,expires=2"),
        ] {
            let builtin = Builtin::kv("main").with_budget(Budget {
                expires_in_ms: ms,
                ..Budget::default()
            });
            assert_eq!(builtin.to_string(), text);
            assert_eq!(text.parse::<Builtin>().unwrap(), builtin);
        }
        for bad in [
            "0",
            "0.0",
            "1.2345",
            "1.",
            ".5",
            "-1",
            "1e3",
            "99999999999999999999",
        ] {
            let error = format!("kv:x,expires={bad}")
                .parse::<Builtin>()
                .unwrap_err();
            assert!(error.contains("expected seconds above 0"), "{bad}: {error}");
        }
    }

    #[test]
    fn bad_specs_name_the_bad_part() {
        for (text, needle) in [
            ("workspace", "expected KIND:NAME"),
            ("disk:x", "unknown kind \"disk\""),
            ("fs:x:rx", "unknown mode \"rx\""),
            ("kv:x:ro", "only fs grants take a mode"),
            ("fs:", "the name is empty"),
            ("kv:x,calls=0", "above 0"),
            ("kv:x,calls=many", "\"calls=many\""),
            ("kv:x,color=red", "unknown option \"color=red\""),
            ("kv:x,methods=get||put", "a method name is empty"),
        ] {
            let error = text.parse::<Builtin>().unwrap_err();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(error.contains(text), "{error}");
        }
        assert!(parse_grant("fs:x").unwrap_err().contains("BINDING=SPEC"));
    }
}
