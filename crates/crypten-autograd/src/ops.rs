//! Differentiable operations on `Variable`s and their gradient rules.
//!
//! Gradients of broadcast operands are summed back to the operand's shape; products keep
//! whichever operands are encrypted encrypted, so a gradient is encrypted exactly when it
//! depends on an encrypted value.

use crate::Result;
use crate::{Tensor, Variable};
use crypten_core::Conv2dParams;
use crypten_mpc::{Bilinear, ConvParams};

impl Variable {
    /// `self + other` (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn add(&self, other: &Variable) -> Result<Variable> {
        self.sum_node(other, self.value().add(other.value())?)
    }

    /// The graph node of a sum `value` of `self` and `other` (broadcasting): each gets the
    /// gradient summed down to its shape.
    fn sum_node(&self, other: &Variable, value: Tensor) -> Result<Variable> {
        let (sa, sb) = (self.shape().to_vec(), other.shape().to_vec());
        Ok(Variable::from_op(
            value,
            "add",
            vec![self.clone(), other.clone()],
            Box::new(move |g| Ok(vec![Some(g.sum_to_shape(&sa)?), Some(g.sum_to_shape(&sb)?)])),
        ))
    }

    /// `self + bias` for a layer's bias added to a product's result (see
    /// [`Tensor::add_bias`]): the gradients of [`Self::add`].
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn add_bias(&self, bias: &Variable) -> Result<Variable> {
        self.sum_node(bias, self.value().add_bias(bias.value())?)
    }

    /// `self - other` (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn sub(&self, other: &Variable) -> Result<Variable> {
        let value = self.value().sub(other.value())?;
        let (sa, sb) = (self.shape().to_vec(), other.shape().to_vec());
        Ok(Variable::from_op(
            value,
            "sub",
            vec![self.clone(), other.clone()],
            Box::new(move |g| {
                Ok(vec![
                    Some(g.sum_to_shape(&sa)?),
                    Some(g.neg().sum_to_shape(&sb)?),
                ])
            }),
        ))
    }

    /// `-self`.
    pub fn neg(&self) -> Variable {
        Variable::from_op(
            self.value().neg(),
            "neg",
            vec![self.clone()],
            Box::new(|g| Ok(vec![Some(g.neg())])),
        )
    }

    /// `self * other` elementwise (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn mul(&self, other: &Variable) -> Result<Variable> {
        let value = self.value().mul(other.value())?;
        let (a, b) = (self.clone(), other.clone());
        let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
        // The operands' values are read through their variables (no copy of the shares).
        let (va, vb) = (a.clone(), b.clone());
        Ok(Variable::from_op(
            value,
            "mul",
            vec![a, b],
            Box::new(move |g| {
                let ga = if need_a {
                    Some(g.mul(vb.value())?.sum_to_shape(va.shape())?)
                } else {
                    None
                };
                let gb = if need_b {
                    Some(g.mul(va.value())?.sum_to_shape(vb.shape())?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            }),
        ))
    }

    /// `self * c` for a public scalar.
    ///
    /// # Errors
    /// Encoding errors; protocol failures.
    pub fn mul_scalar(&self, c: f64) -> Result<Variable> {
        let value = self.value().mul_scalar(c)?;
        Ok(Variable::from_op(
            value,
            "mul_scalar",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.mul_scalar(c)?)])),
        ))
    }

    /// `self + c` for a public scalar.
    ///
    /// # Errors
    /// Encoding errors.
    pub fn add_scalar(&self, c: f64) -> Result<Variable> {
        let value = self.value().add_scalar(c)?;
        Ok(Variable::from_op(
            value,
            "add_scalar",
            vec![self.clone()],
            Box::new(|g| Ok(vec![Some(g.clone())])),
        ))
    }

    /// `self * self`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn square(&self) -> Result<Variable> {
        let value = match self.value() {
            Tensor::Encrypted(c) => Tensor::Encrypted(c.square()?),
            plain => plain.mul(plain)?,
        };
        let x = self.clone();
        Ok(Variable::from_op(
            value,
            "square",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.mul(x.value())?.mul_scalar(2.0)?)])),
        ))
    }

    /// Matrix product (operands of at least 2 dimensions; batch dimensions broadcast).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn matmul(&self, other: &Variable) -> Result<Variable> {
        let value = self.value().matmul(other.value())?;
        let (a, b) = (self.clone(), other.clone());
        let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
        let (va, vb) = (a.clone(), b.clone());
        Ok(Variable::from_op(
            value,
            "matmul",
            vec![a, b],
            Box::new(move |g| {
                let (va, vb) = (va.value(), vb.value());
                let last = |t: &Tensor| t.shape().len() - 1;
                let ga = if need_a {
                    let bt = vb.transpose(last(vb) - 1, last(vb))?;
                    Some(g.matmul(&bt)?.sum_to_shape(va.shape())?)
                } else {
                    None
                };
                let gb = if need_b {
                    let at = va.transpose(last(va) - 1, last(va))?;
                    Some(at.matmul(g)?.sum_to_shape(vb.shape())?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            }),
        ))
    }

    /// `self + mat1 @ mat2` (PyTorch's `addmm`, `self` a bias broadcast over the rows): what a
    /// linear layer computes, in the rounds of the matmul alone (see [`Tensor::addmm`]).
    /// Gradients: `g` summed to the bias's shape, `g @ mat2^T` and `mat1^T @ g`.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn addmm(&self, mat1: &Variable, mat2: &Variable) -> Result<Variable> {
        if mat1.shape().len() < 2 || mat2.shape().len() != 2 {
            return Err(crate::Error::InvalidArgument {
                op: "addmm",
                reason: format!(
                    "needs a matrix (or a batch of them) and a matrix, got {:?} and {:?}",
                    mat1.shape(),
                    mat2.shape()
                ),
            });
        }
        let value = self.value().addmm(mat1.value(), mat2.value())?;
        let (bias, x, w) = (self.clone(), mat1.clone(), mat2.clone());
        let needs = [bias.requires_grad(), x.requires_grad(), w.requires_grad()];
        let (bias_shape, vx, vw) = (bias.shape().to_vec(), x.clone(), w.clone());
        Ok(Variable::from_op(
            value,
            "addmm",
            vec![bias, x, w],
            Box::new(move |g| {
                let (vx, vw) = (vx.value(), vw.value());
                let gb = if needs[0] {
                    Some(g.sum_to_shape(&bias_shape)?)
                } else {
                    None
                };
                let gx = if needs[1] {
                    Some(g.matmul(&vw.transpose(0, 1)?)?.sum_to_shape(vx.shape())?)
                } else {
                    None
                };
                let gw = if needs[2] {
                    let last = vx.shape().len() - 1;
                    let xt = vx.transpose(last - 1, last)?;
                    Some(xt.matmul(g)?.sum_to_shape(vw.shape())?)
                } else {
                    None
                };
                Ok(vec![gb, gx, gw])
            }),
        ))
    }

    /// 2-d convolution of `self` (`[N, C, H, W]`) with `weight` (`[O, C/groups, KH, KW]`).
    /// Its gradients are the transposed convolution (input) and the correlation of the input
    /// with the output gradient (weight), each one bilinear product.
    ///
    /// # Errors
    /// Shape or parameter errors; protocol failures.
    pub fn conv2d(&self, weight: &Variable, p: &Conv2dParams) -> Result<Variable> {
        let params = ConvParams::from(p);
        let value = self
            .value()
            .bilinear(weight.value(), &Bilinear::conv2d(p))?;
        let (x, w) = (self.clone(), weight.clone());
        let (need_x, need_w) = (x.requires_grad(), w.requires_grad());
        let (vx, vw) = (x.clone(), w.clone());
        Ok(Variable::from_op(
            value,
            "conv2d",
            vec![x, w],
            Box::new(move |g| {
                let (vx, vw) = (vx.value(), vw.value());
                let gx = if need_x {
                    let op = Bilinear::Conv2dInputGrad {
                        params,
                        input_shape: vx.shape().to_vec(),
                    };
                    Some(g.bilinear(vw, &op)?)
                } else {
                    None
                };
                let gw = if need_w {
                    let op = Bilinear::Conv2dWeightGrad {
                        params,
                        weight_shape: vw.shape().to_vec(),
                    };
                    Some(vx.bilinear(g, &op)?)
                } else {
                    None
                };
                Ok(vec![gx, gw])
            }),
        ))
    }

    /// 2-d transposed convolution of `self` (`[N, I, H, W]`) with `weight`
    /// (`[I, O/groups, KH, KW]`), producing `output_shape` (`[N, O, H', W']`): the gradient of
    /// the convolution with parameters `p` with respect to its input, which is how it is
    /// computed (one bilinear product). Its gradients are that convolution (input) and the
    /// correlation of the output gradient with the input (weight).
    ///
    /// # Errors
    /// Shape or parameter errors; protocol failures.
    pub fn conv_transpose2d(
        &self,
        weight: &Variable,
        p: &Conv2dParams,
        output_shape: &[usize],
    ) -> Result<Variable> {
        let params = ConvParams::from(p);
        let op = Bilinear::Conv2dInputGrad {
            params,
            input_shape: output_shape.to_vec(),
        };
        let value = self.value().bilinear(weight.value(), &op)?;
        let (x, w) = (self.clone(), weight.clone());
        let (need_x, need_w) = (x.requires_grad(), w.requires_grad());
        let (vx, vw) = (x.clone(), w.clone());
        let conv = Bilinear::conv2d(p);
        Ok(Variable::from_op(
            value,
            "conv_transpose2d",
            vec![x, w],
            Box::new(move |g| {
                let (vx, vw) = (vx.value(), vw.value());
                let gx = if need_x {
                    Some(g.bilinear(vw, &conv)?)
                } else {
                    None
                };
                let gw = if need_w {
                    let op = Bilinear::Conv2dWeightGrad {
                        params,
                        weight_shape: vw.shape().to_vec(),
                    };
                    Some(g.bilinear(vx, &op)?)
                } else {
                    None
                };
                Ok(vec![gx, gw])
            }),
        ))
    }

    /// 1-d convolution of `self` (`[N, C, L]`) with `weight` (`[O, C/groups, K]`), as the 2-d
    /// convolution of height 1 (same gradients, same costs).
    ///
    /// # Errors
    /// Shape or parameter errors; protocol failures.
    pub fn conv1d(&self, weight: &Variable, p: &crypten_core::Conv1dParams) -> Result<Variable> {
        let (xs, ws) = (self.shape().to_vec(), weight.shape().to_vec());
        if xs.len() != 3 || ws.len() != 3 {
            return Err(crate::Error::InvalidArgument {
                op: "conv1d",
                reason: format!("expected [N, C, L] and [O, C/groups, K], got {xs:?} and {ws:?}"),
            });
        }
        let p2 = Conv2dParams {
            stride: (1, p.stride),
            padding: (0, p.padding),
            dilation: (1, p.dilation),
            groups: p.groups,
        };
        let y = self
            .reshape(&[xs[0], xs[1], 1, xs[2]])?
            .conv2d(&weight.reshape(&[ws[0], ws[1], 1, ws[2]])?, &p2)?;
        let (n, o, l) = (y.shape()[0], y.shape()[1], y.shape()[3]);
        y.reshape(&[n, o, l])
    }

    /// Maximum along `dim` (first maximum on ties); the gradient flows to the maximum's
    /// position through a one-hot mask.
    ///
    /// # Errors
    /// Invalid dimension; protocol failures.
    pub fn max(&self, dim: usize, keepdim: bool) -> Result<Variable> {
        let mask = Variable::constant(self.value().argmax_onehot(dim)?);
        self.mul(&mask)?.sum(&[dim], keepdim)
    }

    /// Sum over `dims`.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn sum(&self, dims: &[usize], keepdim: bool) -> Result<Variable> {
        let value = self.value().sum(dims, keepdim)?;
        let shape = self.shape().to_vec();
        let mut kept = shape.clone();
        for &d in dims {
            kept[d] = 1;
        }
        Ok(Variable::from_op(
            value,
            "sum",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.reshape(&kept)?.expand(&shape)?)])),
        ))
    }

    /// Sum of all elements, as a 0-d variable.
    ///
    /// # Errors
    /// Protocol failures (none for a sum).
    pub fn sum_all(&self) -> Result<Variable> {
        let dims: Vec<usize> = (0..self.shape().len()).collect();
        self.sum(&dims, false)
    }

    /// Mean over `dims`.
    ///
    /// # Errors
    /// Invalid dimensions; protocol failures.
    pub fn mean(&self, dims: &[usize], keepdim: bool) -> Result<Variable> {
        let count: usize = dims
            .iter()
            .map(|&d| self.shape().get(d).copied().unwrap_or(1))
            .product();
        self.sum(dims, keepdim)?
            .mul_scalar(1.0 / count.max(1) as f64)
    }

    /// Mean of all elements, as a 0-d variable.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn mean_all(&self) -> Result<Variable> {
        let dims: Vec<usize> = (0..self.shape().len()).collect();
        self.mean(&dims, false)
    }

    /// Reshape.
    ///
    /// # Errors
    /// Element count mismatch.
    pub fn reshape(&self, shape: &[usize]) -> Result<Variable> {
        let value = self.value().reshape(shape)?;
        let original = self.shape().to_vec();
        Ok(Variable::from_op(
            value,
            "reshape",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.reshape(&original)?)])),
        ))
    }

    /// Swap two dimensions.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Variable> {
        let value = self.value().transpose(d0, d1)?;
        Ok(Variable::from_op(
            value,
            "transpose",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.transpose(d0, d1)?)])),
        ))
    }
}
