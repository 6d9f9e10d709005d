//! Reading the users' data files: `.npy` arrays and CSV tables with a header. Files are
//! untrusted input: every failure is an error naming the file, and values are never printed
//! (they are private).

use anyhow::{Context, bail, ensure};
use ndarray::{Array2, ArrayD, IxDyn};
use ndarray_npy::ReadNpyExt;
use std::path::Path;

/// The element type of a .npy file, as the graph sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NpyKind {
    Float,
    Int,
}

/// A `.npy` array of float32, float64, int64 or int32, as f64.
pub(crate) fn read_npy(path: &Path) -> anyhow::Result<(ArrayD<f64>, NpyKind)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(a) = ArrayD::<f32>::read_npy(bytes.as_slice()) {
        return Ok((a.mapv(f64::from), NpyKind::Float));
    }
    if let Ok(a) = ArrayD::<f64>::read_npy(bytes.as_slice()) {
        return Ok((a, NpyKind::Float));
    }
    if let Ok(a) = ArrayD::<i64>::read_npy(bytes.as_slice()) {
        return Ok((a.mapv(|v| v as f64), NpyKind::Int));
    }
    if let Ok(a) = ArrayD::<i32>::read_npy(bytes.as_slice()) {
        return Ok((a.mapv(f64::from), NpyKind::Int));
    }
    bail!(
        "{}: not a .npy array of float32, float64, int64 or int32 (little-endian, C order)",
        path.display()
    )
}

/// A CSV table with a header row: the column names and the rows as numbers. An empty cell or
/// one that is not a number is an error naming its line and column.
pub(crate) fn read_csv(path: &Path) -> anyhow::Result<(Vec<String>, Array2<f64>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    ensure!(
        !header.is_empty() && header.iter().all(|h| !h.is_empty()),
        "{}: the header row must name every column",
        path.display()
    );
    let mut values = Vec::new();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        ensure!(
            record.len() == header.len(),
            "{}: line {line} has {} fields, the header {}",
            path.display(),
            record.len(),
            header.len()
        );
        for (field, name) in record.iter().zip(&header) {
            let v: f64 = field.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{}: line {line}, column {name}: not a number (or empty)",
                    path.display()
                )
            })?;
            values.push(v);
        }
        rows += 1;
    }
    ensure!(rows > 0, "{}: no data rows", path.display());
    let table = Array2::from_shape_vec((rows, header.len()), values)?;
    Ok((header, table))
}

/// `a` as `[rows, features]`: a vector becomes one column, higher ranks are flattened per row.
pub(crate) fn as_rows(a: ArrayD<f64>, path: &Path) -> anyhow::Result<Array2<f64>> {
    ensure!(
        a.ndim() >= 1 && a.shape()[0] > 0,
        "{}: expected an array of rows, got shape {:?}",
        path.display(),
        a.shape()
    );
    let rows = a.shape()[0];
    let cols = a.len() / rows;
    let a = a.as_standard_layout().into_owned();
    Ok(a.into_shape_with_order(IxDyn(&[rows, cols]))?
        .into_dimensionality()?)
}

/// Fails unless `path`'s directory exists and a file can be created there (a probe file is
/// created and removed), so that a long computation does not end on a path it cannot write.
pub(crate) fn check_writable(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    ensure!(
        dir.is_dir(),
        "cannot write {}: no directory {}",
        path.display(),
        dir.display()
    );
    ensure!(
        !path.is_dir(),
        "cannot write {}: it is a directory",
        path.display()
    );
    let probe = dir.join(format!(".crypten-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "cannot write {}: the directory is not writable",
            path.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that a failure never leaves a partial file at `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
