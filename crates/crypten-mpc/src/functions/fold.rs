//! Signs and saturating folds: the comparison-based front ends of the functions that are
//! odd or even, or that saturate for large inputs.
//!
//! - `sign_split`: one comparison `n = [x < 0]`, then `|x| = x (1 - 2n)` in one product
//!   round (other tensors can be multiplied by the sign in the same round).
//! - `fold`: one batched comparison of `x` against `0`, `B` and `-B`, then
//!   `a = min(|x|, B)` in one product round. With `n = [x < 0]`, `l = [x < B]` and
//!   `q = [x < -B]`, the factor `g = l + q - 2n` is `1` on `[0, B)`, `-1` on `[-B, 0)` and `0`
//!   beyond `B` in either direction, so `a = x g + B (1 - l + q)`: a single product. An odd
//!   or even function that saturates beyond `B` (sigmoid, tanh, erf) is then a polynomial in
//!   `a` on the short range `[0, B]` with the sign restored by one more product.

use super::batch::mul_many;
use crate::{CrypTensor, Result};
use crypten_core::RingTensor;

/// `x` split into sign and magnitude.
pub(crate) struct Split {
    /// `1 - 2 [x < 0]` (fixed point; `+1` at zero).
    pub(crate) sign: CrypTensor,
    /// `|x|`.
    pub(crate) abs: CrypTensor,
}

/// `x` folded onto `[0, B]`.
pub(crate) struct Folded {
    /// `[x < 0]` (fixed point).
    pub(crate) neg: CrypTensor,
    /// `min(|x|, B)`.
    pub(crate) a: CrypTensor,
    /// `max(x, 0)`, when asked for.
    pub(crate) relu: Option<CrypTensor>,
}

impl CrypTensor {
    /// Sign and magnitude of `self`, and each of `also` times the sign, in one comparison and
    /// one product round.
    pub(crate) fn sign_split(&self, also: &[&CrypTensor]) -> Result<(Split, Vec<CrypTensor>)> {
        let neg = self.ltz()?;
        let sign = neg
            .mul_int(-2)
            .add_ring(1u64 << self.sess.encoder().frac_bits());
        let mut pairs = vec![(self, &sign)];
        pairs.extend(also.iter().map(|t| (*t, &sign)));
        let mut products = mul_many(&pairs)?;
        let abs = products.remove(0);
        Ok((Split { sign, abs }, products))
    }

    /// `min(|self|, bound)`, `[self < 0]` and optionally `relu(self)`, from one batched
    /// comparison (three per element) and one product round.
    pub(crate) fn fold(&self, bound: f64, with_relu: bool) -> Result<Folded> {
        let sess = &self.sess;
        let n = self.numel();
        let b = CrypTensor::encode_ring(sess, bound, 0);
        let mut stacked = Vec::with_capacity(3 * n);
        stacked.extend_from_slice(self.share.data());
        stacked.extend_from_slice(self.add_ring(b.wrapping_neg()).share.data());
        stacked.extend_from_slice(self.add_ring(b).share.data());
        let mut shape = vec![3];
        shape.extend_from_slice(self.shape());
        let below = CrypTensor::from_share(sess, RingTensor::new(&shape, stacked)?).ltz()?;
        let part = |j: usize| -> Result<CrypTensor> {
            Ok(self.with(RingTensor::new(
                self.shape(),
                below.share.data()[j * n..(j + 1) * n].to_vec(),
            )?))
        };
        let (neg, under, far_neg) = (part(0)?, part(1)?, part(2)?);
        let g = under.add(&far_neg)?.sub(&neg.mul_int(2))?;
        // B (1 - l + q): B times a fixed-point 0/1 is exact only through the encoding of B,
        // which is the constant the callers fit their approximations to anyway.
        let saturated = far_neg
            .sub(&under)?
            .add_ring(1u64 << sess.encoder().frac_bits());
        let not_neg = neg.neg().add_ring(1u64 << sess.encoder().frac_bits());
        let mut pairs = vec![(self, &g)];
        if with_relu {
            pairs.push((self, &not_neg));
        }
        let mut products = mul_many(&pairs)?;
        let relu = with_relu.then(|| products.remove(1));
        let a = products.remove(0).add(&saturated.mul_scalar(bound)?)?;
        Ok(Folded { neg, a, relu })
    }
}
