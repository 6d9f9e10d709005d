//! Natural logarithm: magnitude normalisation and a Chebyshev series on `[1, 16)`.
//!
//! One batched comparison (10 thresholds) finds the band `[2^e, 2^(e+4))` of `x` (see
//! `magnitude`), so `u = x * 2^-e` lies in `[1, 16)`, and `log x = log u + e ln 2` where
//! `e ln 2` is a band constant (free). `log u` is a Chebyshev series of degree `log_degree`
//! (default 16: a truncation error of 5e-5; 4 rounds, 8 products). Wider bands (fewer
//! comparisons) need a series of twice the degree, whose fixed-point rounding near the ends
//! of the range doubles the error for no gain in time. No exponentials and no iterations: CrypTen's
//! Householder iteration needs an `exp` per step and a good start, which a wide domain lacks.
//!
//! Domain `[2^-f, 2^(f+4))` (with 16 fractional bits about `[1.5e-5, 1e6]`). Outside it the
//! result saturates: `log` of `x <= 0` is `log(2^-f)` (about -11.09 with 16 bits), and above
//! the domain it is `(f + 4) ln 2`.

use super::magnitude::Magnitude;
use super::poly::chebyshev_fit;
use super::sqrt::even_ladder;
use crate::{CrypTensor, Result};
use std::f64::consts::LN_2;

impl CrypTensor {
    /// `ln(x)` for `x > 0`.
    ///
    /// Domain `[2^-f, 2^(f+4))`. Error (16 fractional bits, default degree): at most
    /// `3e-4` absolute. Rounds, for any number of parties: one comparison (4), one to settle
    /// the normalised input, and `1 + ceil(log2(log_degree))`: 10 by default (9 under local
    /// truncation, where settling is free).
    /// Out of domain: see the module docs (saturates).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn log(&self) -> Result<CrypTensor> {
        self.log_unchecked()?
            .validated("log", &[self], Some(Box::new(|a| a[0].mapv(f64::ln))))
    }

    fn log_unchecked(&self) -> Result<CrypTensor> {
        let frac = self.sess.encoder().frac_bits() as i32;
        let degree = self.sess.config().functions.log_degree as usize;
        let exps = even_ladder(frac, 4);
        let mag = Magnitude::measure(self, &exps)?;
        let bands = exps.len() + 1;
        let mut scale_in = vec![0.0; bands];
        let mut u_add = vec![0.0; bands];
        let mut offset = vec![0.0; bands];
        u_add[0] = 1.0;
        offset[0] = f64::from(exps[0]) * LN_2;
        for j in 0..exps.len() {
            if j + 1 < exps.len() {
                scale_in[j + 1] = 2f64.powi(-exps[j]);
            } else {
                u_add[j + 1] = 1.0;
            }
            offset[j + 1] = f64::from(exps[j]) * LN_2;
        }
        let u = self
            .mul(&mag.select(&scale_in))?
            .add_small(&mag.select(&u_add))?;
        let coeffs = chebyshev_fit(f64::ln, degree, 1.0, 16.0);
        u.chebyshev(&coeffs, 1.0, 16.0)?
            .add_small(&mag.select(&offset))
    }
}
