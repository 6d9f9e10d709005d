//! The `Module` trait: what every layer and model implements.

use crate::{Parameter, Result};
use crypten_autograd::Variable;
use crypten_mpc::Session;
use std::rc::Rc;

/// A differentiable function with trainable parameters.
pub trait Module {
    /// Applies the module to `input`.
    ///
    /// # Errors
    /// Shape errors; protocol failures when encrypted.
    fn forward(&self, input: &Variable) -> Result<Variable>;

    /// The parameters with dotted names (`0.weight`, `fc.bias`, ...), in a fixed order.
    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)>;

    /// The parameters, in the order of `named_parameters`.
    fn parameters(&self) -> Vec<Rc<Parameter>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Switches between training and evaluation behaviour (dropout, batch norm).
    fn set_training(&mut self, _training: bool) {}

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Shares every parameter from party `src`, the model's owner. Every party calls it with a
    /// model of the same architecture; only `src`'s weights are read.
    ///
    /// # Errors
    /// Bad values at `src`; invalid `src`.
    fn encrypt(&self, sess: &Session, src: usize) -> Result<()> {
        for p in self.parameters() {
            p.encrypt(sess, src)?;
        }
        Ok(())
    }

    /// Reveals every parameter to all parties.
    ///
    /// # Errors
    /// Communication failures.
    fn decrypt(&self) -> Result<()> {
        for p in self.parameters() {
            p.decrypt()?;
        }
        Ok(())
    }
}
