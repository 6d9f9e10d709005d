//! Differentiable pooling, built from operations autograd already differentiates:
//! - average pooling is a depthwise convolution with a public `1/(kh kw)` kernel;
//! - adaptive average pooling is a product with a public pooling matrix;
//! - max pooling unfolds the windows with a depthwise convolution by public one-hot kernels,
//!   picks each window's maximum with a one-hot argmax (a constant mask for autograd), and
//!   sums `windows * mask`; the gradient flows back through the mask and the unfolding.

use crate::{Error, Result};
use crate::{Tensor, Variable};
use crypten_core::Conv2dParams;
use ndarray::{ArrayD, Axis, IxDyn};

fn invalid(op: &'static str, reason: String) -> Error {
    Error::InvalidArgument { op, reason }
}

fn image(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize, usize)> {
    match *shape {
        [n, c, h, w] => Ok((n, c, h, w)),
        _ => Err(invalid(op, format!("expected [N, C, H, W], got {shape:?}"))),
    }
}

impl Tensor {
    /// A one-hot tensor marking the first maximum along `dim` (not differentiable).
    ///
    /// # Errors
    /// Invalid dimension; protocol failures.
    pub fn argmax_onehot(&self, dim: usize) -> Result<Tensor> {
        if dim >= self.shape().len() {
            return Err(invalid(
                "argmax",
                format!("dim {dim} of {:?}", self.shape()),
            ));
        }
        Ok(match self {
            Tensor::Plain(a) => {
                let mut out = ArrayD::zeros(a.raw_dim());
                for (lane, mut hot) in a.lanes(Axis(dim)).into_iter().zip(out.lanes_mut(Axis(dim)))
                {
                    let mut best = 0;
                    for (i, &v) in lane.iter().enumerate() {
                        if v > lane[best] {
                            best = i;
                        }
                    }
                    hot[best] = 1.0;
                }
                Tensor::Plain(out)
            }
            Tensor::Encrypted(c) => Tensor::Encrypted(c.argmax(dim, true)?),
        })
    }
}

/// `[c k, 1, kh, kw]` one-hot kernels: kernel `t` of every channel picks tap `t` of the window.
fn unfold_kernels(channels: usize, kernel: (usize, usize)) -> ArrayD<f64> {
    let k = kernel.0 * kernel.1;
    ArrayD::from_shape_fn(IxDyn(&[channels * k, 1, kernel.0, kernel.1]), |ix| {
        if ix[2] * kernel.1 + ix[3] == ix[0] % k {
            1.0
        } else {
            0.0
        }
    })
}

/// The row spans of adaptive pooling: output `i` covers `floor(i n / m) .. ceil((i+1) n / m)`.
fn spans(n: usize, m: usize) -> Vec<(usize, usize)> {
    (0..m)
        .map(|i| (i * n / m, ((i + 1) * n).div_ceil(m)))
        .collect()
}

impl Variable {
    /// Average pooling of an `[N, C, H, W]` input (padding counts in the divisor).
    ///
    /// Rounds: 0 (a public product, its truncation deferred); the same backward.
    ///
    /// # Errors
    /// Invalid shapes or sizes.
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Variable> {
        let (_, c, _, _) = image("avg_pool2d", self.shape())?;
        if kernel.0 == 0 || kernel.1 == 0 {
            return Err(invalid("avg_pool2d", format!("kernel {kernel:?}")));
        }
        let area = kernel.0 * kernel.1;
        let p = Conv2dParams {
            stride,
            padding,
            dilation: (1, 1),
            groups: c,
        };
        // Up to 32 taps, 1/area is encoded finely enough to be the kernel itself (one
        // truncation). Beyond, the kernel sums and the division by the area is a product by a
        // public scalar, which keeps 1/area's precision (see `CrypTensor::mul_scalar`).
        if area <= 32 {
            let weight = ArrayD::from_elem(IxDyn(&[c, 1, kernel.0, kernel.1]), 1.0 / area as f64);
            return self.conv2d(&Variable::constant(weight), &p);
        }
        let ones = ArrayD::from_elem(IxDyn(&[c, 1, kernel.0, kernel.1]), 1.0);
        self.conv2d(&Variable::constant(ones), &p)?
            .mul_scalar(1.0 / area as f64)
    }

    /// Adaptive average pooling of an `[N, C, H, W]` input to `out_hw`, as a product with a
    /// public pooling matrix.
    ///
    /// # Errors
    /// Invalid shapes or a zero output size.
    pub fn adaptive_avg_pool2d(&self, out_hw: (usize, usize)) -> Result<Variable> {
        let (n, c, h, w) = image("adaptive_avg_pool2d", self.shape())?;
        if out_hw.0 == 0 || out_hw.1 == 0 || out_hw.0 > h || out_hw.1 > w {
            return Err(invalid(
                "adaptive_avg_pool2d",
                format!("output {out_hw:?} from {h}x{w}"),
            ));
        }
        let (rows, cols) = (spans(h, out_hw.0), spans(w, out_hw.1));
        let pool = ArrayD::from_shape_fn(IxDyn(&[h * w, out_hw.0 * out_hw.1]), |ix| {
            let (r, s) = (ix[0] / w, ix[0] % w);
            let (i, j) = (ix[1] / out_hw.1, ix[1] % out_hw.1);
            let (r0, r1) = rows[i];
            let (s0, s1) = cols[j];
            if (r0..r1).contains(&r) && (s0..s1).contains(&s) {
                1.0 / ((r1 - r0) * (s1 - s0)) as f64
            } else {
                0.0
            }
        });
        self.reshape(&[n * c, h * w])?
            .matmul(&Variable::constant(pool))?
            .reshape(&[n, c, out_hw.0, out_hw.1])
    }

    /// Max pooling of an `[N, C, H, W]` input without padding.
    ///
    /// Rounds: those of a one-hot argmax over `kh kw` elements (4 per tournament level) plus
    /// one product; backward one product. When no gradient is recorded, the maximum alone (4
    /// per tournament level, no product, and no one-hot positions carried).
    ///
    /// # Errors
    /// Invalid shapes or sizes; protocol failures.
    pub fn max_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Result<Variable> {
        let (n, c, _, _) = image("max_pool2d", self.shape())?;
        if kernel.0 == 0 || kernel.1 == 0 {
            return Err(invalid("max_pool2d", format!("kernel {kernel:?}")));
        }
        if !(crate::is_grad_enabled() && self.requires_grad())
            && let Tensor::Encrypted(x) = self.value()
        {
            // Nothing to differentiate: the tournament on the values alone, with no one-hot
            // positions carried through its levels and no product with them afterwards.
            return Ok(Variable::constant(Tensor::Encrypted(x.max_pool2d(
                kernel,
                stride,
                (0, 0),
            )?)));
        }
        let k = kernel.0 * kernel.1;
        let weight = unfold_kernels(c, kernel);
        let p = Conv2dParams {
            stride,
            padding: (0, 0),
            dilation: (1, 1),
            groups: c,
        };
        let windows = self.conv2d(&Variable::constant(weight), &p)?; // [N, C*k, OH, OW]
        let (oh, ow) = (windows.shape()[2], windows.shape()[3]);
        let windows = windows.reshape(&[n, c, k, oh, ow])?;
        let mask = Variable::constant(windows.value().argmax_onehot(2)?);
        windows.mul(&mask)?.sum(&[2], false)
    }
}
