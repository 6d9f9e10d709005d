//! The error function and GELU, by symmetry and saturation.
//!
//! `erf` is odd and within 2e-8 of +-1 beyond 4: one fused comparison (see `fold`) folds the
//! input onto `a = min(|x|, 4)`, a Chebyshev series approximates `erf` on `[0, 4]`, and one product
//! restores the sign. (CrypTen's Taylor series diverges away from 0: its `erf(2.0)` is
//! -175.5.)
//!
//! GELU needs no sign restoration: `gelu(x) = x Phi(x) = relu(x) - h(|x|)` with
//! `h(a) = a (1 - Phi(a))`, which is below 1e-8 beyond 6. So the fold (which also yields
//! `relu(x)` in its product round) and a Chebyshev series of `h` on `[0, 6]` suffice. The tanh
//! form uses the same identity with `Phi(a)` replaced by
//! `(1 + tanh(sqrt(2/pi) (a + 0.044715 a^3))) / 2`.

use super::poly::chebyshev_fit;
use crate::{CrypTensor, Result};

/// Beyond this, `erf` is +-1 to within 2e-8.
const ERF_BOUND: f64 = 4.0;
/// Beyond this, `gelu(x)` equals `relu(x)` to within 1e-8.
const GELU_BOUND: f64 = 6.0;

/// `erf(x)` in f64, to about 1e-15: `2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!`, a
/// series of positive terms (no cancellation), and +-1 beyond 6.
pub fn erf_f64(x: f64) -> f64 {
    if x.abs() > 6.0 {
        return x.signum();
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while term.abs() > 1e-17 * sum.abs() {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
}

/// `a (1 - Phi(a))`: what GELU loses against ReLU at `|x| = a`.
fn gelu_gap(a: f64) -> f64 {
    a * 0.5 * (1.0 - erf_f64(a / std::f64::consts::SQRT_2))
}

/// The tanh form's `a (1 - Phi~(a))`.
fn gelu_tanh_gap(a: f64) -> f64 {
    let inner = (2.0 / std::f64::consts::PI).sqrt() * (a + 0.044715 * a * a * a);
    a * 0.5 * (1.0 - inner.tanh())
}

impl CrypTensor {
    /// The error function on all reals.
    ///
    /// Error (16 fractional bits, default knobs): at most `6 * 2^-16` everywhere. Rounds
    /// (2 parties): one comparison (4) plus `1 + ceil(log2(chebyshev_degree))` (9 in all by
    /// default).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn erf(&self) -> Result<CrypTensor> {
        self.erf_unchecked()?
            .validated("erf", &[self], Some(Box::new(|a| a[0].mapv(erf_f64))))
    }

    fn erf_unchecked(&self) -> Result<CrypTensor> {
        let degree = self.sess.config().functions.chebyshev_degree as usize;
        let folded = self.fold(ERF_BOUND)?;
        let coeffs = chebyshev_fit(erf_f64, degree, 0.0, ERF_BOUND);
        let r = folded.a.chebyshev(&coeffs, 0.0, ERF_BOUND)?;
        folded.neg.mul_int(-2).add_scalar(1.0)?.mul(&r)
    }

    /// GELU, `x Phi(x)` with `Phi` the standard normal CDF (PyTorch's default, exact form).
    ///
    /// Error (16 fractional bits, default knobs): at most `5 * 2^-16` everywhere. Rounds
    /// (2 parties): one comparison (4) plus `ceil(log2(chebyshev_degree))` (8 in all by
    /// default).
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn gelu(&self) -> Result<CrypTensor> {
        self.gelu_unchecked()?.validated(
            "gelu",
            &[self],
            Some(Box::new(|a| {
                a[0].mapv(|x| 0.5 * x * (1.0 + erf_f64(x / std::f64::consts::SQRT_2)))
            })),
        )
    }

    fn gelu_unchecked(&self) -> Result<CrypTensor> {
        self.gelu_with(gelu_gap)
    }

    /// GELU's tanh approximation,
    /// `x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (PyTorch's `approximate="tanh"`).
    ///
    /// Error and rounds: as [`CrypTensor::gelu`].
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn gelu_tanh(&self) -> Result<CrypTensor> {
        self.gelu_with(gelu_tanh_gap)
    }

    fn gelu_with(&self, gap: fn(f64) -> f64) -> Result<CrypTensor> {
        let degree = self.sess.config().functions.chebyshev_degree as usize;
        let folded = self.fold(GELU_BOUND)?;
        let coeffs = chebyshev_fit(gap, degree, 0.0, GELU_BOUND);
        let h = folded.a.chebyshev(&coeffs, 0.0, GELU_BOUND)?;
        folded.relu.sub(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::erf_f64;

    #[test]
    fn erf_f64_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
            (-1.5, -0.966_105_146_475_310_7),
        ] {
            assert!((erf_f64(x) - want).abs() < 1e-14, "erf({x})");
        }
    }
}
