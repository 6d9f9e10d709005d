//! Activations built from the autograd layer's non-linear functions.

use super::constant;
use crate::Result;
use crypten_autograd::Variable;

/// `relu(x) + alpha min(x, 0)`, as `alpha x + (1 - alpha) relu(x)`: one comparison.
pub(super) fn leaky_relu(x: &Variable, alpha: f64) -> Result<Variable> {
    Ok(x.relu()?
        .mul_scalar(1.0 - alpha)?
        .add(&x.mul_scalar(alpha)?)?)
}

/// `relu(x) + slope min(x, 0)` with a (possibly private) slope broadcast against `x`.
pub(super) fn prelu(x: &Variable, slope: &Variable) -> Result<Variable> {
    let r = x.relu()?;
    Ok(r.add(&x.sub(&r)?.mul(slope)?)?)
}

/// `clip(alpha x + beta, 0, 1)`.
pub(super) fn hard_sigmoid(x: &Variable, alpha: f64, beta: f64) -> Result<Variable> {
    let y = x.mul_scalar(alpha)?.add_scalar(beta)?;
    let zero = constant(ndarray::arr0(0.0).into_dyn());
    let one = constant(ndarray::arr0(1.0).into_dyn());
    super::elementwise::clip_between(&y, Some(&zero), Some(&one))
}

/// GELU: `x Φ(x)` through erf, or `x/2 (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))`.
pub(super) fn gelu(x: &Variable, tanh: bool) -> Result<Variable> {
    if !tanh {
        return Ok(x.gelu()?);
    }
    let cube = x.square()?.mul(x)?;
    let inner = x
        .add(&cube.mul_scalar(0.044715)?)?
        .mul_scalar((2.0 / std::f64::consts::PI).sqrt())?;
    Ok(x.mul(&inner.tanh()?.add_scalar(1.0)?)?.mul_scalar(0.5)?)
}

/// `x relu6(x + 3) / 6`: one batched comparison pair and one product.
pub(super) fn hard_swish(x: &Variable) -> Result<Variable> {
    let zero = constant(ndarray::arr0(0.0).into_dyn());
    let six = constant(ndarray::arr0(6.0).into_dyn());
    let gate = super::elementwise::clip_between(&x.add_scalar(3.0)?, Some(&zero), Some(&six))?;
    Ok(x.mul(&gate)?.mul_scalar(1.0 / 6.0)?)
}

/// `log(1 + exp(x))` as `relu(x) + log(1 + exp(-|x|))`: the exponential only sees values at
/// most 0 and the logarithm values in `(1, 2]`, whatever the magnitude of `x`.
pub(super) fn softplus(x: &Variable) -> Result<Variable> {
    let tail = x.abs()?.neg().exp()?.add_scalar(1.0)?.log()?;
    Ok(x.relu()?.add(&tail)?)
}

/// `relu(x) + alpha (exp(min(x, 0)) - 1)`.
pub(super) fn elu(x: &Variable, alpha: f64) -> Result<Variable> {
    let r = x.relu()?;
    let below = x.sub(&r)?.exp()?.add_scalar(-1.0)?.mul_scalar(alpha)?;
    Ok(r.add(&below)?)
}
