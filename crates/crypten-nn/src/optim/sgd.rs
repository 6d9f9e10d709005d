//! Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum.

use crate::{Error, Parameter, Result};
use crypten_autograd::Tensor;
use crypten_autograd::no_grad;
use std::rc::Rc;

/// SGD settings (PyTorch's meaning and defaults).
#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 disables momentum).
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// The SGD optimizer over a fixed list of parameters.
pub struct Sgd {
    config: SgdConfig,
    params: Vec<Rc<Parameter>>,
    velocity: Vec<Option<Tensor>>,
}

impl Sgd {
    /// An optimizer for `params`.
    ///
    /// # Errors
    /// `Config` for a non-positive or non-finite learning rate, negative factors, or Nesterov
    /// without momentum or with dampening.
    pub fn new(params: Vec<Rc<Parameter>>, config: SgdConfig) -> Result<Self> {
        let bad = |reason: &str| {
            Err(Error::Config {
                what: "SGD",
                reason: reason.into(),
            })
        };
        if !(config.lr.is_finite() && config.lr > 0.0) {
            return bad("lr must be positive and finite");
        }
        if config.momentum < 0.0 || config.weight_decay < 0.0 || config.dampening < 0.0 {
            return bad("momentum, dampening and weight_decay must be non-negative");
        }
        if config.nesterov && (config.momentum <= 0.0 || config.dampening != 0.0) {
            return bad("Nesterov momentum requires momentum > 0 and zero dampening");
        }
        let velocity = params.iter().map(|_| None).collect();
        Ok(Self {
            config,
            params,
            velocity,
        })
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&self) {
        for p in &self.params {
            p.zero_grad();
        }
    }

    /// One update: `p -= lr * d` with `d` the (decayed, momentum-averaged) gradient.
    /// Parameters without a gradient are skipped.
    ///
    /// # Errors
    /// Protocol failures on encrypted parameters.
    pub fn step(&mut self) -> Result<()> {
        let c = self.config;
        no_grad(|| {
            // Finish the protocols' pending work on each kind of value for every parameter at
            // once (one round each), not parameter by parameter.
            let grads: Vec<Option<Tensor>> = self.params.iter().map(|p| p.grad()).collect();
            Tensor::settle_all(grads.iter().flatten())?;
            let mut updates = Vec::with_capacity(self.params.len());
            for ((p, velocity), grad) in self.params.iter().zip(&mut self.velocity).zip(grads) {
                let Some(mut d) = grad else { continue };
                let value = p.value();
                if c.weight_decay != 0.0 {
                    d = d.add(&value.mul_scalar(c.weight_decay)?)?;
                }
                if c.momentum != 0.0 {
                    let v = match velocity.take() {
                        None => d.clone(),
                        Some(v) => v
                            .mul_scalar(c.momentum)?
                            .add(&d.mul_scalar(1.0 - c.dampening)?)?,
                    };
                    d = if c.nesterov {
                        d.add(&v.mul_scalar(c.momentum)?)?
                    } else {
                        v.clone()
                    };
                    *velocity = Some(v);
                }
                updates.push((p, value, d));
            }
            Tensor::settle_all(updates.iter().map(|(_, _, d)| d))?;
            let steps = updates
                .iter()
                .map(|(_, _, d)| d.mul_scalar(c.lr))
                .collect::<crypten_mpc::Result<Vec<_>>>()?;
            Tensor::settle_all(steps.iter())?;
            for ((p, value, _), step) in updates.into_iter().zip(steps) {
                p.set(value.sub(&step)?);
            }
            Ok(())
        })
    }
}
