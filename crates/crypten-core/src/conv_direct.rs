//! Direct (loop-nest) 2-D convolution and its two gradients, generic over the element: `u64`
//! with wrapping arithmetic for shares, `f64` for the plaintext reference path.
//!
//! The forward convolution of shares goes through im2col + GEMM (`conv.rs`); these loops
//! serve the gradients, which autograd needs for the input (a transposed convolution of the
//! output gradient with the weight) and for the weight (a correlation of the input with the
//! output gradient), and the plaintext f64 path, which must agree with the ring exactly in
//! structure. Every index is validated once against `Conv2dParams::output_shape`.

use crate::{Conv2dParams, Error, Result, RingTensor};
use rayon::prelude::*;

/// An element the loops can multiply-accumulate.
pub trait ConvElement: Copy + Send + Sync + 'static {
    /// The additive identity.
    const ZERO: Self;
    /// `acc + a * b` (wrapping for ring elements).
    fn mul_add(acc: Self, a: Self, b: Self) -> Self;
}

impl ConvElement for u64 {
    const ZERO: Self = 0;
    fn mul_add(acc: Self, a: Self, b: Self) -> Self {
        acc.wrapping_add(a.wrapping_mul(b))
    }
}

impl ConvElement for f64 {
    const ZERO: Self = 0.0;
    fn mul_add(acc: Self, a: Self, b: Self) -> Self {
        acc + a * b
    }
}

/// Shapes of one convolution, checked.
#[derive(Clone, Copy, Debug)]
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    cg: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    groups: usize,
}

impl Dims {
    fn new(input: &[usize], weight: &[usize], p: &Conv2dParams) -> Result<Self> {
        let out = p.output_shape(input, weight)?;
        Ok(Self {
            n: input[0],
            c: input[1],
            h: input[2],
            w: input[3],
            o: weight[0],
            cg: weight[1],
            kh: weight[2],
            kw: weight[3],
            oh: out[2],
            ow: out[3],
            groups: p.groups,
        })
    }

    /// The dimensions of a convolution whose output gradient `grad` (of `grad_len` elements)
    /// must be shaped like the output.
    fn for_gradient(
        op: &'static str,
        input: &[usize],
        weight: &[usize],
        grad_shape: &[usize],
        grad_len: usize,
        p: &Conv2dParams,
    ) -> Result<Self> {
        let d = Self::new(input, weight, p)?;
        let expected = [d.n, d.o, d.oh, d.ow];
        if grad_shape != expected {
            return Err(Error::ShapeMismatch {
                op,
                lhs: grad_shape.to_vec(),
                rhs: expected.to_vec(),
            });
        }
        check_len(op, grad_shape, grad_len)?;
        Ok(d)
    }

    /// Calls `f(input index, weight index, output index)` for every tap of sample `n`,
    /// output channel `oc`, that falls inside the (unpadded) input.
    #[inline]
    fn for_taps(
        &self,
        p: &Conv2dParams,
        n: usize,
        oc: usize,
        mut f: impl FnMut(usize, usize, usize),
    ) {
        let g = oc / (self.o / self.groups);
        for ci in 0..self.cg {
            let c = g * self.cg + ci;
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let widx = ((oc * self.cg + ci) * self.kh + i) * self.kw + j;
                    for y in 0..self.oh {
                        let r = (y * p.stride.0 + i * p.dilation.0) as isize - p.padding.0 as isize;
                        if r < 0 || r as usize >= self.h {
                            continue;
                        }
                        for x in 0..self.ow {
                            let s =
                                (x * p.stride.1 + j * p.dilation.1) as isize - p.padding.1 as isize;
                            if s < 0 || s as usize >= self.w {
                                continue;
                            }
                            let xidx =
                                ((n * self.c + c) * self.h + r as usize) * self.w + s as usize;
                            let oidx = ((n * self.o + oc) * self.oh + y) * self.ow + x;
                            f(xidx, widx, oidx);
                        }
                    }
                }
            }
        }
    }
}

fn check_len(op: &'static str, shape: &[usize], len: usize) -> Result<()> {
    if shape.iter().product::<usize>() == len {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            shape: shape.to_vec(),
            reason: format!("{len} elements given"),
        })
    }
}

/// Direct 2-D convolution: `[N, C, H, W]` input, `[O, C/groups, KH, KW]` weight, output
/// `[N, O, OH, OW]` (returned with its shape).
///
/// # Errors
/// Invalid shapes or parameters (see [`Conv2dParams::output_shape`]).
pub fn conv2d_direct<T: ConvElement>(
    x: &[T],
    x_shape: &[usize],
    weight: &[T],
    w_shape: &[usize],
    p: &Conv2dParams,
) -> Result<(Vec<T>, Vec<usize>)> {
    let d = Dims::new(x_shape, w_shape, p)?;
    check_len("conv2d", x_shape, x.len())?;
    check_len("conv2d", w_shape, weight.len())?;
    let per_sample = d.o * d.oh * d.ow;
    let mut out = vec![T::ZERO; d.n * per_sample];
    out.par_chunks_mut(per_sample.max(1))
        .enumerate()
        .for_each(|(n, chunk)| {
            let base = n * per_sample;
            for oc in 0..d.o {
                d.for_taps(p, n, oc, |xi, wi, oi| {
                    chunk[oi - base] = T::mul_add(chunk[oi - base], x[xi], weight[wi]);
                });
            }
        });
    Ok((out, vec![d.n, d.o, d.oh, d.ow]))
}

/// Gradient of a 2-D convolution with respect to its input: `grad` `[N, O, OH, OW]`, the
/// weight, and the input's shape `[N, C, H, W]`; returns `[N, C, H, W]`.
///
/// # Errors
/// Shapes that do not belong to one convolution.
pub fn conv2d_input_grad<T: ConvElement>(
    grad: &[T],
    grad_shape: &[usize],
    weight: &[T],
    w_shape: &[usize],
    input_shape: &[usize],
    p: &Conv2dParams,
) -> Result<Vec<T>> {
    let d = Dims::for_gradient(
        "conv2d_input_grad",
        input_shape,
        w_shape,
        grad_shape,
        grad.len(),
        p,
    )?;
    check_len("conv2d_input_grad", w_shape, weight.len())?;
    let per_sample = d.c * d.h * d.w;
    let mut out = vec![T::ZERO; d.n * per_sample];
    out.par_chunks_mut(per_sample.max(1))
        .enumerate()
        .for_each(|(n, chunk)| {
            let base = n * per_sample;
            for oc in 0..d.o {
                d.for_taps(p, n, oc, |xi, wi, oi| {
                    chunk[xi - base] = T::mul_add(chunk[xi - base], grad[oi], weight[wi]);
                });
            }
        });
    Ok(out)
}

/// Gradient of a 2-D convolution with respect to its weight: the input `[N, C, H, W]`, `grad`
/// `[N, O, OH, OW]` and the weight's shape `[O, C/groups, KH, KW]`; returns the weight's shape.
///
/// # Errors
/// Shapes that do not belong to one convolution.
pub fn conv2d_weight_grad<T: ConvElement>(
    x: &[T],
    x_shape: &[usize],
    grad: &[T],
    grad_shape: &[usize],
    w_shape: &[usize],
    p: &Conv2dParams,
) -> Result<Vec<T>> {
    let d = Dims::for_gradient(
        "conv2d_weight_grad",
        x_shape,
        w_shape,
        grad_shape,
        grad.len(),
        p,
    )?;
    check_len("conv2d_weight_grad", x_shape, x.len())?;
    let per_channel = d.cg * d.kh * d.kw;
    let mut out = vec![T::ZERO; d.o * per_channel];
    out.par_chunks_mut(per_channel.max(1))
        .enumerate()
        .for_each(|(oc, chunk)| {
            let base = oc * per_channel;
            for n in 0..d.n {
                d.for_taps(p, n, oc, |xi, wi, oi| {
                    chunk[wi - base] = T::mul_add(chunk[wi - base], x[xi], grad[oi]);
                });
            }
        });
    Ok(out)
}

impl RingTensor {
    /// Gradient of [`RingTensor::conv2d`] with respect to its input, over Z/2^64: `self` is the
    /// output gradient `[N, O, OH, OW]`; returns a tensor of `input_shape`.
    ///
    /// # Errors
    /// Shapes that do not belong to one convolution.
    pub fn conv2d_input_grad(
        &self,
        weight: &RingTensor,
        input_shape: &[usize],
        p: &Conv2dParams,
    ) -> Result<RingTensor> {
        let data = conv2d_input_grad(
            &self.data,
            &self.shape,
            &weight.data,
            &weight.shape,
            input_shape,
            p,
        )?;
        RingTensor::new(input_shape, data)
    }

    /// Gradient of [`RingTensor::conv2d`] with respect to its weight, over Z/2^64: `self` is
    /// the input `[N, C, H, W]`, `grad` the output gradient; returns a tensor of
    /// `weight_shape`.
    ///
    /// # Errors
    /// Shapes that do not belong to one convolution.
    pub fn conv2d_weight_grad(
        &self,
        grad: &RingTensor,
        weight_shape: &[usize],
        p: &Conv2dParams,
    ) -> Result<RingTensor> {
        let data = conv2d_weight_grad(
            &self.data,
            &self.shape,
            &grad.data,
            &grad.shape,
            weight_shape,
            p,
        )?;
        RingTensor::new(weight_shape, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Prg;

    fn ring(shape: &[usize], seed: u8) -> RingTensor {
        Prg::from_seed([seed; 16]).ring(shape)
    }

    /// `<conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>` in the ring: the
    /// defining identity of both gradients (adjoints of a bilinear map).
    #[test]
    fn gradients_are_adjoint_to_the_convolution() {
        let cases = [
            (
                [2, 4, 7, 6],
                [6, 2, 3, 2],
                Conv2dParams {
                    stride: (2, 1),
                    padding: (1, 2),
                    dilation: (1, 2),
                    groups: 2,
                },
            ),
            ([1, 3, 5, 5], [2, 3, 3, 3], Conv2dParams::default()),
            (
                [3, 2, 8, 9],
                [4, 2, 2, 3],
                Conv2dParams {
                    stride: (3, 2),
                    padding: (0, 1),
                    dilation: (2, 1),
                    groups: 1,
                },
            ),
        ];
        let dot = |a: &RingTensor, b: &RingTensor| a.mul(b).unwrap().sum_all();
        for (xs, ws, p) in cases {
            let (x, w) = (ring(&xs, 1), ring(&ws, 2));
            let y = x.conv2d(&w, &p).unwrap();
            let g = ring(y.shape(), 3);
            let gx = g.conv2d_input_grad(&w, &xs, &p).unwrap();
            let gw = x.conv2d_weight_grad(&g, &ws, &p).unwrap();
            assert_eq!(dot(&y, &g), dot(&x, &gx), "{p:?}");
            assert_eq!(dot(&y, &g), dot(&w, &gw), "{p:?}");
            // The direct forward agrees with the im2col + GEMM path.
            let (direct, shape) = conv2d_direct(x.data(), &xs, w.data(), &ws, &p).unwrap();
            assert_eq!(shape, y.shape());
            assert_eq!(direct, y.data());
        }
    }

    #[test]
    fn mismatched_gradient_shapes_are_errors() {
        let g = ring(&[1, 2, 3, 3], 1);
        let w = ring(&[2, 3, 3, 3], 2);
        assert!(
            g.conv2d_input_grad(&w, &[1, 3, 6, 6], &Conv2dParams::default())
                .is_err()
        );
        assert!(
            ring(&[1, 3, 5, 5], 3)
                .conv2d_weight_grad(&g, &[2, 3, 2, 2], &Conv2dParams::default())
                .is_err()
        );
    }
}
