//! The bilinear maps that Beaver triples are made for: elementwise product, matmul and
//! convolutions. Each is described by data (so a trusted third party can be asked for a triple
//! of the right shape) and evaluated on ring tensors.

use crate::{Error, Result};
use crypten_core::{Conv1dParams, Conv2dParams, RingTensor, broadcast_shapes};
use serde::{Deserialize, Serialize};

/// A bilinear map `op(x, y)` over ring tensors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Bilinear {
    /// Elementwise product with broadcasting.
    Mul,
    /// Matrix product with numpy/torch semantics (batched, broadcast).
    Matmul,
    /// 1-d convolution of an `[N, C, L]` input with an `[O, C/groups, K]` weight.
    Conv1d {
        /// Stride.
        stride: usize,
        /// Zero padding on both sides.
        padding: usize,
        /// Dilation.
        dilation: usize,
        /// Groups.
        groups: usize,
    },
    /// 2-d convolution of an `[N, C, H, W]` input with an `[O, C/groups, KH, KW]` weight.
    Conv2d {
        /// Stride (rows, columns).
        stride: (usize, usize),
        /// Zero padding (rows, columns).
        padding: (usize, usize),
        /// Dilation (rows, columns).
        dilation: (usize, usize),
        /// Groups.
        groups: usize,
    },
    /// The gradient of a 2-d convolution with respect to its input: `op(grad, weight)`, with
    /// `grad` shaped like the convolution's output and a result shaped `input_shape`.
    Conv2dInputGrad {
        /// The convolution's parameters.
        params: ConvParams,
        /// The convolution's input shape.
        input_shape: Vec<usize>,
    },
    /// The gradient of a 2-d convolution with respect to its weight: `op(input, grad)`, with a
    /// result shaped `weight_shape`.
    Conv2dWeightGrad {
        /// The convolution's parameters.
        params: ConvParams,
        /// The convolution's weight shape.
        weight_shape: Vec<usize>,
    },
}

/// 2-d convolution parameters as plain data (stride, padding, dilation, groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvParams {
    /// Stride (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding (rows, columns).
    pub padding: (usize, usize),
    /// Dilation (rows, columns).
    pub dilation: (usize, usize),
    /// Groups.
    pub groups: usize,
}

impl From<&Conv2dParams> for ConvParams {
    fn from(p: &Conv2dParams) -> Self {
        Self {
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: p.groups,
        }
    }
}

impl From<ConvParams> for Conv2dParams {
    fn from(p: ConvParams) -> Self {
        Self {
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: p.groups,
        }
    }
}

impl Bilinear {
    /// Builds the 1-d convolution map from its parameters.
    pub fn conv1d(p: &Conv1dParams) -> Self {
        Self::Conv1d {
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: p.groups,
        }
    }

    /// Builds the 2-d convolution map from its parameters.
    pub fn conv2d(p: &Conv2dParams) -> Self {
        Self::Conv2d {
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: p.groups,
        }
    }

    /// The operation's name, used as the tag of its messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mul => "mul",
            Self::Matmul => "matmul",
            Self::Conv1d { .. } => "conv1d",
            Self::Conv2d { .. } => "conv2d",
            Self::Conv2dInputGrad { .. } => "conv2d_input_grad",
            Self::Conv2dWeightGrad { .. } => "conv2d_weight_grad",
        }
    }

    fn conv1d_params(&self) -> Option<Conv1dParams> {
        match *self {
            Self::Conv1d {
                stride,
                padding,
                dilation,
                groups,
            } => Some(Conv1dParams {
                stride,
                padding,
                dilation,
                groups,
            }),
            _ => None,
        }
    }

    fn conv2d_params(&self) -> Option<Conv2dParams> {
        match *self {
            Self::Conv2d {
                stride,
                padding,
                dilation,
                groups,
            } => Some(Conv2dParams {
                stride,
                padding,
                dilation,
                groups,
            }),
            _ => None,
        }
    }

    /// Evaluates `op(x, y)` on ring tensors.
    ///
    /// # Errors
    /// Shape errors of the underlying ring operation.
    pub fn apply(&self, x: &RingTensor, y: &RingTensor) -> Result<RingTensor> {
        Ok(match self {
            Self::Mul => x.mul(y)?,
            Self::Matmul => x.matmul(y)?,
            Self::Conv1d { .. } => x.conv1d(y, &self.conv1d_params().expect("conv1d"))?,
            Self::Conv2d { .. } => x.conv2d(y, &self.conv2d_params().expect("conv2d"))?,
            Self::Conv2dInputGrad {
                params,
                input_shape,
            } => x.conv2d_input_grad(y, input_shape, &(*params).into())?,
            Self::Conv2dWeightGrad {
                params,
                weight_shape,
            } => x.conv2d_weight_grad(y, weight_shape, &(*params).into())?,
        })
    }

    /// The shape of `op(x, y)` without computing it.
    ///
    /// # Errors
    /// When the shapes do not fit the map.
    pub fn output_shape(&self, x: &[usize], y: &[usize]) -> Result<Vec<usize>> {
        match self {
            Self::Mul => Ok(broadcast_shapes(x, y)?),
            Self::Matmul => matmul_shape(x, y),
            Self::Conv1d { .. } => Ok(self.conv1d_params().expect("conv1d").output_shape(x, y)?),
            Self::Conv2d { .. } => Ok(self.conv2d_params().expect("conv2d").output_shape(x, y)?),
            Self::Conv2dInputGrad {
                params,
                input_shape,
            } => {
                let out = Conv2dParams::from(*params).output_shape(input_shape, y)?;
                if out != x {
                    return Err(Error::InvalidArgument {
                        op: "conv2d_input_grad",
                        reason: format!("gradient {x:?} for a convolution output {out:?}"),
                    });
                }
                Ok(input_shape.clone())
            }
            Self::Conv2dWeightGrad {
                params,
                weight_shape,
            } => {
                let out = Conv2dParams::from(*params).output_shape(x, weight_shape)?;
                if out != y {
                    return Err(Error::InvalidArgument {
                        op: "conv2d_weight_grad",
                        reason: format!("gradient {y:?} for a convolution output {out:?}"),
                    });
                }
                Ok(weight_shape.clone())
            }
        }
    }
}

/// The result shape of a numpy-style matmul.
fn matmul_shape(x: &[usize], y: &[usize]) -> Result<Vec<usize>> {
    let mismatch = || Error::InvalidArgument {
        op: "matmul",
        reason: format!("shapes {x:?} and {y:?} cannot be multiplied"),
    };
    if x.is_empty() || y.is_empty() {
        return Err(mismatch());
    }
    let xs: Vec<usize> = if x.len() == 1 {
        vec![1, x[0]]
    } else {
        x.to_vec()
    };
    let ys: Vec<usize> = if y.len() == 1 {
        vec![y[0], 1]
    } else {
        y.to_vec()
    };
    let (m, k1) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let (k2, n) = (ys[ys.len() - 2], ys[ys.len() - 1]);
    if k1 != k2 {
        return Err(mismatch());
    }
    let batch =
        broadcast_shapes(&xs[..xs.len() - 2], &ys[..ys.len() - 2]).map_err(|_| mismatch())?;
    let mut out = batch;
    if x.len() > 1 {
        out.push(m);
    }
    if y.len() > 1 {
        out.push(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_shapes_follow_numpy() {
        assert_eq!(matmul_shape(&[3], &[3]).unwrap(), Vec::<usize>::new());
        assert_eq!(matmul_shape(&[2, 3], &[3]).unwrap(), vec![2]);
        assert_eq!(matmul_shape(&[3], &[3, 4]).unwrap(), vec![4]);
        assert_eq!(
            matmul_shape(&[5, 1, 2, 3], &[4, 3, 7]).unwrap(),
            vec![5, 4, 2, 7]
        );
        assert!(matmul_shape(&[2, 3], &[4, 5]).is_err());
    }
}
