//! Built-in capabilities (`fs`, `kv`, `http`) asked of the broker with
//! `Broker.builtin`, and the grant specs the command line writes them in:
//! `fs:NAME`, `fs:NAME:ro`, `kv:NAME`, `http:POLICY`, granted as
//! `--grant BINDING=SPEC`.

use std::fmt;
use std::str::FromStr;

use caplet::caplet_capnp::builtin_grant;

/// Which built-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinKind {
    /// A file system volume (`fs.capnp:Volume`).
    Fs,
    /// A key/value store (`kv.capnp:Store`).
    Kv,
    /// An http gateway bound to a configured policy (`http.capnp:Gateway`).
    Http,
}

/// One built-in capability: its kind, its name (volume, store or policy)
/// and, for `fs`, whether it is read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builtin {
    pub kind: BuiltinKind,
    pub name: String,
    pub read_only: bool,
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

    /// An http gateway with the broker's policy `policy`.
    pub fn http(policy: impl Into<String>) -> Self {
        Self::new(BuiltinKind::Http, policy)
    }

    fn new(kind: BuiltinKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            read_only: false,
        }
    }

    pub(crate) fn write(&self, mut out: builtin_grant::Builder<'_>) {
        out.set_kind(match self.kind {
            BuiltinKind::Fs => builtin_grant::Kind::Fs,
            BuiltinKind::Kv => builtin_grant::Kind::Kv,
            BuiltinKind::Http => builtin_grant::Kind::Http,
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
        };
        write!(f, "{kind}:{}", self.name)?;
        if self.read_only {
            f.write_str(":ro")?;
        }
        Ok(())
    }
}

impl FromStr for Builtin {
    type Err = String;

    /// Parses `fs:NAME`, `fs:NAME:ro`, `fs:NAME:rw`, `kv:NAME` or
    /// `http:POLICY`. The error is one line naming the bad part.
    fn from_str(spec: &str) -> Result<Self, String> {
        let bad = |why: &str| Err(format!("bad grant spec {spec:?}: {why}"));
        let Some((kind, rest)) = spec.split_once(':') else {
            return bad("expected KIND:NAME, e.g. fs:workspace, kv:main or http:api");
        };
        let kind = match kind {
            "fs" => BuiltinKind::Fs,
            "kv" => BuiltinKind::Kv,
            "http" => BuiltinKind::Http,
            other => return bad(&format!("unknown kind {other:?}: expected fs, kv or http")),
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
        ] {
            assert_eq!(text.parse::<Builtin>().unwrap(), builtin);
            assert_eq!(builtin.to_string(), text);
        }
        assert_eq!("fs:a:rw".parse::<Builtin>().unwrap(), Builtin::fs("a"));
        assert_eq!(
            parse_grant("fetch=http:api").unwrap(),
            ("fetch".to_string(), Builtin::http("api"))
        );
    }

    #[test]
    fn bad_specs_name_the_bad_part() {
        for (text, needle) in [
            ("workspace", "expected KIND:NAME"),
            ("disk:x", "unknown kind \"disk\""),
            ("fs:x:rx", "unknown mode \"rx\""),
            ("kv:x:ro", "only fs grants take a mode"),
            ("fs:", "the name is empty"),
        ] {
            let error = text.parse::<Builtin>().unwrap_err();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(error.contains(text), "{error}");
        }
        assert!(parse_grant("fs:x").unwrap_err().contains("BINDING=SPEC"));
    }
}
