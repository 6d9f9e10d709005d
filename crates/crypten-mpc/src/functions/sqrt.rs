//! Square root and inverse square root: magnitude normalisation, a Chebyshev initial guess
//! and Newton-Raphson.
//!
//! One batched comparison finds the even power-of-two band `[2^e, 2^(e+4))` of `x` (see
//! `magnitude`), so `u = x * 2^-e` lies in `[1, 16)`. A degree-4 Chebyshev series gives
//! `y ~ 4 / sqrt(u)` to 5% (2 rounds); each Newton step `y <- 1.5 y - u y^3 / 32` squares the
//! error (times 1.5) and costs 2 rounds, because `y^2` and `u y` are formed together and then
//! `u y^3 = (u y) y^2`. Then `1/sqrt(x) = 2^(-e/2-2) y` and
//! `sqrt(x) = 2^(e/2-2) (u y)`: the band factors are exact powers of two (`e` is even), and
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

/// Degree of the initial Chebyshev guess for `4 / sqrt(u)` on `[1, 16]` (relative error 5%).
const INIT_DEGREE: usize = 4;

/// Band ladder of the square root and the logarithm: even lower bounds from the smallest
/// positive value, bands of 4 bits up to `2^f` (rounded to even), then one saturating band.
pub(crate) fn even_ladder(frac: i32) -> Vec<i32> {
    let low = -(frac + frac % 2);
    let last = frac - frac % 2;
    ladder(low, last, Some(last + 4))
}

impl CrypTensor {
    /// `y ~ 4 / sqrt(u)` for `u` in `[1, 16)`, its band factor exponent table, and `u`.
    fn inv_sqrt_normalised(&self) -> Result<(CrypTensor, CrypTensor, Magnitude, Vec<i32>)> {
        let frac = self.sess.encoder().frac_bits() as i32;
        let exps = even_ladder(frac);
        let mag = Magnitude::measure(self, &exps)?;
        let bands = exps.len() + 1;
        let mut scale_in = vec![0.0; bands];
        let mut u_add = vec![0.0; bands];
        for j in 0..exps.len() - 1 {
            scale_in[j + 1] = 2f64.powi(-exps[j]);
        }
        u_add[0] = 1.0;
        u_add[bands - 1] = 1.0;
        let u = self.mul(&mag.select(&scale_in))?.add(&mag.select(&u_add))?;
        let coeffs = chebyshev_fit(|v| 4.0 / v.sqrt(), INIT_DEGREE, 1.0, 16.0);
        let mut y = u.chebyshev(&coeffs, 1.0, 16.0)?;
        for _ in 0..self.sess.config().functions.sqrt_iterations {
            let mut level = mul_many(&[(&y, &y), (&u, &y)])?;
            let uy = level.swap_remove(1);
            let uy3 = uy.mul(&level[0])?;
            y = combine(&y, &[(&y, 1.5), (&uy3, -1.0 / 32.0)], 0.0)?;
        }
        Ok((u, y, mag, exps))
    }

    /// `1 / sqrt(x)` for `x > 0`.
    ///
    /// Domain `[2^-f, 2^(f+4))`. Error (16 fractional bits, default iterations): at most
    /// `2e-4 * |1/sqrt(x)| + 2 * 2^-16`. Rounds (2 parties): one comparison (4) plus
    /// `4 + 2 * sqrt_iterations`: 12 by default. Out of domain: `x <= 0` gives `2^(f/2)`; `x >= 2^(f+4)` gives
    /// `2^(-(f+4)/2)`.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn inv_sqrt(&self) -> Result<CrypTensor> {
        let (_, y, mag, exps) = self.inv_sqrt_normalised()?;
        let bands = exps.len() + 1;
        let mut factor = vec![0.0; bands];
        factor[0] = 2f64.powi(-exps[0] / 2 - 2);
        for j in 0..exps.len() {
            factor[j + 1] = 2f64.powi(-exps[j] / 2 - 2);
        }
        mag.select(&factor).mul(&y)
    }

    /// `sqrt(x)` for `x >= 0`.
    ///
    /// Domain `[0, 2^(f+4))`. Error (16 fractional bits, default iterations): at most
    /// `2e-4 * sqrt(x) + 3 * 2^-16`. Rounds (2 parties): one comparison (4) plus
    /// `5 + 2 * sqrt_iterations`: 13 by default. Out of domain: `x < 0` gives 0; `x >= 2^(f+4)` gives
    /// `2^((f+4)/2)`.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn sqrt(&self) -> Result<CrypTensor> {
        let (u, y, mag, exps) = self.inv_sqrt_normalised()?;
        let bands = exps.len() + 1;
        let mut factor = vec![0.0; bands];
        for j in 0..exps.len() {
            factor[j + 1] = 2f64.powi(exps[j] / 2 - 2);
        }
        let uy = u.mul(&y)?;
        mag.select(&factor).mul(&uy)
    }
}
