//! `CrypTensor` arithmetic: linear operations (local), products with public values (local
//! product and truncation), and products of two encrypted tensors (one round).

use crate::protocol::beaver;
use crate::protocol::deferred::{self};
use crate::protocol::truncate;
use crate::{Bilinear, CrypTensor, Error, Result};
use crypten_core::{Conv1dParams, Conv2dParams, RingTensor};
use ndarray::{ArrayD, IxDyn};

impl CrypTensor {
    /// `self + other` (broadcasting). Local, except that a deferred operand next to a settled
    /// one is settled first (one round); two deferred operands give a deferred
    /// sum, whose magnitude must stay below `2^(62-2f)` like the sums inside a matmul.
    ///
    /// # Errors
    /// Shape mismatch or different sessions; communication failures settling an operand.
    pub fn add(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "add")?;
        self.join(&[self, other], |raws| Ok(raws[0].add(raws[1])?))?
            .validated("add", &[self, other], Some(Box::new(|a| &a[0] + &a[1])))
    }

    /// `self + bias` where one operand is the result of a product (a layer's output) and the
    /// other is added to it, as a convolution's bias or a residual connection: a settled
    /// operand joins a deferred one at its scale (shifted up) and the sum stays deferred,
    /// costing no round. The sum then has a product's range (`2^(62-2f)`), as `addmm`'s folded
    /// bias does. Otherwise as [`Self::add`].
    ///
    /// # Errors
    /// Shape mismatch or different sessions; communication failures settling an operand.
    pub fn add_bias(&self, bias: &CrypTensor) -> Result<Self> {
        if self.operand().deferred() == bias.operand().deferred() {
            return self.add(bias);
        }
        self.add_small(bias)?
            .validated("add", &[self, bias], Some(Box::new(|a| &a[0] + &a[1])))
    }

    /// `self + other` for operands the caller knows to be small (below `2^(62 - f - p)`, `p`
    /// the larger pending truncation: a function's internal values): an operand with fewer
    /// pending bits is shifted up to the other's scale instead of settling the other, so the
    /// sum stays deferred and costs no round.
    ///
    /// # Errors
    /// Shape mismatch or different sessions.
    pub(crate) fn add_small(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "add")?;
        let (a, b) = (self.operand(), other.operand());
        if a.bits == b.bits {
            return self.add(other);
        }
        let bits = a.bits.max(b.bits);
        let lift = |o: crate::protocol::deferred::Operand<'_>| o.share.shl(bits - o.bits);
        let sum = lift(a).add(&lift(b))?;
        Ok(self.deferred_by(sum, bits))
    }

    /// `self - other` (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch or different sessions.
    pub fn sub(&self, other: &CrypTensor) -> Result<Self> {
        self.add(&other.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        self.map_share_infallible(RingTensor::neg)
    }

    /// `self + p` for a public array `p` (broadcasting): party 0 adds the encoding.
    ///
    /// A deferred `self` is settled first (one round), which keeps the range
    /// of the sum that of any settled value.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; communication failures settling a deferred `self`.
    pub fn add_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        let share = self.share()?;
        let sum = if self.sess.rank() == 0 {
            share.add(&encoded)?
        } else {
            // Broadcast like party 0 does so every party's share has the result's shape.
            share.add(&RingTensor::zeros(encoded.shape()))?
        };
        Ok(self.with(sum))
    }

    /// `self - p` for a public array `p`.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors.
    pub fn sub_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        self.add_plain(&p.mapv(|v| -v))
    }

    /// `self + c` for a public scalar. A deferred `self` stays deferred when `c` is small
    /// next to its range (`|c| 2^(f + pending) <= 2^58`: the sum then has a deferred value's
    /// range, which any value a deferred product can hold already has, give or take `c`);
    /// otherwise it is settled first, as in [`Self::add_plain`].
    ///
    /// # Errors
    /// Encoding errors; communication failures settling a deferred `self`.
    pub fn add_scalar(&self, c: f64) -> Result<Self> {
        let encoded = self.encode_scalar(c)?;
        let operand = self.operand();
        if operand.deferred() {
            let frac = self.sess.encoder().frac_bits();
            if c.abs() * 2f64.powi((frac + operand.bits) as i32) <= 2f64.powi(58) {
                let raw = if self.sess.rank() == 0 {
                    operand
                        .share
                        .add_scalar(Self::encode_ring(&self.sess, c, operand.bits))
                } else {
                    operand.share.clone()
                };
                return Ok(self.deferred_by(raw, operand.bits));
            }
        }
        let share = self.share()?;
        Ok(self.with(if self.sess.rank() == 0 {
            share.add_scalar(encoded)
        } else {
            share.clone()
        }))
    }

    /// `self * k` for a public integer: exact and local (no truncation).
    pub fn mul_int(&self, k: i64) -> Self {
        self.map_share_infallible(|r| r.mul_scalar(k as u64))
    }

    /// `self * c` for a public real scalar: local product, then truncation (deferred; local
    /// under the opt-in local truncation). A factor whose encoding would be coarse (`|c| <
    /// 2^-5` with 16 fractional bits: the `1/N` of a mean over more than 32 elements) keeps its
    /// precision by shifting `self` down first (see `coarse_shift`): one more truncation, one
    /// round (in which a deferred `self` is also settled; none under local truncation).
    ///
    /// # Errors
    /// Encoding errors; communication failures settling a deferred `self`.
    pub fn mul_scalar(&self, c: f64) -> Result<Self> {
        let power = -c.abs().log2();
        let out = if c.fract() == 0.0 && c.abs() < (1u64 << 52) as f64 {
            self.mul_int(c as i64)
        } else if power.fract() == 0.0 && (1.0..=40.0).contains(&power) {
            // c = +-2^-k: a shift, deferred like a product's (the 1/N of a mean over a
            // power-of-two batch).
            let shifted = self.shift_down(power as u32)?;
            if c < 0.0 { shifted.neg() } else { shifted }
        } else if let Some(j) = self.coarse_shift(c.abs()) {
            self.shifted_down(j)?.mul_scalar(c * 2f64.powi(j as i32))?
        } else {
            let encoded = self.encode_scalar(c)?;
            self.rescale(self.share()?.mul_scalar(encoded))?
        };
        out.validated("mul_scalar", &[self], Some(Box::new(move |a| &a[0] * c)))
    }

    /// For public factors at most `largest` in magnitude whose encoding would be coarse (fewer
    /// than 2^11 units in the last place, a relative error above 2^-12: the `1/N` of a mean
    /// over more than 32 elements, say), the `j` that brings `largest * 2^j` into `[1/2, 1)`.
    /// The product is then `(self / 2^j) * (factor * 2^j)`, with the factor's full precision.
    fn coarse_shift(&self, largest: f64) -> Option<u32> {
        let units = largest * 2f64.powi(self.sess.encoder().frac_bits() as i32);
        if largest == 0.0 || !largest.is_finite() || units >= 2048.0 {
            return None;
        }
        let j = (-largest.log2()).floor();
        (1.0..=40.0).contains(&j).then_some(j as u32)
    }

    /// `self / 2^j`, truncated as the session truncates a product (one round, in which a
    /// deferred `self` is settled by the same truncation; none where truncation is local).
    fn shifted_down(&self, j: u32) -> Result<Self> {
        let operand = self.operand();
        if operand.bits + j < 63 {
            let bits = operand.bits + j;
            return Ok(self.with(truncate::truncate(&self.sess, operand.share, bits)?));
        }
        Ok(self.with(truncate::truncate(&self.sess, self.share()?, j)?))
    }

    /// `self / c` for a public real scalar.
    ///
    /// # Errors
    /// `InvalidArgument` when `c` is zero or not finite; otherwise as [`Self::mul_scalar`].
    pub fn div_scalar(&self, c: f64) -> Result<Self> {
        if c == 0.0 || !c.is_finite() {
            return Err(Error::InvalidArgument {
                op: "div_scalar",
                reason: format!("cannot divide by {c}"),
            });
        }
        self.mul_scalar(1.0 / c)
    }

    /// `self * p` elementwise for a public array (broadcasting): local product + truncation.
    /// An array of only small factors keeps their precision as [`Self::mul_scalar`] does.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn mul_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        let largest = p.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if let Some(j) = self.coarse_shift(largest) {
            let scale = 2f64.powi(j as i32);
            return self.shifted_down(j)?.mul_plain(&p.mapv(|v| v * scale));
        }
        let encoded = self.encode_public(p)?;
        self.rescale(self.share()?.mul(&encoded)?)
    }

    /// `self @ p` for a public matrix: local matmul + truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn matmul_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        self.rescale(self.share()?.matmul(&encoded)?)
    }

    /// `p @ self` for a public matrix: local matmul + truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn plain_matmul(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        self.rescale(encoded.matmul(self.share()?)?)
    }

    // ---- products of two encrypted tensors: one round ----

    fn product(&self, other: &CrypTensor, op: &Bilinear) -> Result<Self> {
        self.check(other, op.name())?;
        let out = if *op == Bilinear::Mul && (self.is_deferred() || other.is_deferred()) {
            let z = deferred::mul(&self.sess, self.operand(), other.operand())?;
            self.deferred(z)
        } else {
            Self::settle_all(&[self, other])?;
            let z = beaver::bilinear(&self.sess, op, self.share()?, other.share()?)?;
            self.rescale(z)?
        };
        if !out.validates() {
            return Ok(out);
        }
        let reference: super::validate::Reference<'_> = match op {
            Bilinear::Mul => Some(Box::new(|a| &a[0] * &a[1])),
            Bilinear::Matmul if self.shape().len() == 2 && other.shape().len() == 2 => {
                Some(Box::new(|a| {
                    let two = |t: &ArrayD<f64>| t.clone().into_dimensionality::<ndarray::Ix2>();
                    match (two(&a[0]), two(&a[1])) {
                        (Ok(x), Ok(y)) => x.dot(&y).into_dyn(),
                        _ => ArrayD::from_elem(IxDyn(&[]), f64::NAN),
                    }
                }))
            }
            // Other maps: the range only.
            _ => None,
        };
        out.validated(op.name(), &[self, other], reference)
    }

    /// `self * other` elementwise (broadcasting).
    ///
    /// Rounds: 1, for any number of parties (the result is deferred, and a deferred operand's
    /// truncation rides on this round).
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn mul(&self, other: &CrypTensor) -> Result<Self> {
        self.product(other, &Bilinear::Mul)
    }

    /// `self * self`, with half the traffic of a general product. One round.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn square(&self) -> Result<Self> {
        let operand = self.operand();
        let out = if operand.deferred() {
            let z = deferred::square(&self.sess, operand.share, operand.bits)?;
            self.deferred(z)
        } else {
            let z = beaver::square(&self.sess, &self.raw)?;
            self.rescale(z)?
        };
        out.validated("square", &[self], Some(Box::new(|a| a[0].mapv(|v| v * v))))
    }

    /// `self @ other` with numpy/torch semantics (batched, broadcast).
    ///
    /// Rounds: 1 (the result is deferred; deferred operands are settled first, in one more
    /// round).
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn matmul(&self, other: &CrypTensor) -> Result<Self> {
        self.product(other, &Bilinear::Matmul)
    }

    /// `self + mat1 @ mat2` (PyTorch's `addmm`): a matmul plus a bias (`self`, broadcast over
    /// the rows).
    ///
    /// Rounds: 1 for any number of parties when `self` is a row vector (`[n]`, with `mat2` of
    /// shape `[k, n]`): the bias is folded into the product
    /// (`[mat1, 1] @ [mat2; self]`), whose result then has a product's range, so adding a
    /// settled bias to a deferred product costs no settling round. Otherwise as
    /// [`Self::matmul`] followed by [`Self::add`].
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn addmm(&self, mat1: &CrypTensor, mat2: &CrypTensor) -> Result<Self> {
        let (bias, s1, s2) = (self.shape(), mat1.shape(), mat2.shape());
        let folds = self.defers_products()
            && bias.len() == 1
            && s1.len() >= 2
            && s2.len() == 2
            && s2[1] == bias[0];
        if !folds {
            return mat1.matmul(mat2)?.add(self);
        }
        let last = s1.len() - 1;
        let mut ones_shape = s1.to_vec();
        ones_shape[last] = 1;
        let ones = Self::from_public(&self.sess, &ArrayD::ones(IxDyn(&ones_shape)))?;
        let x1 = Self::cat(&[mat1, &ones], last)?;
        let wb = Self::cat(&[mat2, &self.unsqueeze(0)?], 0)?;
        x1.matmul(&wb)
    }

    /// 1-d convolution of `self` (`[N, C, L]`) with an encrypted weight (`[O, C/groups, K]`).
    /// Rounds as [`Self::matmul`].
    ///
    /// # Errors
    /// Shape or parameter errors, provider or communication failures.
    pub fn conv1d(&self, weight: &CrypTensor, p: &Conv1dParams) -> Result<Self> {
        self.product(weight, &Bilinear::conv1d(p))
    }

    /// 2-d convolution of `self` (`[N, C, H, W]`) with an encrypted weight
    /// (`[O, C/groups, KH, KW]`). Rounds as [`Self::matmul`].
    ///
    /// # Errors
    /// Shape or parameter errors, provider or communication failures.
    pub fn conv2d(&self, weight: &CrypTensor, p: &Conv2dParams) -> Result<Self> {
        self.product(weight, &Bilinear::conv2d(p))
    }

    /// Any bilinear map of two encrypted tensors: one Beaver round, then truncation.
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn bilinear(&self, other: &CrypTensor, op: &Bilinear) -> Result<Self> {
        self.product(other, op)
    }

    /// A bilinear map of this encrypted tensor and a public array: `op(self, p)`, or
    /// `op(p, self)` with `plain_first`. Local, then truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn bilinear_plain(
        &self,
        op: &Bilinear,
        p: &ArrayD<f64>,
        plain_first: bool,
    ) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        let share = self.share()?;
        let product = if plain_first {
            op.apply(&encoded, share)?
        } else {
            op.apply(share, &encoded)?
        };
        self.rescale(product)
    }

    /// 2-d convolution with a public weight: local convolution + truncation.
    ///
    /// # Errors
    /// Shape or parameter errors; encoding errors; truncation's communication failures.
    pub fn conv2d_plain(&self, weight: &ArrayD<f64>, p: &Conv2dParams) -> Result<Self> {
        let encoded = self.encode_public(weight)?;
        self.rescale(self.share()?.conv2d(&encoded, p)?)
    }
}
