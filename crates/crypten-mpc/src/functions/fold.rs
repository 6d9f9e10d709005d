//! Signs and saturating folds: the comparison front ends of the functions that are odd or
//! even, or that saturate for large inputs. Both are one bit test (the sign bits of a few
//! differences, three rounds) and one round of fused bit products `v * b` (exact: nothing is
//! truncated), four rounds in all.
//!
//! - `sign_split`: `n = [x < 0]`, then `|x| = x - 2 (n x)` and `sign = 1 - 2n`; other tensors
//!   can be multiplied by the sign in the same round (`y - 2 (n y)`).
//! - `fold`: with `n = [x < 0]`, `l = [x < B]` and `q = [x < -B]` from one bit test,
//!   `a = B + n (-2x) + l (x - B) + q (x + B)` is `min(|x|, B)`: on `[0, B)` only the `l` term
//!   is on (`B + x - B`), on `[-B, 0)` the `n` term too (`-x`), beyond `B` in either direction
//!   the terms cancel to `B`. An odd or even function that saturates beyond `B` (sigmoid,
//!   tanh, erf, gelu) is then a polynomial in `a` on the short range `[0, B]`, with the sign
//!   restored by one more product. `relu(x) = x - n x` comes for free.

use crate::protocol::binary::b2a::mul_bits_with;
use crate::protocol::binary::{BitTest, SharedBits, bit_test_with};
use crate::provider::Request;
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
    /// `max(x, 0)`.
    pub(crate) relu: CrypTensor,
}

impl CrypTensor {
    /// `bits[i] * values[i]` for each group, the bits from one bit test of the sign of each
    /// of `diffs` (all shaped like `self`), in four rounds. `groups[k] = (d, v)` multiplies the
    /// sign bit of `diffs[d]` with `v`.
    fn sign_products(
        &self,
        diffs: &[RingTensor],
        groups: &[(usize, &RingTensor)],
    ) -> Result<Vec<RingTensor>> {
        let sess = &self.sess;
        let n = self.numel();
        let mut stacked = Vec::with_capacity(n * diffs.len());
        for d in diffs {
            stacked.extend_from_slice(d.data());
        }
        let total = n * groups.len();
        let stacked = RingTensor::new(&[n * diffs.len()], stacked)?;
        let (bits, mut pending) = bit_test_with(
            sess,
            &stacked,
            BitTest::Sign,
            vec![Request::BitMul { n: total }],
        )?;
        let per_diff: Vec<SharedBits> = (0..diffs.len())
            .map(|d| bits.gather(&(d * n..(d + 1) * n).collect::<Vec<_>>()))
            .collect::<Result<_>>()?;
        let chosen: Vec<&SharedBits> = groups.iter().map(|(d, _)| &per_diff[*d]).collect();
        let mut values = Vec::with_capacity(total);
        for (_, v) in groups {
            values.extend_from_slice(v.data());
        }
        let products = mul_bits_with(
            sess,
            &SharedBits::concat(&chosen),
            &RingTensor::new(&[total], values)?,
            pending.remove(0),
        )?;
        (0..groups.len())
            .map(|k| {
                Ok(RingTensor::new(
                    self.shape(),
                    products.data()[k * n..(k + 1) * n].to_vec(),
                )?)
            })
            .collect()
    }

    /// The fixed-point 1 as this party's share, shaped like `self`.
    fn ones_share(&self) -> RingTensor {
        let one = if self.sess.rank() == 0 {
            self.sess.encoder().scale()
        } else {
            0
        };
        RingTensor::full(self.shape(), one)
    }

    /// Sign and magnitude of `self`, and each of `also` (shaped like `self`) times the sign,
    /// in four rounds. Exact.
    pub(crate) fn sign_split(&self, also: &[&CrypTensor]) -> Result<(Split, Vec<CrypTensor>)> {
        for t in also {
            self.check(t, "sign_split")?;
        }
        let mut operands = vec![self];
        operands.extend_from_slice(also);
        CrypTensor::settle_all(&operands)?;
        let ones = self.ones_share();
        let mut groups = vec![(0, self.share()?), (0, &ones)];
        for t in also {
            groups.push((0, t.share()?));
        }
        let products = self.sign_products(std::slice::from_ref(self.share()?), &groups)?;
        // v - 2 (n v) for every v
        let flip = |v: &RingTensor, nv: &RingTensor| -> Result<CrypTensor> {
            Ok(self.with(v.sub(&nv.shl(1))?))
        };
        let abs = flip(self.share()?, &products[0])?;
        let sign = flip(&ones, &products[1])?;
        let others = also
            .iter()
            .zip(&products[2..])
            .map(|(t, p)| flip(t.share()?, p))
            .collect::<Result<Vec<_>>>()?;
        Ok((Split { sign, abs }, others))
    }

    /// `min(|self|, bound)`, `[self < 0]` and `relu(self)` in four rounds (three sign tests per
    /// element, four bit products). Exact, `bound` rounded to the fixed-point grid.
    pub(crate) fn fold(&self, bound: f64) -> Result<Folded> {
        let b = CrypTensor::encode_ring(&self.sess, bound, 0);
        let x = self.share()?;
        let minus_b = self.add_ring(b.wrapping_neg())?.share()?.clone(); // sign is [x < B]
        let plus_b = self.add_ring(b)?.share()?.clone(); // sign is [x < -B]
        let ones = self.ones_share();
        let diffs = [x.clone(), minus_b.clone(), plus_b.clone()];
        let products =
            self.sign_products(&diffs, &[(0, x), (1, &minus_b), (2, &plus_b), (0, &ones)])?;
        // a = B - 2 (n x) + l (x - B) + q (x + B)
        let mut a = products[0].shl(1).neg();
        a.add_assign(&products[1])?;
        a.add_assign(&products[2])?;
        let a = self.with(a).add_ring(b)?;
        let relu = self.with(x.sub(&products[0])?);
        let neg = self.with(products[3].clone());
        Ok(Folded { neg, a, relu })
    }
}
