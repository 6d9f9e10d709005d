//! `Dropout`: zeroes each element with probability `p` in training and scales the rest by
//! `1/(1-p)`. On encrypted inputs the mask is sampled jointly (every party's randomness
//! enters every bit), so no party can predict or learn which elements were dropped.

use crate::{Error, Module, Parameter, Result};
use crypten_autograd::{Tensor, Variable};
use crypten_core::Prg;
use crypten_mpc::CrypTensor;
use ndarray::{ArrayD, IxDyn};
use std::cell::RefCell;
use std::rc::Rc;

/// Dropout with probability `p`; the identity in evaluation mode.
pub struct Dropout {
    p: f64,
    training: bool,
    /// Randomness for plaintext masks (encrypted masks are sampled jointly in MPC).
    prg: RefCell<Prg>,
}

impl Dropout {
    /// Dropout with probability `p` in [0, 1); plaintext masks come from `prg`.
    ///
    /// # Errors
    /// `Config` for `p` outside [0, 1).
    pub fn new(p: f64, prg: Prg) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config {
                what: "Dropout",
                reason: format!("p = {p} is not in [0, 1)"),
            });
        }
        Ok(Self {
            p,
            training: true,
            prg: RefCell::new(prg),
        })
    }
}

impl Module for Dropout {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        if !self.training || self.p == 0.0 {
            return Ok(input.clone());
        }
        let keep = 1.0 - self.p;
        let mask = match input.value() {
            Tensor::Plain(a) => {
                let mut prg = self.prg.borrow_mut();
                Tensor::Plain(ArrayD::from_shape_simple_fn(a.raw_dim(), || {
                    if prg.uniform_f64() < keep { 1.0 } else { 0.0 }
                }))
            }
            Tensor::Encrypted(c) => {
                let probabilities = ArrayD::from_elem(IxDyn(c.shape()), keep);
                Tensor::Encrypted(
                    CrypTensor::from_public(c.session(), &probabilities)?.bernoulli()?,
                )
            }
        };
        Ok(input
            .mul(&Variable::constant(mask))?
            .mul_scalar(1.0 / keep)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
