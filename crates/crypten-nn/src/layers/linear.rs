//! `Linear`: `y = x W^T + b`.

use crate::{Error, Module, Parameter, Result, init};
use crypten_core::Prg;
use crypten_mpc::{Tensor, Variable};
use ndarray::{ArrayD, IxDyn};
use std::rc::Rc;

/// A fully connected layer: `y = x W^T + b` with `W` of shape `[out, in]` and `b` of `[out]`.
///
/// With 3+ parties and an encrypted operand the bias joins the product (`[x, 1] [W^T; b]`), so
/// the layer costs one round: a product's truncation is deferred to its next opening, and
/// adding a settled bias to a deferred product would settle it first. The output, bias
/// included, then has a product's range (`2^(62-2f)`), which the next layer needs anyway.
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

/// Whether products of these operands are deferred: some operand is encrypted in a session
/// of 3+ parties.
fn defers_products(operands: &[&Variable]) -> bool {
    operands.iter().any(|v| {
        v.value()
            .as_encrypted()
            .is_some_and(|c| c.session().parties() > 2)
    })
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
        let b = bias.var();
        if !defers_products(&[input, &wt, &b]) {
            return Ok(input.matmul(&wt)?.add(&b)?);
        }
        let last = shape.len() - 1;
        let mut ones_shape = shape.to_vec();
        ones_shape[last] = 1;
        let ones = Variable::constant(Tensor::Plain(ArrayD::ones(IxDyn(&ones_shape))));
        let x1 = Variable::cat(&[input, &ones], last)?;
        let wb = Variable::cat(&[&wt, &b.unsqueeze(0)?], 0)?;
        Ok(x1.matmul(&wb)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        crate::parameter::weight_and_bias(&self.weight, self.bias.as_ref())
    }
}
