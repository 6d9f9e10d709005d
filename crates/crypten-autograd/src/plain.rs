//! Plaintext f64 kernels the autograd `Tensor` needs beyond ndarray's: checked broadcasting
//! arithmetic, numpy-style batched matmul, and summing a broadcast gradient back to a shape.

use crate::{Error, Result};
use crypten_core::broadcast_shapes;
use crypten_core::{Conv2dParams, conv2d_direct, conv2d_input_grad, conv2d_weight_grad};
use crypten_mpc::Bilinear;
use ndarray::{Array2, ArrayD, Axis, Ix2, IxDyn};

/// `f(a, b)` elementwise with numpy broadcasting; mismatched shapes are an error (ndarray
/// would panic).
pub(crate) fn zip_broadcast(
    op: &'static str,
    a: &ArrayD<f64>,
    b: &ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<ArrayD<f64>> {
    let shape = broadcast_shapes(a.shape(), b.shape()).map_err(|_| Error::InvalidArgument {
        op,
        reason: format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        ),
    })?;
    let av = a.broadcast(IxDyn(&shape)).expect("checked above");
    let bv = b.broadcast(IxDyn(&shape)).expect("checked above");
    let mut out = ArrayD::zeros(IxDyn(&shape));
    ndarray::Zip::from(&mut out)
        .and(&av)
        .and(&bv)
        .for_each(|o, &x, &y| *o = f(x, y));
    Ok(out)
}

/// numpy-style matmul for operands of at least two dimensions (batch dimensions broadcast).
pub(crate) fn matmul(a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    let mismatch = || Error::InvalidArgument {
        op: "matmul",
        reason: format!(
            "shapes {:?} and {:?} cannot be multiplied",
            a.shape(),
            b.shape()
        ),
    };
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(mismatch());
    }
    let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let (k2, n) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
    if k != k2 {
        return Err(mismatch());
    }
    if a.ndim() == 2 && b.ndim() == 2 {
        let a2 = a.view().into_dimensionality::<Ix2>().expect("2-d");
        let b2 = b.view().into_dimensionality::<Ix2>().expect("2-d");
        return Ok(a2.dot(&b2).into_dyn());
    }
    let batch = broadcast_shapes(&a.shape()[..a.ndim() - 2], &b.shape()[..b.ndim() - 2])
        .map_err(|_| mismatch())?;
    let mut a_shape = batch.clone();
    a_shape.extend([m, k]);
    let mut b_shape = batch.clone();
    b_shape.extend([k, n]);
    let av = a.broadcast(IxDyn(&a_shape)).ok_or_else(mismatch)?;
    let bv = b.broadcast(IxDyn(&b_shape)).ok_or_else(mismatch)?;
    let count: usize = batch.iter().product();
    let a3 = av.to_shape((count, m, k)).map_err(|_| mismatch())?;
    let b3 = bv.to_shape((count, k, n)).map_err(|_| mismatch())?;
    let mut out = Vec::with_capacity(count * m * n);
    for i in 0..count {
        let prod: Array2<f64> = a3.index_axis(Axis(0), i).dot(&b3.index_axis(Axis(0), i));
        out.extend(prod.iter().copied());
    }
    let mut out_shape = batch;
    out_shape.extend([m, n]);
    Ok(ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("sizes agree"))
}

/// A bilinear map evaluated in f64 (the plaintext twin of `Bilinear::apply`).
pub(crate) fn bilinear(op: &Bilinear, x: &ArrayD<f64>, y: &ArrayD<f64>) -> Result<ArrayD<f64>> {
    let contiguous = |a: &ArrayD<f64>| a.as_standard_layout().iter().copied().collect::<Vec<f64>>();
    let shaped = |shape: &[usize], v: Vec<f64>| {
        ArrayD::from_shape_vec(IxDyn(shape), v).expect("kernel output matches its shape")
    };
    match op {
        Bilinear::Mul => zip_broadcast("mul", x, y, |a, b| a * b),
        Bilinear::Matmul => matmul(x, y),
        Bilinear::Conv2d {
            stride,
            padding,
            dilation,
            groups,
        } => {
            let p = Conv2dParams {
                stride: *stride,
                padding: *padding,
                dilation: *dilation,
                groups: *groups,
            };
            let (out, shape) =
                conv2d_direct(&contiguous(x), x.shape(), &contiguous(y), y.shape(), &p)?;
            Ok(shaped(&shape, out))
        }
        Bilinear::Conv2dInputGrad {
            params,
            input_shape,
        } => {
            let out = conv2d_input_grad(
                &contiguous(x),
                x.shape(),
                &contiguous(y),
                y.shape(),
                input_shape,
                &(*params).into(),
            )?;
            Ok(shaped(input_shape, out))
        }
        Bilinear::Conv2dWeightGrad {
            params,
            weight_shape,
        } => {
            let out = conv2d_weight_grad(
                &contiguous(x),
                x.shape(),
                &contiguous(y),
                y.shape(),
                weight_shape,
                &(*params).into(),
            )?;
            Ok(shaped(weight_shape, out))
        }
        Bilinear::Conv1d { .. } => Err(Error::InvalidArgument {
            op: "conv1d",
            reason: "plaintext conv1d is computed as conv2d of height 1".into(),
        }),
    }
}

/// Sums `g` over the dimensions broadcasting added or stretched so it gets `shape`.
pub(crate) fn sum_to_shape(g: &ArrayD<f64>, shape: &[usize]) -> Result<ArrayD<f64>> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let bad = || Error::InvalidArgument {
        op: "sum_to_shape",
        reason: format!("{:?} does not broadcast to {:?}", shape, g.shape()),
    };
    if shape.len() > g.ndim() {
        return Err(bad());
    }
    let lead = g.ndim() - shape.len();
    let mut out = g.clone();
    for _ in 0..lead {
        out = out.sum_axis(Axis(0));
    }
    for (d, &size) in shape.iter().enumerate() {
        if size == 1 && out.shape()[d] != 1 {
            out = out.sum_axis(Axis(d)).insert_axis(Axis(d));
        } else if size != out.shape()[d] {
            return Err(bad());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn batched_matmul_matches_loops() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| (i[0] * 12 + i[1] * 4 + i[2]) as f64);
        let b = ArrayD::from_shape_fn(IxDyn(&[4, 2]), |i| (i[0] as f64) - (i[1] as f64) * 0.5);
        let c = matmul(&a, &b).unwrap();
        assert_eq!(c.shape(), &[2, 3, 2]);
        for t in 0..2 {
            for i in 0..3 {
                for j in 0..2 {
                    let want: f64 = (0..4).map(|k| a[[t, i, k]] * b[[k, j]]).sum();
                    assert_eq!(c[[t, i, j]], want);
                }
            }
        }
        assert!(matmul(&a, &array![[1.0, 2.0]].into_dyn()).is_err());
    }

    #[test]
    fn sum_to_shape_undoes_broadcasting() {
        let g = ArrayD::from_elem(IxDyn(&[2, 3, 4]), 1.0);
        assert_eq!(
            sum_to_shape(&g, &[4]).unwrap(),
            ArrayD::from_elem(IxDyn(&[4]), 6.0)
        );
        assert_eq!(
            sum_to_shape(&g, &[3, 1]).unwrap(),
            ArrayD::from_elem(IxDyn(&[3, 1]), 8.0)
        );
        assert!(sum_to_shape(&g, &[5]).is_err());
        assert!(zip_broadcast("add", &g, &ArrayD::zeros(IxDyn(&[5])), |a, b| a + b).is_err());
    }
}
