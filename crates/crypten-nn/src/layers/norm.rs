//! Normalisation layers: batch normalisation (1-d and 2-d, training and evaluation) and layer
//! normalisation, composed from differentiable operations (mean, square, inv_sqrt, products).

use crate::{Error, Module, Parameter, Result};
use crypten_autograd::no_grad;
use crypten_autograd::{Tensor, Variable};
use ndarray::{ArrayD, IxDyn};
use std::cell::RefCell;
use std::rc::Rc;

/// Batch normalisation over `[N, C]` (1-d) or `[N, C, H, W]` (2-d) inputs: per channel,
/// `(x - mean) / sqrt(var + eps) * gamma + beta`, with batch statistics in training (and
/// running averages updated with `momentum`) and the running averages in evaluation.
pub struct BatchNorm {
    channels: usize,
    spatial: bool,
    eps: f64,
    momentum: f64,
    training: bool,
    gamma: Rc<Parameter>,
    beta: Rc<Parameter>,
    running_mean: RefCell<Tensor>,
    running_var: RefCell<Tensor>,
}

impl BatchNorm {
    fn new(channels: usize, spatial: bool) -> Result<Self> {
        if channels == 0 {
            return Err(Error::Config {
                what: "BatchNorm",
                reason: "zero channels".into(),
            });
        }
        let ones = ArrayD::from_elem(IxDyn(&[channels]), 1.0);
        let zeros = ArrayD::zeros(IxDyn(&[channels]));
        Ok(Self {
            channels,
            spatial,
            eps: 1e-5,
            momentum: 0.1,
            training: true,
            gamma: Parameter::new(ones.clone()),
            beta: Parameter::new(zeros.clone()),
            running_mean: RefCell::new(Tensor::Plain(zeros)),
            running_var: RefCell::new(Tensor::Plain(ones)),
        })
    }

    /// Batch normalisation of `[N, C]` inputs.
    ///
    /// # Errors
    /// `Config` for zero channels.
    pub fn new_1d(channels: usize) -> Result<Self> {
        Self::new(channels, false)
    }

    /// Batch normalisation of `[N, C, H, W]` inputs.
    ///
    /// # Errors
    /// `Config` for zero channels.
    pub fn new_2d(channels: usize) -> Result<Self> {
        Self::new(channels, true)
    }

    /// The running mean and variance (plaintext until trained on encrypted data).
    pub fn running_stats(&self) -> (Tensor, Tensor) {
        (
            self.running_mean.borrow().clone(),
            self.running_var.borrow().clone(),
        )
    }

    fn channel_shape(&self) -> Vec<usize> {
        if self.spatial {
            vec![1, self.channels, 1, 1]
        } else {
            vec![1, self.channels]
        }
    }
}

impl Module for BatchNorm {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let shape = input.shape();
        let rank = if self.spatial { 4 } else { 2 };
        if shape.len() != rank || shape[1] != self.channels {
            let expected = if self.spatial {
                format!("[N, {}, H, W]", self.channels)
            } else {
                format!("[N, {}]", self.channels)
            };
            return Err(Error::InputShape {
                layer: "BatchNorm",
                expected,
                got: shape.to_vec(),
            });
        }
        let dims: Vec<usize> = if self.spatial { vec![0, 2, 3] } else { vec![0] };
        let cshape = self.channel_shape();
        let (centered, inv_std) = if self.training {
            let mean = input.mean(&dims, true)?;
            let centered = input.sub(&mean)?;
            let var = centered.square()?.mean(&dims, true)?;
            let inv_std = var.add_scalar(self.eps)?.inv_sqrt()?;
            let count: usize = dims.iter().map(|&d| shape[d]).product();
            no_grad(|| -> Result<()> {
                let m = self.momentum;
                let unbiased = count as f64 / (count.max(2) - 1) as f64;
                let batch_mean = mean.value().reshape(&[self.channels])?;
                let batch_var = var
                    .value()
                    .reshape(&[self.channels])?
                    .mul_scalar(unbiased)?;
                let rm = self
                    .running_mean
                    .borrow()
                    .mul_scalar(1.0 - m)?
                    .add(&batch_mean.mul_scalar(m)?)?;
                let rv = self
                    .running_var
                    .borrow()
                    .mul_scalar(1.0 - m)?
                    .add(&batch_var.mul_scalar(m)?)?;
                *self.running_mean.borrow_mut() = rm;
                *self.running_var.borrow_mut() = rv;
                Ok(())
            })?;
            (centered, inv_std)
        } else {
            let mean = Variable::constant(self.running_mean.borrow().reshape(&cshape)?);
            let var = self.running_var.borrow().reshape(&cshape)?;
            (
                input.sub(&mean)?,
                Variable::constant(var.add_scalar(self.eps)?.inv_sqrt()?),
            )
        };
        let gamma = self.gamma.var().reshape(&cshape)?;
        let beta = self.beta.var().reshape(&cshape)?;
        Ok(centered.mul(&inv_std)?.mul(&gamma)?.add_bias(&beta)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        vec![
            ("weight".into(), Rc::clone(&self.gamma)),
            ("bias".into(), Rc::clone(&self.beta)),
        ]
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

/// Layer normalisation over the last dimension of size `features`.
pub struct LayerNorm {
    features: usize,
    eps: f64,
    gamma: Rc<Parameter>,
    beta: Rc<Parameter>,
}

impl LayerNorm {
    /// Layer normalisation over a last dimension of `features`.
    ///
    /// # Errors
    /// `Config` for zero features.
    pub fn new(features: usize) -> Result<Self> {
        if features == 0 {
            return Err(Error::Config {
                what: "LayerNorm",
                reason: "zero features".into(),
            });
        }
        Ok(Self {
            features,
            eps: 1e-5,
            gamma: Parameter::new(ArrayD::from_elem(IxDyn(&[features]), 1.0)),
            beta: Parameter::new(ArrayD::zeros(IxDyn(&[features]))),
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let shape = input.shape();
        if shape.last() != Some(&self.features) {
            return Err(Error::InputShape {
                layer: "LayerNorm",
                expected: format!("[..., {}]", self.features),
                got: shape.to_vec(),
            });
        }
        let last = shape.len() - 1;
        let centered = input.sub(&input.mean(&[last], true)?)?;
        let inv_std = centered
            .square()?
            .mean(&[last], true)?
            .add_scalar(self.eps)?
            .inv_sqrt()?;
        Ok(centered
            .mul(&inv_std)?
            .mul(&self.gamma.var())?
            .add_bias(&self.beta.var())?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        vec![
            ("weight".into(), Rc::clone(&self.gamma)),
            ("bias".into(), Rc::clone(&self.beta)),
        ]
    }
}
