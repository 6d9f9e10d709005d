//! Shape operations on `RingTensor`: reshape, permute, slicing, joining,
//! padding, expansion and index selection.
//!
//! Every operation returns a fresh contiguous row-major tensor (except `into_shape`, which
//! reuses the buffer). Copies go row by row through [`Strided`], so a transpose or an expand
//! costs one pass over the output and contiguous runs become `copy_from_slice`.

use crate::strided::{Strided, broadcast_strides, contiguous_strides};
use crate::{Error, Result, RingTensor};

fn invalid(op: &'static str, shape: &[usize], reason: String) -> Error {
    Error::InvalidArgument {
        op,
        shape: shape.to_vec(),
        reason,
    }
}

fn check_dim(op: &'static str, shape: &[usize], dim: usize) -> Result<()> {
    if dim >= shape.len() {
        return Err(invalid(
            op,
            shape,
            format!("dimension {dim} out of range for {} dims", shape.len()),
        ));
    }
    Ok(())
}

impl RingTensor {
    /// Copies `self` read through `strides` (one per output dimension) into a contiguous
    /// tensor of `shape`.
    fn gather_strided(&self, shape: Vec<usize>, strides: Vec<usize>) -> RingTensor {
        let numel = shape.iter().product();
        let mut data = vec![0u64; numel];
        let plan = Strided::new(&shape, [strides]);
        let [s] = plan.inner_strides();
        let src = &self.data;
        plan.fill_rows(&mut data, |row, [off]| {
            if s == 1 {
                row.copy_from_slice(&src[off..off + row.len()]);
            } else {
                for (i, o) in row.iter_mut().enumerate() {
                    *o = src[off + i * s];
                }
            }
        });
        RingTensor { shape, data }
    }

    /// Copies whole slabs `dim == i` for each `i` in `indices`, in order.
    fn select_along(&self, dim: usize, indices: impl Iterator<Item = usize> + Clone) -> RingTensor {
        let outer: usize = self.shape[..dim].iter().product();
        let inner: usize = self.shape[dim + 1..].iter().product();
        let block = self.shape[dim] * inner;
        let count = indices.clone().count();
        let mut data = Vec::with_capacity(outer * count * inner);
        for o in 0..outer {
            let base = o * block;
            for i in indices.clone() {
                data.extend_from_slice(&self.data[base + i * inner..base + (i + 1) * inner]);
            }
        }
        let mut shape = self.shape.clone();
        shape[dim] = count;
        RingTensor { shape, data }
    }

    /// The same elements under a new shape (a copy).
    ///
    /// # Errors
    /// `InvalidArgument` when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        self.clone().into_shape_for("reshape", shape)
    }

    /// The same elements under a new shape, reusing the buffer.
    ///
    /// # Errors
    /// `InvalidArgument` when the element counts differ.
    pub fn into_shape(self, shape: &[usize]) -> Result<Self> {
        self.into_shape_for("into_shape", shape)
    }

    fn into_shape_for(self, op: &'static str, shape: &[usize]) -> Result<Self> {
        let numel: usize = shape.iter().product();
        if numel != self.data.len() {
            return Err(invalid(
                op,
                &self.shape,
                format!("cannot view {} elements as {shape:?}", self.data.len()),
            ));
        }
        Ok(RingTensor {
            shape: shape.to_vec(),
            data: self.data,
        })
    }

    /// Reorders the dimensions: output dimension `i` is input dimension `dims[i]`.
    ///
    /// # Errors
    /// `InvalidArgument` when `dims` is not a permutation of `0..ndim`.
    pub fn permute(&self, dims: &[usize]) -> Result<Self> {
        let mut seen = vec![false; self.ndim()];
        let is_perm = dims.len() == self.ndim()
            && dims
                .iter()
                .all(|&d| d < seen.len() && !std::mem::replace(&mut seen[d], true));
        if !is_perm {
            return Err(invalid(
                "permute",
                &self.shape,
                format!("{dims:?} is not a permutation"),
            ));
        }
        let own = contiguous_strides(&self.shape);
        let shape = dims.iter().map(|&d| self.shape[d]).collect();
        let strides = dims.iter().map(|&d| own[d]).collect();
        Ok(self.gather_strided(shape, strides))
    }

    /// Swaps two dimensions.
    ///
    /// # Errors
    /// `InvalidArgument` when a dimension is out of range.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Self> {
        check_dim("transpose", &self.shape, d0)?;
        check_dim("transpose", &self.shape, d1)?;
        let mut dims: Vec<usize> = (0..self.ndim()).collect();
        dims.swap(d0, d1);
        self.permute(&dims)
    }

    /// The `len` entries of dimension `dim` starting at `start`.
    ///
    /// # Errors
    /// `InvalidArgument` when `dim` is out of range or the range exceeds the dimension.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Self> {
        check_dim("narrow", &self.shape, dim)?;
        match start.checked_add(len) {
            Some(end) if end <= self.shape[dim] => Ok(self.select_along(dim, start..end)),
            _ => Err(invalid(
                "narrow",
                &self.shape,
                format!("range {start}+{len} exceeds dimension {dim}"),
            )),
        }
    }

    /// Entries `start, start + step, ...` below `end` of dimension `dim` (Python's
    /// `x[start:end:step]` on that dimension).
    ///
    /// # Errors
    /// `InvalidArgument` when `dim` is out of range, `step == 0`, or not
    /// `start <= end <= shape[dim]`.
    pub fn slice(&self, dim: usize, start: usize, end: usize, step: usize) -> Result<Self> {
        check_dim("slice", &self.shape, dim)?;
        if step == 0 || start > end || end > self.shape[dim] {
            return Err(invalid(
                "slice",
                &self.shape,
                format!("invalid slice {start}..{end} step {step} of dimension {dim}"),
            ));
        }
        Ok(self.select_along(dim, (start..end).step_by(step)))
    }

    /// Concatenates tensors along an existing dimension; all other dimensions must agree.
    ///
    /// # Errors
    /// `InvalidArgument` for an empty list or an out-of-range `dim`; `ShapeMismatch` when the
    /// other dimensions differ.
    pub fn cat(tensors: &[&RingTensor], dim: usize) -> Result<Self> {
        let first = tensors
            .first()
            .ok_or_else(|| invalid("cat", &[], "no tensors to concatenate".into()))?;
        check_dim("cat", &first.shape, dim)?;
        for t in tensors {
            let fits = t.ndim() == first.ndim()
                && t.shape
                    .iter()
                    .zip(&first.shape)
                    .enumerate()
                    .all(|(d, (a, b))| d == dim || a == b);
            if !fits {
                return Err(Error::ShapeMismatch {
                    op: "cat",
                    lhs: first.shape.clone(),
                    rhs: t.shape.clone(),
                });
            }
        }
        let outer: usize = first.shape[..dim].iter().product();
        let inner: usize = first.shape[dim + 1..].iter().product();
        let mut shape = first.shape.clone();
        shape[dim] = tensors.iter().map(|t| t.shape[dim]).sum();
        let mut data = Vec::with_capacity(shape.iter().product());
        for o in 0..outer {
            for t in tensors {
                let block = t.shape[dim] * inner;
                data.extend_from_slice(&t.data[o * block..(o + 1) * block]);
            }
        }
        Ok(RingTensor { shape, data })
    }

    /// Joins equally shaped tensors along a new dimension inserted at `dim`.
    ///
    /// # Errors
    /// `InvalidArgument` for an empty list or `dim > ndim`; `ShapeMismatch` when the shapes
    /// differ.
    pub fn stack(tensors: &[&RingTensor], dim: usize) -> Result<Self> {
        let first = tensors
            .first()
            .ok_or_else(|| invalid("stack", &[], "no tensors to stack".into()))?;
        if dim > first.ndim() {
            return Err(invalid(
                "stack",
                &first.shape,
                format!("dimension {dim} out of range"),
            ));
        }
        if let Some(t) = tensors.iter().find(|t| t.shape != first.shape) {
            return Err(Error::ShapeMismatch {
                op: "stack",
                lhs: first.shape.clone(),
                rhs: t.shape.clone(),
            });
        }
        let outer: usize = first.shape[..dim].iter().product();
        let block: usize = first.shape[dim..].iter().product();
        let mut data = Vec::with_capacity(outer * block * tensors.len());
        for o in 0..outer {
            for t in tensors {
                data.extend_from_slice(&t.data[o * block..(o + 1) * block]);
            }
        }
        let mut shape = first.shape.clone();
        shape.insert(dim, tensors.len());
        Ok(RingTensor { shape, data })
    }

    /// Pads every dimension with `pads[d] = (before, after)` entries equal to `value`.
    ///
    /// # Errors
    /// `InvalidArgument` when `pads.len() != ndim`.
    pub fn pad(&self, pads: &[(usize, usize)], value: u64) -> Result<Self> {
        if pads.len() != self.ndim() {
            return Err(invalid(
                "pad",
                &self.shape,
                format!(
                    "{} (before, after) pairs given for {} dims",
                    pads.len(),
                    self.ndim()
                ),
            ));
        }
        let shape: Vec<usize> = self
            .shape
            .iter()
            .zip(pads)
            .map(|(&n, &(before, after))| before + n + after)
            .collect();
        let mut out = RingTensor::full(&shape, value);
        if self.data.is_empty() {
            return Ok(out);
        }
        let out_strides = contiguous_strides(&shape);
        let base: usize = pads
            .iter()
            .zip(&out_strides)
            .map(|(&(before, _), &s)| before * s)
            .sum();
        let plan = Strided::new(&self.shape, [contiguous_strides(&self.shape), out_strides]);
        let n = plan.inner_len();
        let [_, so] = plan.inner_strides();
        plan.for_each_row(0, plan.rows(), |[src, dst]| {
            let row = &self.data[src..src + n];
            let dst = base + dst;
            if so == 1 {
                out.data[dst..dst + n].copy_from_slice(row);
            } else {
                for (i, &x) in row.iter().enumerate() {
                    out.data[dst + i * so] = x;
                }
            }
        });
        Ok(out)
    }

    /// Broadcasts to `shape` (numpy's `broadcast_to`), materialising the copies.
    ///
    /// # Errors
    /// `ShapeMismatch` when `self` does not broadcast to `shape`.
    pub fn expand(&self, shape: &[usize]) -> Result<Self> {
        let lead = shape.len().checked_sub(self.ndim());
        let fits = lead.is_some_and(|lead| {
            self.shape
                .iter()
                .zip(&shape[lead..])
                .all(|(&a, &b)| a == b || a == 1)
        });
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "expand",
                lhs: self.shape.clone(),
                rhs: shape.to_vec(),
            });
        }
        Ok(self.gather_strided(shape.to_vec(), broadcast_strides(&self.shape, shape)))
    }

    /// Removes dimension `dim` if it has size 1 (a no-op otherwise, as in PyTorch), or every
    /// size-1 dimension when `dim` is `None`.
    ///
    /// # Errors
    /// `InvalidArgument` when `dim` is out of range.
    pub fn squeeze(&self, dim: Option<usize>) -> Result<Self> {
        let shape: Vec<usize> = match dim {
            None => self.shape.iter().copied().filter(|&n| n != 1).collect(),
            Some(dim) => {
                check_dim("squeeze", &self.shape, dim)?;
                let mut shape = self.shape.clone();
                if shape[dim] == 1 {
                    shape.remove(dim);
                }
                shape
            }
        };
        Ok(RingTensor {
            shape,
            data: self.data.clone(),
        })
    }

    /// Inserts a dimension of size 1 at `dim` (`0..=ndim`).
    ///
    /// # Errors
    /// `InvalidArgument` when `dim > ndim`.
    pub fn unsqueeze(&self, dim: usize) -> Result<Self> {
        if dim > self.ndim() {
            return Err(invalid(
                "unsqueeze",
                &self.shape,
                format!("dimension {dim} out of range"),
            ));
        }
        let mut shape = self.shape.clone();
        shape.insert(dim, 1);
        Ok(RingTensor {
            shape,
            data: self.data.clone(),
        })
    }

    /// The entries `indices` (in that order, repeats allowed) of dimension `dim`.
    ///
    /// # Errors
    /// `InvalidArgument` when `dim` or an index is out of range.
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> Result<Self> {
        check_dim("index_select", &self.shape, dim)?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.shape[dim]) {
            return Err(invalid(
                "index_select",
                &self.shape,
                format!("index {bad} out of range for dimension {dim}"),
            ));
        }
        Ok(self.select_along(dim, indices.iter().copied()))
    }

    /// Merges dimensions `start_dim..=end_dim` into one (PyTorch's `flatten`). A 0-d tensor
    /// flattens to shape `[1]` with `start_dim == end_dim == 0`.
    ///
    /// # Errors
    /// `InvalidArgument` unless `start_dim <= end_dim < ndim`.
    pub fn flatten(&self, start_dim: usize, end_dim: usize) -> Result<Self> {
        if self.ndim() == 0 && start_dim == 0 && end_dim == 0 {
            return Ok(RingTensor {
                shape: vec![1],
                data: self.data.clone(),
            });
        }
        if start_dim > end_dim || end_dim >= self.ndim() {
            return Err(invalid(
                "flatten",
                &self.shape,
                format!("invalid dimension range {start_dim}..={end_dim}"),
            ));
        }
        let mut shape = self.shape[..start_dim].to_vec();
        shape.push(self.shape[start_dim..=end_dim].iter().product());
        shape.extend_from_slice(&self.shape[end_dim + 1..]);
        Ok(RingTensor {
            shape,
            data: self.data.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
