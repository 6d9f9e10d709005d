//! `crypten split`: cut one CSV table into the files each party would hold, to try the use
//! cases on one machine: blocks of feature columns plus a label file (`--by columns`), or
//! blocks of rows with their labels (`--by rows`). Plaintext, local, no computation.

use crate::files::read_csv;
use anyhow::{Context, ensure};
use ndarray::{Array2, Axis, s};
use std::path::{Path, PathBuf};

/// How to cut.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum By {
    /// Party k gets the k-th block of feature columns (`features-k.csv`); the label column
    /// goes to `labels.csv`.
    Columns,
    /// Party k gets the k-th block of rows, with their labels (`rows-k.csv`).
    Rows,
}

/// Arguments of `crypten split`.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct SplitArgs {
    /// The CSV table (with a header).
    #[arg(long)]
    pub input: PathBuf,
    /// The column that holds the labels.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// Number of parts.
    #[arg(short = 'n', long)]
    pub parties: usize,
    /// Cut by feature columns or by rows.
    #[arg(long, value_enum)]
    pub by: By,
    /// Directory for the parts (created if needed).
    #[arg(long)]
    pub out: PathBuf,
}

/// Cuts the table and writes the parts; prints the files written.
pub(crate) fn split(args: &SplitArgs) -> anyhow::Result<()> {
    let (header, table) = read_csv(&args.input)?;
    let label = header
        .iter()
        .position(|h| *h == args.label_column)
        .with_context(|| {
            format!(
                "{}: no column named {}",
                args.input.display(),
                args.label_column
            )
        })?;
    let features: Vec<usize> = (0..header.len()).filter(|&c| c != label).collect();
    let n = args.parties;
    let extent = match args.by {
        By::Columns => features.len(),
        By::Rows => table.nrows(),
    };
    ensure!(
        (1..=extent).contains(&n),
        "cannot cut {extent} {} into {n} parts",
        match args.by {
            By::Columns => "feature columns",
            By::Rows => "rows",
        }
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let bounds: Vec<usize> = (0..=n).map(|k| k * extent / n).collect();
    let mut written = Vec::new();
    for k in 0..n {
        let (path, cols, rows) = match args.by {
            By::Columns => (
                args.out.join(format!("features-{k}.csv")),
                features[bounds[k]..bounds[k + 1]].to_vec(),
                table.view(),
            ),
            By::Rows => (
                args.out.join(format!("rows-{k}.csv")),
                (0..header.len()).collect(),
                table.slice(s![bounds[k]..bounds[k + 1], ..]),
            ),
        };
        write_csv(&path, &header, &cols, &rows.select(Axis(1), &cols))?;
        written.push(path);
    }
    if matches!(args.by, By::Columns) {
        let path = args.out.join("labels.csv");
        write_csv(&path, &header, &[label], &table.select(Axis(1), &[label]))?;
        written.push(path);
    }
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}

fn write_csv(
    path: &Path,
    header: &[String],
    cols: &[usize],
    values: &Array2<f64>,
) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(cols.iter().map(|&c| header[c].as_str()))?;
    for row in values.rows() {
        w.write_record(row.iter().map(|v| v.to_string()))?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
