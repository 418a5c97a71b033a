//! The charts of one run (`caplet-bench --svg DIR`), drawn with plotters'
//! SVG backend from the same measurements as the printed tables:
//!
//! - `cold-start.svg`, `memory.svg`: log-scale bars of cold start and of
//!   memory per live worker, caplet against every peer measured;
//! - `throughput-*.svg`: rate against concurrent clients, one line per
//!   runtime, for each kind of operation;
//! - `chain-latency.svg`: latency of a chain of calls over the delayed link
//!   against its length, pipelined and awaited call by call.

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor;

use crate::report::Report;
use crate::stats::Unit;

const SIZE: (u32, u32) = (760, 440);
const FONT: &str = "sans-serif";
/// One color per series, in order.
const COLORS: [RGBColor; 5] = [
    RGBColor(0xd9, 0x48, 0x1c),
    RGBColor(0x1f, 0x6f, 0xb4),
    RGBColor(0x3a, 0x9a, 0x3a),
    RGBColor(0x8e, 0x5a, 0xb5),
    RGBColor(0x80, 0x80, 0x80),
];

/// The same color for a runtime in every chart.
fn color_of(runtime: &str) -> RGBColor {
    match runtime {
        "caplet" => COLORS[0],
        "workerd" => COLORS[1],
        "Deno Workers" => COLORS[2],
        "caplet, 1 host" => COLORS[3],
        _ => COLORS[4],
    }
}

/// Writes every chart the run has data for into `dir`; returns their paths.
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let cold = [
        ("cold_unix", "caplet (socket)"),
        ("cold_embedded", "caplet (embedded)"),
        ("workerd_cold", "workerd Loader"),
        ("deno_cold", "Deno Worker"),
        ("bwrap", "bwrap"),
        ("fork_exec", "fork+exec"),
    ];
    let bars = present(report, &cold);
    if !bars.is_empty() {
        let path = dir.join("cold-start.svg");
        bar_chart(
            &path,
            "Cold start: new worker + first call (median, log scale)",
            Unit::Time,
            &bars,
        )?;
        written.push(path);
    }
    let memory = [
        ("memory", "caplet"),
        ("workerd_memory", "workerd Loader"),
        ("deno_memory", "Deno Worker"),
    ];
    let bars = present(report, &memory);
    if !bars.is_empty() {
        let path = dir.join("memory.svg");
        bar_chart(
            &path,
            "Memory per live idle worker (median, log scale)",
            Unit::Bytes,
            &bars,
        )?;
        written.push(path);
    }
    let mut kinds: Vec<&str> = Vec::new();
    for curve in &report.curves {
        if !kinds.contains(&curve.kind) {
            kinds.push(curve.kind);
        }
    }
    for kind in kinds {
        let slug: String = kind
            .split_whitespace()
            .next()
            .unwrap_or("rate")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let path = dir.join(format!("throughput-{slug}.svg"));
        if throughput_chart(&path, report, kind)? {
            written.push(path);
        }
    }
    if !report.chain_points.is_empty() {
        let path = dir.join("chain-latency.svg");
        chain_chart(&path, report)?;
        written.push(path);
    }
    Ok(written)
}

/// The medians of `keys` that the run measured, with their labels.
fn present(report: &Report, keys: &[(&str, &'static str)]) -> Vec<(&'static str, f64)> {
    keys.iter()
        .filter_map(|(key, label)| report.get(key).map(|(_, s)| (*label, s.median)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Vertical bars on a log scale, each labelled with its value in `unit`;
/// caplet's bars in color, the peers' in grey.
fn bar_chart(
    path: &Path,
    title: &str,
    unit: Unit,
    bars: &[(&'static str, f64)],
) -> anyhow::Result<()> {
    let values: Vec<f64> = bars.iter().map(|(_, v)| *v).collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min) / 3.0;
    let high = values.iter().copied().fold(0.0, f64::max) * 4.0;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d((0..bars.len()).into_segmented(), (low..high).log_scale())?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => bars.get(*i).map_or("", |(l, _)| l).to_string(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len() + 1)
        .x_label_formatter(&label)
        .y_labels(6)
        .y_label_formatter(&|v| unit.format(*v))
        .label_style((FONT, 13))
        .draw()?;
    chart.draw_series(values.iter().enumerate().map(|(i, v)| {
        let color = if bars[i].0.starts_with("caplet") {
            COLORS[0]
        } else {
            COLORS[4]
        };
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), low),
                (SegmentValue::Exact(i + 1), *v),
            ],
            color.mix(0.85).filled(),
        );
        bar.set_margin(0, 0, 14, 14);
        bar
    }))?;
    chart.draw_series(values.iter().enumerate().map(|(i, v)| {
        Text::new(
            unit.format(*v),
            (SegmentValue::CenterOf(i), v * 1.2),
            (FONT, 13)
                .into_font()
                .color(&BLACK)
                .pos(text_anchor::Pos::new(
                    text_anchor::HPos::Center,
                    text_anchor::VPos::Bottom,
                )),
        )
    }))?;
    root.present()?;
    Ok(())
}

/// Rate against concurrent clients, one line per runtime; false if no
/// runtime has points for `kind`.
fn throughput_chart(path: &Path, report: &Report, kind: &str) -> anyhow::Result<bool> {
    let curves: Vec<_> = report
        .curves
        .iter()
        .filter(|c| c.kind == kind && !c.points.is_empty())
        .collect();
    if curves.is_empty() {
        return Ok(false);
    }
    let rates = curves.iter().flat_map(|c| c.points.iter().map(|p| p.rate));
    let (low, high) = rates.fold((f64::INFINITY, 0.0f64), |(l, h), r| (l.min(r), h.max(r)));
    // x is log2 of the clients, so that each doubling is one tick.
    let max_clients = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.clients))
        .max()
        .unwrap_or(1) as f64;
    let max_x = max_clients.log2();
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("{kind} against concurrent clients ({} cores)", report.cores);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.3f64..max_x + 0.3, (low / 2.0..high * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc(kind)
        .x_labels(max_x as usize + 1)
        .x_label_formatter(&|v| format!("{:.0}", v.exp2()))
        .y_label_formatter(&|v| Unit::PerSecond.format(*v))
        .label_style((FONT, 13))
        .draw()?;
    for curve in &curves {
        let color = color_of(curve.runtime);
        let points: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|p| ((p.clients as f64).log2(), p.rate))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(curve.runtime)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// One of the two latencies of a chain point.
type ChainValue = fn(&crate::report::ChainPoint) -> f64;

/// Chain latency over the delayed link against chain length.
fn chain_chart(path: &Path, report: &Report) -> anyhow::Result<()> {
    let points = &report.chain_points;
    let max_depth = points.iter().map(|p| p.depth).max().unwrap_or(1) as f64;
    let high = points
        .iter()
        .map(|p| p.awaited.max(p.pipelined))
        .fold(0.0, f64::max)
        * 1e3
        * 1.15;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Chain of calls to a capability in the client, over a {} (median)",
                report.link
            ),
            (FONT, 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..max_depth + 0.5, 0f64..high)?;
    chart
        .configure_mesh()
        .x_desc("calls in the chain")
        .y_desc("ms per chain")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 13))
        .draw()?;
    let series: [(&str, ChainValue); 2] = [
        ("each call awaited", |p| p.awaited),
        ("pipelined", |p| p.pipelined),
    ];
    for (i, (name, value)) in series.into_iter().enumerate() {
        let color = COLORS[(i + 1) % 2];
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (f64::from(p.depth), value(p) * 1e3))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ChainPoint, Curve, Point};
    use crate::stats::Summary;

    #[test]
    fn writes_each_chart_it_has_data_for() {
        let mut report = Report {
            cores: 2,
            link: "1 ms link".into(),
            ..Report::default()
        };
        report.add("cold_unix", "cold", Ok(Summary::single(Unit::Time, 200e-6)));
        report.peer(
            "workerd_cold",
            "workerd",
            Ok(Summary::single(Unit::Time, 4e-3)),
        );
        report.peer("deno_cold", "deno", Err("missing".into()));
        let point = |clients, rate| Point {
            clients,
            rate,
            p50: 1e-4,
            p90: 5e-4,
            p99: 1e-3,
            cores_busy: None,
        };
        report.curves.push(Curve {
            runtime: "caplet",
            kind: "warm invocations/s",
            points: vec![point(1, 10_000.0), point(2, 18_000.0)],
        });
        report.chain_points = vec![
            ChainPoint {
                depth: 1,
                pipelined: 2e-3,
                awaited: 2e-3,
            },
            ChainPoint {
                depth: 10,
                pipelined: 2.4e-3,
                awaited: 20e-3,
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let written = write(&report, dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // No memory figure was measured: no memory chart.
        assert_eq!(
            names,
            ["cold-start.svg", "throughput-warm.svg", "chain-latency.svg"]
        );
        let cold = std::fs::read_to_string(dir.path().join("cold-start.svg")).unwrap();
        assert!(cold.starts_with("<svg"), "{cold}");
        assert!(cold.contains("caplet (socket)") && cold.contains("workerd Loader"));
        assert!(cold.contains("200.0 µs") && cold.contains("4.0 ms"));
        // A peer that failed has no bar.
        assert!(!cold.contains("Deno Worker"));
        let chain = std::fs::read_to_string(dir.path().join("chain-latency.svg")).unwrap();
        assert!(chain.contains("pipelined") && chain.contains("each call awaited"));
    }
}
