//! Exponential: `exp(x) = P(x / 2^m)^(2^m)` with `P` the degree-`d` Taylor polynomial.
//!
//! CrypTen's limit approximation `(1 + x/2^m)^(2^m)` is `P` of degree 1: its error grows like
//! `x^2 / 2^(m+1)` (3.4% at `x = 4` with `m = 8`). A degree-8 `P` on `x / 16` is accurate to
//! 1e-8 for `|x| <= 10`, so 4 squarings suffice, and fewer squarings also amplify the
//! fixed-point rounding of `P` less. Costs: `ceil(log2(d))` rounds for the powers of `x / 16`
//! (batched by level) and `m` rounds of squaring: 7 with the defaults.
//!
//! Even degrees keep `P` positive everywhere (its minimum, at -2.76, is 0.083), so for large
//! negative inputs the result decays towards 0 instead of oscillating: with the defaults it
//! stays within a few units of the last place of 0 down to `x = -56` (tested), and is garbage
//! below about `-62`. Above, the result overflows the fixed-point range past
//! `x = (62 - 2f) ln 2` (20.8 with 16 bits). Under the opt-in local truncation of 2 parties
//! the last squaring also fails with probability about `exp(x) * 2^(2f - 63)` per element
//! (2^-16.6 at `x = 10`), as for any product that large; the default exact truncation never
//! does. `x / 2^m` and the polynomial's sum stay pending (deferred), so the rounds are the
//! same for any number of parties.

use crate::{CrypTensor, Result};

impl CrypTensor {
    /// `e^x`.
    ///
    /// Domain `[-56, 10]` (16 fractional bits, default knobs). Error on `[-10, 10]`: at most
    /// `1e-3 * e^x + 3 * 2^-16`; on `[-56, -10]` at most `e^x + 4 * 2^-16` (the result is
    /// within a few units of the last place of 0). Rounds, for any number of parties:
    /// `ceil(log2(exp_degree)) + exp_squarings` (7 by default).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn exp(&self) -> Result<CrypTensor> {
        self.exp_unchecked()?
            .validated("exp", &[self], Some(Box::new(|a| a[0].mapv(f64::exp))))
    }

    fn exp_unchecked(&self) -> Result<CrypTensor> {
        let cfg = &self.sess.config().functions;
        let m = cfg.exp_squarings;
        let coeffs: Vec<f64> = (0..=cfg.exp_degree)
            .scan(1.0, |fact, k| {
                if k > 0 {
                    *fact *= f64::from(k);
                }
                Some(1.0 / *fact)
            })
            .collect();
        // x / 2^m: deferred (no round) where the session defers products.
        let y = self.shift_down(m)?;
        // |P| on the domain [-56, 10], for the deferred sum of its terms.
        let scale = 2f64.powi(-(m as i32));
        let bound = (0..=660)
            .map(|i| {
                let v = (-56.0 + f64::from(i) * 0.1) * scale;
                coeffs.iter().rev().fold(0.0, |acc, c| acc * v + c).abs()
            })
            .fold(0.0, f64::max);
        let mut v = y.polynomial_bounded(&coeffs, 2.0 * bound)?;
        for _ in 0..m {
            v = v.square()?;
        }
        Ok(v)
    }
}
