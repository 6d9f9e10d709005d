//! Non-linear functions on secret shares, built only from additions, multiplications and
//! comparisons, and random sampling built on them; one file per family. Every function documents its domain, its error over it
//! (measured by the tests against f64 on dense grids) and its rounds; the knobs live in
//! [`FunctionConfig`] (`Config::functions`).
//!
//! Common techniques: independent products of a step are batched into one round (`batch`);
//! polynomials are evaluated by levels of powers or Chebyshev polynomials, never by Horner
//! (`poly`); wide-range functions are normalised into a short range by one batched
//! comparison against a ladder of powers of two (`magnitude`); odd, even and saturating
//! functions are folded onto `[0, B]` by one batched comparison (`fold`).

pub(crate) mod batch;
mod config;
mod erf;
mod exp;
mod fold;
mod log;
mod magnitude;
mod poly;
mod pow;
mod range;

mod reciprocal;
mod sampling;
mod sigmoid;
mod softmax;
mod sqrt;
mod stats;
mod trig;

pub use config::{FunctionConfig, SigmoidMethod};
pub use erf::erf_f64;
pub use poly::{chebyshev_eval_f64, chebyshev_fit};
pub use stats::NormOrd;
