//! Shapes and indexing: reshaping, transposing, joining, splitting, slicing, gathering,
//! padding, and the public tensors of shape arithmetic (Shape, ConstantOfShape, Range, Cast).

use super::{Args, axis_of, constant, invalid, to_ints};
use crate::Result;
use crypten_autograd::{Tensor, Variable};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// A tensor element type, as far as the graph cares: values are reals, integers or booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    /// Floating point of any width.
    Float,
    /// Signed or unsigned integers of any width.
    Int,
    /// Booleans.
    Bool,
}

/// The numpy broadcast of two shapes.
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = if i + a.len() >= n {
                a[i + a.len() - n]
            } else {
                1
            };
            let y = if i + b.len() >= n {
                b[i + b.len() - n]
            } else {
                1
            };
            match (x, y) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => Err(invalid(format!("shapes {a:?} and {b:?} do not broadcast"))),
            }
        })
        .collect()
}

/// `x` with `before` and `after` entries of `value` around `axis`.
pub(crate) fn pad_axis(
    x: &Variable,
    axis: usize,
    before: usize,
    after: usize,
    value: f64,
) -> Result<Variable> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    let block = |len: usize| {
        let mut shape = x.shape().to_vec();
        shape[axis] = len;
        constant(ArrayD::from_elem(IxDyn(&shape), value))
    };
    let (b, a) = (block(before), block(after));
    let mut parts: Vec<&Variable> = Vec::new();
    if before > 0 {
        parts.push(&b);
    }
    parts.push(x);
    if after > 0 {
        parts.push(&a);
    }
    Ok(Variable::cat(&parts, axis)?)
}

/// Flatten to `[prod(shape[..axis]), prod(shape[axis..])]`.
pub(super) fn flatten(x: &Variable, axis: i64) -> Result<Variable> {
    let s = x.shape();
    let r = s.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(invalid(format!("axis {axis} for rank {r}")));
    }
    let a = a as usize;
    Ok(x.reshape(&[s[..a].iter().product(), s[a..].iter().product()])?)
}

/// Reshape to the public shape in input 1.
pub(super) fn reshape(a: &Args<'_>, allowzero: bool) -> Result<Variable> {
    let x = a.get(0)?;
    let target = a
        .ints(1)?
        .ok_or_else(|| invalid("the shape is required".into()))?;
    let s = x.shape();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(
                *s.get(i)
                    .ok_or_else(|| invalid(format!("0 at {i} copies no dimension of {s:?}")))?,
            ),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(invalid(format!("invalid target shape {target:?}"))),
        }
    }
    let total: usize = s.iter().product();
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(invalid(format!("cannot reshape {s:?} into {target:?}")));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(invalid(format!("cannot reshape {s:?} into {target:?}")));
    }
    Ok(x.reshape(&out)?)
}

/// Permute (reverse without `perm`).
pub(super) fn transpose(x: &Variable, perm: Option<&[usize]>) -> Result<Variable> {
    let rank = x.shape().len();
    let perm: Vec<usize> = perm.map_or_else(|| (0..rank).rev().collect(), <[usize]>::to_vec);
    Ok(x.permute(&perm)?)
}

/// Concatenate the present inputs.
pub(super) fn concat(inputs: &[Option<Variable>], axis: i64) -> Result<Variable> {
    let parts: Vec<&Variable> = inputs.iter().flatten().collect();
    let first = parts
        .first()
        .ok_or_else(|| invalid("nothing to concatenate".into()))?;
    let axis = axis_of(axis, first.shape().len())?;
    Ok(Variable::cat(&parts, axis)?)
}

/// Split into `outputs` parts.
pub(super) fn split(
    a: &Args<'_>,
    axis: i64,
    split: Option<&[i64]>,
    outputs: usize,
) -> Result<Vec<Variable>> {
    let x = a.get(0)?;
    let axis = axis_of(axis, x.shape().len())?;
    let len = x.shape()[axis];
    let sizes: Vec<usize> = match a.ints(1)?.or_else(|| split.map(<[i64]>::to_vec)) {
        Some(v) => v
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| invalid(format!("split size {s}"))))
            .collect::<Result<_>>()?,
        None => {
            if outputs == 0 {
                return Err(invalid("split into no outputs".into()));
            }
            // Equal parts, the last one smaller when they do not divide (opset 18).
            let chunk = len.div_ceil(outputs);
            (0..outputs)
                .map(|i| chunk.min(len.saturating_sub(i * chunk)))
                .collect()
        }
    };
    if sizes.iter().sum::<usize>() != len || sizes.len() != outputs {
        return Err(invalid(format!(
            "split sizes {sizes:?} for {outputs} outputs of an axis of {len}"
        )));
    }
    let mut start = 0;
    sizes
        .iter()
        .map(|&n| {
            let part = x.narrow(axis, start, n)?;
            start += n;
            Ok(part)
        })
        .collect()
}

/// Slice with public starts, ends, axes and steps (ONNX's clamping rules).
pub(super) fn slice(a: &Args<'_>) -> Result<Variable> {
    let mut x = a.get(0)?.clone();
    let starts = a
        .ints(1)?
        .ok_or_else(|| invalid("starts are required".into()))?;
    let ends = a
        .ints(2)?
        .ok_or_else(|| invalid("ends are required".into()))?;
    let rank = x.shape().len();
    let axes: Vec<usize> = match a.ints(3)? {
        Some(v) => v
            .iter()
            .map(|&ax| axis_of(ax, rank))
            .collect::<Result<_>>()?,
        None => (0..starts.len()).collect(),
    };
    let steps = a.ints(4)?.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(invalid(
            "starts, ends, axes and steps differ in length".into(),
        ));
    }
    for i in 0..starts.len() {
        let dim = x.shape()[axes[i]] as i64;
        let step = steps[i];
        if step == 0 {
            return Err(invalid("a slice step of 0".into()));
        }
        let norm = |v: i64| if v < 0 { v + dim } else { v };
        let (start, end) = if step > 0 {
            (norm(starts[i]).clamp(0, dim), norm(ends[i]).clamp(0, dim))
        } else {
            (
                norm(starts[i]).clamp(0, dim - 1),
                norm(ends[i]).clamp(-1, dim - 1),
            )
        };
        if step == 1 {
            let len = (end - start).max(0) as usize;
            if start != 0 || len as i64 != dim {
                x = x.narrow(axes[i], start as usize, len)?;
            }
        } else {
            let mut idx = Vec::new();
            let mut p = start;
            while (step > 0 && p < end) || (step < 0 && p > end) {
                idx.push(p as usize);
                p += step;
            }
            x = x.index_select(axes[i], &idx)?;
        }
    }
    Ok(x)
}

/// Gather along `axis` at the public indices of input 1: the result's shape is the data's
/// with `axis` replaced by the indices' shape.
pub(super) fn gather(a: &Args<'_>, axis: i64) -> Result<Variable> {
    let x = a.get(0)?;
    let indices = a
        .public(1)?
        .ok_or_else(|| invalid("the indices are required".into()))?;
    let s = x.shape().to_vec();
    let axis = axis_of(axis, s.len())?;
    let dim = s[axis] as i64;
    let flat = to_ints(indices)?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&j) {
                Ok(j as usize)
            } else {
                Err(invalid(format!("index {i} out of range for {dim}")))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let picked = x.index_select(axis, &flat)?;
    let mut out = s[..axis].to_vec();
    out.extend_from_slice(indices.shape());
    out.extend_from_slice(&s[axis + 1..]);
    Ok(picked.reshape(&out)?)
}

/// Remove axes of size 1.
pub(super) fn squeeze(a: &Args<'_>, attr: Option<&[i64]>) -> Result<Variable> {
    let x = a.get(0)?;
    let s = x.shape();
    let axes = a.ints(1)?.or_else(|| attr.map(<[i64]>::to_vec));
    let drop: Vec<usize> = match axes {
        Some(v) if !v.is_empty() => v
            .iter()
            .map(|&ax| axis_of(ax, s.len()))
            .collect::<Result<_>>()?,
        _ => (0..s.len()).filter(|&i| s[i] == 1).collect(),
    };
    if let Some(&d) = drop.iter().find(|&&d| s[d] != 1) {
        return Err(invalid(format!("cannot squeeze axis {d} of {s:?}")));
    }
    let out: Vec<usize> = (0..s.len())
        .filter(|i| !drop.contains(i))
        .map(|i| s[i])
        .collect();
    Ok(x.reshape(&out)?)
}

/// Insert axes of size 1 (numbered in the output).
pub(super) fn unsqueeze(a: &Args<'_>, attr: Option<&[i64]>) -> Result<Variable> {
    let x = a.get(0)?;
    let axes = a
        .ints(1)?
        .or_else(|| attr.map(<[i64]>::to_vec))
        .ok_or_else(|| invalid("the axes are required".into()))?;
    let rank = x.shape().len() + axes.len();
    let mut at = axes
        .iter()
        .map(|&ax| axis_of(ax, rank))
        .collect::<Result<Vec<_>>>()?;
    at.sort_unstable();
    at.dedup();
    if at.len() != axes.len() {
        return Err(invalid(format!("repeated axes {axes:?}")));
    }
    let mut rest = x.shape().iter();
    let out: Vec<usize> = (0..rank)
        .map(|i| {
            if at.contains(&i) {
                1
            } else {
                rest.next().copied().unwrap_or(1)
            }
        })
        .collect();
    Ok(x.reshape(&out)?)
}

/// Broadcast against the public shape in input 1 (in both directions, as numpy).
pub(super) fn expand(a: &Args<'_>) -> Result<Variable> {
    let x = a.get(0)?;
    let target: Vec<usize> = a
        .ints(1)?
        .ok_or_else(|| invalid("the shape is required".into()))?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| invalid(format!("dimension {d}"))))
        .collect::<Result<_>>()?;
    let out = broadcast_shapes(x.shape(), &target)?;
    if out == x.shape() {
        return Ok(x.clone());
    }
    if let Tensor::Plain(v) = x.value()
        && !x.requires_grad()
    {
        let b = v
            .broadcast(out.as_slice())
            .ok_or_else(|| invalid(format!("{:?} to {out:?}", v.shape())))?;
        return Ok(constant(b.to_owned()));
    }
    Ok(x.add(&constant(ArrayD::zeros(IxDyn(&out))))?)
}

/// Constant padding (negative pads crop).
pub(super) fn pad(a: &Args<'_>, attr: Option<&[i64]>, value: f64) -> Result<Variable> {
    let mut x = a.get(0)?.clone();
    let pads = a
        .ints(1)?
        .or_else(|| attr.map(<[i64]>::to_vec))
        .ok_or_else(|| invalid("the pads are required".into()))?;
    let value = a.scalar(2)?.unwrap_or(value);
    let rank = x.shape().len();
    let axes: Vec<usize> = match a.ints(3)? {
        Some(v) => v
            .iter()
            .map(|&ax| axis_of(ax, rank))
            .collect::<Result<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(invalid(format!(
            "{} pads for {} axes",
            pads.len(),
            axes.len()
        )));
    }
    let n = axes.len();
    for (i, &axis) in axes.iter().enumerate() {
        let (begin, end) = (pads[i], pads[n + i]);
        let dim = x.shape()[axis] as i64;
        let crop_b = (-begin).max(0);
        let crop_e = (-end).max(0);
        if crop_b + crop_e > 0 {
            let len = dim - crop_b - crop_e;
            if len < 0 {
                return Err(invalid(format!("pads crop more than the axis of {dim}")));
            }
            x = x.narrow(axis, crop_b as usize, len as usize)?;
        }
        x = pad_axis(&x, axis, begin.max(0) as usize, end.max(0) as usize, value)?;
    }
    Ok(x)
}

/// The shape of a value (public, whatever the value), dims `start..end`.
pub(super) fn shape_of(x: &Variable, start: i64, end: Option<i64>) -> Result<Variable> {
    let s = x.shape();
    let r = s.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (b, e) = (clamp(start), clamp(end.unwrap_or(r)));
    let dims: Vec<f64> = s[b..e.max(b)].iter().map(|&d| d as f64).collect();
    Ok(constant(
        ArrayD::from_shape_vec(IxDyn(&[dims.len()]), dims).map_err(|e| invalid(e.to_string()))?,
    ))
}

/// A public tensor of the shape in input 0 filled with `value`.
pub(super) fn constant_of_shape(a: &Args<'_>, value: f64) -> Result<Variable> {
    let shape: Vec<usize> = a
        .ints(0)?
        .ok_or_else(|| invalid("the shape is required".into()))?
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| invalid(format!("dimension {d}"))))
        .collect::<Result<_>>()?;
    Ok(constant(ArrayD::from_elem(IxDyn(&shape), value)))
}

/// `start, start + delta, ...` below `limit` (above it for a negative delta).
pub(super) fn range(a: &Args<'_>) -> Result<Variable> {
    let req = |i: usize, what: &str| {
        a.scalar(i)?
            .ok_or_else(|| invalid(format!("{what} is required")))
    };
    let (start, limit, delta) = (req(0, "start")?, req(1, "limit")?, req(2, "delta")?);
    if delta == 0.0 {
        return Err(invalid("a range with delta 0".into()));
    }
    let n = ((limit - start) / delta).ceil().max(0.0) as usize;
    let values: Vec<f64> = (0..n).map(|i| start + i as f64 * delta).collect();
    Ok(constant(
        ArrayD::from_shape_vec(IxDyn(&[n]), values).map_err(|e| invalid(e.to_string()))?,
    ))
}

/// Type conversion: public values are converted (floats to integers toward zero, to booleans
/// by `!= 0`); a private value may only become a float, which it already is.
pub(super) fn cast(x: &Variable, to: DType) -> Result<Variable> {
    match (x.value(), to) {
        (_, DType::Float) => Ok(x.clone()),
        (Tensor::Plain(v), DType::Int) => Ok(constant(v.mapv(f64::trunc))),
        (Tensor::Plain(v), DType::Bool) => Ok(constant(v.mapv(|e| f64::from(u8::from(e != 0.0))))),
        (Tensor::Encrypted(_), _) => Err(invalid(format!(
            "a private value cannot be cast to {to:?}: only to a float type"
        ))),
    }
}

/// Repeats along each axis by the public counts of input 1.
pub(super) fn tile(a: &Args<'_>) -> Result<Variable> {
    let mut x = a.get(0)?.clone();
    let repeats = a
        .ints(1)?
        .ok_or_else(|| invalid("the repeats are required".into()))?;
    if repeats.len() != x.shape().len() {
        return Err(invalid(format!(
            "{} repeats for rank {}",
            repeats.len(),
            x.shape().len()
        )));
    }
    for (axis, &r) in repeats.iter().enumerate() {
        let r = usize::try_from(r).map_err(|_| invalid(format!("repeat {r}")))?;
        if r != 1 {
            let copies: Vec<&Variable> = std::iter::repeat_n(&x, r).collect();
            x = Variable::cat(&copies, axis)?;
        }
    }
    Ok(x)
}
