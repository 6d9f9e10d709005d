//! Weight initialisation from a seedable, cryptographically secure generator.

use crypten_core::Prg;
use ndarray::{ArrayD, IxDyn};

/// Uniform values in `[-bound, bound)`.
pub fn uniform(shape: &[usize], bound: f64, prg: &mut Prg) -> ArrayD<f64> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || (prg.uniform_f64() * 2.0 - 1.0) * bound)
}

/// The default for linear and convolution layers: uniform with bound `1/sqrt(fan_in)`.
pub fn default_for_fan_in(shape: &[usize], fan_in: usize, prg: &mut Prg) -> ArrayD<f64> {
    uniform(shape, 1.0 / (fan_in.max(1) as f64).sqrt(), prg)
}
