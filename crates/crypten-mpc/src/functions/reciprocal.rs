//! Reciprocal and private division: magnitude normalisation, a Chebyshev initial guess and
//! Goldschmidt refinement.
//!
//! For `x > 0`: one batched comparison finds the power-of-16 band `[2^e, 2^(e+4))` of `x`
//! (see `magnitude`), so `u = x * 2^-e` lies in `[1, 16)` (one product by an exact power of
//! two). A degree-8 Chebyshev series gives `w ~ 16 / u` to about 5% (3 rounds); each
//! refinement step multiplies by `1 + e` with `e = 1 - u w / 16` and squares `e`, so the
//! relative error goes 5% -> 0.25% -> 6e-6 (Goldschmidt's iteration, which is Newton-Raphson
//! for `1/u` rearranged so its products run in parallel: `k` steps cost `k + 1` rounds).
//! Finally `1/x = 2^(-e-4) * w`, one more product by a band constant. `w` is kept near `16/u`
//! rather than `1/u` so that it has four more significant bits.
//!
//! Signs: `reciprocal` takes `|x|` and the sign first (one comparison with fused, exact bit
//! products) and folds the sign into the output factor, so the sign costs no product round.
//!
//! Accuracy: a relative error of at most 4e-4 plus 3 units of the last place, so 1% relative
//! wherever `1/x` has at least 300 units (with 16 fractional bits: `|x| <= 218`); with 24
//! fractional bits (and 3+ parties, whose truncation is exact) the tests see 4.5e-4 relative
//! on all of `[1e-3, 1e4]`.
//!
//! Out of the domain, by construction: `reciprocal_positive` of `x <= 0` (more precisely of
//! anything below `2^e_0`, the smallest positive fixed-point value) returns `2^f`, the
//! reciprocal of the smallest positive value; `reciprocal(0)` returns `2^f` too. Inputs of
//! magnitude `>= 2^f` return 0 (their reciprocal is below the fixed-point resolution).

use super::batch::mul_many;
use super::magnitude::{Magnitude, ladder};
use super::poly::chebyshev_fit;
use crate::protocol::batch::{ring_products, truncate_many};
use crate::{CrypTensor, Result};

/// Degree of the initial Chebyshev guess for `16 / u` on `[1, 16]` (relative error 5%).
const INIT_DEGREE: usize = 8;

/// A normalised reciprocal in progress: `u` in `[1, 16)` and the output factor.
struct Normalised {
    u: CrypTensor,
    out_factor: CrypTensor,
}

/// Bands for the reciprocal of a value with `frac` fractional bits: the band lower bounds up
/// to `2^(f-4)` (so every output factor `2^(-e-4)` is exact), then `2^f` (above it: zero).
fn reciprocal_ladder(frac: i32) -> Vec<i32> {
    ladder(-(frac + frac % 2), frac - 4, Some(frac), 4)
}

/// Measures `a` (assumed positive) and returns `u = a * 2^-e` with the output factor
/// `2^(-e-4)`, both for `a`'s band; out-of-range bands get `u = 1` and a saturating factor.
fn normalise(a: &CrypTensor, sign: Option<&CrypTensor>) -> Result<Normalised> {
    let frac = a.sess.encoder().frac_bits() as i32;
    let exps = reciprocal_ladder(frac);
    let mag = Magnitude::measure(a, &exps)?;
    let bands = exps.len() + 1;
    // Band 0 (below the smallest positive value) and the last band (>= 2^f) use u = 1.
    let mut scale_in = vec![0.0; bands];
    let mut u_add = vec![0.0; bands];
    let mut scale_out = vec![0.0; bands];
    u_add[0] = 1.0;
    scale_out[0] = 2f64.powi(-exps[0] - 4);
    for j in 0..exps.len() - 1 {
        scale_in[j + 1] = 2f64.powi(-exps[j]);
        scale_out[j + 1] = 2f64.powi(-exps[j] - 4);
    }
    u_add[bands - 1] = 1.0;
    let scale_in = mag.select(&scale_in);
    let u_add = mag.select(&u_add);
    let scale_out = mag.select(&scale_out);
    let (u, out_factor) = match sign {
        None => (a.mul(&scale_in)?, scale_out),
        Some(sign) => {
            let mut both = mul_many(&[(a, &scale_in), (&scale_out, sign)])?;
            let out = both.swap_remove(1);
            (both.swap_remove(0), out)
        }
    };
    Ok(Normalised {
        u: u.add_small(&u_add)?,
        out_factor,
    })
}

/// `w ~ 16 / u` for `u` in `[1, 16)`: the Chebyshev guess, then `iterations` Goldschmidt
/// steps.
fn scaled_reciprocal(u: &CrypTensor, iterations: u32) -> Result<CrypTensor> {
    let coeffs = chebyshev_fit(|v| 16.0 / v, INIT_DEGREE, 1.0, 16.0);
    let w = u.chebyshev(&coeffs, 1.0, 16.0)?;
    refine(u, w, iterations, 4)
}

/// Goldschmidt refinement of `w ~ 2^k / u`: with `e = 1 - u w / 2^k`, multiply `w` by
/// `(1 + e)(1 + e^2)(1 + e^4)...`; `steps` factors cost `steps + 1` rounds.
pub(crate) fn refine(u: &CrypTensor, mut w: CrypTensor, steps: u32, k: u32) -> Result<CrypTensor> {
    if steps == 0 {
        return Ok(w);
    }
    let sess = &u.sess;
    let frac = sess.encoder().frac_bits();
    let mut e = if u.defers_products() {
        // u w / 2^k, its truncation pending like the product's.
        u.mul(&w)?.shift_down(k)?.neg().add_ring(1u64 << frac)?
    } else {
        let uw = ring_products(sess, &[(u.share()?, w.share()?)])?.swap_remove(0);
        // u w / 2^k in one truncation of the double-scale product.
        let uw = truncate_many(sess, &[uw], frac + k)?.swap_remove(0);
        u.with(uw.neg()).add_ring(1u64 << frac)?
    };
    for step in 0..steps {
        let factor = e.add_ring(1u64 << frac)?;
        if step + 1 == steps {
            w = w.mul(&factor)?;
        } else {
            let mut next = mul_many(&[(&w, &factor), (&e, &e)])?;
            e = next.swap_remove(1);
            w = next.swap_remove(0);
        }
    }
    Ok(w)
}

impl CrypTensor {
    /// `1 / x` for `x > 0` (the all-positive fast path: no sign comparison).
    ///
    /// Domain: positive values. Error (16 fractional bits, default iterations): at most
    /// `4e-4 * |1/x| + 3 * 2^-16`. Rounds, for any number of parties: one
    /// comparison (4) plus `7 + reciprocal_iterations` (1 normalisation, 1 to settle it, 3 for
    /// the initial guess, the refinement, 1 for the output factor): 13 by default (12 under
    /// local truncation, where settling is free). Out of domain: `x <= 0` gives `2^f` (the reciprocal of the
    /// smallest positive value); `x >= 2^f` gives 0.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn reciprocal_positive(&self) -> Result<CrypTensor> {
        self.reciprocal_positive_unchecked()?.validated(
            "reciprocal_positive",
            &[self],
            Some(Box::new(|a| a[0].mapv(f64::recip))),
        )
    }

    fn reciprocal_positive_unchecked(&self) -> Result<CrypTensor> {
        let iterations = self.sess.config().functions.reciprocal_iterations;
        let n = normalise(self, None)?;
        let w = scaled_reciprocal(&n.u, iterations)?;
        n.out_factor.mul(&w)
    }

    /// `1 / x` for any `x`: the sign is taken out with one comparison, then as
    /// [`CrypTensor::reciprocal_positive`] on `|x|`.
    ///
    /// Error: as `reciprocal_positive` on `|x|`. Rounds: two comparisons plus
    /// `7 + reciprocal_iterations`: 17 by default (16 under local truncation). `reciprocal(0)` returns `2^f`.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn reciprocal(&self) -> Result<CrypTensor> {
        self.reciprocal_unchecked()?.validated(
            "reciprocal",
            &[self],
            Some(Box::new(|a| a[0].mapv(f64::recip))),
        )
    }

    fn reciprocal_unchecked(&self) -> Result<CrypTensor> {
        let iterations = self.sess.config().functions.reciprocal_iterations;
        let (split, _) = self.sign_split(&[])?;
        let n = normalise(&split.abs, Some(&split.sign))?;
        let w = scaled_reciprocal(&n.u, iterations)?;
        n.out_factor.mul(&w)
    }

    /// `self / other` elementwise (broadcasting), both secret: `self` times the reciprocal
    /// of `other`, with `self` folded into the reciprocal's output factor (so no extra round,
    /// and small quotients of large operands keep their precision).
    ///
    /// Error: the reciprocal's relative error times `|self / other|`, plus a few units of
    /// the last place times `|self|`'s magnitude relative to 16. Rounds: as
    /// [`CrypTensor::reciprocal`]. Division by 0 behaves as multiplication by `2^f`.
    ///
    /// # Errors
    /// Shapes that do not broadcast, different sessions, provider or communication failures.
    pub fn div(&self, other: &CrypTensor) -> Result<CrypTensor> {
        self.check(other, "div")?;
        let iterations = self.sess.config().functions.reciprocal_iterations;
        let shape = crypten_core::broadcast_shapes(self.shape(), other.shape())?;
        let widen = |t: &CrypTensor| -> Result<CrypTensor> {
            Ok(if t.shape() == shape.as_slice() {
                t.clone()
            } else {
                t.with(t.share()?.expand(&shape)?)
            })
        };
        let (x, y) = (widen(self)?, widen(other)?);
        // x * sign(y) is formed in the same round as |y|.
        let (split, signed) = y.sign_split(&[&x])?;
        let n = normalise(&split.abs, Some(&signed[0]))?;
        let w = scaled_reciprocal(&n.u, iterations)?;
        n.out_factor.mul(&w)
    }
}
