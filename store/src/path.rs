//! Volume paths: normalisation, the checks that keep code inside its
//! volume, and glob matching.
//!
//! A normalised path is `/` (the root) or `/` followed by non-empty
//! components joined by `/`, none of them `.` or `..`. Everything the store
//! keeps or compares is normalised first, so `..` can never reach above the
//! root: there is nothing above it to reach.

use crate::error::{Error, Result};
pub use crate::{MAX_NAME_BYTES, MAX_PATH_BYTES};

/// Normalises `raw` into an absolute path: drops empty and `.` components,
/// resolves `..`, and takes a relative path from the root.
///
/// Fails with [`Error::PathHasNul`], [`Error::PathTooLong`],
/// [`Error::NameTooLong`] or [`Error::PathEscapesRoot`].
pub fn normalize(raw: &str) -> Result<String> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(Error::PathTooLong { len: raw.len() });
    }
    if raw.contains('\0') {
        return Err(Error::PathHasNul);
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::PathEscapesRoot);
                }
            }
            name => {
                if name.len() > MAX_NAME_BYTES {
                    return Err(Error::NameTooLong { len: name.len() });
                }
                parts.push(name);
            }
        }
    }
    if parts.is_empty() {
        return Ok("/".to_string());
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for part in parts {
        out.push('/');
        out.push_str(part);
    }
    Ok(out)
}

/// The parent of a normalised path; `None` for the root.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a normalised path; empty for the root.
pub fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

/// The components of a normalised path (none for the root).
pub fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty()).collect()
}

/// Joins a normalised directory path and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The half-open key range `[lo, hi)` holding exactly the strict
/// descendants of a normalised directory path, in byte order (`0` is the
/// byte after `/`).
pub fn descendants_range(dir: &str) -> (String, String) {
    if dir == "/" {
        ("/".to_string(), "0".to_string())
    } else {
        (format!("{dir}/"), format!("{dir}0"))
    }
}

/// Whether a component contains a wildcard (`*` or `?`).
pub fn has_wildcard(component: &str) -> bool {
    component.contains(['*', '?'])
}

/// Whether the components of a path match those of a glob pattern:
/// `**` (a whole component) matches zero or more components, and within a
/// component `*` matches any run of characters and `?` exactly one.
pub fn glob_match(pattern: &[&str], path: &[&str]) -> bool {
    // matched[j]: pattern[..i] matches path[..j]
    let mut matched = vec![false; path.len() + 1];
    matched[0] = true;
    for p in pattern {
        let mut next = vec![false; path.len() + 1];
        if *p == "**" {
            let mut any = false;
            for j in 0..=path.len() {
                any |= matched[j];
                next[j] = any;
            }
        } else {
            for j in 1..=path.len() {
                next[j] = matched[j - 1] && component_match(p, path[j - 1]);
            }
        }
        matched = next;
    }
    matched[path.len()]
}

/// Wildcard match of one component, by characters (`*` any run, `?` one).
fn component_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // dp[j]: p[..i] matches n[..j]
    let mut dp = vec![false; n.len() + 1];
    dp[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        if pc == '*' {
            let mut any = false;
            for j in 0..=n.len() {
                any |= dp[j];
                next[j] = any;
            }
        } else {
            for j in 1..=n.len() {
                next[j] = dp[j - 1] && (pc == '?' || pc == n[j - 1]);
            }
        }
        dp = next;
    }
    dp[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/a/./b//c").unwrap(), "/a/b/c");
        assert_eq!(normalize("a/b/").unwrap(), "/a/b");
        assert_eq!(normalize("/a/b/../c").unwrap(), "/a/c");
        assert_eq!(normalize("").unwrap(), "/");
        assert_eq!(normalize("/").unwrap(), "/");
        assert_eq!(normalize("/a/..").unwrap(), "/");
        assert_eq!(normalize("/…/é").unwrap(), "/…/é");
    }

    #[test]
    fn rejects_traversal_nul_and_long_paths() {
        assert!(matches!(
            normalize("../etc/passwd"),
            Err(Error::PathEscapesRoot)
        ));
        assert!(matches!(
            normalize("/a/../../b"),
            Err(Error::PathEscapesRoot)
        ));
        assert!(matches!(normalize("/.."), Err(Error::PathEscapesRoot)));
        assert!(matches!(normalize("/a\0b"), Err(Error::PathHasNul)));
        let long_name = format!("/{}", "x".repeat(256));
        assert!(matches!(
            normalize(&long_name),
            Err(Error::NameTooLong { len: 256 })
        ));
        assert!(normalize(&format!("/{}", "x".repeat(255))).is_ok());
        let long_path = "/abc".repeat(1025);
        assert!(matches!(
            normalize(&long_path),
            Err(Error::PathTooLong { len: 4100 })
        ));
    }

    #[test]
    fn parent_name_join() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/"), "");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[test]
    fn descendants_range_holds_only_descendants() {
        let (lo, hi) = descendants_range("/a");
        let inside = |p: &str| p >= lo.as_str() && p < hi.as_str();
        assert!(inside("/a/b"));
        assert!(inside("/a/b/c"));
        assert!(!inside("/a"));
        assert!(!inside("/a-b"));
        assert!(!inside("/ab"));
        assert!(!inside("/a0"));
    }

    #[test]
    fn globs() {
        let m = |pat: &str, path: &str| {
            glob_match(
                &components(&normalize(pat).unwrap()),
                &components(&normalize(path).unwrap()),
            )
        };
        assert!(m("/*.txt", "/a.txt"));
        assert!(!m("/*.txt", "/d/a.txt"));
        assert!(m("/**/*.txt", "/a.txt"));
        assert!(m("/**/*.txt", "/d/e/a.txt"));
        assert!(m("/d/**", "/d/e/f"));
        assert!(m("/d/**", "/d"));
        assert!(m("/?.md", "/é.md"));
        assert!(!m("/?.md", "/ab.md"));
        assert!(m("/a*b*c", "/aXXbYYc"));
        assert!(!m("/a*b*c", "/aXXbYY"));
        assert!(m("/**/x/**/y", "/1/x/2/3/y"));
    }
}
