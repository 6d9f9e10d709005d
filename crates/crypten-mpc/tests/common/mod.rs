//! Helpers shared by the integration tests.
#![allow(dead_code)]

use crypten_core::Prg;
use ndarray::{ArrayD, IxDyn};

/// Deterministic test data: values uniform in `[-scale, scale)` from a seeded PRG.
pub(crate) fn uniform(shape: &[usize], scale: f64, seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| (prg.uniform_f64() * 2.0 - 1.0) * scale)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape and length agree")
}
