//! Polynomials on secret shares: powers, monomial polynomials and Chebyshev series, each
//! evaluated in `ceil(log2(degree))` rounds.
//!
//! Horner's rule would cost one round per degree. Instead the powers (or Chebyshev
//! polynomials) are built in levels: level `r` holds every index up to `2^r`, and each new
//! index `k` in `(a, 2a]` (with `a = 2^(r-1)`) is one product of two known ones,
//! `x^k = x^a * x^(k-a)`, or `T_k = 2 T_a T_(k-a) - T_(2a-k)` for Chebyshev polynomials. A level
//! is one batched round. The final weighted sum is linear: every term is accumulated at
//! `2f + 4` fractional bits and truncated once, so the coefficients add almost no rounding.
//! A Chebyshev series of degree `d <= 2m` (`m` a power of two) only builds `T_1..=T_m`: the
//! upper half is folded onto them with `T_(m+i) = 2 T_m T_i - T_(m-i)`, leaving one product
//! `T_m Q_1` at the end, so it costs `m` products instead of `d - 1`.
//!
//! Chebyshev series are the workhorse of the bounded functions (log on its normalised range,
//! sigmoid, tanh, erf, gelu, sin, cos): on `t` in `[-1, 1]` every `T_k(t)` stays in `[-1, 1]`,
//! so the levels neither overflow nor cancel, unlike high monomial powers. Coefficients come
//! from [`chebyshev_fit`] at run time, from the f64 function itself: no tables to trust.

use super::batch::mul_many;
use crate::protocol::batch::{ring_products, truncate_many};
use crate::protocol::{deferred, truncate};
use crate::{CrypTensor, Error, Result, Session};
use crypten_core::RingTensor;

/// Chebyshev coefficients `c_0..=c_degree` of `f` on `[lo, hi]`: the discrete Chebyshev
/// projection of `f` sampled at `4 * (degree + 1)` Chebyshev nodes (at least 64), which is
/// within a small factor of the best uniform approximation of that degree.
pub fn chebyshev_fit(f: impl Fn(f64) -> f64, degree: usize, lo: f64, hi: f64) -> Vec<f64> {
    let n = (4 * (degree + 1)).max(64);
    let nodes: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            let theta = std::f64::consts::PI * (k as f64 + 0.5) / n as f64;
            let x = 0.5 * (theta.cos() * (hi - lo) + hi + lo);
            (theta, f(x))
        })
        .collect();
    let mut coeffs: Vec<f64> = (0..=degree)
        .map(|j| {
            let sum: f64 = nodes
                .iter()
                .map(|&(theta, y)| y * (j as f64 * theta).cos())
                .sum();
            2.0 * sum / n as f64
        })
        .collect();
    coeffs[0] *= 0.5;
    coeffs
}

/// The f64 value of a Chebyshev series at `x` in `[lo, hi]` (Clenshaw's recurrence): the
/// plaintext twin of [`CrypTensor::chebyshev`], for tests and error budgets.
pub fn chebyshev_eval_f64(coeffs: &[f64], lo: f64, hi: f64, x: f64) -> f64 {
    let t = (2.0 * x - lo - hi) / (hi - lo);
    let (mut b1, mut b2) = (0.0, 0.0);
    for &c in coeffs.iter().skip(1).rev() {
        let b0 = 2.0 * t * b1 - b2 + c;
        b2 = b1;
        b1 = b0;
    }
    t * b1 - b2 + coeffs.first().copied().unwrap_or(0.0)
}

/// Extra fractional bits of the coefficients in [`combine`]: a coefficient's rounding error
/// is then 1/16 of a unit of the last place, so even 30 terms add less than one unit.
const COEFF_EXTRA_BITS: u32 = 4;

/// `sum_k terms[k].1 * terms[k].0 + constant`, accumulated at `2f + 4` fractional bits (more
/// for deferred terms) and truncated once, so the coefficients add almost no rounding.
///
/// When the session defers products and `bound` (a public bound on the result's magnitude)
/// leaves room, the terms may be deferred and so is the result: a term deferred by `p` bits
/// is accumulated at `2f + 4 + P` bits (`P` the largest pending truncation), and the result's
/// truncation by `f + 4 + P` bits rides on its next opening. Otherwise deferred terms are
/// settled first and the sum is truncated at once (locally with 2 parties under
/// `Truncation::Local`, one round otherwise); it must then stay below `2^(62 - 2f - 4)`
/// (2^26 with 16 bits).
pub(crate) fn combine(
    like: &CrypTensor,
    terms: &[(&CrypTensor, f64)],
    constant: f64,
    bound: Option<f64>,
) -> Result<CrypTensor> {
    let sess = &like.sess;
    let frac = sess.encoder().frac_bits();
    let extra = COEFF_EXTRA_BITS;
    // Whether a result at scale 2^(2f + 4 + p) stays below 2^61, with p bits still pending.
    let fits = |p: u32| {
        like.defers_products()
            && frac + extra + p <= 48
            && bound.is_some_and(|b| b * 2f64.powi((2 * frac + extra + p) as i32) < 2f64.powi(61))
    };
    let mut pending = terms
        .iter()
        .map(|(t, _)| t.operand().bits)
        .max()
        .unwrap_or(0);
    if pending > 0 && !fits(pending) {
        let operands: Vec<&CrypTensor> = terms.iter().map(|&(t, _)| t).collect();
        CrypTensor::settle_all(&operands)?;
        pending = 0;
    }
    let mut acc = RingTensor::zeros(like.shape());
    for (t, c) in terms {
        let operand = t.operand();
        let c = CrypTensor::encode_ring(sess, *c, extra).wrapping_shl(pending - operand.bits);
        if t.shape() == acc.shape() {
            acc.add_scaled_assign(c, operand.share)?;
        } else {
            acc = acc.add(&operand.share.mul_scalar(c))?;
        }
    }
    let total = frac + extra + pending;
    if sess.rank() == 0 {
        acc = acc.add_scalar(CrypTensor::encode_ring(sess, constant, total));
    }
    if fits(pending) {
        return Ok(like.deferred_by(acc, total));
    }
    Ok(like.with(truncate::truncate(sess, &acc, total)?))
}

/// Moves the constants of a split Chebyshev series `p = Q_0 + T_m Q_1` (`q`: `Q_1`'s
/// coefficients of `T_0..=T_m`; `c`: `Q_0`'s of `T_0..T_m`) so that at `t = -1`, where every
/// `T_k` is exactly `(-1)^k`, both combinations land exactly on the fixed-point grid and `p`
/// is exactly 0. [`combine`] then truncates exact values, which adds no rounding: an input
/// clamped to the left end contributes exactly nothing. (Softmax needs this: each of a row's
/// clamped entries would otherwise bring its own stochastic rounding into the row sum.) Each
/// constant moves by at most about one unit in the last place.
fn pin_left_end_to_zero(frac: u32, q: &mut [f64], c: &mut [f64]) {
    let extra = COEFF_EXTRA_BITS;
    let coeff = |v: f64| (v * 2f64.powi((frac + extra) as i32)).round() as i128;
    // A combination's accumulator at t = -1, at 2f + extra fractional bits, without its
    // constant: sum_k round(coeff_k) (-1)^k 2^f.
    let at_minus_one = |cs: &[f64]| -> i128 {
        cs.iter()
            .enumerate()
            .skip(1)
            .map(|(k, &v)| (coeff(v) * alternating(k)) << frac)
            .sum()
    };
    let grid = 1i128 << (frac + extra); // one unit in the last place, at 2f + extra bits
    let full = 2f64.powi((2 * frac + extra) as i32);
    // Q_1(-1) rounded onto the grid: V units.
    let q_rest = at_minus_one(q);
    let q_total = q_rest + (q[0] * full).round() as i128;
    let v = (q_total as f64 / grid as f64).round() as i128;
    q[0] = (v * grid - q_rest) as f64 / full;
    // Q_0(-1) = -T_m(-1) Q_1(-1) = -(-1)^m V units.
    let m = q.len() - 1;
    c[0] = (-alternating(m) * v * grid - at_minus_one(c)) as f64 / full;
}

/// `(-1)^k`.
fn alternating(k: usize) -> i128 {
    if k.is_multiple_of(2) { 1 } else { -1 }
}

/// `x^1 ..= x^n` (index `k - 1` holds `x^k`), in `ceil(log2(n))` batched rounds.
pub(crate) fn powers(x: &CrypTensor, n: usize) -> Result<Vec<CrypTensor>> {
    let mut out = vec![x.clone()];
    let mut a = 1;
    while a < n {
        let hi = (2 * a).min(n);
        let pairs: Vec<(&CrypTensor, &CrypTensor)> = (a + 1..=hi)
            .map(|k| (&out[a - 1], &out[k - a - 1]))
            .collect();
        let level = mul_many(&pairs)?;
        out.extend(level);
        a = hi;
    }
    Ok(out)
}

/// `T_k = 2 T_a T_b - T_(2a-k)` at twice the scale, in place of the product `v = T_a T_b`:
/// `lower` is `T_(2a-k)`'s share and the shift that brings it to twice the scale, or `None`
/// for `T_0 = 1`. Formed at double scale so the doubling does not double the truncation error.
fn chebyshev_step(
    sess: &Session,
    frac: u32,
    v: &mut RingTensor,
    lower: Option<(&RingTensor, u32)>,
) {
    match lower {
        None => {
            let one = if sess.rank() == 0 {
                1u64 << (2 * frac)
            } else {
                0
            };
            for w in v.data_mut() {
                *w = w.wrapping_shl(1).wrapping_sub(one);
            }
        }
        Some((low, shift)) => {
            for (w, &t) in v.data_mut().iter_mut().zip(low.data()) {
                *w = w.wrapping_shl(1).wrapping_sub(t.wrapping_shl(shift));
            }
        }
    }
}

/// `T_1(t) ..= T_n(t)` (index `k - 1` holds `T_k`) for a shared `t`, in `ceil(log2(n))`
/// batched rounds.
fn chebyshev_polynomials(t: &CrypTensor, n: usize) -> Result<Vec<CrypTensor>> {
    let sess = &t.sess;
    let frac = sess.encoder().frac_bits();
    let mut a = 1;
    if t.defers_products() {
        // t enters the levels deferred by at most f bits (settled beyond).
        let t = if t.operand().bits > frac {
            t.settled()?
        } else {
            t.clone()
        };
        let mut out = vec![t.clone()];
        // Every level stays at twice the scale: its products' truncations ride on the next
        // level's opening (or on whatever opens them next).
        while a < n {
            let hi = (2 * a).min(n);
            let pairs: Vec<_> = (a + 1..=hi)
                .map(|k| (out[a - 1].operand(), out[k - a - 1].operand()))
                .collect();
            let products = deferred::mul_many(sess, &pairs)?;
            let mut level = Vec::with_capacity(products.len());
            for (k, mut v) in (a + 1..=hi).zip(products) {
                // T_(2a-k) at twice the scale (every level's terms are deferred by f; the
                // first, t itself, by at most f: see above).
                let lower = (2 * a - k).checked_sub(1).map(|i| {
                    let low = out[i].operand();
                    (low.share, frac - low.bits)
                });
                chebyshev_step(sess, frac, &mut v, lower);
                level.push(t.deferred(v));
            }
            out.extend(level);
            a = hi;
        }
        return Ok(out);
    }
    let mut out = vec![t.clone()];
    while a < n {
        let hi = (2 * a).min(n);
        let pairs = (a + 1..=hi)
            .map(|k| Ok((out[a - 1].share()?, out[k - a - 1].share()?)))
            .collect::<Result<Vec<(&RingTensor, &RingTensor)>>>()?;
        let products = ring_products(sess, &pairs)?;
        let mut level = Vec::with_capacity(products.len());
        for (k, mut v) in (a + 1..=hi).zip(products) {
            let lower = match (2 * a - k).checked_sub(1) {
                Some(i) => Some((out[i].share()?, frac)),
                None => None,
            };
            chebyshev_step(sess, frac, &mut v, lower);
            level.push(v);
        }
        out.extend(
            truncate_many(sess, &level, frac)?
                .into_iter()
                .map(|s| t.with(s)),
        );
        a = hi;
    }
    Ok(out)
}

impl CrypTensor {
    /// `sum_k coeffs[k] * self^k`, a polynomial with public coefficients (lowest degree
    /// first).
    ///
    /// Rounds: `ceil(log2(degree))` plus 2 (the deferred powers settled, the sum truncated:
    /// the result's range is unknown), for any number of parties; `ceil(log2(degree))` under
    /// local truncation. Every power must stay within the product limit (`|x|^degree` below
    /// about 2^30 with 16 fractional bits) and the result below 2^26; for high degrees on wide
    /// ranges prefer [`CrypTensor::chebyshev`].
    ///
    /// # Errors
    /// `InvalidArgument` for an empty or non-finite coefficient list; provider or
    /// communication failures.
    pub fn polynomial(&self, coeffs: &[f64]) -> Result<CrypTensor> {
        self.polynomial_with(coeffs, None)
    }

    /// [`Self::polynomial`] whose result is known to stay below `bound` in magnitude (on the
    /// inputs the caller admits): its final sum may then be deferred.
    pub(crate) fn polynomial_bounded(&self, coeffs: &[f64], bound: f64) -> Result<CrypTensor> {
        self.polynomial_with(coeffs, Some(bound))
    }

    fn polynomial_with(&self, coeffs: &[f64], bound: Option<f64>) -> Result<CrypTensor> {
        check_coeffs("polynomial", coeffs)?;
        let degree = coeffs.len() - 1;
        let pows = if degree == 0 {
            Vec::new()
        } else {
            powers(self, degree)?
        };
        let terms: Vec<(&CrypTensor, f64)> = pows
            .iter()
            .zip(&coeffs[1..])
            .map(|(p, &c)| (p, c))
            .collect();
        combine(self, &terms, coeffs[0], bound)
    }

    /// `sum_k coeffs[k] * T_k(t)` with `t = (2x - lo - hi) / (hi - lo)`: a Chebyshev series
    /// on `[lo, hi]` (coefficients from [`chebyshev_fit`]).
    ///
    /// Rounds: `ceil(log2(degree))` (one more for a deferred input, which is settled first).
    /// The result is deferred. Inputs outside `[lo, hi]` are extrapolated,
    /// which for high degrees is wildly wrong: clamp first where that can happen.
    ///
    /// # Errors
    /// `InvalidArgument` for an empty or non-finite coefficient list or an empty interval;
    /// provider or communication failures.
    pub fn chebyshev(&self, coeffs: &[f64], lo: f64, hi: f64) -> Result<CrypTensor> {
        self.chebyshev_with(coeffs, lo, hi, false)
    }

    /// [`Self::chebyshev`], optionally with the series moved (by at most a unit in the last
    /// place) so that its value at `lo` is exactly 0 in fixed point: see
    /// `pin_left_end_to_zero`.
    pub(crate) fn chebyshev_with(
        &self,
        coeffs: &[f64],
        lo: f64,
        hi: f64,
        zero_at_lo: bool,
    ) -> Result<CrypTensor> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::InvalidArgument {
                op: "chebyshev",
                reason: format!("empty interval [{lo}, {hi}]"),
            });
        }
        let t = self
            .mul_scalar(2.0 / (hi - lo))?
            .add_scalar(-(lo + hi) / (hi - lo))?;
        t.chebyshev_unit(coeffs, zero_at_lo)
    }

    /// A Chebyshev series in `self`, which must already lie in `[-1, 1]`.
    ///
    /// With `m` the power of two such that `m < d <= 2m` for the degree `d`, the series is
    /// split as `p = Q_0 + T_m Q_1` where `Q_0` and `Q_1` are linear in `T_0..=T_m`: every
    /// `T_(m+i) = 2 T_m T_i - T_(m-i)` moves its coefficient, doubled, onto `T_i` in `Q_1` and,
    /// negated, onto `T_(m-i)` in `Q_0`. So only `T_1..=T_m` are built (`log2 m` rounds,
    /// `m - 1` products) and one product `T_m Q_1` finishes: `m` products in
    /// `ceil(log2 d)` rounds, against `d - 1` products for building every `T_k`.
    ///
    /// With `zero_at_lo`, the value at `t = -1` is exactly 0 (see `pin_left_end_to_zero`;
    /// needs degree 2 or more).
    pub(crate) fn chebyshev_unit(&self, coeffs: &[f64], zero_at_lo: bool) -> Result<CrypTensor> {
        check_coeffs("chebyshev", coeffs)?;
        let degree = coeffs.len() - 1;
        if degree <= 1 && zero_at_lo {
            return Err(Error::InvalidArgument {
                op: "chebyshev",
                reason: "pinning the left end needs degree 2 or more".into(),
            });
        }
        if degree <= 1 {
            let terms: Vec<(&CrypTensor, f64)> = coeffs[1..].iter().map(|&c| (self, c)).collect();
            let bound = coeffs.iter().map(|c| c.abs()).sum();
            return combine(self, &terms, coeffs[0], Some(bound));
        }
        // The largest power of two with 2m >= d.
        let m = degree.next_power_of_two() / 2;
        let mut c = coeffs.to_vec();
        c.resize(2 * m + 1, 0.0);
        // q[i]: coefficient of T_i in Q_1 (i = 0..=m).
        let mut q = vec![0.0; m + 1];
        // T_2m = 2 T_m T_m - T_0
        q[m] += 2.0 * c[2 * m];
        c[0] -= c[2 * m];
        for i in (1..m).rev() {
            q[i] += 2.0 * c[m + i];
            c[m - i] -= c[m + i];
        }
        q[0] += c[m];
        c.truncate(m);
        if zero_at_lo {
            pin_left_end_to_zero(self.sess.encoder().frac_bits(), &mut q, &mut c);
        }
        let polys = chebyshev_polynomials(self, m)?;
        let q_terms: Vec<(&CrypTensor, f64)> =
            polys.iter().zip(&q[1..]).map(|(p, &c)| (p, c)).collect();
        // On [-1, 1] every |T_k| <= 1, so the coefficients bound the sums.
        let q_bound: f64 = q.iter().map(|v| v.abs()).sum();
        let q1 = combine(self, &q_terms, q[0], Some(q_bound))?;
        let top = polys[m - 1].mul(&q1)?;
        let mut terms: Vec<(&CrypTensor, f64)> =
            polys.iter().zip(&c[1..m]).map(|(p, &c)| (p, c)).collect();
        terms.push((&top, 1.0));
        let bound = q_bound + c.iter().map(|v| v.abs()).sum::<f64>();
        combine(self, &terms, c[0], Some(bound))
    }

    /// Approximates a public function `f` on `[lo, hi]` by its Chebyshev series of `degree`
    /// and evaluates it on `self` ([`chebyshev_fit`] then [`CrypTensor::chebyshev`]).
    ///
    /// # Errors
    /// As [`CrypTensor::chebyshev`].
    pub fn approximate(
        &self,
        f: impl Fn(f64) -> f64,
        degree: usize,
        lo: f64,
        hi: f64,
    ) -> Result<CrypTensor> {
        self.chebyshev(&chebyshev_fit(f, degree, lo, hi), lo, hi)
    }
}

fn check_coeffs(op: &'static str, coeffs: &[f64]) -> Result<()> {
    if coeffs.is_empty() || coeffs.iter().any(|c| !c.is_finite()) {
        return Err(Error::InvalidArgument {
            op,
            reason: "coefficients must be a non-empty list of finite numbers".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chebyshev_fit_reproduces_smooth_functions() {
        let c = chebyshev_fit(f64::exp, 12, -1.0, 2.0);
        for i in 0..=100 {
            let x = -1.0 + 3.0 * i as f64 / 100.0;
            let err = (chebyshev_eval_f64(&c, -1.0, 2.0, x) - x.exp()).abs();
            assert!(err < 1e-9, "x={x} err={err}");
        }
        // A polynomial of the fitted degree is reproduced exactly.
        let c = chebyshev_fit(|x| 1.0 - 2.0 * x + 0.5 * x * x * x, 3, 0.0, 4.0);
        let y = chebyshev_eval_f64(&c, 0.0, 4.0, 3.0);
        assert!((y - (1.0 - 6.0 + 13.5)).abs() < 1e-12);
    }

    #[test]
    fn a_series_pinned_at_its_left_end_is_exactly_zero_there() {
        use crate::ProviderKind;
        use crate::simulator::run;
        use ndarray::{ArrayD, IxDyn};
        let coeffs = chebyshev_fit(f64::exp, 24, -16.0, 0.0);
        let xs = [-16.0, -16.0, -12.0, -3.0, -0.5, 0.0];
        let input = ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs.to_vec()).unwrap();
        for parties in [2, 3] {
            for provider in [
                ProviderKind::InsecureTrustedFirstParty,
                ProviderKind::TrustedThirdParty,
            ] {
                let out = run(parties, provider, |sess| {
                    let x = CrypTensor::from_array(&sess, &input, 0)?;
                    let pinned = x.chebyshev_with(&coeffs, -16.0, 0.0, true)?;
                    let free = x.chebyshev(&coeffs, -16.0, 0.0)?;
                    Ok((pinned.get_plain_text()?, free.get_plain_text()?))
                })
                .unwrap();
                let (pinned, free) = &out[0];
                let ulp = 2f64.powi(-16);
                assert_eq!((pinned[0], pinned[1]), (0.0, 0.0), "{parties} parties");
                for (i, &x) in xs.iter().enumerate() {
                    // The pin moves the series by about a unit; each evaluation rounds
                    // stochastically by a few more.
                    assert!((pinned[i] - free[i]).abs() <= 8.0 * ulp, "x = {x}");
                    assert!((pinned[i] - x.exp()).abs() <= 8.0 * ulp, "x = {x}");
                }
            }
        }
    }
}
