//! Normalization: batch (inference), layer and instance normalization.

use super::{Args, axis_of, invalid};
use crate::Result;
use crypten_autograd::Variable;

/// `v` of shape `[C]` (or any shape of C elements) shaped to broadcast along axis 1 of a
/// tensor of rank `rank`.
fn per_channel(v: &Variable, rank: usize) -> Result<Variable> {
    let mut shape = vec![1; rank.max(2)];
    shape[1] = v.shape().iter().product();
    Ok(v.reshape(&shape)?)
}

/// `x * scale + shift` per channel (axis 1).
pub(super) fn channel_affine(x: &Variable, scale: &Variable, shift: &Variable) -> Result<Variable> {
    let rank = x.shape().len();
    if rank < 2 {
        return Err(invalid(format!(
            "expected [N, C, ...], got {:?}",
            x.shape()
        )));
    }
    Ok(x.mul(&per_channel(scale, rank)?)?
        .add_bias(&per_channel(shift, rank)?)?)
}

/// Inference batch normalization from its four statistics:
/// `(x - mean) / sqrt(var + eps) * scale + bias`.
pub(super) fn batch_norm(a: &Args<'_>, epsilon: f64) -> Result<Variable> {
    let (x, scale, bias, mean, var) = (a.get(0)?, a.get(1)?, a.get(2)?, a.get(3)?, a.get(4)?);
    let factor = scale.mul(&var.add_scalar(epsilon)?.inv_sqrt()?)?;
    let shift = bias.sub(&mean.mul(&factor)?)?;
    channel_affine(x, &factor, &shift)
}

/// Normalizes over `dims`, then scales and shifts.
fn normalize(
    x: &Variable,
    dims: &[usize],
    epsilon: f64,
    scale: &Variable,
    bias: Option<&Variable>,
) -> Result<Variable> {
    let centered = x.sub(&x.mean(dims, true)?)?;
    let inv_std = centered
        .square()?
        .mean(dims, true)?
        .add_scalar(epsilon)?
        .inv_sqrt()?;
    let y = centered.mul(&inv_std)?.mul(scale)?;
    Ok(match bias {
        Some(b) => y.add_bias(b)?,
        None => y,
    })
}

/// Layer normalization over the axes from `axis` to the last; `scale` and `bias` have the
/// shape of those axes.
pub(super) fn layer_norm(a: &Args<'_>, axis: i64, epsilon: f64) -> Result<Variable> {
    let x = a.get(0)?;
    let rank = x.shape().len();
    let first = axis_of(axis, rank)?;
    let dims: Vec<usize> = (first..rank).collect();
    normalize(x, &dims, epsilon, a.get(1)?, a.opt(2))
}

/// Instance normalization over the spatial axes; `scale` and `bias` per channel.
pub(super) fn instance_norm(a: &Args<'_>, epsilon: f64) -> Result<Variable> {
    let x = a.get(0)?;
    let rank = x.shape().len();
    if rank < 3 {
        return Err(invalid(format!(
            "expected [N, C, ...], got {:?}",
            x.shape()
        )));
    }
    let dims: Vec<usize> = (2..rank).collect();
    let scale = per_channel(a.get(1)?, rank)?;
    let bias = per_channel(a.get(2)?, rank)?;
    normalize(x, &dims, epsilon, &scale, Some(&bias))
}
