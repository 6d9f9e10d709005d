//! Comparisons (0/1 results, public or private) and selection.

use super::elementwise::broadcast_zip;
use super::{constant, invalid};
use crate::Result;
use crypten_autograd::{Tensor, Variable};

/// Which comparison.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cmp {
    Eq,
    Gt,
    Lt,
}

/// `a op b` as 0/1, broadcast: in plaintext when both are public, otherwise a private test of
/// `a - b` against zero. Comparisons have no gradient.
pub(super) fn compare(a: &Variable, b: &Variable, cmp: Cmp) -> Result<Variable> {
    if let (Tensor::Plain(x), Tensor::Plain(y)) = (a.value(), b.value()) {
        let test = |p: f64, q: f64| match cmp {
            Cmp::Eq => p == q,
            Cmp::Gt => p > q,
            Cmp::Lt => p < q,
        };
        return Ok(constant(broadcast_zip(x, y, |p, q| {
            f64::from(u8::from(test(p, q)))
        })?));
    }
    let d = a.sub(b)?;
    let Tensor::Encrypted(c) = d.value() else {
        return Err(invalid(
            "a comparison of public values came out private".into(),
        ));
    };
    let bits = match cmp {
        Cmp::Eq => c.eq_scalar(0.0)?,
        Cmp::Gt => c.gt_scalar(0.0)?,
        Cmp::Lt => c.lt_scalar(0.0)?,
    };
    Ok(Variable::constant(Tensor::Encrypted(bits)))
}

/// `cond ? a : b` as `b + cond (a - b)`, broadcast; the condition may be public or private.
pub(super) fn select(cond: &Variable, a: &Variable, b: &Variable) -> Result<Variable> {
    if let (Tensor::Plain(c), Tensor::Plain(x), Tensor::Plain(y)) =
        (cond.value(), a.value(), b.value())
        && !a.requires_grad()
        && !b.requires_grad()
    {
        // Exact, and safe for infinite values (attention masks).
        let shape = super::shape::broadcast_shapes(c.shape(), x.shape())?;
        let shape = super::shape::broadcast_shapes(&shape, y.shape())?;
        fn view<'a>(
            v: &'a ndarray::ArrayD<f64>,
            shape: &[usize],
        ) -> Result<ndarray::ArrayViewD<'a, f64>> {
            v.broadcast(shape)
                .ok_or_else(|| invalid(format!("{:?} does not broadcast", v.shape())))
        }
        let (c, x, y) = (view(c, &shape)?, view(x, &shape)?, view(y, &shape)?);
        return Ok(constant(
            ndarray::Zip::from(&c)
                .and(&x)
                .and(&y)
                .map_collect(|&c, &x, &y| if c != 0.0 { x } else { y }),
        ));
    }
    Ok(b.add(&cond.mul(&a.sub(b)?)?)?)
}
