//! Linear maps: convolutions, transposed convolutions, Gemm, MatMul and embeddings.

use super::{Args, invalid};
use crate::Result;
use crypten_autograd::Variable;
use crypten_core::Conv2dParams;
use serde::{Deserialize, Serialize};

/// How a convolution or pool chooses its padding (ONNX's `auto_pad`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoPad {
    /// The explicit `pads`.
    #[default]
    NotSet,
    /// Output size `ceil(input / stride)`, the odd padding at the end.
    SameUpper,
    /// Output size `ceil(input / stride)`, the odd padding at the beginning.
    SameLower,
    /// No padding.
    Valid,
}

/// Convolution attributes; empty lists take ONNX's defaults (ones, zeros).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    /// Padding mode.
    pub auto_pad: AutoPad,
    /// Dilation per spatial axis.
    pub dilations: Vec<usize>,
    /// Channel groups.
    pub group: usize,
    /// Padding: every axis's beginning, then every axis's end.
    pub pads: Vec<usize>,
    /// Stride per spatial axis.
    pub strides: Vec<usize>,
}

/// Transposed convolution attributes; empty lists take ONNX's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvTranspose {
    /// Padding mode (with `output_shape`).
    pub auto_pad: AutoPad,
    /// Dilation per spatial axis.
    pub dilations: Vec<usize>,
    /// Channel groups.
    pub group: usize,
    /// Extra output rows at the end of each spatial axis.
    pub output_padding: Vec<usize>,
    /// The spatial output size, which then decides the padding.
    pub output_shape: Vec<usize>,
    /// Cropping: every axis's beginning, then every axis's end.
    pub pads: Vec<usize>,
    /// Stride per spatial axis.
    pub strides: Vec<usize>,
}

/// `alpha A' B' + beta C`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gemm {
    /// Scale of the product.
    pub alpha: f64,
    /// Scale of `C`.
    pub beta: f64,
    /// Transpose `A`.
    pub trans_a: bool,
    /// Transpose `B`.
    pub trans_b: bool,
}

/// One spatial axis of a sliding window: its geometry and its padding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) dilation: usize,
    pub(crate) begin: usize,
    pub(crate) end: usize,
}

impl Window {
    /// The kernel's extent in the input.
    pub(crate) fn extent(&self) -> usize {
        (self.kernel - 1) * self.dilation + 1
    }
}

/// The per-axis windows of an operation over `spatial` input sizes.
pub(crate) fn windows(
    spatial: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: &[usize],
    auto_pad: AutoPad,
) -> Result<Vec<Window>> {
    let n = spatial.len();
    let list = |v: &[usize], what: &str, default: usize| -> Result<Vec<usize>> {
        match v.len() {
            0 => Ok(vec![default; n]),
            l if l == n => Ok(v.to_vec()),
            l => Err(invalid(format!(
                "{what} has {l} entries for {n} spatial axes"
            ))),
        }
    };
    if kernel.len() != n {
        return Err(invalid(format!(
            "kernel of {} axes for {n} spatial axes",
            kernel.len()
        )));
    }
    let strides = list(strides, "strides", 1)?;
    let dilations = list(dilations, "dilations", 1)?;
    let pads = match pads.len() {
        0 => vec![0; 2 * n],
        l if l == 2 * n => pads.to_vec(),
        l => {
            return Err(invalid(format!(
                "pads has {l} entries for {n} spatial axes"
            )));
        }
    };
    (0..n)
        .map(|i| {
            let (kernel, stride, dilation) = (kernel[i], strides[i], dilations[i]);
            if kernel == 0 || stride == 0 || dilation == 0 {
                return Err(invalid(
                    "kernel, strides and dilations must be positive".into(),
                ));
            }
            let extent = (kernel - 1) * dilation + 1;
            let (begin, end) = match auto_pad {
                AutoPad::NotSet => (pads[i], pads[n + i]),
                AutoPad::Valid => (0, 0),
                AutoPad::SameUpper | AutoPad::SameLower => {
                    let out = spatial[i].div_ceil(stride);
                    let total = ((out - 1) * stride + extent).saturating_sub(spatial[i]);
                    if auto_pad == AutoPad::SameUpper {
                        (total / 2, total - total / 2)
                    } else {
                        (total - total / 2, total / 2)
                    }
                }
            };
            Ok(Window {
                kernel,
                stride,
                dilation,
                begin,
                end,
            })
        })
        .collect()
}

/// Pads the spatial axes (from axis 2) of `x` where a window's padding is not symmetric, and
/// returns the symmetric padding left for the kernel to apply.
fn pad_asymmetric(x: &Variable, windows: &[Window]) -> Result<(Variable, Vec<usize>)> {
    let mut x = x.clone();
    let mut symmetric = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        let common = w.begin.min(w.end);
        if w.begin != w.end {
            x = super::shape::pad_axis(&x, 2 + i, w.begin - common, w.end - common, 0.0)?;
        }
        symmetric.push(common);
    }
    Ok((x, symmetric))
}

/// As a 2-d problem: a 1-d input `[N, C, L]` becomes `[N, C, 1, L]`.
pub(super) fn as_2d(x: &Variable) -> Result<Variable> {
    let s = x.shape();
    match s.len() {
        3 => Ok(x.reshape(&[s[0], s[1], 1, s[2]])?),
        4 => Ok(x.clone()),
        _ => Err(invalid(format!(
            "expected a 1-d or 2-d input [N, C, ...], got shape {s:?}"
        ))),
    }
}

fn pair(v: &[usize]) -> (usize, usize) {
    match *v {
        [a] => (1, a),
        [a, b] => (a, b),
        _ => (1, 1),
    }
}

fn add_channel_bias(y: Variable, bias: Option<&Variable>) -> Result<Variable> {
    let Some(b) = bias else { return Ok(y) };
    let mut shape = vec![1; y.shape().len()];
    shape[1] = b.shape().iter().product();
    Ok(y.add_bias(&b.reshape(&shape)?)?)
}

impl Conv {
    pub(super) fn eval(&self, a: &Args<'_>) -> Result<Variable> {
        let (x, w) = (a.get(0)?, a.get(1)?);
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        if xs.len() != ws.len() || !(3..=4).contains(&xs.len()) {
            return Err(invalid(format!(
                "expected a 1-d or 2-d convolution, got input {xs:?} and weight {ws:?}"
            )));
        }
        let windows = windows(
            &xs[2..],
            &ws[2..],
            &self.strides,
            &self.dilations,
            &self.pads,
            self.auto_pad,
        )?;
        let (x, padding) = pad_asymmetric(x, &windows)?;
        let strides: Vec<usize> = windows.iter().map(|w| w.stride).collect();
        let dilations: Vec<usize> = windows.iter().map(|w| w.dilation).collect();
        let params = Conv2dParams {
            stride: pair(&strides),
            padding: if padding.len() == 1 {
                (0, padding[0])
            } else {
                pair(&padding)
            },
            dilation: pair(&dilations),
            groups: self.group.max(1),
        };
        let y = as_2d(&x)?.conv2d(&as_2d(w)?, &params)?;
        let y = if xs.len() == 3 {
            let s = y.shape().to_vec();
            y.reshape(&[s[0], s[1], s[3]])?
        } else {
            y
        };
        add_channel_bias(y, a.opt(2))
    }
}

impl ConvTranspose {
    pub(super) fn eval(&self, a: &Args<'_>) -> Result<Variable> {
        let (x, w) = (a.get(0)?, a.get(1)?);
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        if xs.len() != ws.len() || !(3..=4).contains(&xs.len()) {
            return Err(invalid(format!(
                "expected a 1-d or 2-d transposed convolution, got input {xs:?} and weight {ws:?}"
            )));
        }
        let n = xs.len() - 2;
        let group = self.group.max(1);
        let windows = windows(
            &xs[2..],
            &ws[2..],
            &self.strides,
            &self.dilations,
            &[],
            AutoPad::NotSet,
        )?;
        let extra = match self.output_padding.len() {
            0 => vec![0; n],
            l if l == n => self.output_padding.clone(),
            l => return Err(invalid(format!("output_padding has {l} entries"))),
        };
        // The full output (no cropping), then the crop each axis asks for.
        let full: Vec<usize> = (0..n)
            .map(|i| windows[i].stride * (xs[2 + i] - 1) + extra[i] + windows[i].extent())
            .collect();
        let crops: Vec<(usize, usize)> = if !self.output_shape.is_empty() {
            if self.output_shape.len() != n {
                return Err(invalid("output_shape must give every spatial axis".into()));
            }
            (0..n)
                .map(|i| {
                    let total = full[i].checked_sub(self.output_shape[i]).ok_or_else(|| {
                        invalid(format!("output_shape {:?} too large", self.output_shape))
                    })?;
                    Ok(if self.auto_pad == AutoPad::SameUpper {
                        (total / 2, total - total / 2)
                    } else {
                        (total - total / 2, total / 2)
                    })
                })
                .collect::<Result<_>>()?
        } else {
            match self.pads.len() {
                0 => vec![(0, 0); n],
                l if l == 2 * n => (0..n).map(|i| (self.pads[i], self.pads[n + i])).collect(),
                l => return Err(invalid(format!("pads has {l} entries"))),
            }
        };
        let out_channels = ws[1] * group;
        let params = Conv2dParams {
            stride: pair(&windows.iter().map(|w| w.stride).collect::<Vec<_>>()),
            padding: (0, 0),
            dilation: pair(&windows.iter().map(|w| w.dilation).collect::<Vec<_>>()),
            groups: group,
        };
        let full_2d = if n == 1 {
            vec![xs[0], out_channels, 1, full[0]]
        } else {
            vec![xs[0], out_channels, full[0], full[1]]
        };
        let mut y = as_2d(x)?.conv_transpose2d(&as_2d(w)?, &params, &full_2d)?;
        if n == 1 {
            y = y.reshape(&[xs[0], out_channels, full[0]])?;
        }
        for (i, &(begin, end)) in crops.iter().enumerate() {
            if begin + end > 0 {
                let len = full[i].checked_sub(begin + end).ok_or_else(|| {
                    invalid(format!("pads crop more than the output of {}", full[i]))
                })?;
                y = y.narrow(2 + i, begin, len)?;
            }
        }
        add_channel_bias(y, a.opt(2))
    }
}

impl Gemm {
    pub(super) fn eval(&self, a: &Args<'_>) -> Result<Variable> {
        let (mut x, mut w) = (a.get(0)?.clone(), a.get(1)?.clone());
        if x.shape().len() != 2 || w.shape().len() != 2 {
            return Err(invalid(format!(
                "Gemm needs 2-d operands, got {:?} and {:?}",
                x.shape(),
                w.shape()
            )));
        }
        if self.trans_a {
            x = x.transpose(0, 1)?;
        }
        if self.trans_b {
            w = w.transpose(0, 1)?;
        }
        let c = a.opt(2);
        if let Some(c) = c
            && self.alpha == 1.0
            && self.beta == 1.0
            && c.shape().len() == 1
        {
            // A bias row folds into the product (`addmm`: the rounds of the product alone).
            return Ok(c.addmm(&x, &w)?);
        }
        let y = x.matmul(&w)?;
        let y = if self.alpha == 1.0 {
            y
        } else {
            y.mul_scalar(self.alpha)?
        };
        match c {
            Some(c) if self.beta != 0.0 => {
                let c = if self.beta == 1.0 {
                    c.clone()
                } else {
                    c.mul_scalar(self.beta)?
                };
                Ok(y.add(&c)?)
            }
            _ => Ok(y),
        }
    }
}

/// Matrix product with numpy semantics: a 1-d operand gets a dimension for the product,
/// removed from the result.
pub(super) fn matmul(a: &Variable, b: &Variable) -> Result<Variable> {
    let (ra, rb) = (a.shape().len(), b.shape().len());
    if ra == 0 || rb == 0 {
        return Err(invalid("MatMul of a scalar".into()));
    }
    let a2 = if ra == 1 { a.unsqueeze(0)? } else { a.clone() };
    let b2 = if rb == 1 { b.unsqueeze(1)? } else { b.clone() };
    let mut y = a2.matmul(&b2)?;
    if rb == 1 {
        let last = y.shape().len() - 1;
        y = y.squeeze(last)?;
    }
    if ra == 1 {
        let at = y.shape().len() - if rb == 1 { 1 } else { 2 };
        y = y.squeeze(at)?;
    }
    Ok(y)
}

/// `one_hot [..., V] @ table [V, D]` to `[..., D]`.
pub(super) fn embedding(one_hot: &Variable, table: &Variable) -> Result<Variable> {
    let (s, t) = (one_hot.shape().to_vec(), table.shape().to_vec());
    let Some((&classes, ids)) = s.split_last() else {
        return Err(invalid("embedding of a scalar".into()));
    };
    if t.len() != 2 || t[0] != classes {
        return Err(invalid(format!(
            "one-hot ids over {classes} classes for a table of shape {t:?}"
        )));
    }
    let rows: usize = ids.iter().product();
    let y = one_hot.reshape(&[rows, classes])?.matmul(table)?;
    let mut out = ids.to_vec();
    out.push(t[1]);
    Ok(y.reshape(&out)?)
}
