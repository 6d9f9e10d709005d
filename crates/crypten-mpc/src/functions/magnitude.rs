//! Magnitude classes: which power-of-16 band a shared positive value lies in, from one batch
//! of comparisons, and exact public-per-band constants selected by it.
//!
//! Reciprocal, square root and logarithm are easy on a short range such as `[1, 16)` and hard
//! on `[1e-4, 1e6]`. So the input is compared, in one batched comparison, against a public
//! ladder of thresholds `2^e_0 < 2^e_1 < ...` (one every 4 or 6 bits), giving bits
//! `b_j = [x >= 2^e_j]`. Every quantity that depends only on the band (the normalising factor
//! `2^-e`, the output factor, `e * ln 2`) is then a *linear* function of the bits:
//! `v_0 + sum_j b_j (v_(j+1) - v_j)`, free to compute. The bits come out of the bit test as
//! ring integers 0/1 (not fixed point), so the band constants, encoded once, are selected
//! without any rounding: a normalising factor is an exact power of two and `x * 2^-e` loses
//! nothing but the product's own truncation.
//!
//! Bands: `r = 0` is `x < 2^e_0` (for the ladders used here: `x <= 0`), band `j + 1` is
//! `2^e_j <= x < 2^e_(j+1)`, and the last band is `x >= 2^e_last`.

use crate::protocol::binary::b2a::bits_to_arith_with;
use crate::protocol::binary::{BitTest, bit_test_with};
use crate::provider::Request;
use crate::{CrypTensor, Result};
use crypten_core::RingTensor;

/// Thresholds `start, start + step, ...` strictly below `last`, then `last`, then `extra` (if
/// any): the exponents of a ladder whose regular bands are at most `2^step` wide.
pub(crate) fn ladder(start: i32, last: i32, extra: Option<i32>, step: i32) -> Vec<i32> {
    let mut exps: Vec<i32> = (0..)
        .map(|j| start + step * j)
        .take_while(|&e| e < last)
        .collect();
    exps.push(last);
    exps.extend(extra);
    exps
}

/// The band bits of a shared value against a ladder of powers of two.
pub(crate) struct Magnitude {
    /// The tensor measured (its session and shape).
    like: CrypTensor,
    /// Ring-integer shares of `[x >= 2^e_j]`, one per threshold.
    bits: Vec<RingTensor>,
}

impl Magnitude {
    /// Compares `x` with `2^e` for every `e` in `exps` (increasing): one bit test of all the
    /// differences `x - 2^e` (three rounds) and one round converting the complemented sign bits
    /// to ring integers. Exact.
    pub(crate) fn measure(x: &CrypTensor, exps: &[i32]) -> Result<Self> {
        let sess = &x.sess;
        let n = x.numel();
        let total = n * exps.len();
        // A deferred x is compared at its own scale when every threshold fits there (the
        // sign of the difference is the same); otherwise it is settled once.
        let frac = sess.encoder().frac_bits();
        let top = exps.iter().copied().max().unwrap_or(0);
        let mut operand = x.operand();
        if operand.deferred() && top + (frac + operand.bits) as i32 >= 60 {
            operand = crate::protocol::deferred::Operand {
                share: x.share()?,
                bits: 0,
            };
        }
        let mut stacked = Vec::with_capacity(total);
        for &e in exps {
            let threshold = CrypTensor::encode_ring(sess, 2f64.powi(e), operand.bits);
            let first = sess.rank() == 0;
            stacked.extend(
                operand.share.data().iter().map(
                    |&v| {
                        if first { v.wrapping_sub(threshold) } else { v }
                    },
                ),
            );
        }
        let stacked = RingTensor::new(&[total], stacked)?;
        let (below, mut pending) = bit_test_with(
            sess,
            &stacked,
            BitTest::Sign,
            vec![Request::DaBits { n: total }],
        )?;
        // [x >= 2^e] = not [x - 2^e < 0]
        let bits = bits_to_arith_with(sess, &below.not(sess), pending.remove(0))?;
        let bits = (0..exps.len())
            .map(|j| {
                Ok(RingTensor::new(
                    x.shape(),
                    bits.data()[j * n..(j + 1) * n].to_vec(),
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            like: x.clone(),
            bits,
        })
    }

    /// The fixed-point tensor holding `values[r]` wherever `x` lies in band `r`
    /// (`values.len()` is the number of thresholds plus one). Local and exact: each value is
    /// rounded to the fixed-point grid once, and the selection adds no error.
    pub(crate) fn select(&self, values: &[f64]) -> CrypTensor {
        debug_assert_eq!(values.len(), self.bits.len() + 1);
        let sess = &self.like.sess;
        let encoded: Vec<u64> = values
            .iter()
            .map(|&v| CrypTensor::encode_ring(sess, v, 0))
            .collect();
        let mut acc = RingTensor::zeros(self.like.shape());
        for (j, b) in self.bits.iter().enumerate() {
            let step = encoded[j + 1].wrapping_sub(encoded[j]);
            if step != 0 {
                acc.add_assign(&b.mul_scalar(step))
                    .expect("band bits have the measured shape");
            }
        }
        if self.like.sess.rank() == 0 {
            acc = acc.add_scalar(encoded[0]);
        }
        self.like.with(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::ladder;

    #[test]
    fn ladders_tile_with_bands_of_at_most_step_bits() {
        assert_eq!(
            ladder(-16, 16, Some(20), 4),
            vec![-16, -12, -8, -4, 0, 4, 8, 12, 16, 20]
        );
        assert_eq!(ladder(-16, 20, None, 6), vec![-16, -10, -4, 2, 8, 14, 20]);
        assert_eq!(
            ladder(-18, 13, Some(17), 4),
            vec![-18, -14, -10, -6, -2, 2, 6, 10, 13, 17]
        );
        assert_eq!(ladder(-16, 12, Some(16), 4).len(), 9);
    }
}
