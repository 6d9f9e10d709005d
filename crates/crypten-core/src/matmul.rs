//! Matrix products of ring tensors, with the shape rules of `numpy.matmul` / `torch.matmul`
//! (1-D promotion, broadcast batch dimensions), lowered onto [`gemm_u64`].

use crate::kernels::{gemm_u64, gemm_u64_acc};
use crate::{Error, Result, RingTensor};
use rayon::prelude::*;

/// Batched products with less work than this (multiply-adds) run their batches in sequence.
const PAR_BATCH_MIN_WORK: usize = 1 << 20;

impl RingTensor {
    /// Matrix product over Z/2^64 with the semantics of `torch.matmul`:
    /// - 1-D x 1-D: dot product, a 0-d tensor;
    /// - 2-D x 2-D: the matrix product `[m, k] x [k, n] -> [m, n]`;
    /// - a 1-D left operand is treated as `[1, k]` and a 1-D right operand as `[k, 1]`, and the
    ///   added dimension is removed from the result;
    /// - otherwise the operands are stacks of matrices whose leading (batch) dimensions
    ///   broadcast against each other, e.g. `[j, 1, m, k] x [l, k, n] -> [j, l, m, n]`.
    ///
    /// Every product and sum wraps modulo 2^64.
    ///
    /// # Errors
    /// `ShapeMismatch` with op `"matmul"` when an operand is 0-d, the inner dimensions differ, or
    /// the batch dimensions do not broadcast.
    pub fn matmul(&self, rhs: &RingTensor) -> Result<RingTensor> {
        let plan = self.matmul_plan(rhs)?;
        let mut out = RingTensor::zeros(&plan.out_shape);
        self.matmul_into(rhs, &plan, &mut out.data, false);
        Ok(out)
    }

    /// `out += self.matmul(rhs)`, without a temporary for the product.
    ///
    /// # Errors
    /// As [`RingTensor::matmul`]; `ShapeMismatch` with op `"matmul_acc"` when `out` does not
    /// have the product's shape.
    pub fn matmul_acc(&self, rhs: &RingTensor, out: &mut RingTensor) -> Result<()> {
        let plan = self.matmul_plan(rhs)?;
        if out.shape != plan.out_shape {
            return Err(Error::ShapeMismatch {
                op: "matmul_acc",
                lhs: out.shape.clone(),
                rhs: plan.out_shape,
            });
        }
        self.matmul_into(rhs, &plan, &mut out.data, true);
        Ok(())
    }

    /// Checks that `self.matmul(rhs)` is defined and works out its dimensions.
    fn matmul_plan(&self, rhs: &RingTensor) -> Result<Plan> {
        let mismatch = || Error::ShapeMismatch {
            op: "matmul",
            lhs: self.shape.clone(),
            rhs: rhs.shape.clone(),
        };
        let (lhs_nd, rhs_nd) = (self.shape.len(), rhs.shape.len());
        if lhs_nd == 0 || rhs_nd == 0 {
            return Err(mismatch());
        }
        // Promote 1-D operands to matrices; the extra axis is dropped from the output below.
        let a_shape = if lhs_nd == 1 {
            vec![1, self.shape[0]]
        } else {
            self.shape.clone()
        };
        let b_shape = if rhs_nd == 1 {
            vec![rhs.shape[0], 1]
        } else {
            rhs.shape.clone()
        };
        let (a_batch, a_mat) = a_shape.split_at(a_shape.len() - 2);
        let (b_batch, b_mat) = b_shape.split_at(b_shape.len() - 2);
        let (m, k, n) = (a_mat[0], a_mat[1], b_mat[1]);
        if b_mat[0] != k {
            return Err(mismatch());
        }
        let batch = broadcast(a_batch, b_batch).ok_or_else(mismatch)?;

        let mut out_shape = batch.clone();
        if lhs_nd > 1 {
            out_shape.push(m);
        }
        if rhs_nd > 1 {
            out_shape.push(n);
        }
        Ok(Plan {
            m,
            k,
            n,
            a_batch: a_batch.to_vec(),
            b_batch: b_batch.to_vec(),
            batch,
            out_shape,
        })
    }

    /// `out = self.matmul(rhs)`, or `out += ...` when `accumulate`, following `plan`.
    fn matmul_into(&self, rhs: &RingTensor, plan: &Plan, out: &mut [u64], accumulate: bool) {
        if out.is_empty() {
            return;
        }
        let gemm = if accumulate { gemm_u64_acc } else { gemm_u64 };
        let Plan { m, k, n, .. } = *plan;
        if plan.b_batch.is_empty() {
            // One weight matrix for every batch entry: the batch folds into the rows of a single
            // larger GEMM, since `self`'s batch blocks are contiguous rows.
            // `out` is not empty, so n >= 1.
            let rows = out.len() / n;
            gemm(rows, k, n, &self.data, &rhs.data, out);
            return;
        }

        let a_index = batch_sources(&plan.batch, &plan.a_batch);
        let b_index = batch_sources(&plan.batch, &plan.b_batch);
        let (a_len, b_len) = (m * k, k * n);
        let product = |(i, c): (usize, &mut [u64])| {
            let a = &self.data[a_index[i] * a_len..][..a_len];
            let b = &rhs.data[b_index[i] * b_len..][..b_len];
            gemm(m, k, n, a, b, c);
        };
        let work = out.len().saturating_mul(k);
        if a_index.len() > 1 && work >= PAR_BATCH_MIN_WORK {
            out.par_chunks_mut(m * n).enumerate().for_each(product);
        } else {
            out.chunks_mut(m * n).enumerate().for_each(product);
        }
    }
}

/// The dimensions of a product: the matrices are `m x k` and `k x n`; the operands' batch
/// shapes broadcast to `batch`.
struct Plan {
    m: usize,
    k: usize,
    n: usize,
    a_batch: Vec<usize>,
    b_batch: Vec<usize>,
    batch: Vec<usize>,
    out_shape: Vec<usize>,
}

/// Broadcasts two batch shapes (right aligned, 1 stretches); `None` if they are incompatible.
fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let nd = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() >= nd {
            s[i + s.len() - nd]
        } else {
            1
        }
    };
    (0..nd)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// For each entry of the broadcast batch `out` (row-major), the index of the matrix of an
/// operand with batch shape `src` that it reads.
fn batch_sources(out: &[usize], src: &[usize]) -> Vec<usize> {
    let count: usize = out.iter().product();
    let offset = out.len() - src.len();
    // Row-major strides of `src`, zero where it broadcasts (size 1).
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for (i, &d) in src.iter().enumerate().rev() {
        strides[offset + i] = if d == 1 { 0 } else { s };
        s *= d;
    }
    let mut index = vec![0; out.len()];
    let mut sources = Vec::with_capacity(count);
    let mut current = 0;
    for _ in 0..count {
        sources.push(current);
        // Odometer increment of `index`, keeping `current` in step.
        for d in (0..out.len()).rev() {
            index[d] += 1;
            current += strides[d];
            if index[d] < out[d] {
                break;
            }
            current -= strides[d] * index[d];
            index[d] = 0;
        }
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tensor(shape: &[usize], seed: u64) -> RingTensor {
        let numel: usize = shape.iter().product();
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let data = (0..numel)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect();
        RingTensor::new(shape, data).expect("numel matches")
    }

    /// Reference: element by element, with broadcasting done by explicit index arithmetic.
    fn reference(a: &RingTensor, b: &RingTensor) -> (Vec<usize>, Vec<u64>) {
        let (ad, bd) = (a.shape.len(), b.shape.len());
        let ash = if ad == 1 {
            vec![1, a.shape[0]]
        } else {
            a.shape.clone()
        };
        let bsh = if bd == 1 {
            vec![b.shape[0], 1]
        } else {
            b.shape.clone()
        };
        let (m, k, n) = (ash[ash.len() - 2], ash[ash.len() - 1], bsh[bsh.len() - 1]);
        let (ab, bb) = (&ash[..ash.len() - 2], &bsh[..bsh.len() - 2]);
        let nd = ab.len().max(bb.len());
        let pad = |s: &[usize]| [vec![1; nd - s.len()], s.to_vec()].concat();
        let (ab, bb) = (pad(ab), pad(bb));
        let batch: Vec<usize> = ab
            .iter()
            .zip(&bb)
            .map(|(&x, &y)| if x == 1 { y } else { x })
            .collect();
        let count: usize = batch.iter().product();
        let mut data = Vec::new();
        for t in 0..count {
            // Decompose t into a batch multi-index and map it into each operand.
            let (mut rem, mut ai, mut bi) = (t, 0, 0);
            let (mut astride, mut bstride) = (1, 1);
            for d in (0..nd).rev() {
                let idx = rem % batch[d];
                rem /= batch[d];
                ai += if ab[d] == 1 { 0 } else { idx * astride };
                bi += if bb[d] == 1 { 0 } else { idx * bstride };
                astride *= ab[d];
                bstride *= bb[d];
            }
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0u64;
                    for p in 0..k {
                        let x = a.data[ai * m * k + i * k + p];
                        s = s.wrapping_add(x.wrapping_mul(b.data[bi * k * n + p * n + j]));
                    }
                    data.push(s);
                }
            }
        }
        let mut shape = batch;
        if ad > 1 {
            shape.push(m);
        }
        if bd > 1 {
            shape.push(n);
        }
        (shape, data)
    }

    fn check(a_shape: &[usize], b_shape: &[usize]) {
        let (a, b) = (tensor(a_shape, 1), tensor(b_shape, 2));
        let got = a.matmul(&b).expect("shapes are compatible");
        let (shape, data) = reference(&a, &b);
        assert_eq!(got.shape, shape, "{a_shape:?} x {b_shape:?}");
        assert!(got.data == data, "{a_shape:?} x {b_shape:?}: values differ");
        // Accumulating adds the same product to what the output held.
        let mut acc = tensor(&shape, 3);
        let want: Vec<u64> = acc
            .data
            .iter()
            .zip(&data)
            .map(|(s, p)| s.wrapping_add(*p))
            .collect();
        a.matmul_acc(&b, &mut acc).expect("shapes are compatible");
        assert!(
            acc.data == want,
            "{a_shape:?} x {b_shape:?}: accumulated values differ"
        );
    }

    #[test]
    fn vector_and_matrix_cases() {
        check(&[7], &[7]);
        check(&[5, 7], &[7]);
        check(&[7], &[7, 3]);
        check(&[4, 7], &[7, 3]);
        check(&[1, 1], &[1, 1]);
        check(&[0], &[0]);
        check(&[3, 0], &[0, 4]);
        let dot = tensor(&[9], 3)
            .matmul(&tensor(&[9], 4))
            .expect("same length");
        assert_eq!(dot.shape(), &[] as &[usize]);
    }

    #[test]
    fn known_values() {
        let a = RingTensor::new(&[2, 2], vec![1, 2, 3, 4]).expect("2x2");
        let b = RingTensor::new(&[2], vec![u64::MAX, 1]).expect("2");
        // [1*(-1) + 2, 3*(-1) + 4] = [1, 1]
        assert_eq!(a.matmul(&b).expect("ok").data(), &[1, 1]);
    }

    #[test]
    fn batched_and_broadcast_cases() {
        check(&[3, 4, 5], &[3, 5, 2]);
        check(&[3, 4, 5], &[5, 2]);
        check(&[4, 5], &[3, 5, 2]);
        check(&[2, 1, 4, 5], &[3, 5, 6]);
        check(&[1, 3, 4, 5], &[2, 1, 5, 6]);
        check(&[2, 3, 5], &[5]);
        check(&[5], &[2, 3, 5, 4]);
        check(&[2, 0, 4, 5], &[5, 3]);
        check(&[6, 40, 64], &[6, 64, 48]);
        check(&[2, 3, 70, 80], &[1, 80, 90]);
    }

    #[test]
    fn shape_errors() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[3], &[4]),
            (&[2, 3], &[4, 2]),
            (&[], &[3]),
            (&[3], &[]),
            (&[2, 2, 3], &[3, 3, 2]),
            (&[2, 3], &[2]),
            (&[3], &[2, 2]),
        ];
        for &(x, y) in cases {
            match tensor(x, 1).matmul(&tensor(y, 2)) {
                Err(Error::ShapeMismatch {
                    op: "matmul",
                    lhs,
                    rhs,
                }) => {
                    assert_eq!((lhs.as_slice(), rhs.as_slice()), (x, y));
                }
                other => panic!("{x:?} x {y:?}: expected ShapeMismatch, got {other:?}"),
            }
        }
        let mut wrong = tensor(&[2, 3], 3);
        assert!(matches!(
            tensor(&[2, 4], 1).matmul_acc(&tensor(&[4, 2], 2), &mut wrong),
            Err(Error::ShapeMismatch {
                op: "matmul_acc",
                ..
            })
        ));
    }

    #[test]
    fn batch_sources_broadcasts() {
        assert_eq!(batch_sources(&[2, 3], &[3]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(batch_sources(&[2, 3], &[2, 1]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(batch_sources(&[2, 3], &[]), vec![0; 6]);
        assert_eq!(broadcast(&[2, 1], &[4, 1, 3]), Some(vec![4, 2, 3]));
        assert_eq!(broadcast(&[2], &[3]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_batched_shapes(
            batch_a in proptest::collection::vec(1usize..4, 0..3),
            batch_b in proptest::collection::vec(1usize..4, 0..3),
            m in 1usize..12, k in 0usize..12, n in 1usize..12,
            a_vec in any::<bool>(), b_vec in any::<bool>(),
        ) {
            // Make the batches broadcastable by stretching disagreeing dims to 1 on one side.
            let nd = batch_a.len().min(batch_b.len());
            let mut batch_b = batch_b;
            let (la, lb) = (batch_a.len(), batch_b.len());
            for i in 0..nd {
                if batch_a[la - 1 - i] != batch_b[lb - 1 - i] {
                    batch_b[lb - 1 - i] = 1;
                }
            }
            let a_shape = if a_vec { vec![k] } else { [batch_a, vec![m, k]].concat() };
            let b_shape = if b_vec { vec![k] } else { [batch_b, vec![k, n]].concat() };
            let (a, b) = (tensor(&a_shape, 5), tensor(&b_shape, 6));
            let got = a.matmul(&b).expect("compatible by construction");
            let (shape, data) = reference(&a, &b);
            prop_assert_eq!(got.shape, shape);
            prop_assert_eq!(got.data, data);
        }
    }
}
