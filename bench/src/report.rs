//! The printed result: caplet's measurements against the targets, the peers,
//! and the ratios between them, as plain text or Markdown.

use crate::stats::{Summary, Unit};

/// A target from DESIGN.md, met when the median is on the right side of
/// `bound` (at most for lower-is-better units, at least otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub bound: f64,
}

/// One measurement, or why it is missing.
pub struct Row {
    pub key: &'static str,
    pub name: String,
    pub result: Result<Summary, String>,
    pub target: Option<Target>,
}

/// A caplet measurement and the peer measurements it is compared with.
pub struct Comparison {
    pub caplet: &'static str,
    pub peers: Vec<&'static str>,
}

/// One point of a curve across concurrency: `clients` concurrent clients,
/// operations per second over the whole window, and the latency of one
/// operation (median, p90, p99).
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub clients: usize,
    pub rate: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    /// CPU seconds per second of wall time of the runtime's processes and
    /// its clients over the window (cores kept busy), where measured.
    pub cores_busy: Option<f64>,
}

/// Throughput of one runtime and one kind of operation across concurrency.
pub struct Curve {
    pub runtime: &'static str,
    pub kind: &'static str,
    pub points: Vec<Point>,
}

/// Latency of a chain of `depth` calls over the delayed link, pipelined and
/// awaited one by one (medians, seconds).
#[derive(Debug, Clone, Copy)]
pub struct ChainPoint {
    pub depth: u32,
    pub pipelined: f64,
    pub awaited: f64,
}

#[derive(Default)]
pub struct Report {
    pub caplet: Vec<Row>,
    pub peers: Vec<Row>,
    pub comparisons: Vec<Comparison>,
    pub notes: Vec<String>,
    /// Throughput across concurrency, per runtime (for tables and charts).
    pub curves: Vec<Curve>,
    /// Chain latency over the delayed link, by depth.
    pub chain_points: Vec<ChainPoint>,
    /// The delayed link, as the chain chart names it (`1 ms link`).
    pub link: String,
    /// Cores of this machine.
    pub cores: usize,
}

impl Report {
    pub fn add(
        &mut self,
        key: &'static str,
        name: impl Into<String>,
        result: anyhow::Result<Summary>,
    ) {
        self.caplet.push(Row {
            key,
            name: name.into(),
            result: result.map_err(|e| format!("failed: {e:#}")),
            target: None,
        });
    }

    /// Adds a measurement with its target.
    pub fn add_target(
        &mut self,
        key: &'static str,
        name: impl Into<String>,
        result: anyhow::Result<Summary>,
        bound: f64,
    ) {
        self.add(key, name, result);
        if let Some(row) = self.caplet.last_mut() {
            row.target = Some(Target { bound });
        }
    }

    /// Adds a peer measurement, or the reason it is missing.
    pub fn peer(
        &mut self,
        key: &'static str,
        name: impl Into<String>,
        result: Result<Summary, String>,
    ) {
        self.peers.push(Row {
            key,
            name: name.into(),
            result,
            target: None,
        });
    }

    pub fn compare(&mut self, caplet: &'static str, peers: &[&'static str]) {
        self.comparisons.push(Comparison {
            caplet,
            peers: peers.to_vec(),
        });
    }

    fn find(&self, key: &str) -> Option<&Row> {
        self.caplet.iter().chain(&self.peers).find(|r| r.key == key)
    }

    /// The measurement under `key` and its name, if it succeeded.
    pub fn get(&self, key: &str) -> Option<(&str, &Summary)> {
        let row = self.find(key)?;
        row.result.as_ref().ok().map(|s| (row.name.as_str(), s))
    }

    pub fn print(&self, markdown: bool) {
        let mut rows = Vec::new();
        for row in &self.caplet {
            let (median, p90, p99) = cells(&row.result);
            let (target, verdict) = match (row.target, &row.result) {
                (Some(t), Ok(s)) => {
                    let met = if s.unit.higher_is_better() {
                        s.median >= t.bound
                    } else {
                        s.median <= t.bound
                    };
                    (
                        bound_text(s.unit, t.bound),
                        if met { "met" } else { "MISSED" },
                    )
                }
                _ => (String::new(), ""),
            };
            rows.push(vec![
                row.name.clone(),
                median,
                p90,
                p99,
                target,
                verdict.into(),
            ]);
        }
        table(
            markdown,
            &["caplet", "median", "p90", "p99", "target", ""],
            rows,
            1,
        );
        println!();

        let rows = self
            .peers
            .iter()
            .map(|row| {
                let (median, p90, p99) = cells(&row.result);
                vec![row.name.clone(), median, p90, p99]
            })
            .collect();
        table(
            markdown,
            &["peer (same run)", "median", "p90", "p99"],
            rows,
            1,
        );
        println!();

        let mut rows = Vec::new();
        for comparison in &self.comparisons {
            let Some(caplet) = self.find(comparison.caplet) else {
                continue;
            };
            for key in &comparison.peers {
                let Some(peer) = self.find(key) else { continue };
                let ratio = match (&caplet.result, &peer.result) {
                    (Ok(c), Ok(p)) => format!("{:.1}×", c.advantage_over(p)),
                    (_, Err(why))
                        if why.starts_with("missing") || why.starts_with("not installed") =>
                    {
                        "peer not installed".into()
                    }
                    _ => "—".into(),
                };
                rows.push(vec![caplet.name.clone(), peer.name.clone(), ratio]);
            }
        }
        table(
            markdown,
            &["caplet", "against", "caplet advantage (median)"],
            rows,
            2,
        );
        if !self.curves.is_empty() {
            println!();
            let mut rows = Vec::new();
            for curve in &self.curves {
                let base = curve.points.first().map_or(0.0, |p| p.rate);
                for p in &curve.points {
                    let speedup = p.rate / base;
                    let (busy, per_cpu) = match p.cores_busy {
                        Some(busy) if busy > 0.0 => (
                            format!("{busy:.2}"),
                            Unit::PerSecond.format(p.rate / busy).replace("/s", ""),
                        ),
                        _ => ("—".into(), "—".into()),
                    };
                    rows.push(vec![
                        curve.runtime.to_string(),
                        curve.kind.to_string(),
                        p.clients.to_string(),
                        Unit::PerSecond.format(p.rate),
                        Unit::Time.format(p.p50),
                        Unit::Time.format(p.p90),
                        Unit::Time.format(p.p99),
                        format!("{speedup:.2}×"),
                        busy,
                        per_cpu,
                    ]);
                }
            }
            table(
                markdown,
                &[
                    "runtime",
                    "operation",
                    "clients",
                    "rate",
                    "median",
                    "p90",
                    "p99",
                    "vs 1 client",
                    "cores busy",
                    "per CPU-second",
                ],
                rows,
                2,
            );
            println!();
        }
        for note in &self.notes {
            println!("{}{note}", if markdown { "- " } else { "note: " });
        }
    }
}

fn cells(result: &Result<Summary, String>) -> (String, String, String) {
    match result {
        Ok(s) if s.samples == 1 => (s.unit.format(s.median), "".into(), "".into()),
        Ok(s) => (
            s.unit.format(s.median),
            s.unit.format(s.p90),
            s.unit.format(s.p99),
        ),
        Err(why) => (why.clone(), String::new(), String::new()),
    }
}

fn bound_text(unit: Unit, bound: f64) -> String {
    let relation = if unit.higher_is_better() {
        "≥"
    } else {
        "≤"
    };
    format!("{relation} {}", unit.format(bound))
}

/// Prints a table; the first `left` columns are left-aligned, the others
/// right-aligned.
fn table(markdown: bool, header: &[&str], rows: Vec<Vec<String>>, left: usize) {
    if markdown {
        println!("| {} |", header.join(" | "));
        let rule: Vec<&str> = (0..header.len())
            .map(|i| if i < left { "---" } else { "---:" })
            .collect();
        println!("|{}|", rule.join("|"));
        for row in rows {
            println!("| {} |", row.join(" | "));
        }
        return;
    }
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                out.push_str("  ");
            }
            if i < left {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}
