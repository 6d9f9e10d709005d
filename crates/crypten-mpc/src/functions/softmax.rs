//! Softmax and log-softmax along a dimension, max-subtracted.
//!
//! `d = x - max(x)` along the dimension (the comparison tournament's maximum), so every
//! `d <= 0` and the largest is 0. One fused comparison (`relu(d + C) - C`) clamps `d` at `-C`
//! (`softmax_clamp`, default 16: `e^-16` is below the fixed-point resolution), which keeps
//! the exponential on the range it is fitted to however far apart the inputs are; then `e^d`
//! is a Chebyshev series on `[-C, 0]` (its absolute error is what matters here), pinned to
//! exactly 0 at `-C`: every rounding of an entry's exponential adds up in the row sum, and a
//! row with one large entry and many clamped ones would otherwise collect one per entry
//! (about 2 units each, stochastic), enough to push the large entry's error past 16 units. The sum `s`
//! of a row lies in `[1, n]` for `n` columns, a public range, so its reciprocal needs no
//! comparisons (see `range`); for very wide rows (`n > 256`) the general positive reciprocal
//! is used. Log-softmax is `d - log(s)`, with `d` unclamped.

use super::poly::chebyshev_fit;
use super::range::scaled_reciprocal_in_range;
use crate::protocol::batch::ring_products;
use crate::protocol::truncate;
use crate::{CrypTensor, Error, Result};
use ndarray::{ArrayD, Axis};

impl CrypTensor {
    /// `x - max(x)` along `dim` and `exp` of it clamped below at `-softmax_clamp`, plus the
    /// row sums of the exponentials (kept as a dimension of size 1).
    fn shifted_exp(&self, dim: usize) -> Result<(CrypTensor, CrypTensor, CrypTensor)> {
        if dim >= self.shape().len() {
            return Err(Error::InvalidArgument {
                op: "softmax",
                reason: format!("dimension {dim} of a {}-d tensor", self.shape().len()),
            });
        }
        let cfg = &self.sess.config().functions;
        let clamp = cfg.softmax_clamp;
        let d = self.sub(&self.max(dim, true)?)?;
        // max(d, -C) = relu(d + C) - C: one fused comparison, exact.
        let dc = d.add_scalar(clamp)?.relu()?.add_scalar(-clamp)?;
        let coeffs = chebyshev_fit(f64::exp, cfg.chebyshev_degree as usize, -clamp, 0.0);
        // Exactly 0 at -C: a clamped entry adds no rounding to the row sum.
        let e = dc.chebyshev_with(&coeffs, -clamp, 0.0, true)?;
        let s = e.sum(&[dim], true)?;
        Ok((d, e, s))
    }

    /// Softmax along `dim`: `exp(x - max) / sum(exp(x - max))`.
    ///
    /// Error (16 fractional bits, default knobs): at most `16 * 2^-16` absolute per element.
    /// Rounds, for any number of parties: a `max` along `dim` (4 per halving: 28 for 100
    /// columns), one comparison for the clamp (4), 4 for the exponential, the reciprocal of
    /// the row sums (5 for 10 columns, 8 for 100, plus settling its deferred input) and 1 for
    /// the product: 31 for 10 columns, 46 for 100 (30 and 45 under local truncation).
    ///
    /// # Errors
    /// An invalid `dim`; provider or communication failures.
    pub fn softmax(&self, dim: usize) -> Result<CrypTensor> {
        self.softmax_unchecked(dim)?.validated(
            "softmax",
            &[self],
            Some(Box::new(move |a| softmax_f64(&a[0], dim))),
        )
    }

    fn softmax_unchecked(&self, dim: usize) -> Result<CrypTensor> {
        let (_, e, s) = self.shifted_exp(dim)?;
        let n = self.shape()[dim] as f64;
        if n <= 1.0 {
            // A single column: exactly 1.
            return e.mul_int(0).add_scalar(1.0);
        }
        match scaled_reciprocal_in_range(&s, 1.0, n)? {
            Some((w, k)) if self.defers_products() => {
                // e * (2^k / s) / 2^k, the division riding on the product's truncation.
                e.mul(&w)?.shift_down(k)
            }
            Some((w, k)) => {
                // e * (2^k / s) / 2^k in one truncation.
                let expanded = w.share()?.expand(e.shape())?;
                let p = ring_products(&self.sess, &[(e.share()?, &expanded)])?.swap_remove(0);
                let bits = self.sess.encoder().frac_bits() + k;
                Ok(e.with(truncate::truncate(&self.sess, &p, bits)?))
            }
            None => e.mul(&s.reciprocal_positive()?),
        }
    }

    /// Log-softmax along `dim`: `(x - max) - log(sum(exp(x - max)))`.
    ///
    /// Error (16 fractional bits, default knobs): at most `3e-3` absolute. Rounds (2
    /// parties): a `max`, the clamp (4), the exponential (4) and `log` (9).
    ///
    /// # Errors
    /// An invalid `dim`; provider or communication failures.
    pub fn log_softmax(&self, dim: usize) -> Result<CrypTensor> {
        self.log_softmax_unchecked(dim)?.validated(
            "log_softmax",
            &[self],
            Some(Box::new(move |a| log_softmax_f64(&a[0], dim))),
        )
    }

    fn log_softmax_unchecked(&self, dim: usize) -> Result<CrypTensor> {
        let (d, _, s) = self.shifted_exp(dim)?;
        d.sub(&s.log()?)
    }
}

/// Softmax along `dim` in f64 (validation mode's reference).
fn softmax_f64(x: &ArrayD<f64>, dim: usize) -> ArrayD<f64> {
    let axis = Axis(dim.min(x.ndim().saturating_sub(1)));
    let mut out = x.clone();
    for mut lane in out.lanes_mut(axis) {
        let m = lane.fold(f64::MIN, |a, &b| a.max(b));
        lane.mapv_inplace(|v| (v - m).exp());
        let s = lane.sum();
        lane.mapv_inplace(|v| v / s);
    }
    out
}

/// Log-softmax along `dim` in f64 (validation mode's reference).
fn log_softmax_f64(x: &ArrayD<f64>, dim: usize) -> ArrayD<f64> {
    let axis = Axis(dim.min(x.ndim().saturating_sub(1)));
    let mut out = x.clone();
    for mut lane in out.lanes_mut(axis) {
        let m = lane.fold(f64::MIN, |a, &b| a.max(b));
        let log_sum = lane.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        lane.mapv_inplace(|v| v - m - log_sum);
    }
    out
}
