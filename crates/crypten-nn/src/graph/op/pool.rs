//! Pooling: max and average (1-d and 2-d, padding, ceil mode), and the global pools.

use super::linear::{AutoPad, Window, as_2d, windows};
use super::{constant, invalid};
use crate::Result;
use crypten_autograd::Variable;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// What max pooling pads with: below any value the fixed-point comparisons are meant for, and
/// far inside the ring, so that the padded windows compare correctly.
const MAX_POOL_PAD: f64 = -1.0e6;

/// Pooling attributes; empty lists take ONNX's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// Padding mode.
    pub auto_pad: AutoPad,
    /// Output size rounded up rather than down.
    pub ceil_mode: bool,
    /// Average pooling divides by the whole window, padding included.
    pub count_include_pad: bool,
    /// Dilation per spatial axis (max pooling; 1 only).
    pub dilations: Vec<usize>,
    /// Window size per spatial axis.
    pub kernel_shape: Vec<usize>,
    /// Padding: every axis's beginning, then every axis's end.
    pub pads: Vec<usize>,
    /// Stride per spatial axis.
    pub strides: Vec<usize>,
}

/// One axis of a pool: its window and the output size.
struct Axis {
    w: Window,
    input: usize,
    output: usize,
    /// Positions padded past the explicit padding so that the last (ceil mode) window fits.
    overhang: usize,
}

impl Pool {
    fn axes(&self, x: &Variable) -> Result<Vec<Axis>> {
        let s = x.shape();
        if !(3..=4).contains(&s.len()) {
            return Err(invalid(format!(
                "expected a 1-d or 2-d input [N, C, ...], got shape {s:?}"
            )));
        }
        let ws = windows(
            &s[2..],
            &self.kernel_shape,
            &self.strides,
            &self.dilations,
            &self.pads,
            self.auto_pad,
        )?;
        ws.into_iter()
            .zip(&s[2..])
            .map(|(w, &input)| {
                if w.dilation != 1 {
                    return Err(invalid("pooling with dilations is not supported".into()));
                }
                let padded = input + w.begin + w.end;
                let span = padded.checked_sub(w.extent()).ok_or_else(|| {
                    invalid(format!("window of {} over {padded} positions", w.kernel))
                })?;
                let mut output = if self.ceil_mode {
                    span.div_ceil(w.stride) + 1
                } else {
                    span / w.stride + 1
                };
                // As PyTorch: the last window must start inside the input or the left padding.
                if self.ceil_mode && (output - 1) * w.stride >= input + w.begin {
                    output -= 1;
                }
                let overhang = ((output - 1) * w.stride + w.extent()).saturating_sub(padded);
                Ok(Axis {
                    w,
                    input,
                    output,
                    overhang,
                })
            })
            .collect()
    }

    /// Max pooling.
    pub(super) fn max(&self, x: &Variable) -> Result<Variable> {
        let axes = self.axes(x)?;
        let mut padded = x.clone();
        for (i, a) in axes.iter().enumerate() {
            padded = super::shape::pad_axis(
                &padded,
                2 + i,
                a.w.begin,
                a.w.end + a.overhang,
                MAX_POOL_PAD,
            )?;
        }
        let (kernel, stride) = geometry(&axes);
        let y = as_2d(&padded)?.max_pool2d(kernel, stride)?;
        restore(y, x.shape().len())
    }

    /// Average pooling.
    pub(super) fn average(&self, x: &Variable) -> Result<Variable> {
        let axes = self.axes(x)?;
        let (kernel, stride) = geometry(&axes);
        let symmetric = axes.iter().all(|a| a.w.begin == a.w.end && a.overhang == 0);
        if symmetric && (self.count_include_pad || axes.iter().all(|a| a.w.begin == 0)) {
            let padding = if axes.len() == 1 {
                (0, axes[0].w.begin)
            } else {
                (axes[0].w.begin, axes[1].w.begin)
            };
            let y = as_2d(x)?.avg_pool2d(kernel, stride, padding)?;
            return restore(y, x.shape().len());
        }
        // Pad explicitly, average over whole windows, then rescale each output by the window
        // area over the number of positions that count (a public factor per position).
        let mut padded = x.clone();
        for (i, a) in axes.iter().enumerate() {
            padded = super::shape::pad_axis(&padded, 2 + i, a.w.begin, a.w.end + a.overhang, 0.0)?;
        }
        let y = restore(
            as_2d(&padded)?.avg_pool2d(kernel, stride, (0, 0))?,
            x.shape().len(),
        )?;
        let counts: Vec<Vec<f64>> = axes
            .iter()
            .map(|a| {
                let (lo, hi) = if self.count_include_pad {
                    (0, a.input + a.w.begin + a.w.end)
                } else {
                    (a.w.begin, a.w.begin + a.input)
                };
                (0..a.output)
                    .map(|o| {
                        let start = o * a.w.stride;
                        (start..start + a.w.kernel)
                            .filter(|p| (lo..hi).contains(p))
                            .count() as f64
                    })
                    .collect()
            })
            .collect();
        let area = kernel.0 * kernel.1;
        let mut shape = vec![1, 1];
        shape.extend(axes.iter().map(|a| a.output));
        let factor = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
            let count: f64 = (0..axes.len()).map(|i| counts[i][ix[2 + i]]).product();
            if count > 0.0 {
                area as f64 / count
            } else {
                0.0
            }
        });
        Ok(y.mul(&constant(factor))?)
    }
}

fn geometry(axes: &[Axis]) -> ((usize, usize), (usize, usize)) {
    match axes {
        [a] => ((1, a.w.kernel), (1, a.w.stride)),
        [a, b] => ((a.w.kernel, b.w.kernel), (a.w.stride, b.w.stride)),
        _ => ((1, 1), (1, 1)),
    }
}

fn restore(y: Variable, rank: usize) -> Result<Variable> {
    if rank == 3 {
        let s = y.shape().to_vec();
        Ok(y.reshape(&[s[0], s[1], s[3]])?)
    } else {
        Ok(y)
    }
}

/// Mean over the spatial axes, kept as size 1.
pub(super) fn global_average(x: &Variable) -> Result<Variable> {
    let rank = x.shape().len();
    if rank < 3 {
        return Err(invalid(format!(
            "expected [N, C, ...], got {:?}",
            x.shape()
        )));
    }
    let dims: Vec<usize> = (2..rank).collect();
    Ok(x.mean(&dims, true)?)
}

/// Maximum over the spatial axes, kept as size 1.
pub(super) fn global_max(x: &Variable) -> Result<Variable> {
    let s = x.shape().to_vec();
    if s.len() < 3 {
        return Err(invalid(format!("expected [N, C, ...], got {s:?}")));
    }
    let area: usize = s[2..].iter().product();
    let m = x.reshape(&[s[0], s[1], area])?.max(2, true)?;
    let mut out = vec![s[0], s[1]];
    out.extend(std::iter::repeat_n(1, s.len() - 2));
    Ok(m.reshape(&out)?)
}
