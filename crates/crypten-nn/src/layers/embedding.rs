//! `Embedding`: a table lookup done as a one-hot matrix product, since a lookup at a secret
//! index would reveal the index through the memory it touches.

use crate::{Error, Module, Parameter, Result};
use crypten_autograd::Variable;
use crypten_core::Prg;
use ndarray::{ArrayD, IxDyn};
use std::rc::Rc;

/// One-hot rows for `indices` over `classes` classes: shape `[indices.len(), classes]`. The
/// data owner builds it in plaintext, then encrypts it.
///
/// # Errors
/// `Config` when an index is out of range.
pub fn one_hot(indices: &[usize], classes: usize) -> Result<ArrayD<f64>> {
    let mut out = ArrayD::zeros(IxDyn(&[indices.len(), classes]));
    for (row, &i) in indices.iter().enumerate() {
        if i >= classes {
            return Err(Error::Config {
                what: "one_hot",
                reason: format!("index {i} with {classes} classes"),
            });
        }
        out[[row, i]] = 1.0;
    }
    Ok(out)
}

/// An embedding table `[vocabulary, dim]`, applied to one-hot inputs `[..., vocabulary]`.
pub struct Embedding {
    vocabulary: usize,
    weight: Rc<Parameter>,
}

impl Embedding {
    /// A table initialised with standard normal-like values (uniform with unit variance).
    ///
    /// # Errors
    /// `Config` for zero sizes.
    pub fn new(vocabulary: usize, dim: usize, prg: &mut Prg) -> Result<Self> {
        if vocabulary == 0 || dim == 0 {
            return Err(Error::Config {
                what: "Embedding",
                reason: format!("{vocabulary} x {dim}"),
            });
        }
        let bound = 3f64.sqrt();
        Ok(Self {
            vocabulary,
            weight: Parameter::new(crate::init::uniform(&[vocabulary, dim], bound, prg)),
        })
    }

    /// The table.
    pub fn weight(&self) -> &Rc<Parameter> {
        &self.weight
    }
}

impl Module for Embedding {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let shape = input.shape();
        if shape.len() < 2 || shape[shape.len() - 1] != self.vocabulary {
            return Err(Error::InputShape {
                layer: "Embedding",
                expected: format!("one-hot rows [..., {}]", self.vocabulary),
                got: shape.to_vec(),
            });
        }
        Ok(input.matmul(&self.weight.var())?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        vec![("weight".to_string(), Rc::clone(&self.weight))]
    }
}
