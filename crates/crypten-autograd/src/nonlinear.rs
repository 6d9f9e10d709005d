//! Differentiable non-linear operations: each computes its value on plaintext or encrypted
//! tensors and keeps what its gradient needs (a mask, an output), so the backward pass costs
//! at most one product per operation.

use crate::Result;
use crate::{Tensor, Variable};

impl Tensor {
    /// `max(x, 0)` and its derivative mask `[x >= 0]`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn relu_with_mask(&self) -> Result<(Tensor, Tensor)> {
        Ok(match self {
            Tensor::Plain(a) => (
                Tensor::Plain(a.mapv(|v| v.max(0.0))),
                Tensor::Plain(a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 })),
            ),
            Tensor::Encrypted(c) => {
                let (y, mask) = c.relu_with_mask()?;
                (Tensor::Encrypted(y), Tensor::Encrypted(mask))
            }
        })
    }
}

impl Variable {
    /// `max(x, 0)`; the gradient passes where `x >= 0`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn relu(&self) -> Result<Variable> {
        if !(crate::variable::is_grad_enabled() && self.requires_grad()) {
            // No gradient will flow back: the value alone (the mask is a pass over the data).
            let value = match self.value() {
                Tensor::Plain(a) => Tensor::Plain(a.mapv(|v| v.max(0.0))),
                Tensor::Encrypted(c) => Tensor::Encrypted(c.relu()?),
            };
            return Ok(Variable::constant(value));
        }
        let (value, mask) = self.value().relu_with_mask()?;
        Ok(Variable::from_op(
            value,
            "relu",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.mul(&mask)?)])),
        ))
    }
}
