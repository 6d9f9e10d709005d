//! Activation layers: parameter-free wrappers of the differentiable functions.

use crate::{Module, Parameter, Result};
use crypten_autograd::Variable;
use std::rc::Rc;

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, $x: &Variable) -> Result<Variable> {
                Ok($body?)
            }

            fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
                Vec::new()
            }
        }
    };
}

activation!(
    /// `max(x, 0)`.
    ReLU, |x| x.relu()
);
activation!(
    /// The logistic function.
    Sigmoid, |x| x.sigmoid()
);
activation!(
    /// Hyperbolic tangent.
    Tanh, |x| x.tanh()
);
activation!(
    /// GELU with the exact (erf) normal CDF.
    Gelu, |x| x.gelu()
);

/// Softmax along a dimension.
#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    /// The dimension.
    pub dim: usize,
}

impl Module for Softmax {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        Ok(input.softmax(self.dim)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }
}

/// Log-softmax along a dimension.
#[derive(Clone, Copy, Debug)]
pub struct LogSoftmax {
    /// The dimension.
    pub dim: usize,
}

impl Module for LogSoftmax {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        Ok(input.log_softmax(self.dim)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }
}
