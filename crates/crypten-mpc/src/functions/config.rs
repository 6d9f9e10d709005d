//! The knobs of the non-linear functions: iteration counts, polynomial degrees, saturation
//! bounds and methods, as data with documented defaults, checked by [`FunctionConfig::validate`]
//! when a session starts.

use crate::{Error, Result};

/// How `sigmoid` and `tanh` are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SigmoidMethod {
    /// A Chebyshev series of degree [`FunctionConfig::chebyshev_degree`] on the clamped `|x|`,
    /// with the sign restored by symmetry. The default: fewer rounds and smaller errors.
    #[default]
    Chebyshev,
    /// `1 / (1 + exp(-|x|))` on the clamped `|x|` (the `exp` below, then a reciprocal on the
    /// public range `[1, 2]`), with the sign restored by symmetry: CrypTen's formula.
    Reciprocal,
}

/// Iteration counts, degrees and methods of the non-linear functions (`Config::functions`).
///
/// The defaults reach the accuracy each function documents; fewer iterations trade accuracy
/// for rounds, more buy little (fixed-point rounding dominates beyond the defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionConfig {
    /// `exp(x) = P(x / 2^m)^(2^m)`: the number `m` of squarings (default 4). Each costs a
    /// round; fewer shrink the domain where `P` is accurate, more amplify rounding.
    pub exp_squarings: u32,
    /// Degree of the Taylor polynomial `P` in `exp` (default 8; rounds: `ceil(log2(degree))`).
    /// Even degrees keep `P` positive everywhere, which keeps `exp` of large negative inputs
    /// near zero instead of wild.
    pub exp_degree: u32,
    /// Refinement steps of the reciprocal after its initial polynomial (default 2). Each
    /// squares the relative error (Goldschmidt's form of Newton-Raphson) and costs a round,
    /// plus one round for the first.
    pub reciprocal_iterations: u32,
    /// Newton-Raphson iterations of the inverse square root (default 2; two rounds each).
    pub sqrt_iterations: u32,
    /// Degree of the Chebyshev series of `log` on the normalised range `[1, 16)` (default 16;
    /// rounds: `ceil(log2(degree))`).
    pub log_degree: u32,
    /// How `sigmoid` and `tanh` are evaluated (default Chebyshev).
    pub sigmoid_method: SigmoidMethod,
    /// Degree of the Chebyshev series of `sigmoid`, `tanh`, `erf`, `gelu` and softmax's
    /// exponential on their clamped ranges (default 16; rounds: `ceil(log2(degree))`).
    pub chebyshev_degree: u32,
    /// Softmax clamps `x - max(x)` from below at minus this (default 16): `exp` of anything
    /// lower is below the fixed-point resolution anyway, and the clamp keeps the
    /// approximation on the range it was fitted to.
    pub softmax_clamp: f64,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        Self {
            exp_squarings: 4,
            exp_degree: 8,
            reciprocal_iterations: 2,
            sqrt_iterations: 2,
            log_degree: 16,
            sigmoid_method: SigmoidMethod::Chebyshev,
            chebyshev_degree: 16,
            softmax_clamp: 16.0,
        }
    }
}

impl FunctionConfig {
    /// Checks every knob's range.
    ///
    /// # Errors
    /// `Config` naming the first knob out of range.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, value: u32, range: std::ops::RangeInclusive<u32>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "functions.{name} must be in {}..={}, got {value}",
                    range.start(),
                    range.end()
                )))
            }
        };
        check("exp_squarings", self.exp_squarings, 1..=12)?;
        check("exp_degree", self.exp_degree, 2..=32)?;
        check("reciprocal_iterations", self.reciprocal_iterations, 0..=6)?;
        check("sqrt_iterations", self.sqrt_iterations, 0..=6)?;
        check("log_degree", self.log_degree, 2..=64)?;
        check("chebyshev_degree", self.chebyshev_degree, 2..=64)?;
        if !(self.softmax_clamp.is_finite() && (1.0..=64.0).contains(&self.softmax_clamp)) {
            return Err(Error::Config(format!(
                "functions.softmax_clamp must be in [1, 64], got {}",
                self.softmax_clamp
            )));
        }
        Ok(())
    }
}
