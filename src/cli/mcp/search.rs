//! The `search` tool: the slice of the generated declarations that matches
//! a query. The declarations are split into entries (each method of an
//! interface with its JSDoc, and each other declaration whole), entries
//! are ranked by how many query words their name, signature and doc
//! contain (a word in the name counts most), and the best few are printed
//! inside their interfaces, followed by the named types they mention.

use std::collections::BTreeSet;

/// Most entries one answer shows.
const MAX_ENTRIES: usize = 8;

/// Declarations of every file (caplet's globals), never an answer.
const PRELUDE: &[&str] = &[
    "Capability",
    "RpcError",
    "Console",
    "console",
    "WorkerModule",
];

/// One searchable piece of the declarations.
#[derive(Debug, Clone)]
struct Entry {
    /// The interface the entry is a member of (its header line), if any.
    parent: Option<String>,
    /// The member or declaration's name.
    name: String,
    /// Its text, JSDoc included, as in the declarations.
    text: String,
}

/// The declarations, split for searching.
#[derive(Debug, Clone)]
pub struct Index {
    entries: Vec<Entry>,
    /// `interface Env { … }`, shown with every answer.
    env: String,
}

impl Index {
    /// Splits `decls` (as `caplet_capnp_js::typescript` writes them).
    pub fn new(decls: &str) -> Self {
        let mut entries = Vec::new();
        let mut env = String::new();
        let lines: Vec<&str> = decls.lines().collect();
        let mut i = 0;
        let mut doc = String::new();
        while i < lines.len() {
            let line = lines[i];
            if line.starts_with("///") {
                i += 1;
                continue;
            }
            if line.starts_with("/**") {
                doc.clear();
                while i < lines.len() {
                    doc.push_str(lines[i]);
                    doc.push('\n');
                    if lines[i].trim_end().ends_with("*/") {
                        break;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            let name = decl_name(line);
            if line.starts_with("interface ")
                && line.contains(" extends ")
                && line.trim_end().ends_with('{')
            {
                // An interface: one entry per member, plus its header.
                let header = format!("{doc}{line}");
                i += 1;
                let mut member = String::new();
                while i < lines.len() && !lines[i].starts_with('}') {
                    let l = lines[i];
                    member.push_str(l);
                    member.push('\n');
                    let trimmed = l.trim_start();
                    let indent = l.len() - trimmed.len();
                    let comment = trimmed.starts_with("/**") || trimmed.starts_with('*');
                    if indent == 2 && !comment && l.trim_end().ends_with(';') {
                        entries.push(Entry {
                            parent: Some(header.clone()),
                            name: member_name(&member),
                            text: std::mem::take(&mut member),
                        });
                    }
                    i += 1;
                }
                // The interface itself, found by its name and doc.
                entries.push(Entry {
                    parent: None,
                    name,
                    text: format!("{header} … }}\n"),
                });
                doc.clear();
                i += 1;
                continue;
            }
            // Any other declaration, up to the next one at column 0.
            let mut text = std::mem::take(&mut doc);
            text.push_str(line);
            text.push('\n');
            i += 1;
            while i < lines.len() && (lines[i].starts_with(' ') || lines[i].starts_with('}')) {
                text.push_str(lines[i]);
                text.push('\n');
                i += 1;
            }
            if name == "Env" {
                env = text;
            } else if !PRELUDE.contains(&name.as_str()) {
                entries.push(Entry {
                    parent: None,
                    name,
                    text,
                });
            }
        }
        Index { entries, env }
    }

    /// The answer to `query`: the best entries, grouped by interface, then
    /// the declarations of the named types they mention, then `Env`.
    pub fn search(&self, query: &str) -> String {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| w.len() >= 2)
            .map(str::to_lowercase)
            .collect();
        let mut scored: Vec<(usize, usize)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (score(e, &words), i))
            .filter(|(s, _)| *s > 0)
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(MAX_ENTRIES);
        let mut out = String::new();
        if scored.is_empty() {
            out.push_str("// nothing matches; the API's declarations:\n");
            let names: Vec<&str> = self
                .entries
                .iter()
                .filter(|e| e.parent.is_none())
                .map(|e| e.name.as_str())
                .collect();
            out.push_str(&format!("// {}\n", names.join(", ")));
            out.push_str(&self.env);
            return out;
        }
        // Members grouped under their interface, in rank order of groups;
        // an interface whose members are shown is not shown again.
        let headers: Vec<String> = scored
            .iter()
            .filter_map(|(_, i)| self.entries[*i].parent.clone())
            .collect();
        scored.retain(|(_, i)| {
            let e = &self.entries[*i];
            e.parent.is_some() || !headers.iter().any(|h| e.text.starts_with(h.as_str()))
        });
        let mut shown: Vec<usize> = scored.iter().map(|(_, i)| *i).collect();
        let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for &i in &shown {
            let parent = self.entries[i].parent.clone();
            match groups
                .iter_mut()
                .find(|g| g.0 == parent && parent.is_some())
            {
                Some(g) => g.1.push(i),
                None => groups.push((parent, vec![i])),
            }
        }
        for (parent, members) in &groups {
            match parent {
                Some(header) => {
                    out.push_str(header);
                    out.push('\n');
                    for &i in members {
                        out.push_str(&self.entries[i].text);
                    }
                    out.push_str("}\n");
                }
                None => {
                    for &i in members {
                        out.push_str(&self.entries[i].text);
                    }
                }
            }
        }
        // The named types the answer mentions, once each.
        let mentioned: BTreeSet<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                e.parent.is_none()
                    && !shown.contains(i)
                    && !e.text.contains("extends Capability")
                    && mentions(&out, &e.name)
            })
            .map(|(i, _)| i)
            .collect();
        for i in mentioned {
            out.push_str(&self.entries[i].text);
            shown.push(i);
        }
        out.push_str(&self.env);
        out
    }
}

/// How well `entry` matches `words`.
fn score(entry: &Entry, words: &[String]) -> usize {
    let name = entry.name.to_lowercase();
    let text = entry.text.to_lowercase();
    let parent = entry
        .parent
        .as_deref()
        .map(str::to_lowercase)
        .unwrap_or_default();
    words
        .iter()
        .map(|w| {
            let mut s = 0;
            if name == *w {
                s += 6;
            } else if name.contains(w.as_str()) {
                s += 4;
            }
            if parent.contains(w.as_str()) {
                s += 1;
            }
            s + text.matches(w.as_str()).count().min(3)
        })
        .sum()
}

/// Whether `text` names `name` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

/// The name declared by a top-level line (`interface X`, `type X`,
/// `declare function X`, `declare class X`, `declare const X`).
fn decl_name(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = match words.first() {
        Some(&"declare") => 2,
        _ => 1,
    };
    words
        .get(at)
        .map(|w| {
            w.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

/// The name of a member: the first identifier of its first line that is
/// not part of its JSDoc.
fn member_name(member: &str) -> String {
    member
        .lines()
        .map(str::trim_start)
        .find(|l| !l.starts_with("/**") && !l.starts_with('*'))
        .map(|l| {
            l.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

/// The declarations without their JSDoc and references: the compact
/// summary a tool description carries.
pub fn summary(decls: &str) -> String {
    let mut out = String::new();
    let mut in_doc = false;
    for line in decls.lines() {
        let t = line.trim_start();
        if in_doc {
            in_doc = !t.ends_with("*/");
            continue;
        }
        if t.starts_with("/**") {
            in_doc = !t.ends_with("*/");
            continue;
        }
        if t.starts_with("///") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLS: &str = r#"/// <reference lib="es2022" />
/** A capability stub. */
interface Capability { [Symbol.dispose](): void }
/** The capabilities granted to this worker: all it can reach. */
interface Env {
  fs: Volume;
  kv: Store;
}
/** A volume of files. */
interface Volume extends Capability {
  /** Reads a whole file. */
  read(params: { path: string }): Promise<{ content: Uint8Array }>;
  /** Lists a directory. */
  list(params: {
    /** The directory. */
    path: string;
  }): Promise<{ entries: FsEntry[] }>;
}
/** A key/value store. */
interface Store extends Capability {
  /** Stores a value under a key. */
  put(params: { key: string; value: Uint8Array }): Promise<{}>;
}
/** One file or directory. */
interface FsEntry {
  name: string;
  size: number;
}
"#;

    #[test]
    fn search_ranks_members_and_adds_the_types_they_mention() {
        let index = Index::new(DECLS);
        let answer = index.search("list directory");
        assert!(answer.starts_with("/** A volume of files. */\ninterface Volume extends Capability {\n  /** Lists a directory. */\n  list(params: {"), "{answer}");
        assert!(
            answer.contains("interface FsEntry {\n  name: string;"),
            "{answer}"
        );
        assert!(answer.contains("interface Env {"), "{answer}");
        assert!(!answer.contains("put("), "{answer}");
        let answer = index.search("store a value");
        assert!(
            answer.contains("put(params: { key: string; value: Uint8Array })"),
            "{answer}"
        );
        assert!(!answer.contains("read("), "{answer}");
    }

    #[test]
    fn a_query_that_matches_nothing_lists_the_declarations() {
        let answer = Index::new(DECLS).search("zzz");
        assert!(answer.starts_with("// nothing matches"), "{answer}");
        assert!(answer.contains("Volume, Store, FsEntry"), "{answer}");
    }

    #[test]
    fn the_summary_has_no_docs() {
        let s = summary(DECLS);
        assert!(!s.contains("/**") && !s.contains("///"), "{s}");
        assert!(
            s.contains(
                "  list(params: {\n    path: string;\n  }): Promise<{ entries: FsEntry[] }>;"
            ),
            "{s}"
        );
    }
}
