//! Sine and cosine: exact range reduction by truncation, then a Chebyshev series.
//!
//! `t = x / (2 pi)` is formed with the constant split in two (its high part at the session's
//! precision, the remainder at 16 more bits, each product truncated on its own) so that the
//! reduction stays exact to a few units of the last place of `t` for large `|x|` without any
//! product growing large. Truncating the high part's product by twice the fractional bits
//! gives shares of an integer `k` that is `floor(t_hi)` or `floor(t_hi) + 1` (both truncation
//! protocols guarantee this), so `f = t - k` lies in `(-1, 1)` (up to the low part, below
//! 2^-12) and `sin x = sin(2 pi f)`, a Chebyshev series on `[-1, 1]`. No comparisons; the
//! three truncations share one round (none with local truncation).

use super::poly::chebyshev_fit;
use crate::protocol::truncate;
use crate::{CrypTensor, Result};
use std::f64::consts::TAU;

impl CrypTensor {
    /// `f = x / 2pi - k` in `(-1, 1)` for an integer `k`.
    fn turns(&self) -> Result<CrypTensor> {
        let sess = &self.sess;
        let frac = sess.encoder().frac_bits();
        let hi = CrypTensor::encode_ring(sess, 1.0 / TAU, 0);
        let hi_value = (hi as i64) as f64 / 2f64.powi(frac as i32);
        let lo = CrypTensor::encode_ring(sess, 1.0 / TAU - hi_value, 16);
        let x = self.share()?;
        // All three truncations in one round: t's two parts, and the integer part k of its
        // high part alone (t_lo is below 2^-12 in magnitude on the domain, so f = t - k still
        // lies in (-1, 1) up to that).
        let (x_hi, x_lo) = (x.mul_scalar(hi), x.mul_scalar(lo));
        let mut parts = truncate::truncate_each(
            sess,
            &[(&x_hi, frac), (&x_lo, frac + 16), (&x_hi, 2 * frac)],
        )?
        .into_iter();
        let (Some(t_hi), Some(t_lo), Some(k)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(crate::Error::InvalidArgument {
                op: "sin",
                reason: "fewer truncations than requested".into(),
            });
        };
        let t = t_hi.add(&t_lo)?;
        Ok(self.with(t.sub(&k.shl(frac))?))
    }

    /// `sin(x)`.
    ///
    /// Domain `|x| <= 2^20` (beyond it the fixed-point `x` itself is coarse). Error (16
    /// fractional bits, default knobs): at most `3e-4` absolute. Rounds:
    /// `1 + ceil(log2(chebyshev_degree))` (5 by default; 4 with local truncation).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn sin(&self) -> Result<CrypTensor> {
        self.sin_unchecked()?
            .validated("sin", &[self], Some(Box::new(|a| a[0].mapv(f64::sin))))
    }

    fn sin_unchecked(&self) -> Result<CrypTensor> {
        let degree = self.sess.config().functions.chebyshev_degree.max(16) as usize;
        let coeffs = chebyshev_fit(|f| (TAU * f).sin(), degree, -1.0, 1.0);
        self.turns()?.chebyshev_unit(&coeffs, false)
    }

    /// `cos(x)`. Domain, error and rounds: as [`CrypTensor::sin`].
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn cos(&self) -> Result<CrypTensor> {
        self.cos_unchecked()?
            .validated("cos", &[self], Some(Box::new(|a| a[0].mapv(f64::cos))))
    }

    fn cos_unchecked(&self) -> Result<CrypTensor> {
        let degree = self.sess.config().functions.chebyshev_degree.max(16) as usize;
        let coeffs = chebyshev_fit(|f| (TAU * f).cos(), degree, -1.0, 1.0);
        self.turns()?.chebyshev_unit(&coeffs, false)
    }
}
