//! `Linear`: `y = x W^T + b`.

use crate::{Error, Module, Parameter, Result, init};
use crypten_autograd::Variable;
use crypten_core::Prg;
use std::rc::Rc;

/// A fully connected layer: `y = x W^T + b` with `W` of shape `[out, in]` and `b` of `[out]`.
///
/// The forward pass is `b.addmm(x, W^T)`, which costs the rounds of the product alone for any
/// number of parties (see `CrypTensor::addmm`).
pub struct Linear {
    in_features: usize,
    weight: Rc<Parameter>,
    bias: Option<Rc<Parameter>>,
}

impl Linear {
    /// A layer initialised uniformly in `±1/sqrt(in_features)` from `prg`.
    ///
    /// # Errors
    /// `Config` when a size is zero.
    pub fn new(in_features: usize, out_features: usize, bias: bool, prg: &mut Prg) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::Config {
                what: "Linear",
                reason: format!("sizes {in_features} -> {out_features}"),
            });
        }
        let weight = Parameter::new(init::default_for_fan_in(
            &[out_features, in_features],
            in_features,
            prg,
        ));
        let bias = bias
            .then(|| Parameter::new(init::default_for_fan_in(&[out_features], in_features, prg)));
        Ok(Self {
            in_features,
            weight,
            bias,
        })
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Rc<Parameter> {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Rc<Parameter>> {
        self.bias.as_ref()
    }
}

impl Module for Linear {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let shape = input.shape();
        if shape.len() < 2 || shape[shape.len() - 1] != self.in_features {
            return Err(Error::InputShape {
                layer: "Linear",
                expected: format!("[..., {}]", self.in_features),
                got: shape.to_vec(),
            });
        }
        let wt = self.weight.var().transpose(0, 1)?;
        let Some(bias) = &self.bias else {
            return Ok(input.matmul(&wt)?);
        };
        Ok(bias.var().addmm(input, &wt)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        crate::parameter::weight_and_bias(&self.weight, self.bias.as_ref())
    }
}
