//! Broadcasting and strided row iteration: numpy's broadcasting rule for shapes, and the
//! engine under broadcasting, strided copies and reductions.
//!
//! A walk over an n-d shape is simplified once: dimensions of size 1 are dropped and
//! neighbouring dimensions that every operand steps through contiguously are merged. Callers
//! then work on whole rows, so `[n, m] + [m]` runs `n` plain slice loops, `[n, m] + scalar`
//! runs one, and only genuinely strided walks pay per-element index arithmetic.

use crate::{Error, Result};
use rayon::prelude::*;

/// The shape two operands broadcast to under numpy's rules: shapes are aligned on the right
/// and each pair of dimensions must be equal or contain a 1.
///
/// # Errors
/// `ShapeMismatch` when the shapes do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    broadcast_shapes_for("broadcast_shapes", a, b)
}

/// [`broadcast_shapes`] with the calling operation's name in the error.
pub(crate) fn broadcast_shapes_for(
    op: &'static str,
    a: &[usize],
    b: &[usize],
) -> Result<Vec<usize>> {
    let nd = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i < nd - s.len() {
            1
        } else {
            s[i - (nd - s.len())]
        }
    };
    (0..nd)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(Error::ShapeMismatch {
                op,
                lhs: a.to_vec(),
                rhs: b.to_vec(),
            }),
        })
        .collect()
}

/// Element count from which work is split across rayon's thread pool; below it the cost of
/// spawning tasks is larger than the loop itself.
pub(crate) const PAR_THRESHOLD: usize = 1 << 15;

/// Target number of elements per parallel task.
pub(crate) const PAR_CHUNK: usize = 1 << 14;

/// Row-major strides of a contiguous tensor of `shape`, in elements.
pub(crate) fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1;
    for (stride, &dim) in strides.iter_mut().zip(shape).rev() {
        *stride = acc;
        acc *= dim;
    }
    strides
}

/// Strides that read a contiguous tensor of `shape` as if broadcast to `out` (which has at
/// least as many dimensions, aligned on the right): broadcast dimensions get stride 0.
pub(crate) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = contiguous_strides(shape);
    let lead = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    for (i, (&dim, &stride)) in shape.iter().zip(&own).enumerate() {
        if dim != 1 {
            strides[lead + i] = stride;
        }
    }
    strides
}

/// A row-major walk over a shape for `N` operands, each read through its own strides.
///
/// The shape is simplified once (size-1 dimensions dropped, mergeable neighbours merged) so
/// that the innermost row is as long as possible; callers then handle whole rows at a time.
pub(crate) struct Strided<const N: usize> {
    dims: Vec<usize>,
    strides: [Vec<usize>; N],
}

impl<const N: usize> Strided<N> {
    /// Plans a walk over `shape`, where operand `k` has element `idx` at
    /// `sum(idx[d] * strides[k][d])`.
    pub(crate) fn new(shape: &[usize], strides: [Vec<usize>; N]) -> Self {
        let mut dims: Vec<usize> = Vec::with_capacity(shape.len());
        let mut out: [Vec<usize>; N] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
        // Walk from the innermost dimension outwards, so the merge test compares a dimension
        // with the (already merged) group just inside it.
        for d in (0..shape.len()).rev() {
            if shape[d] == 1 {
                continue;
            }
            let mergeable = dims.last().is_some_and(|&inner| {
                (0..N).all(|k| out[k].last().is_some_and(|&s| strides[k][d] == s * inner))
            });
            if mergeable {
                if let Some(inner) = dims.last_mut() {
                    *inner *= shape[d];
                }
            } else {
                dims.push(shape[d]);
                for k in 0..N {
                    out[k].push(strides[k][d]);
                }
            }
        }
        if dims.is_empty() {
            dims.push(1);
            for s in &mut out {
                s.push(0);
            }
        }
        dims.reverse();
        for s in &mut out {
            s.reverse();
        }
        Self { dims, strides: out }
    }

    /// Length of one row (the innermost collapsed dimension).
    pub(crate) fn inner_len(&self) -> usize {
        self.dims[self.dims.len() - 1]
    }

    /// Each operand's stride along a row.
    pub(crate) fn inner_strides(&self) -> [usize; N] {
        std::array::from_fn(|k| self.strides[k][self.dims.len() - 1])
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.dims[..self.dims.len() - 1].iter().product()
    }

    /// Calls `f` with every operand's offset at the start of rows `first..first + count`.
    pub(crate) fn for_each_row(&self, first: usize, count: usize, mut f: impl FnMut([usize; N])) {
        let outer = &self.dims[..self.dims.len() - 1];
        let mut idx = vec![0usize; outer.len()];
        let mut offsets = [0usize; N];
        let mut rest = first;
        for d in (0..outer.len()).rev() {
            idx[d] = rest % outer[d];
            rest /= outer[d];
            for (off, strides) in offsets.iter_mut().zip(&self.strides) {
                *off += idx[d] * strides[d];
            }
        }
        for row in 0..count {
            f(offsets);
            if row + 1 == count {
                break;
            }
            // Odometer step: bump the last outer index and carry.
            for d in (0..outer.len()).rev() {
                idx[d] += 1;
                for (off, strides) in offsets.iter_mut().zip(&self.strides) {
                    *off += strides[d];
                }
                if idx[d] < outer[d] {
                    break;
                }
                idx[d] = 0;
                for (off, strides) in offsets.iter_mut().zip(&self.strides) {
                    *off -= strides[d] * outer[d];
                }
            }
        }
    }

    /// Fills `out` (the contiguous result, one row after another) by calling `body` with each
    /// output row and the operands' offsets for it; in parallel for large outputs.
    pub(crate) fn fill_rows(&self, out: &mut [u64], body: impl Fn(&mut [u64], [usize; N]) + Sync) {
        let inner = self.inner_len();
        if out.is_empty() || inner == 0 {
            return;
        }
        if out.len() < PAR_THRESHOLD {
            let mut rows = out.chunks_mut(inner);
            self.for_each_row(0, self.rows(), |offsets| {
                if let Some(row) = rows.next() {
                    body(row, offsets);
                }
            });
            return;
        }
        let rows_per_task = PAR_CHUNK.div_ceil(inner);
        out.par_chunks_mut(rows_per_task * inner)
            .enumerate()
            .for_each(|(task, chunk)| {
                let count = chunk.len() / inner;
                let mut rows = chunk.chunks_mut(inner);
                self.for_each_row(task * rows_per_task, count, |offsets| {
                    if let Some(row) = rows.next() {
                        body(row, offsets);
                    }
                });
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_collapses_contiguous_dims() {
        let shape = [4, 1, 6, 5];
        let plan = Strided::new(&shape, [contiguous_strides(&shape)]);
        assert_eq!((plan.rows(), plan.inner_len()), (1, 120));
        let plan = Strided::new(
            &shape,
            [contiguous_strides(&shape), broadcast_strides(&[5], &shape)],
        );
        assert_eq!(
            (plan.rows(), plan.inner_len(), plan.inner_strides()),
            (24, 5, [1, 1])
        );
    }

    #[test]
    fn rows_visit_every_offset_in_order() {
        // A transposed walk: output [3, 4] reading a [4, 3] buffer.
        let plan = Strided::new(&[3, 4], [vec![1, 3]]);
        assert_eq!(
            (plan.rows(), plan.inner_len(), plan.inner_strides()),
            (3, 4, [3])
        );
        let mut seen = Vec::new();
        plan.for_each_row(1, 2, |[off]| seen.push(off));
        assert_eq!(seen, [1, 2]);
        // Parallel filling must agree with the sequential walk on a large, oddly shaped plan.
        let shape = [7, 5000, 3];
        let plan = Strided::new(&shape, [vec![1, 7, 35000]]);
        let mut out = vec![0u64; 7 * 5000 * 3];
        plan.fill_rows(&mut out, |row, [off]| {
            for (i, o) in row.iter_mut().enumerate() {
                *o = (off + i * 35000) as u64;
            }
        });
        let expect: Vec<u64> = (0..7)
            .flat_map(|a| {
                (0..5000).flat_map(move |b| (0..3).map(move |c| (a + 7 * b + 35000 * c) as u64))
            })
            .collect();
        assert_eq!(out, expect);
        // Zero-sized and 0-d shapes.
        Strided::new(&[4, 0], [vec![0, 1]]).fill_rows(&mut [], |_, _| unreachable!());
        let plan = Strided::new(&[], [vec![]]);
        assert_eq!((plan.rows(), plan.inner_len()), (1, 1));
    }
}
