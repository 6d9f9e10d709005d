//! Reductions on `RingTensor`: wrapping sums over dimensions, signed floor means, and
//! `sum_to_shape`, the adjoint of broadcasting that autograd uses to route gradients back to
//! broadcast operands.

use crate::strided::{PAR_THRESHOLD, Strided, contiguous_strides};
use crate::{Error, Result, RingTensor};
use rayon::prelude::*;

impl RingTensor {
    /// Checks `dims` (distinct, in range) and returns a per-dimension "is reduced" mask.
    fn reduced_mask(&self, op: &'static str, dims: &[usize]) -> Result<Vec<bool>> {
        let mut mask = vec![false; self.ndim()];
        for &d in dims {
            if d >= mask.len() || std::mem::replace(&mut mask[d], true) {
                return Err(Error::InvalidArgument {
                    op,
                    shape: self.shape.clone(),
                    reason: format!(
                        "dimensions {dims:?} must be distinct and below {}",
                        mask.len()
                    ),
                });
            }
        }
        Ok(mask)
    }

    /// Wrapping sum over `dims`; with `keepdim` the reduced dimensions stay as size 1. An empty
    /// `dims` returns a copy.
    ///
    /// # Errors
    /// `InvalidArgument` when a dimension repeats or is out of range.
    pub fn sum(&self, dims: &[usize], keepdim: bool) -> Result<Self> {
        let mask = self.reduced_mask("sum", dims)?;
        let kept: Vec<usize> = self
            .shape
            .iter()
            .zip(&mask)
            .map(|(&n, &r)| if r { 1 } else { n })
            .collect();
        let mut out = RingTensor::zeros(&kept);
        if !dims.is_empty() {
            // One pass over the input, accumulating each row into its output position: the
            // output is read through strides that are zero along the reduced dimensions.
            let mut out_strides = contiguous_strides(&kept);
            for (s, &r) in out_strides.iter_mut().zip(&mask) {
                if r {
                    *s = 0;
                }
            }
            let plan = Strided::new(&self.shape, [contiguous_strides(&self.shape), out_strides]);
            let n = plan.inner_len();
            let [_, so] = plan.inner_strides();
            if !self.data.is_empty() {
                plan.for_each_row(0, plan.rows(), |[src, dst]| {
                    let row = &self.data[src..src + n];
                    match so {
                        0 => {
                            let acc = &mut out.data[dst];
                            *acc = row.iter().fold(*acc, |a, &x| a.wrapping_add(x));
                        }
                        1 => {
                            for (o, &x) in out.data[dst..dst + n].iter_mut().zip(row) {
                                *o = o.wrapping_add(x);
                            }
                        }
                        _ => {
                            for (i, &x) in row.iter().enumerate() {
                                let o = &mut out.data[dst + i * so];
                                *o = o.wrapping_add(x);
                            }
                        }
                    }
                });
            }
        } else {
            out.data.copy_from_slice(&self.data);
        }
        if !keepdim {
            out.shape = self
                .shape
                .iter()
                .zip(&mask)
                .filter(|&(_, &r)| !r)
                .map(|(&n, _)| n)
                .collect();
        }
        Ok(out)
    }

    /// Wrapping sum of every element.
    pub fn sum_all(&self) -> u64 {
        let add = |s: &[u64]| s.iter().fold(0u64, |a, &x| a.wrapping_add(x));
        if self.data.len() < PAR_THRESHOLD {
            return add(&self.data);
        }
        self.data
            .par_chunks(PAR_THRESHOLD)
            .map(add)
            .reduce(|| 0, u64::wrapping_add)
    }

    /// Mean over `dims`: the wrapping sum, read as a signed integer and floor-divided by the
    /// number of elements reduced. An empty `dims` returns a copy.
    ///
    /// # Errors
    /// `InvalidArgument` when a dimension repeats or is out of range, or a reduced dimension
    /// is empty.
    pub fn mean(&self, dims: &[usize], keepdim: bool) -> Result<Self> {
        let mask = self.reduced_mask("mean", dims)?;
        let count: usize = self
            .shape
            .iter()
            .zip(&mask)
            .filter(|&(_, &r)| r)
            .map(|(&n, _)| n)
            .product();
        let count = i64::try_from(count)
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| Error::InvalidArgument {
                op: "mean",
                shape: self.shape.clone(),
                reason: format!("cannot average over {count} elements"),
            })?;
        self.sum(dims, keepdim)?.div_scalar(count)
    }

    /// Sums away the dimensions that broadcasting `shape` to `self.shape()` would have
    /// created, so the result has exactly `shape` (the adjoint of [`RingTensor::expand`]).
    ///
    /// # Errors
    /// `ShapeMismatch` when `shape` does not broadcast to `self.shape()`.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        let mismatch = || Error::ShapeMismatch {
            op: "sum_to_shape",
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
        };
        let lead = self.ndim().checked_sub(shape.len()).ok_or_else(mismatch)?;
        let mut dims: Vec<usize> = (0..lead).collect();
        for (i, (&want, &have)) in shape.iter().zip(&self.shape[lead..]).enumerate() {
            if want == have {
                continue;
            }
            if want != 1 {
                return Err(mismatch());
            }
            dims.push(lead + i);
        }
        self.sum(&dims, true)?.into_shape(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;
    use proptest::prelude::*;

    fn wrap_heavy(shape: &[usize]) -> RingTensor {
        let n: usize = shape.iter().product();
        RingTensor::new(
            shape,
            (0..n as u64)
                .map(|i| u64::MAX - i * 0x0f0f_0f0f_0f0f)
                .collect(),
        )
        .unwrap()
    }

    /// Reference: reduce one axis at a time with ndarray's fold.
    fn naive_sum(t: &RingTensor, dims: &[usize], keepdim: bool) -> RingTensor {
        let mut a = t.to_array();
        let mut sorted = dims.to_vec();
        sorted.sort_unstable();
        for &d in sorted.iter().rev() {
            a = a.fold_axis(Axis(d), 0u64, |&acc, &x| acc.wrapping_add(x));
            if keepdim {
                a.insert_axis_inplace(Axis(d));
            }
        }
        RingTensor::from_array(&a)
    }

    #[test]
    fn sum_matches_reference() {
        let t = wrap_heavy(&[3, 4, 5, 2]);
        for dims in [
            &[][..],
            &[0],
            &[3],
            &[1, 2],
            &[2, 0],
            &[0, 1, 2, 3],
            &[3, 1],
        ] {
            for keepdim in [false, true] {
                assert_eq!(
                    t.sum(dims, keepdim).unwrap(),
                    naive_sum(&t, dims, keepdim),
                    "{dims:?}"
                );
            }
        }
        assert_eq!(t.sum(&[0, 1, 2, 3], false).unwrap().data(), &[t.sum_all()]);
        let s = RingTensor::scalar(9);
        assert_eq!(s.sum(&[], false).unwrap(), s);
        assert_eq!(
            RingTensor::zeros(&[0, 3]).sum(&[0], false).unwrap().data(),
            &[0, 0, 0]
        );
    }

    #[test]
    fn sum_rejects_bad_dims() {
        let t = wrap_heavy(&[2, 3]);
        assert!(matches!(
            t.sum(&[2], false),
            Err(Error::InvalidArgument { op: "sum", .. })
        ));
        assert!(matches!(
            t.sum(&[1, 1], false),
            Err(Error::InvalidArgument { op: "sum", .. })
        ));
        assert!(matches!(
            t.mean(&[0, 0], false),
            Err(Error::InvalidArgument { op: "mean", .. })
        ));
    }

    #[test]
    fn sum_all_wraps_and_parallel_agrees() {
        let t = RingTensor::full(&[3], u64::MAX);
        assert_eq!(t.sum_all(), u64::MAX - 2);
        let big = wrap_heavy(&[PAR_THRESHOLD * 3 + 5]);
        let seq = big.data().iter().fold(0u64, |a, &x| a.wrapping_add(x));
        assert_eq!(big.sum_all(), seq);
    }

    #[test]
    fn mean_is_signed_floor() {
        let vals = [-3i64, -4, 5, 1].map(|v| v as u64);
        let t = RingTensor::new(&[2, 2], vals.to_vec()).unwrap();
        // Rows: (-3 + -4) / 2 = -3.5 -> -4; (5 + 1) / 2 = 3.
        assert_eq!(t.mean(&[1], false).unwrap().data(), &[(-4i64) as u64, 3]);
        // Columns: (-3 + 5) / 2 = 1; (-4 + 1) / 2 = -1.5 -> -2.
        assert_eq!(t.mean(&[0], true).unwrap().data(), &[1, (-2i64) as u64]);
        assert_eq!(t.mean(&[0, 1], false).unwrap().data(), &[u64::MAX]);
        assert!(RingTensor::zeros(&[0, 2]).mean(&[0], false).is_err());
    }

    #[test]
    fn sum_to_shape_inverts_broadcasting() {
        let g = wrap_heavy(&[2, 3, 4]);
        for target in [
            &[3, 4][..],
            &[1, 4],
            &[3, 1],
            &[2, 1, 4],
            &[],
            &[1],
            &[2, 3, 4],
        ] {
            let got = g.sum_to_shape(target).unwrap();
            assert_eq!(got.shape(), target);
            // Reference: expand the target back and sum the dims that differ.
            let mut dims: Vec<usize> = (0..3 - target.len()).collect();
            let lead = 3 - target.len();
            dims.extend(
                (0..target.len())
                    .filter(|&i| target[i] != g.shape()[lead + i])
                    .map(|i| lead + i),
            );
            let expect = naive_sum(&g, &dims, true).into_shape(target).unwrap();
            assert_eq!(got, expect, "{target:?}");
        }
        assert!(matches!(
            g.sum_to_shape(&[2, 4]),
            Err(Error::ShapeMismatch {
                op: "sum_to_shape",
                ..
            })
        ));
        assert!(g.sum_to_shape(&[1, 2, 3, 4]).is_err());
    }

    proptest! {
        #[test]
        fn sum_is_linear(shape in proptest::collection::vec(1usize..5, 1..4), c: u64) {
            let t = wrap_heavy(&shape);
            let dims: Vec<usize> = (0..shape.len()).step_by(2).collect();
            let lhs = t.mul_scalar(c).sum(&dims, false).unwrap();
            let rhs = t.sum(&dims, false).unwrap().mul_scalar(c);
            prop_assert_eq!(lhs, rhs);
            prop_assert_eq!(t.sum(&dims, true).unwrap().sum_all(), t.sum_all());
        }

        #[test]
        fn expand_then_sum_to_shape_multiplies(c: u64, n in 1usize..6) {
            let t = RingTensor::new(&[3, 1], vec![c, c ^ 1, c.wrapping_add(7)]).unwrap();
            let back = t.expand(&[2, 3, n]).unwrap().sum_to_shape(&[3, 1]).unwrap();
            prop_assert_eq!(back, t.mul_scalar(2 * n as u64));
        }
    }
}
