//! Comparisons on `CrypTensor` and the functions made of them: ltz, lt/le/gt/ge/eq/ne (between
//! encrypted tensors and against public scalars), sign, abs, relu, relu6/hardtanh/clamp, and
//! where (a multiplexer with an encrypted condition).
//!
//! Every comparison is one bit test (`binary::bit_test`: the sign bit of a difference, or a
//! zero test) followed by one round that brings the bit back to arithmetic: a daBit conversion
//! for a 0/1 result, or the fused bit product `x * b` for relu, abs and clamp, which needs no
//! truncation. So each costs four rounds whatever the number of parties (three for the test,
//! one for the conversion). Comparison results are fixed-point 0/1 (`2^f` for true), like
//! CrypTen's, so they multiply directly with values. Differences are exact as long as both
//! operands are within the encoder's range (`|x| < 2^(62-f)`), which keeps `x - y` below 2^63.

use crate::protocol::binary::b2a::{bits_to_arith_with, mul_bits_with, mul_bits_with_operand};
use crate::protocol::binary::{BitTest, SharedBits, bit_test_with};
use crate::provider::Request;
use crate::{CrypTensor, Error, Result};
use crypten_core::RingTensor;

impl CrypTensor {
    /// A ring tensor holding this share minus the encoding of the public `c` (party 0 alone
    /// subtracts it), at this tensor's scale: its sign is the sign of `self - c`.
    fn minus_scalar(&self, c: f64) -> Result<RingTensor> {
        Ok(self.add_scalar(-c)?.into_raw())
    }

    /// `self - other` at a common scale (a settled operand next to a deferred one is scaled
    /// up): its sign is the sign of the difference, with no truncation needed.
    fn raw_diff(&self, other: &CrypTensor) -> Result<RingTensor> {
        Ok(self.sub(other)?.into_raw())
    }

    /// `self - other` at the session's scale (settling deferred operands in one round): what
    /// equality of the fixed-point encodings compares.
    fn settled_diff(&self, other: &CrypTensor) -> Result<RingTensor> {
        CrypTensor::settle_all(&[self, other])?;
        Ok(self.share()?.sub(other.share()?)?)
    }

    /// The fixed-point 0/1 result of `test` on the ring values `diff` (complemented when
    /// `negate`), shaped like `diff`.
    fn test_to_fixed(&self, diff: RingTensor, test: BitTest, negate: bool) -> Result<Self> {
        let n = diff.numel();
        let (bits, mut pending) =
            bit_test_with(&self.sess, &diff, test, vec![Request::DaBits { n }])?;
        let bits = if negate { bits.not(&self.sess) } else { bits };
        let arith = bits_to_arith_with(&self.sess, &bits, pending.remove(0))?;
        let scale = self.sess.encoder().scale();
        Ok(self.with(arith.mul_scalar(scale).into_shape(diff.shape())?))
    }

    /// `values * b` elementwise, where `b` is the sign bit of `diff` (complemented when
    /// `negate`); the bit product's material is requested together with the bit test's.
    fn sign_times(
        &self,
        diff: &RingTensor,
        negate: bool,
        values: &RingTensor,
    ) -> Result<RingTensor> {
        let n = diff.numel();
        let (bits, mut pending) =
            bit_test_with(&self.sess, diff, BitTest::Sign, vec![Request::BitMul { n }])?;
        let bits: SharedBits = if negate { bits.not(&self.sess) } else { bits };
        mul_bits_with(&self.sess, &bits, values, pending.remove(0))
    }

    /// `self < 0`, elementwise, as fixed-point 0/1.
    ///
    /// Rounds: 4, for any number of parties. Bytes sent per party per element: about
    /// `12.3 (N-1)` plus headers (see `binary::bit_test`; the conversion adds one bit).
    /// Exact.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn ltz(&self) -> Result<Self> {
        self.test_to_fixed(self.raw().clone(), BitTest::Sign, false)
    }

    /// `self < other` (broadcasting), as fixed-point 0/1. Four rounds, like [`Self::ltz`].
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn lt(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "lt")?;
        self.test_to_fixed(self.raw_diff(other)?, BitTest::Sign, false)
    }

    /// `self <= other` (broadcasting), as fixed-point 0/1: `!(other < self)`. Four rounds.
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn le(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "le")?;
        self.test_to_fixed(other.raw_diff(self)?, BitTest::Sign, true)
    }

    /// `self > other` (broadcasting), as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn gt(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "gt")?;
        self.test_to_fixed(other.raw_diff(self)?, BitTest::Sign, false)
    }

    /// `self >= other` (broadcasting), as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn ge(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "ge")?;
        self.test_to_fixed(self.raw_diff(other)?, BitTest::Sign, true)
    }

    /// `self == other` (broadcasting; equality of the fixed-point encodings), as fixed-point
    /// 0/1.
    ///
    /// Rounds: 4, for any number of parties. Bytes sent per party per element: about
    /// `10.7 (N-1)` plus headers. Exact.
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn eq(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "eq")?;
        self.test_to_fixed(self.settled_diff(other)?, BitTest::Zero, false)
    }

    /// `self != other` (broadcasting), as fixed-point 0/1. Four rounds, like [`Self::eq`].
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn ne(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "ne")?;
        self.test_to_fixed(self.settled_diff(other)?, BitTest::Zero, true)
    }

    /// `self < c` for a public scalar, as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// `c` cannot be encoded (NaN, infinite, out of range); provider or communication
    /// failures.
    pub fn lt_scalar(&self, c: f64) -> Result<Self> {
        self.test_to_fixed(self.minus_scalar(c)?, BitTest::Sign, false)
    }

    /// `self <= c` for a public scalar, as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// As [`Self::lt_scalar`].
    pub fn le_scalar(&self, c: f64) -> Result<Self> {
        self.test_to_fixed(self.minus_scalar(c)?.neg(), BitTest::Sign, true)
    }

    /// `self > c` for a public scalar, as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// As [`Self::lt_scalar`].
    pub fn gt_scalar(&self, c: f64) -> Result<Self> {
        self.test_to_fixed(self.minus_scalar(c)?.neg(), BitTest::Sign, false)
    }

    /// `self >= c` for a public scalar, as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// As [`Self::lt_scalar`].
    pub fn ge_scalar(&self, c: f64) -> Result<Self> {
        self.test_to_fixed(self.minus_scalar(c)?, BitTest::Sign, true)
    }

    /// `self == c` for a public scalar (equality of encodings), as fixed-point 0/1. Four
    /// rounds.
    ///
    /// # Errors
    /// As [`Self::lt_scalar`].
    pub fn eq_scalar(&self, c: f64) -> Result<Self> {
        self.test_to_fixed(self.settled()?.minus_scalar(c)?, BitTest::Zero, false)
    }

    /// `self != c` for a public scalar, as fixed-point 0/1. Four rounds.
    ///
    /// # Errors
    /// As [`Self::lt_scalar`].
    pub fn ne_scalar(&self, c: f64) -> Result<Self> {
        self.test_to_fixed(self.settled()?.minus_scalar(c)?, BitTest::Zero, true)
    }

    /// The sign, `-1` or `+1` (fixed-point), with `sign(0) = +1`: `1 - 2 ltz(x)`. Four rounds.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn sign(&self) -> Result<Self> {
        let ltz = self.ltz()?;
        let scale = self.sess.encoder().scale();
        let mut share = ltz.raw().mul_scalar(2u64.wrapping_neg());
        if self.sess.rank() == 0 {
            share = share.add_scalar(scale);
        }
        Ok(self.with(share))
    }

    /// `|x|` = `x - 2 x ltz(x)`, with the bit product (no truncation). Four rounds, exact.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn abs(&self) -> Result<Self> {
        let neg = self.sign_times(self.raw(), false, self.raw())?;
        Ok(self.with_raw(self.raw().sub(&neg.shl(1))?))
    }

    /// `max(x, 0)` = `x * !ltz(x)`, with the bit product (no truncation, except that a deferred
    /// input is truncated in the product's opening: see [`Self::relu_with_mask`]).
    ///
    /// Rounds: 4, for any number of parties. Bytes sent per party per element: about
    /// `20.3 (N-1)` plus headers (the bit test, then one word and one bit). Exact.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn relu(&self) -> Result<Self> {
        self.relu_and_bits()?.0.validated(
            "relu",
            &[self],
            Some(Box::new(|a| a[0].mapv(|v| v.max(0.0)))),
        )
    }

    /// `relu(x)` together with its derivative mask `[x >= 0]` (fixed-point 0/1), from one bit
    /// test: what autograd keeps for the backward pass. The mask's arithmetic shares come with
    /// the bit product's daBit, so it costs nothing more than [`Self::relu`].
    ///
    /// Rounds: 4 (the bit test, then the bit product). Exact, except that a deferred input is
    /// truncated (one unit in the last place).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn relu_with_mask(&self) -> Result<(Self, Self)> {
        let (relu, mask) = self.relu_and_bits()?;
        let scale = self.sess.encoder().scale();
        let mask = self.with(mask.mul_scalar(scale).into_shape(self.shape())?);
        Ok((relu, mask))
    }

    /// `relu(x)` and the bits `[x >= 0]` as arithmetic 0/1 integers (shape `[n]`), from one
    /// bit test and one bit product.
    fn relu_and_bits(&self) -> Result<(Self, RingTensor)> {
        let n = self.numel();
        let operand = self.operand();
        let product = if operand.deferred() {
            Request::DeferredBitMul {
                n,
                bits: operand.bits,
            }
        } else {
            Request::BitMul { n }
        };
        let (bits, mut pending) =
            bit_test_with(&self.sess, self.raw(), BitTest::Sign, vec![product])?;
        let nonnegative = bits.not(&self.sess);
        let (relu, bits) =
            mul_bits_with_operand(&self.sess, &nonnegative, operand, pending.remove(0))?;
        Ok((self.with(relu), bits))
    }

    /// `min(max(x, 0), 6)`. Four rounds (see [`Self::clamp`]).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn relu6(&self) -> Result<Self> {
        self.clamp(0.0, 6.0)
    }

    /// `min(max(x, min_val), max_val)`, PyTorch's hardtanh. Four rounds (see [`Self::clamp`]).
    ///
    /// # Errors
    /// As [`Self::clamp`].
    pub fn hardtanh(&self, min_val: f64, max_val: f64) -> Result<Self> {
        self.clamp(min_val, max_val)
    }

    /// `min(max(x, min), max)`: both comparisons `x < min` and `x > max` run as one bit test
    /// of twice the length, then `x + [x < min] (min - x) + [x > max] (max - x)` with one bit
    /// product. Four rounds, exact.
    ///
    /// # Errors
    /// `InvalidArgument` when `min > max`; bounds that cannot be encoded; provider or
    /// communication failures.
    pub fn clamp(&self, min: f64, max: f64) -> Result<Self> {
        if min > max || min.is_nan() || max.is_nan() {
            return Err(Error::InvalidArgument {
                op: "clamp",
                reason: format!("bounds [{min}, {max}] are not an interval"),
            });
        }
        // At the session's scale: the bounds' encodings must fit next to the value.
        let me = self.settled()?;
        let below = me.minus_scalar(min)?; // x - min: negative when x < min
        let above = me.minus_scalar(max)?.neg(); // max - x: negative when x > max
        let n = self.numel();
        let flat = |t: &RingTensor| t.reshape(&[n]);
        let diffs = RingTensor::cat(&[&flat(&below)?, &flat(&above)?], 0)?;
        let values = RingTensor::cat(&[&flat(&below)?.neg(), &flat(&above)?], 0)?;
        let moves = self.sign_times(&diffs, false, &values)?;
        let mut out = me.raw().clone();
        out.add_assign(&moves.narrow(0, 0, n)?.into_shape(self.shape())?)?;
        out.add_assign(&moves.narrow(0, n, n)?.into_shape(self.shape())?)?;
        Ok(self.with(out))
    }

    /// `cond * self + (1 - cond) * other` for an encrypted fixed-point condition (0/1, as the
    /// comparisons return), broadcasting: `other + cond * (self - other)`, one product.
    ///
    /// Rounds: 1, plus one to settle the deferred product before adding `other` (a settled
    /// value; none under local truncation). Bytes: those of [`Self::mul`]. Off by at most one
    /// unit in the last place, like any fixed-point product (under the opt-in local truncation
    /// it also inherits that truncation's failure probability, see `truncate`).
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn where_(&self, cond: &CrypTensor, other: &CrypTensor) -> Result<Self> {
        self.check(cond, "where")?;
        self.check(other, "where")?;
        other.add(&cond.mul(&self.sub(other)?)?)
    }
}
