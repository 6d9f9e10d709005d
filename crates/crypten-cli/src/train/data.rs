//! The data of a training job: which party holds which file, reading and checking a party's
//! own files, and agreeing on the public shapes before anything is shared.
//!
//! Public: each file's owner and shape (rows and columns), the model's input and output
//! sizes. Private: every value. Errors name files, rows and columns, never values.

use super::TrainArgs;
use crate::files::{NpyKind, as_rows, read_csv, read_npy};
use anyhow::{Context, bail, ensure};
use crypten::nn::train::Loss;
use ndarray::{Array2, Axis, s};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A file and the party that holds it: `RANK:PATH`.
#[derive(Clone, Debug)]
pub(crate) struct FileSpec {
    pub owner: usize,
    pub path: PathBuf,
    /// For labels in a CSV: the column (`RANK:FILE.csv:COLUMN`).
    pub column: Option<String>,
}

impl FromStr for FileSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (rank, path) = spec
            .split_once(':')
            .ok_or_else(|| format!("`{spec}` is not RANK:PATH (e.g. 0:features.npy)"))?;
        let owner = rank
            .parse()
            .map_err(|_| format!("`{spec}`: `{rank}` is not a party rank"))?;
        ensure_path(path, spec)?;
        // `FILE.csv:COLUMN` names a CSV column; any other colon belongs to the path.
        if let Some((file, column)) = path.rsplit_once(':')
            && is_csv(Path::new(file))
            && !column.is_empty()
        {
            return Ok(Self {
                owner,
                path: PathBuf::from(file),
                column: Some(column.to_string()),
            });
        }
        Ok(Self {
            owner,
            path: PathBuf::from(path),
            column: None,
        })
    }
}

fn ensure_path(path: &str, spec: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err(format!("`{spec}` names no file"));
    }
    Ok(())
}

/// How the parties' feature files join into one table.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Join {
    /// The same rows, different columns (feature aggregation), in the order of `--data`.
    Columns,
    /// The same columns, different rows (dataset augmentation), in the order of `--data`.
    Rows,
}

/// What the model owner announces: the input of one sample and the width of the output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelFacts {
    /// The model input's shape without the batch dimension.
    pub sample_shape: Vec<usize>,
    /// The output's width (classes, for a classifier).
    pub outputs: usize,
    /// The output is `[batch]` (one value per sample) rather than `[batch, outputs]`.
    #[serde(default)]
    pub squeezed: bool,
}

impl ModelFacts {
    /// Features per sample.
    pub(crate) fn features(&self) -> usize {
        self.sample_shape.iter().product()
    }
}

/// A party's own data, read and checked; targets already encoded for the loss.
#[derive(Default)]
pub(crate) struct Own {
    /// `(index in --data, [rows, columns])`.
    pub features: Vec<(usize, Array2<f64>)>,
    /// `(index in --labels, [rows, width])`.
    pub labels: Vec<(usize, Array2<f64>)>,
    pub validation: Option<Array2<f64>>,
    pub validation_labels: Option<Array2<f64>>,
}

/// The public figures of a party's data: what it announces to the others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// `(index in --data, rows, columns)`.
    pub parts: Vec<(usize, usize, usize)>,
    /// `(index in --labels, rows)`.
    pub labels: Vec<(usize, usize)>,
    pub validation: Option<(usize, usize)>,
    pub validation_labels: Option<usize>,
}

impl Own {
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            parts: self
                .features
                .iter()
                .map(|(i, a)| (*i, a.nrows(), a.ncols()))
                .collect(),
            labels: self.labels.iter().map(|(i, a)| (*i, a.nrows())).collect(),
            validation: self.validation.as_ref().map(|a| (a.nrows(), a.ncols())),
            validation_labels: self.validation_labels.as_ref().map(Array2::nrows),
        }
    }
}

/// The agreed public layout of the job.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// `(owner, rows, columns)` per `--data` file, in order.
    pub parts: Vec<(usize, usize, usize)>,
    /// `(owner, rows)` per `--labels` file, in order: they join by rows.
    pub labels: Vec<(usize, usize)>,
    /// Training rows.
    pub rows: usize,
    /// Validation rows.
    pub validation_rows: Option<usize>,
}

/// Reads and checks the files `rank` holds. `max_abs` is the fixed-point range.
pub(crate) fn read_own(
    args: &TrainArgs,
    rank: usize,
    facts: &ModelFacts,
    max_abs: f64,
) -> anyhow::Result<Own> {
    let mut own = Own::default();
    for (i, spec) in args.data.iter().enumerate() {
        if spec.owner == rank {
            let x = read_features(&spec.path, &label_columns(args))?;
            check_range(&x, &spec.path, max_abs)?;
            own.features.push((i, x));
        }
    }
    for (i, spec) in args.labels.iter().enumerate() {
        if spec.owner == rank {
            own.labels.push((i, read_targets(args, spec, facts)?));
        }
    }
    if let Some(v) = &args.validation
        && v.owner == rank
    {
        let x = read_features(&v.path, &label_columns(args))?;
        check_range(&x, &v.path, max_abs)?;
        own.validation = Some(x);
    }
    if let Some(labels) = validation_labels(args)
        && labels.owner == rank
    {
        own.validation_labels = Some(read_targets(args, &labels, facts)?);
    }
    Ok(own)
}

/// Where the validation labels are: `--validation-labels`, or the validation CSV itself.
pub(crate) fn validation_labels(args: &TrainArgs) -> Option<FileSpec> {
    args.validation_labels
        .clone()
        .or_else(|| args.validation.clone().filter(|v| is_csv(&v.path)))
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Features as `[rows, columns]`: an .npy array (float), or every column of a CSV but the
/// label column.
fn read_features(path: &Path, label_columns: &[&str]) -> anyhow::Result<Array2<f64>> {
    if is_csv(path) {
        let (header, table) = read_csv(path)?;
        let keep: Vec<usize> = (0..header.len())
            .filter(|&c| !label_columns.contains(&header[c].as_str()))
            .collect();
        ensure!(
            !keep.is_empty(),
            "{}: no feature columns besides the label column(s) {}",
            path.display(),
            label_columns.join(", ")
        );
        return Ok(table.select(Axis(1), &keep));
    }
    let (a, kind) = read_npy(path)?;
    ensure!(
        kind == NpyKind::Float,
        "{}: features must be float32 or float64, the file holds integers",
        path.display()
    );
    as_rows(a, path)
}

/// Every value finite and inside the fixed-point range; the first bad one is named by row and
/// column, not by value.
fn check_range(x: &Array2<f64>, path: &Path, max_abs: f64) -> anyhow::Result<()> {
    if let Some(((r, c), _)) = x
        .indexed_iter()
        .find(|(_, v)| !v.is_finite() || v.abs() >= max_abs)
    {
        bail!(
            "{}: row {r}, column {c} is NaN, infinite or beyond the fixed-point range \
             (magnitude below {max_abs:e}); the value itself is private and not shown",
            path.display()
        );
    }
    Ok(())
}

/// The label column of a file: a CSV's `--label-column` (or its only column), or an .npy
/// vector or matrix; `true` when its values are integers by type.
/// The names of label columns, which feature CSVs drop: `--label-column` and every column a
/// labels spec names.
fn label_columns(args: &TrainArgs) -> Vec<&str> {
    let mut names = vec![args.label_column.as_str()];
    names.extend(
        args.labels
            .iter()
            .chain(&args.validation_labels)
            .filter_map(|s| s.column.as_deref()),
    );
    names
}

fn read_label_values(path: &Path, label_column: &str) -> anyhow::Result<(Array2<f64>, bool)> {
    if is_csv(path) {
        let (header, table) = read_csv(path)?;
        let column = match header.iter().position(|h| h == label_column) {
            Some(c) => c,
            None if header.len() == 1 => 0,
            None => bail!(
                "{}: no column named {label_column} (the columns are {}); choose it with \
                 --label-column",
                path.display(),
                header.join(", ")
            ),
        };
        let col = table.slice(s![.., column..column + 1]).to_owned();
        return Ok((col, false));
    }
    let (a, kind) = read_npy(path)?;
    Ok((as_rows(a, path)?, kind == NpyKind::Int))
}

/// Targets encoded for the loss: one-hot rows for cross-entropy (from class indices, or
/// one-hot rows as given), values of the output's width for the others.
fn read_targets(
    args: &TrainArgs,
    spec: &FileSpec,
    facts: &ModelFacts,
) -> anyhow::Result<Array2<f64>> {
    let path = spec.path.as_path();
    let column = spec.column.as_deref().unwrap_or(&args.label_column);
    let (y, _) = read_label_values(path, column)?;
    let what = |r: usize| format!("{}: row {r}", path.display());
    if let Some(((r, _), _)) = y.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!("{} is NaN or infinite", what(r));
    }
    let classes = facts.outputs;
    match args.loss.loss() {
        Loss::CrossEntropy if y.ncols() == 1 => {
            // Checked here rather than by `one_hot`, whose error would name the label.
            let mut ids = Vec::with_capacity(y.nrows());
            for (r, &v) in y.column(0).iter().enumerate() {
                ensure!(
                    v.fract() == 0.0 && v >= 0.0 && v < classes as f64,
                    "{}: a label outside the classes 0..{classes} of the model's output (the \
                     label itself is private and not shown)",
                    what(r)
                );
                ids.push(v as usize);
            }
            Ok(crypten::nn::one_hot(&ids, classes)?.into_dimensionality()?)
        }
        Loss::CrossEntropy => {
            ensure!(
                y.ncols() == classes,
                "{}: {} columns of labels; cross-entropy takes class indices (one column) or \
                 one-hot rows of the model's {classes} outputs",
                path.display(),
                y.ncols()
            );
            for (r, row) in y.rows().into_iter().enumerate() {
                ensure!(
                    row.iter().all(|&v| v == 0.0 || v == 1.0) && row.sum() == 1.0,
                    "{} is not a one-hot row",
                    what(r)
                );
            }
            Ok(y)
        }
        loss => {
            ensure!(
                y.ncols() == facts.outputs,
                "{}: {} target column(s) for a model with {} output(s)",
                path.display(),
                y.ncols(),
                facts.outputs
            );
            if matches!(loss, Loss::Bce | Loss::BceLogits)
                && let Some(((r, _), _)) = y.indexed_iter().find(|(_, v)| !(0.0..=1.0).contains(*v))
            {
                bail!("{}: a binary target outside [0, 1]", what(r));
            }
            Ok(y)
        }
    }
}

/// Checks every party's summary against the job and each other, and returns the public
/// layout. The same function runs at every party on the same summaries, so that every party
/// reaches the same verdict.
pub(crate) fn agree(
    args: &TrainArgs,
    facts: &ModelFacts,
    summaries: &[Summary],
) -> anyhow::Result<Layout> {
    let mut parts = Vec::with_capacity(args.data.len());
    for (i, spec) in args.data.iter().enumerate() {
        let announced = summaries
            .get(spec.owner)
            .and_then(|s| s.parts.iter().find(|p| p.0 == i))
            .with_context(|| {
                format!(
                    "party {} did not announce {} (--data {i})",
                    spec.owner,
                    spec.path.display()
                )
            })?;
        parts.push((spec.owner, announced.1, announced.2));
    }
    let name = |i: usize| {
        format!(
            "{} (party {})",
            args.data[i].path.display(),
            args.data[i].owner
        )
    };
    let (rows, cols) = match args.join {
        _ if parts.len() == 1 => (parts[0].1, parts[0].2),
        Join::Columns => {
            for (i, p) in parts.iter().enumerate().skip(1) {
                ensure!(
                    p.1 == parts[0].1,
                    "--join columns needs the same rows in every file: {} has {} rows, {} has {}",
                    name(0),
                    parts[0].1,
                    name(i),
                    p.1
                );
            }
            (parts[0].1, parts.iter().map(|p| p.2).sum())
        }
        Join::Rows => {
            for (i, p) in parts.iter().enumerate().skip(1) {
                ensure!(
                    p.2 == parts[0].2,
                    "--join rows needs the same columns in every file: {} has {} columns, {} has {}",
                    name(0),
                    parts[0].2,
                    name(i),
                    p.2
                );
            }
            (parts.iter().map(|p| p.1).sum(), parts[0].2)
        }
    };
    ensure!(
        cols == facts.features(),
        "the model takes {} features per sample (input shape {:?}), the data has {cols} columns",
        facts.features(),
        facts.sample_shape
    );
    let mut labels = Vec::with_capacity(args.labels.len());
    for (i, spec) in args.labels.iter().enumerate() {
        let announced = summaries
            .get(spec.owner)
            .and_then(|s| s.labels.iter().find(|l| l.0 == i))
            .with_context(|| {
                format!(
                    "party {} did not announce the labels {}",
                    spec.owner,
                    spec.path.display()
                )
            })?;
        labels.push((spec.owner, announced.1));
    }
    let label_rows: usize = labels.iter().map(|l| l.1).sum();
    ensure!(
        label_rows == rows,
        "{label_rows} labels ({}) for {rows} rows of features",
        args.labels
            .iter()
            .zip(&labels)
            .map(|(s, l)| format!("{} rows in {} at party {}", l.1, s.path.display(), s.owner))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let validation_rows = match &args.validation {
        None => None,
        Some(v) => {
            let (vr, vc) = summaries
                .get(v.owner)
                .and_then(|s| s.validation)
                .with_context(|| {
                    format!("party {} did not announce the validation set", v.owner)
                })?;
            ensure!(
                vc == facts.features(),
                "the validation set {} has {vc} columns, the model takes {}",
                v.path.display(),
                facts.features()
            );
            let labels = validation_labels(args)
                .context("--validation with an .npy file needs --validation-labels RANK:PATH")?;
            let lr = summaries
                .get(labels.owner)
                .and_then(|s| s.validation_labels)
                .with_context(|| {
                    format!(
                        "party {} did not announce the validation labels",
                        labels.owner
                    )
                })?;
            ensure!(
                lr == vr,
                "{} has {lr} validation labels for {vr} validation rows",
                labels.path.display()
            );
            Some(vr)
        }
    };
    Ok(Layout {
        parts,
        labels,
        rows,
        validation_rows,
    })
}
