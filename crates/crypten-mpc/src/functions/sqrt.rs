//! Square root and inverse square root: magnitude normalisation, a Chebyshev initial guess
//! and Newton-Raphson.
//!
//! One batched comparison (7 thresholds) finds the band `[2^e, 2^(e+6))` of `x`, `e` even (see
//! `magnitude`), so `u = x * 2^-e` lies in `[1, 64)`. A degree-8 Chebyshev series gives
//! `y ~ 8 / sqrt(u)` to 6% (3 rounds); each Newton step `y <- 1.5 y - u y^3 / 128` squares the
//! error (times 1.5) and costs 2 rounds, because `y^2` and `u y` are formed together and then
//! `u y^3 = (u y) y^2`. Then `1/sqrt(x) = 2^(-e/2-3) y` and
//! `sqrt(x) = 2^(e/2-3) (u y)`: the band factors are exact powers of two (`e` is even), and
//! `sqrt` multiplies by `u` before the (possibly small) band factor so that small results keep
//! their relative precision.
//!
//! Domain `[2^-f, 2^(f+4))` (`f` fractional bits; with 16 bits about `[1.5e-5, 1e6]`).
//! Outside it the results saturate: `sqrt` of `x <= 0` is 0 and `inv_sqrt` of `x <= 0` is
//! `2^(f/2)` (that of the smallest positive value); above the domain both return their value
//! at its upper end.

use super::batch::mul_many;
use super::magnitude::{Magnitude, ladder};
use super::poly::{chebyshev_fit, combine};
use crate::{CrypTensor, Result};

/// Bits per band of the square root's ladder: bands `[2^e, 2^(e+6))`, so the normalised `u`
/// lies in `[1, 64)`. Wider bands mean fewer comparisons (7 instead of 10 for 4-bit bands)
/// for a slightly longer initial polynomial, which Newton's iteration then corrects.
const BAND_BITS: i32 = 6;
/// `2^BAND_BITS`.
const BAND: f64 = 64.0;

/// Degree of the initial Chebyshev guess for `8 / sqrt(u)` on `[1, 64]` (relative error 6%).
const INIT_DEGREE: usize = 8;

/// Band ladder of the square root and the logarithm: even lower bounds from the smallest
/// positive value, `band_bits` (even) apart while at most `f` (so every `2^-e` is exact), then
/// the threshold of the saturating top band, at most `f + 4`.
pub(crate) fn even_ladder(frac: i32, band_bits: i32) -> Vec<i32> {
    let low = -(frac + frac % 2);
    let regular = (frac - low) / band_bits * band_bits + low;
    let top = (regular + band_bits).min(frac + 4 - frac % 2);
    ladder(low, top, None, band_bits)
}

impl CrypTensor {
    /// `u` in `[1, 64)`, `y ~ 8 / sqrt(u)`, the band bits and the ladder.
    fn inv_sqrt_normalised(&self) -> Result<(CrypTensor, CrypTensor, Magnitude, Vec<i32>)> {
        let frac = self.sess.encoder().frac_bits() as i32;
        let exps = even_ladder(frac, BAND_BITS);
        let mag = Magnitude::measure(self, &exps)?;
        let bands = exps.len() + 1;
        let mut scale_in = vec![0.0; bands];
        let mut u_add = vec![0.0; bands];
        for j in 0..exps.len() - 1 {
            scale_in[j + 1] = 2f64.powi(-exps[j]);
        }
        u_add[0] = 1.0;
        u_add[bands - 1] = 1.0;
        let u = self
            .mul(&mag.select(&scale_in))?
            .add_small(&mag.select(&u_add))?;
        // y ~ 8 / sqrt(u), kept above 1 for its relative precision.
        let coeffs = chebyshev_fit(|v| 8.0 / v.sqrt(), INIT_DEGREE, 1.0, BAND);
        let mut y = u.chebyshev(&coeffs, 1.0, BAND)?;
        for _ in 0..self.sess.config().functions.sqrt_iterations {
            let mut level = mul_many(&[(&y, &y), (&u, &y)])?;
            let uy = level.swap_remove(1);
            let uy3 = uy.mul(&level[0])?;
            // y (3 - u y^2 / 64) / 2
            // y stays within [1, 8] and u y^3 / 128 below 4: the step's result is below 16.
            y = combine(&y, &[(&y, 1.5), (&uy3, -1.0 / 128.0)], 0.0, Some(16.0))?;
        }
        Ok((u, y, mag, exps))
    }

    /// `1 / sqrt(x)` for `x > 0`.
    ///
    /// Domain `[2^-f, 2^(f+4))`. Error (16 fractional bits, default iterations): at most
    /// `2e-4 * |1/sqrt(x)| + 2 * 2^-16`. Rounds, for any number of parties: one
    /// comparison (4) plus `7 + 2 * sqrt_iterations`: 15 by default (13 under local
    /// truncation). Out of domain: `x <= 0` gives `2^(f/2)`; `x >= 2^(f+4)` gives
    /// `2^(-(f+4)/2)`.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn inv_sqrt(&self) -> Result<CrypTensor> {
        self.inv_sqrt_unchecked()?.validated(
            "inv_sqrt",
            &[self],
            Some(Box::new(|a| a[0].mapv(|v| 1.0 / v.sqrt()))),
        )
    }

    fn inv_sqrt_unchecked(&self) -> Result<CrypTensor> {
        let (_, y, mag, exps) = self.inv_sqrt_normalised()?;
        let bands = exps.len() + 1;
        let mut factor = vec![0.0; bands];
        factor[0] = 2f64.powi(-exps[0] / 2 - 3);
        for j in 0..exps.len() {
            factor[j + 1] = 2f64.powi(-exps[j] / 2 - 3);
        }
        mag.select(&factor).mul(&y)
    }

    /// `sqrt(x)` for `x >= 0`.
    ///
    /// Domain `[0, 2^(f+4))`. Error (16 fractional bits, default iterations): at most
    /// `2e-4 * sqrt(x) + 3 * 2^-16`. Rounds, for any number of parties: one
    /// comparison (4) plus `8 + 2 * sqrt_iterations`: 16 by default (14 under local
    /// truncation). Out of domain: `x < 0` gives 0; `x >= 2^(f+4)` gives
    /// `2^((f+4)/2)`.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn sqrt(&self) -> Result<CrypTensor> {
        self.sqrt_unchecked()?
            .validated("sqrt", &[self], Some(Box::new(|a| a[0].mapv(f64::sqrt))))
    }

    fn sqrt_unchecked(&self) -> Result<CrypTensor> {
        let (u, y, mag, exps) = self.inv_sqrt_normalised()?;
        let bands = exps.len() + 1;
        let mut factor = vec![0.0; bands];
        for j in 0..exps.len() {
            factor[j + 1] = 2f64.powi(exps[j] / 2 - 3);
        }
        let uy = u.mul(&y)?;
        mag.select(&factor).mul(&uy)
    }
}

#[cfg(test)]
mod tests {
    use super::even_ladder;

    #[test]
    fn even_ladders_cover_the_domain_with_exact_band_factors() {
        assert_eq!(even_ladder(16, 6), vec![-16, -10, -4, 2, 8, 14, 20]);
        assert_eq!(
            even_ladder(16, 4),
            vec![-16, -12, -8, -4, 0, 4, 8, 12, 16, 20]
        );
        // Odd precision: even bounds, every regular bound at most f.
        let l = even_ladder(17, 6);
        assert!(l.iter().all(|e| e % 2 == 0) && l[l.len() - 2] <= 17 && l[0] <= -17);
    }
}
