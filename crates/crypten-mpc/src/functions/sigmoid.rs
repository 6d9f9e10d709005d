//! Sigmoid and tanh on all reals, by symmetry and saturation.
//!
//! Both are odd about a centre and saturate: `sigmoid(x) = 1 - sigmoid(-x)` and
//! `sigmoid(x) > 1 - 2^-17` beyond 12; `tanh` is odd and `tanh(x) > 1 - 2^-19` beyond 7. So
//! one bit test and one round of exact bit products fold the input onto `a = min(|x|, B)`
//! (see `fold`), the function is approximated on `[0, B]` only, and one product restores the
//! sign:
//! `sigmoid(x) = n + (1 - 2n) s(a)` and `tanh(x) = (1 - 2n) t(a)` with `n = [x < 0]`.
//!
//! Two methods for `s(a)` ([`SigmoidMethod`]):
//! - **Chebyshev** (default): a degree-16 Chebyshev series on `[0, B]`, 4 rounds, error about
//!   3 units of the last place (the function is smooth and flat at the ends, so the series
//!   converges fast on the folded range; it would not on `[-B, B]`).
//! - **Reciprocal**: `1 / (1 + exp(-a))`, with our `exp` (7 rounds) and a comparison-free
//!   reciprocal on the public range `[1, 2]` (3 rounds): CrypTen's formula, kept for
//!   comparison; more rounds (15 against 9) and larger errors.

use super::SigmoidMethod;
use super::poly::chebyshev_fit;
use super::range::scaled_reciprocal_in_range;
use crate::{CrypTensor, Error, Result};

/// Beyond this, `sigmoid` is 1 (or 0) to within half a unit of the last place at 16 bits.
pub(crate) const SIGMOID_BOUND: f64 = 12.0;
/// Beyond this, `tanh` is +-1 to within a fifth of a unit of the last place at 16 bits.
pub(crate) const TANH_BOUND: f64 = 7.0;

pub(crate) fn sigmoid_f64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl CrypTensor {
    /// `g(min(|x|, bound))` for a public `g` that saturates beyond `bound`, by the configured
    /// method, and `[x < 0]`. The Reciprocal method computes `g(a)` as
    /// `1 / (1 + exp(-exp_scale * a))`, so it only stands for sigmoid-shaped `g`.
    fn saturated(
        &self,
        bound: f64,
        g: fn(f64) -> f64,
        exp_scale: f64,
    ) -> Result<(CrypTensor, CrypTensor)> {
        let cfg = &self.sess.config().functions;
        let folded = self.fold(bound)?;
        let value = match cfg.sigmoid_method {
            SigmoidMethod::Chebyshev => {
                let degree = cfg.chebyshev_degree as usize;
                folded
                    .a
                    .chebyshev(&chebyshev_fit(g, degree, 0.0, bound), 0.0, bound)?
            }
            SigmoidMethod::Reciprocal => {
                // 1 + exp(-c a) lies in [1, 2]: a comparison-free reciprocal.
                let z = folded.a.mul_scalar(-exp_scale)?.exp()?;
                let v = z.add_scalar(1.0)?;
                let (w, k) = scaled_reciprocal_in_range(&v, 1.0, 2.0)?.ok_or_else(|| {
                    Error::InvalidArgument {
                        op: "sigmoid",
                        reason: "no reciprocal plan for [1, 2]".into(),
                    }
                })?;
                if k == 0 { w } else { w.shift_down(k)? }
            }
        };
        Ok((folded.neg, value))
    }

    /// The logistic function `1 / (1 + e^-x)` on all reals.
    ///
    /// Error (16 fractional bits, default knobs): at most `5 * 2^-16` (Chebyshev method) or
    /// `12 * 2^-16` (Reciprocal method), everywhere. Rounds, for any number of parties: one
    /// comparison (4) plus `1 + ceil(log2(chebyshev_degree))` (Chebyshev: 9 in all by default)
    /// or 11 (Reciprocal: 15 in all).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn sigmoid(&self) -> Result<CrypTensor> {
        self.sigmoid_unchecked()?.validated(
            "sigmoid",
            &[self],
            Some(Box::new(|a| a[0].mapv(sigmoid_f64))),
        )
    }

    fn sigmoid_unchecked(&self) -> Result<CrypTensor> {
        let (neg, s) = self.saturated(SIGMOID_BOUND, sigmoid_f64, 1.0)?;
        // n + (1 - 2n) s
        let sign = neg.mul_int(-2).add_scalar(1.0)?;
        neg.add_small(&sign.mul(&s)?)
    }

    /// The hyperbolic tangent on all reals.
    ///
    /// Error (16 fractional bits, default knobs): at most `8 * 2^-16` (Chebyshev) or
    /// `24 * 2^-16` (Reciprocal). Rounds: as [`CrypTensor::sigmoid`].
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn tanh(&self) -> Result<CrypTensor> {
        self.tanh_unchecked()?
            .validated("tanh", &[self], Some(Box::new(|a| a[0].mapv(f64::tanh))))
    }

    fn tanh_unchecked(&self) -> Result<CrypTensor> {
        let (neg, t) = match self.sess.config().functions.sigmoid_method {
            SigmoidMethod::Chebyshev => self.saturated(TANH_BOUND, f64::tanh, 2.0)?,
            SigmoidMethod::Reciprocal => {
                // tanh(a) = 2 sigmoid(2a) - 1
                let (neg, s) = self.saturated(TANH_BOUND, f64::tanh, 2.0)?;
                (neg, s.mul_int(2).add_scalar(-1.0)?)
            }
        };
        let sign = neg.mul_int(-2).add_scalar(1.0)?;
        sign.mul(&t)
    }
}
