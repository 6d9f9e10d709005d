//! Elementwise arithmetic: division, powers, the unary functions, clipping.

use super::{Args, constant, invalid};
use crate::Result;
use crypten_autograd::{Tensor, Variable};

/// `a / b`: by a public `b` a product with its reciprocal, by a private one through the
/// private reciprocal; `integer` truncates toward zero (public integer tensors only).
pub(super) fn div(a: &Variable, b: &Variable, integer: bool) -> Result<Variable> {
    match (a.value(), b.value()) {
        (Tensor::Plain(x), Tensor::Plain(y)) if integer || !a.requires_grad() => {
            let q = broadcast_zip(x, y, |p, q| p / q)?;
            Ok(constant(if integer { q.mapv(f64::trunc) } else { q }))
        }
        _ if integer => Err(invalid("integer division of a private value".into())),
        (_, Tensor::Plain(y)) => Ok(a.mul(&constant(y.mapv(f64::recip)))?),
        (_, Tensor::Encrypted(_)) => Ok(a.mul(&b.reciprocal()?)?),
    }
}

/// The remainder of public values (shape arithmetic).
pub(super) fn modulo(a: &Variable, b: &Variable, fmod: bool) -> Result<Variable> {
    match (a.value(), b.value()) {
        (Tensor::Plain(x), Tensor::Plain(y)) => Ok(constant(broadcast_zip(x, y, |p, q| {
            let r = p % q;
            if !fmod && r != 0.0 && (r < 0.0) != (q < 0.0) {
                r + q
            } else {
                r
            }
        })?)),
        _ => Err(invalid(
            "the remainder of a private value is not supported".into(),
        )),
    }
}

/// Broadcasts two public arrays against each other (numpy rules) and combines them.
pub(super) fn broadcast_zip(
    x: &ndarray::ArrayD<f64>,
    y: &ndarray::ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<ndarray::ArrayD<f64>> {
    let shape = super::shape::broadcast_shapes(x.shape(), y.shape())?;
    let xs = x
        .broadcast(shape.as_slice())
        .ok_or_else(|| invalid(format!("{:?} does not broadcast", x.shape())))?;
    let ys = y
        .broadcast(shape.as_slice())
        .ok_or_else(|| invalid(format!("{:?} does not broadcast", y.shape())))?;
    Ok(ndarray::Zip::from(&xs)
        .and(&ys)
        .map_collect(|&p, &q| f(p, q)))
}

/// `x ^ e` for a public scalar exponent: a power of a private value is a chain of products
/// (integers), a square root (0.5) or an inverse square root (-0.5); negative integers take
/// the reciprocal of the positive power.
pub(super) fn pow(x: &Variable, a: &Args<'_>) -> Result<Variable> {
    let e = a
        .scalar(1)?
        .ok_or_else(|| invalid("the exponent is required".into()))?;
    if let Tensor::Plain(v) = x.value()
        && !x.requires_grad()
    {
        return Ok(constant(v.mapv(|b| b.powf(e))));
    }
    if e == 0.5 {
        return Ok(x.sqrt()?);
    }
    if e == -0.5 {
        return Ok(x.inv_sqrt()?);
    }
    if e.fract() != 0.0 || e.abs() > 64.0 {
        return Err(invalid(format!(
            "a private value's exponent must be an integer up to 64 in size, 0.5 or -0.5, got {e}"
        )));
    }
    let n = e.abs() as u32;
    if n == 0 {
        return Ok(constant(ndarray::ArrayD::from_elem(x.shape(), 1.0)));
    }
    // Square-and-multiply: log2(n) squarings and one product per set bit.
    let mut result: Option<Variable> = None;
    let mut base = x.clone();
    let mut k = n;
    loop {
        if k & 1 == 1 {
            result = Some(match result {
                None => base.clone(),
                Some(r) => r.mul(&base)?,
            });
        }
        k >>= 1;
        if k == 0 {
            break;
        }
        base = base.square()?;
    }
    let y = result.unwrap_or(base);
    if e < 0.0 { Ok(y.reciprocal()?) } else { Ok(y) }
}

/// A unary function of the autograd layer, which computes plaintext and encrypted values.
pub(super) fn unary(
    x: &Variable,
    f: impl Fn(&Variable) -> crypten_autograd::Result<Variable>,
) -> Result<Variable> {
    Ok(f(x)?)
}

/// `Clip`: bounds from inputs 1 and 2, or from the attributes.
pub(super) fn clip(a: &Args<'_>, min: Option<f64>, max: Option<f64>) -> Result<Variable> {
    let scalar = |v: Option<f64>| v.map(|c| constant(ndarray::arr0(c).into_dyn()));
    let lo = a.opt(1).cloned().or_else(|| scalar(min));
    let hi = a.opt(2).cloned().or_else(|| scalar(max));
    clip_between(a.get(0)?, lo.as_ref(), hi.as_ref())
}

/// `min(max(x, lo), hi)` as `x - relu(x - hi) + relu(lo - x)` (for `lo <= hi`): both
/// comparisons in one batch, one comparison's rounds in all.
pub(super) fn clip_between(
    x: &Variable,
    lo: Option<&Variable>,
    hi: Option<&Variable>,
) -> Result<Variable> {
    match (lo, hi) {
        (None, None) => Ok(x.clone()),
        (Some(lo), None) => Ok(x.add(&lo.sub(x)?.relu()?)?),
        (None, Some(hi)) => Ok(x.sub(&x.sub(hi)?.relu()?)?),
        (Some(lo), Some(hi)) => {
            let above = x.sub(hi)?;
            let below = lo.sub(x)?;
            if above.shape() != below.shape() {
                let y = x.sub(&above.relu()?)?;
                return Ok(y.add(&below.relu()?)?);
            }
            let both = Variable::cat(&[&above.unsqueeze(0)?, &below.unsqueeze(0)?], 0)?.relu()?;
            let rest = both.shape()[1..].to_vec();
            let (a, b) = (both.narrow(0, 0, 1)?, both.narrow(0, 1, 1)?);
            Ok(x.sub(&a.reshape(&rest)?)?.add(&b.reshape(&rest)?)?)
        }
    }
}

/// The elementwise maximum (or minimum) of the present inputs: `b + relu(a - b)` for private
/// values, one comparison per further input.
pub(super) fn extremum(inputs: &[Option<Variable>], max: bool) -> Result<Variable> {
    let mut it = inputs.iter().flatten();
    let mut acc = it
        .next()
        .ok_or_else(|| invalid("no inputs".into()))?
        .clone();
    for v in it {
        acc = match (acc.value(), v.value()) {
            (Tensor::Plain(x), Tensor::Plain(y)) if !acc.requires_grad() && !v.requires_grad() => {
                constant(broadcast_zip(
                    x,
                    y,
                    |p, q| if max { p.max(q) } else { p.min(q) },
                )?)
            }
            _ if max => v.add(&acc.sub(v)?.relu()?)?,
            _ => v.sub(&v.sub(&acc)?.relu()?)?,
        };
    }
    Ok(acc)
}

/// The sum of the present inputs.
pub(super) fn sum(inputs: &[Option<Variable>]) -> Result<Variable> {
    let mut it = inputs.iter().flatten();
    let mut acc = it
        .next()
        .ok_or_else(|| invalid("no inputs".into()))?
        .clone();
    for v in it {
        acc = acc.add(v)?;
    }
    Ok(acc)
}

/// -1, 0 or 1 (no gradient).
pub(super) fn sign(x: &Variable) -> Result<Variable> {
    Ok(match x.value() {
        Tensor::Plain(v) => constant(v.mapv(|e| {
            if e > 0.0 {
                1.0
            } else if e < 0.0 {
                -1.0
            } else {
                0.0
            }
        })),
        Tensor::Encrypted(c) => {
            // sign() maps 0 to 1; subtract the zero test to match ONNX.
            let s = c.sign()?;
            let zero = c.eq_scalar(0.0)?;
            Variable::constant(Tensor::Encrypted(s.sub(&zero)?))
        }
    })
}

/// A rounding of public values.
pub(super) fn public_map(x: &Variable, f: fn(f64) -> f64, op: &str) -> Result<Variable> {
    match x.value() {
        Tensor::Plain(v) => Ok(constant(v.mapv(f))),
        Tensor::Encrypted(_) => Err(invalid(format!("{op} of a private value is not supported"))),
    }
}
