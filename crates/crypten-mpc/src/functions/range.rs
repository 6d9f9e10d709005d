//! Reciprocal of a value whose range `[lo, hi]` is public (softmax's sum of exponentials lies
//! in `[1, n]`, sigmoid's `1 + exp(-|x|)` in `[1, 2]`): no comparisons, only a Chebyshev
//! guess and Goldschmidt steps, with the degree and the number of steps chosen here from the
//! f64 error of the guess so that the total number of rounds is smallest.

use super::poly::{chebyshev_eval_f64, chebyshev_fit};
use super::reciprocal::refine;
use crate::{CrypTensor, Result};

/// How to compute `2^k / x` on `[lo, hi]`.
struct Plan {
    coeffs: Vec<f64>,
    steps: u32,
}

/// The cheapest (degree, steps) whose error after refinement is below `2^-(frac + 2)`; `None`
/// when even the highest degree tried is too coarse for the iteration to converge.
fn plan(lo: f64, hi: f64, scale: f64, frac: u32) -> Option<Plan> {
    let target = 2f64.powi(-(frac as i32) - 2);
    let mut best: Option<(u32, Plan)> = None;
    for degree in [4usize, 8, 16, 32] {
        let coeffs = chebyshev_fit(|v| scale / v, degree, lo, hi);
        let err = (0..=2000)
            .map(|i| {
                // Geometric grid: the relative error peaks near both ends.
                let v = lo * (hi / lo).powf(f64::from(i) / 2000.0);
                (chebyshev_eval_f64(&coeffs, lo, hi, v) * v / scale - 1.0).abs()
            })
            .fold(0.0, f64::max);
        if err >= 0.5 {
            continue;
        }
        let mut steps = 0;
        let mut e = err;
        while e > target {
            e *= e;
            steps += 1;
        }
        let rounds = (degree as f64).log2().ceil() as u32 + if steps > 0 { steps + 1 } else { 0 };
        if best.as_ref().is_none_or(|(r, _)| rounds < *r) {
            best = Some((rounds, Plan { coeffs, steps }));
        }
    }
    best.map(|(_, p)| p)
}

/// `(w, k)` with `w ~ 2^k / x` for `x` in the public range `[lo, hi]` (`0 < lo < hi`),
/// `2^k >= hi` so that `w >= 1` keeps its relative precision; `None` when the range is too
/// wide for a comparison-free reciprocal (then use `reciprocal_positive`).
pub(crate) fn scaled_reciprocal_in_range(
    x: &CrypTensor,
    lo: f64,
    hi: f64,
) -> Result<Option<(CrypTensor, u32)>> {
    let k = hi.log2().ceil().max(0.0) as u32;
    let scale = 2f64.powi(k as i32);
    let frac = x.sess.encoder().frac_bits();
    let Some(plan) = plan(lo, hi, scale, frac) else {
        return Ok(None);
    };
    let w = x.chebyshev(&plan.coeffs, lo, hi)?;
    Ok(Some((refine(x, w, plan.steps, k)?, k)))
}

#[cfg(test)]
mod tests {
    use super::plan;

    #[test]
    fn plans_get_cheaper_for_narrow_ranges() {
        let narrow = plan(1.0, 2.0, 2.0, 16).unwrap();
        assert!(narrow.coeffs.len() <= 9 && narrow.steps <= 1);
        let wide = plan(1.0, 100.0, 128.0, 16).unwrap();
        assert!(wide.steps >= 2);
        assert!(plan(1.0, 1e6, 2f64.powi(20), 16).is_none());
    }
}
