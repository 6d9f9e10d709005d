//! `CrypTensor` reductions that are local: sum and mean (max and argmax are in `max.rs`).

use crate::{CrypTensor, Result};

impl CrypTensor {
    /// Sum over `dims`.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn sum(&self, dims: &[usize], keepdim: bool) -> Result<Self> {
        self.map_share(|r| r.sum(dims, keepdim))
    }

    /// Mean over `dims`: a local sum times the public `1/count` (truncated).
    ///
    /// # Errors
    /// Invalid dimensions; truncation's communication failures.
    pub fn mean(&self, dims: &[usize], keepdim: bool) -> Result<Self> {
        let sum = self.sum(dims, keepdim)?;
        let count = (self.numel() / sum.numel().max(1)).max(1);
        sum.div_scalar(count as f64)
    }
}
