//! The report of the paper's benchmarks: `report.md` with a table per model, and SVG plots of
//! time, bytes and rounds per sample against the number of parties (one line per batch size),
//! and of the split between computing and waiting (the paper's Figures 5, 6, 8 and 9).

use super::CellRecord;
use crate::{Error, Result};
use plotters::prelude::*;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// One line per series: `(label, points (parties, value))`, on a log scale.
fn line_plot(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let points: Vec<(f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let positive: Vec<f64> = points.iter().map(|p| p.1).filter(|v| *v > 0.0).collect();
    if positive.is_empty() {
        return Ok(());
    }
    let (lo, hi) = positive
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let xmax = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let root = SVGBackend::new(path, (640, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.5f64..xmax + 0.5, (lo / 2.0..hi * 2.0).log_scale())
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc("parties")
        .y_desc(y_label)
        .x_labels(xmax as usize + 1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| plot_error(path, e))?;
    for (i, (label, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1 > 0.0).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| plot_error(path, e))?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| plot_error(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_error(path, e))?;
    root.present().map_err(|e| plot_error(path, e))?;
    Ok(())
}

fn by_batch(
    cells: &[&CellRecord],
    value: impl Fn(&CellRecord) -> f64,
) -> Vec<(String, Vec<(f64, f64)>)> {
    let batches: BTreeSet<usize> = cells.iter().map(|c| c.batch).collect();
    batches
        .into_iter()
        .map(|b| {
            let mut pts: Vec<(f64, f64)> = cells
                .iter()
                .filter(|c| c.batch == b)
                .map(|c| (c.parties as f64, value(c)))
                .collect();
            pts.sort_by(|x, y| x.0.total_cmp(&y.0));
            (format!("batch {b}"), pts)
        })
        .collect()
}

fn mb(v: f64) -> String {
    format!("{:.1}", v / 1e6)
}

/// Writes `dir/report.md` and the plots for `records`, headed by the commands that measured
/// them and `machine`.
///
/// # Errors
/// Files that cannot be written; plots that cannot be drawn.
pub fn write_report(dir: &Path, records: &[CellRecord], machine: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut md = String::new();
    let _ = writeln!(md, "# The CrypTen paper's benchmarks, crypten-rs\n");
    let mut commands: Vec<&str> = Vec::new();
    for r in records {
        if !r.command.is_empty() && !commands.contains(&r.command.as_str()) {
            commands.push(&r.command);
        }
    }
    let _ = writeln!(md, "Commands (each adds or replaces its cells):\n");
    for c in commands {
        let _ = writeln!(md, "- `{c}`");
    }
    let _ = writeln!(md, "\nMachine: {machine}\n");
    let _ = writeln!(
        md,
        "Each cell runs as separate processes over loopback (parties, and the dealer for `ttp`); \
         the model belongs to party 0, the data to party 1. Time is the slowest party's median \
         per batch over the measured batches, after a warm-up batch, divided by the batch size; \
         bytes are each party's, sent; waiting is the time a party spent blocked on its peers. \
         NMSE compares the revealed output with the same model in plaintext. Truncation `exact` \
         is the default (it never fails); `local` is the 2-party opt-in that CrypTen also uses \
         (no round, but a product fails with a small probability). The plots show `exact`.\n"
    );
    let models: BTreeSet<&str> = records.iter().map(|r| r.model.as_str()).collect();
    for model in models {
        let mut all: Vec<&CellRecord> = records.iter().filter(|r| r.model == model).collect();
        all.sort_by_key(|c| (c.truncation != "exact", c.batch, c.parties));
        // The plots and the profile show the default, exact truncation where it was measured.
        let cells: Vec<&CellRecord> = if all.iter().any(|c| c.truncation == "exact") {
            all.iter()
                .copied()
                .filter(|c| c.truncation == "exact")
                .collect()
        } else {
            all.clone()
        };
        let _ = writeln!(md, "## {model}\n");
        let _ = writeln!(
            md,
            "| parties | batch | truncation | s / sample | MB sent / sample (party 0) | MB received / sample (party 0) | rounds / sample | peak RSS MB (max party) | waiting s / sample (party 0) | plaintext s / sample | NMSE |"
        );
        let _ = writeln!(
            md,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for c in &all {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.4} | {} | {} | {:.1} | {:.0} | {:.4} | {:.5} | {:.1e} |",
                c.parties,
                c.batch,
                c.truncation,
                c.seconds_per_sample,
                mb(c.bytes_sent_per_sample.first().copied().unwrap_or(0.0)),
                mb(c.bytes_received_per_sample.first().copied().unwrap_or(0.0)),
                c.rounds_per_sample,
                c.peak_rss_bytes.iter().copied().max().unwrap_or(0) as f64 / 1e6,
                c.waiting_per_sample.first().copied().unwrap_or(0.0),
                c.plaintext_seconds_per_sample,
                c.nmse
            );
        }
        let plots = [
            (
                "time",
                "seconds per sample",
                by_batch(&cells, |c| c.seconds_per_sample),
            ),
            (
                "bytes",
                "bytes sent per sample (party 0)",
                by_batch(&cells, |c| {
                    c.bytes_sent_per_sample.first().copied().unwrap_or(0.0)
                }),
            ),
            (
                "rounds",
                "rounds per sample",
                by_batch(&cells, |c| c.rounds_per_sample),
            ),
        ];
        let _ = writeln!(md);
        for (kind, label, series) in plots {
            let file = format!("{model}_{kind}.svg");
            line_plot(
                &dir.join(&file),
                &format!("{model}: {label}"),
                label,
                &series,
            )?;
            let _ = write!(md, "![{model} {kind}]({file}) ");
        }
        // Compute and waiting at the smallest batch: the paper's Figure 8.
        let smallest: Vec<&CellRecord> = {
            let b = cells.iter().map(|c| c.batch).min().unwrap_or(1);
            cells.iter().copied().filter(|c| c.batch == b).collect()
        };
        let split = vec![
            (
                "compute".to_string(),
                smallest
                    .iter()
                    .map(|c| {
                        let wait = c.waiting_per_sample.first().copied().unwrap_or(0.0);
                        (c.parties as f64, (c.seconds_per_sample - wait).max(0.0))
                    })
                    .collect(),
            ),
            (
                "waiting on the network".to_string(),
                smallest
                    .iter()
                    .map(|c| {
                        (
                            c.parties as f64,
                            c.waiting_per_sample.first().copied().unwrap_or(0.0),
                        )
                    })
                    .collect(),
            ),
        ];
        let file = format!("{model}_split.svg");
        line_plot(
            &dir.join(&file),
            &format!("{model}: compute and waiting (party 0)"),
            "seconds per sample",
            &split,
        )?;
        let _ = writeln!(md, "![{model} split]({file})\n");
        // Where the time goes: the cell with the fewest parties (beyond one) and the smallest
        // batch that has a profile.
        if let Some(c) = cells
            .iter()
            .filter(|c| !c.profile.is_empty())
            .min_by_key(|c| (c.parties < 2, c.batch, c.parties))
        {
            let _ = writeln!(
                md,
                "Where the time goes ({} parties, batch {}, party 0, per sample; an operation's \
                 cost includes the openings deferred into it):\n",
                c.parties, c.batch
            );
            let _ = writeln!(md, "| operation | nodes | s | share | rounds | MB sent |");
            let _ = writeln!(md, "| --- | --- | --- | --- | --- | --- |");
            let total: f64 = c.profile.iter().map(|o| o.seconds).sum();
            for o in c.profile.iter().take(10) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.4} | {:.0}% | {:.1} | {} |",
                    o.op,
                    o.nodes,
                    o.seconds,
                    100.0 * o.seconds / total.max(1e-12),
                    o.rounds,
                    mb(o.bytes_sent)
                );
            }
            let _ = writeln!(md);
        }
    }
    let path = dir.join("report.md");
    std::fs::write(&path, md).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}
