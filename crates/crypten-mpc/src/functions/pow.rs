//! Powers: exact integer powers by batched repeated squaring, fractional powers through
//! `exp(p log x)`.
//!
//! `x^p` for an integer `p >= 0` multiplies exactly the powers whose exponents add up to `p`:
//! up to `p = 64` every power `x^1..x^p` is built by levels (`ceil(log2 p)` rounds, see
//! `poly`); beyond, square-and-multiply with each level's squaring and accumulation in one
//! batched round (`floor(log2 p) + 1` rounds). (CrypTen's `pow` returns `x^6` for `x^5`: it
//! multiplies in one square too many for odd exponents from 5.)

use super::batch::mul_many;
use super::poly::powers;
use crate::{CrypTensor, Error, Result};

/// Up to this exponent, all powers are built level by level.
const LEVELS_UP_TO: u32 = 64;

impl CrypTensor {
    /// `x^p` for an integer `p >= 0`.
    ///
    /// Exact up to fixed-point rounding (a unit of the last place per product, amplified by
    /// the later products) as long as `|x|^p` stays below the product limit (about 2^30 with
    /// 16 fractional bits). Rounds: `ceil(log2(p))` for `p <= 64`, else
    /// `floor(log2(p)) + 1`.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn pow_int(&self, p: u32) -> Result<CrypTensor> {
        match p {
            0 => self.mul_int(0).add_scalar(1.0),
            1 => Ok(self.clone()),
            p if p <= LEVELS_UP_TO => Ok(powers(self, p as usize)?.swap_remove(p as usize - 1)),
            mut p => {
                // Square-and-multiply from the lowest bit; a level's accumulation and squaring
                // share one round.
                let mut base = self.clone();
                let mut acc: Option<CrypTensor> = None;
                loop {
                    let bit = p & 1 == 1;
                    p >>= 1;
                    match (bit, acc.take(), p > 0) {
                        (true, None, true) => {
                            acc = Some(base.clone());
                            base = base.square()?;
                        }
                        (true, Some(a), true) => {
                            let mut level = mul_many(&[(&a, &base), (&base, &base)])?;
                            base = level.swap_remove(1);
                            acc = Some(level.swap_remove(0));
                        }
                        (true, None, false) => return Ok(base),
                        (true, Some(a), false) => return a.mul(&base),
                        (false, a, true) => {
                            acc = a;
                            base = base.square()?;
                        }
                        // The highest bit is set, so the loop ends in a branch above.
                        (false, _, false) => return Err(no_high_bit()),
                    }
                }
            }
        }
    }

    /// `x^p` for a public real `p`.
    ///
    /// Integer `p`: [`CrypTensor::pow_int`] (negative `p`: of the reciprocal). `p = 1/2` and
    /// `p = -1/2`: [`CrypTensor::sqrt`] and [`CrypTensor::inv_sqrt`]. Other `p`:
    /// `exp(p log x)`, for `x > 0` with `p log x` in `exp`'s domain; error: `exp`'s relative
    /// error plus `|p|` times `log`'s absolute error, relatively.
    ///
    /// # Errors
    /// `InvalidArgument` for a non-finite `p` or an integer beyond `u32`; provider or
    /// communication failures.
    pub fn pow(&self, p: f64) -> Result<CrypTensor> {
        if !p.is_finite() {
            return Err(Error::InvalidArgument {
                op: "pow",
                reason: format!("exponent {p}"),
            });
        }
        if p.fract() == 0.0 {
            if p.abs() > f64::from(u32::MAX) {
                return Err(Error::InvalidArgument {
                    op: "pow",
                    reason: format!("integer exponent {p} is too large"),
                });
            }
            let n = p.abs() as u32;
            return if p >= 0.0 {
                self.pow_int(n)
            } else {
                self.reciprocal()?.pow_int(n)
            };
        }
        if p == 0.5 {
            return self.sqrt();
        }
        if p == -0.5 {
            return self.inv_sqrt();
        }
        self.log()?.mul_scalar(p)?.exp()
    }
}

fn no_high_bit() -> Error {
    Error::InvalidArgument {
        op: "pow_int",
        reason: "exponent without a highest bit".into(),
    }
}
