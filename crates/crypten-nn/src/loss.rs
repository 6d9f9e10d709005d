//! Loss functions.

use crate::{Error, Result};
use crypten_mpc::Variable;

/// Mean squared error: `mean((prediction - target)^2)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MseLoss;

impl MseLoss {
    /// The loss as a 0-d variable.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn forward(&self, prediction: &Variable, target: &Variable) -> Result<Variable> {
        if prediction.shape() != target.shape() {
            return Err(Error::InputShape {
                layer: "MseLoss",
                expected: format!("target of shape {:?}", prediction.shape()),
                got: target.shape().to_vec(),
            });
        }
        Ok(prediction.sub(target)?.square()?.mean_all()?)
    }
}
