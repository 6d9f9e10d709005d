//! Max, min, argmax and argmin along a dimension: a log-depth tournament.
//!
//! The reduced dimension is moved last and its `k` entries play pairwise, left against right:
//! one bit test gives `b = [left >= right]` for every pair at once, and one bit product gives
//! the winner `right + b (left - right)`; an odd entry out waits for the next level. That is
//! `ceil(log2 k)` levels of four rounds (three for the test, one for the product). Ties go to
//! the left, i.e. the lowest index. For argmax each entry also carries the one-hot indicator of
//! the original positions it stands for (a contiguous segment of them); the same product round
//! keeps the winner's segment and clears the loser's (`b * onehot` on the left,
//! `onehot - b * onehot` on the right), so the result has exactly one 1 per row by
//! construction. min and argmin play the same tournament on `-x`.

use crate::protocol::binary::b2a::mul_bits_with;
use crate::protocol::binary::{BitTest, SharedBits, bit_test_with};
use crate::provider::Request;
use crate::{CrypTensor, Error, Result, Session};
use crypten_core::RingTensor;

impl CrypTensor {
    /// The maximum along `dim` (removed, or kept with size 1 when `keepdim`).
    ///
    /// Rounds: `4 ceil(log2 k)` for `k` entries along `dim`, for any number of parties (28
    /// for 100). Bytes sent per party: about `(N-1) (12.1 + 8.1)` per comparison (`k - 1` per
    /// row in total). Exact.
    ///
    /// # Errors
    /// `InvalidArgument` for a bad `dim` or an empty dimension; provider or communication
    /// failures.
    pub fn max(&self, dim: usize, keepdim: bool) -> Result<Self> {
        let (rows, perm, bits) = self.rows_along(dim, "max")?;
        let (values, _) = tournament(&self.sess, rows, false)?;
        self.finish_values(values, dim, keepdim, &perm, bits)
    }

    /// The minimum along `dim` (the maximum of `-x`). Costs as [`Self::max`].
    ///
    /// # Errors
    /// As [`Self::max`].
    pub fn min(&self, dim: usize, keepdim: bool) -> Result<Self> {
        Ok(self.neg().max(dim, keepdim)?.neg())
    }

    /// The position of the maximum along `dim`, one-hot: a fixed-point 0/1 tensor of the
    /// input's shape with exactly one 1 along `dim` (the lowest index among equal maxima).
    /// `keepdim` is accepted for PyTorch/CrypTen compatibility; a one-hot result always keeps
    /// every dimension.
    ///
    /// Rounds: as [`Self::max`]. Bytes: those of [`Self::max`] plus `8 (N-1)` per element of
    /// the input per level. Exact.
    ///
    /// # Errors
    /// As [`Self::max`].
    pub fn argmax(&self, dim: usize, keepdim: bool) -> Result<Self> {
        let _ = keepdim;
        let (rows, perm, _) = self.rows_along(dim, "argmax")?;
        let (_, onehot) = tournament(&self.sess, rows, true)?;
        let onehot = onehot.ok_or_else(|| Error::InvalidArgument {
            op: "argmax",
            reason: "no one-hot result".into(),
        })?;
        self.finish_onehot(onehot, &perm)
    }

    /// The position of the minimum along `dim`, one-hot (the lowest index among equal minima).
    /// Costs as [`Self::argmax`].
    ///
    /// # Errors
    /// As [`Self::max`].
    pub fn argmin(&self, dim: usize, keepdim: bool) -> Result<Self> {
        self.neg().argmax(dim, keepdim)
    }

    /// This share with `dim` moved last and flattened to `[rows, k]`, the permutation used,
    /// and the share's pending truncation: a deferred value plays the tournament at its own
    /// scale (signs of differences and bit products are the same there), so its truncation
    /// waits on.
    fn rows_along(&self, dim: usize, op: &'static str) -> Result<(RingTensor, Vec<usize>, u32)> {
        let shape = self.shape();
        if dim >= shape.len() || shape[dim] == 0 {
            return Err(Error::InvalidArgument {
                op,
                reason: format!("cannot reduce dimension {dim} of shape {shape:?}"),
            });
        }
        let mut perm: Vec<usize> = (0..shape.len()).filter(|&d| d != dim).collect();
        perm.push(dim);
        let k = shape[dim];
        let rows = self.numel() / k;
        let operand = self.operand();
        let rows_k = operand.share.permute(&perm)?.into_shape(&[rows, k])?;
        Ok((rows_k, perm, operand.bits))
    }

    /// Reshapes a tournament's `[rows]` values to the reduced shape.
    fn finish_values(
        &self,
        values: RingTensor,
        dim: usize,
        keepdim: bool,
        perm: &[usize],
        bits: u32,
    ) -> Result<Self> {
        let outer: Vec<usize> = perm[..perm.len() - 1]
            .iter()
            .map(|&d| self.shape()[d])
            .collect();
        let values = values.into_shape(&outer)?;
        let values = if keepdim {
            values.unsqueeze(dim)?
        } else {
            values
        };
        Ok(if bits > 0 {
            self.deferred_by(values, bits)
        } else {
            self.with(values)
        })
    }

    /// Puts a tournament's `[rows, k]` one-hot back in the input's layout.
    fn finish_onehot(&self, onehot: RingTensor, perm: &[usize]) -> Result<Self> {
        let moved: Vec<usize> = perm.iter().map(|&d| self.shape()[d]).collect();
        let mut inverse = vec![0; perm.len()];
        for (i, &d) in perm.iter().enumerate() {
            inverse[d] = i;
        }
        Ok(self.with(onehot.into_shape(&moved)?.permute(&inverse)?))
    }
}

/// The tournament on `x` (`[rows, k]`): the row maxima (`[rows]`) and, when `onehot`, their
/// fixed-point one-hot positions (`[rows, k]`).
fn tournament(
    sess: &Session,
    mut x: RingTensor,
    onehot: bool,
) -> Result<(RingTensor, Option<RingTensor>)> {
    let (rows, k) = (x.shape()[0], x.shape()[1]);
    // Column j of `x` stands for the original positions bounds[j]..bounds[j + 1].
    let mut bounds: Vec<usize> = (0..=k).collect();
    // Initially every column is its own segment: all ones (fixed-point), held by party 0.
    let one = if sess.rank() == 0 {
        sess.encoder().scale()
    } else {
        0
    };
    let mut ind = onehot.then(|| RingTensor::full(&[rows, k], one));
    let mut width = k;
    while width > 1 {
        let pairs = width / 2;
        let left = x.slice(1, 0, 2 * pairs, 2)?;
        let right = x.slice(1, 1, 2 * pairs, 2)?;
        let diff = left.sub(&right)?.into_shape(&[rows * pairs])?;
        let span = bounds[2 * pairs];
        let extra = if ind.is_some() { rows * span } else { 0 };
        let (bits, mut pending) = bit_test_with(
            sess,
            &diff,
            BitTest::Sign,
            vec![Request::BitMul {
                n: rows * pairs + extra,
            }],
        )?;
        // b = [left >= right]: ties keep the left, lower index.
        let wins = bits.not(sess);
        let (all_bits, values) = match &ind {
            None => (wins, diff),
            Some(t) => {
                // Every position of a pair's segments takes that pair's bit.
                let mut pair_of = Vec::with_capacity(span);
                for p in 0..pairs {
                    pair_of.extend(std::iter::repeat_n(p, bounds[2 * p + 2] - bounds[2 * p]));
                }
                let idx: Vec<usize> = (0..rows)
                    .flat_map(|r| pair_of.iter().map(move |&p| r * pairs + p))
                    .collect();
                let spread = wins.gather(&idx)?;
                let segs = t.narrow(1, 0, span)?.into_shape(&[rows * span])?;
                (
                    SharedBits::concat(&[&wins, &spread]),
                    RingTensor::cat(&[&diff, &segs], 0)?,
                )
            }
        };
        let products = mul_bits_with(sess, &all_bits, &values, pending.remove(0))?;
        let won = products
            .narrow(0, 0, rows * pairs)?
            .into_shape(&[rows, pairs])?;
        let mut next = right.add(&won)?;
        if width % 2 == 1 {
            next = RingTensor::cat(&[&next, &x.narrow(1, width - 1, 1)?], 1)?;
        }
        if let Some(t) = ind.as_mut() {
            let kept = products.narrow(0, rows * pairs, rows * span)?;
            let kept = kept.data();
            let data = t.data_mut();
            for r in 0..rows {
                for p in 0..pairs {
                    let (lo, mid, hi) = (bounds[2 * p], bounds[2 * p + 1], bounds[2 * p + 2]);
                    for j in lo..hi {
                        let y = kept[r * span + j];
                        let slot = &mut data[r * k + j];
                        // The left keeps b * onehot, the right (1 - b) * onehot.
                        *slot = if j < mid { y } else { slot.wrapping_sub(y) };
                    }
                }
            }
        }
        let mut next_bounds: Vec<usize> = bounds.iter().step_by(2).copied().collect();
        if width % 2 == 1 {
            next_bounds.push(k);
        }
        bounds = next_bounds;
        x = next;
        width = x.shape()[1];
    }
    Ok((x.into_shape(&[rows])?, ind))
}
