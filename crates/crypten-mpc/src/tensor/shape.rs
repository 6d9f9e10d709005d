//! `CrypTensor` shape operations: local rearrangements of each party's share.

use crate::{CrypTensor, Error, Result};
use crypten_core::RingTensor;

impl CrypTensor {
    /// Reshape (same number of elements).
    ///
    /// # Errors
    /// Element count mismatch.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        self.map_share(|r| r.reshape(shape))
    }

    /// Broadcast to `shape` (materialised).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn expand(&self, shape: &[usize]) -> Result<Self> {
        self.map_share(|r| r.expand(shape))
    }

    /// Sum over the dimensions that broadcasting added or stretched, so the result has
    /// `shape` (the adjoint of `expand`, used by autograd).
    ///
    /// # Errors
    /// `shape` does not broadcast to this tensor's shape.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        self.map_share(|r| r.sum_to_shape(shape))
    }

    /// Permute dimensions.
    ///
    /// # Errors
    /// Not a permutation of the dimensions.
    pub fn permute(&self, dims: &[usize]) -> Result<Self> {
        self.map_share(|r| r.permute(dims))
    }

    /// Swap two dimensions.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Self> {
        self.map_share(|r| r.transpose(d0, d1))
    }

    /// `len` elements of dimension `dim` from `start`.
    ///
    /// # Errors
    /// Out of range.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Self> {
        self.map_share(|r| r.narrow(dim, start, len))
    }

    /// Flatten dimensions `start..=end` into one.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Self> {
        self.map_share(|r| r.flatten(start, end))
    }

    /// Insert a dimension of size 1.
    ///
    /// # Errors
    /// Invalid dimension.
    pub fn unsqueeze(&self, dim: usize) -> Result<Self> {
        self.map_share(|r| r.unsqueeze(dim))
    }

    /// Remove dimension `dim` (or all) of size 1.
    ///
    /// # Errors
    /// Invalid dimension.
    pub fn squeeze(&self, dim: Option<usize>) -> Result<Self> {
        self.map_share(|r| r.squeeze(dim))
    }

    /// Select `indices` (public) along `dim`.
    ///
    /// # Errors
    /// Invalid dimension or index.
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> Result<Self> {
        self.map_share(|r| r.index_select(dim, indices))
    }

    /// Concatenate along `dim`.
    ///
    /// # Errors
    /// Shape mismatch, no tensors, or different sessions.
    pub fn cat(tensors: &[&CrypTensor], dim: usize) -> Result<Self> {
        let first = tensors.first().ok_or(Error::InvalidArgument {
            op: "cat",
            reason: "no tensors".into(),
        })?;
        for t in tensors {
            first.check(t, "cat")?;
        }
        first.join(tensors, |raws| Ok(RingTensor::cat(raws, dim)?))
    }

    /// Stack along a new dimension `dim`.
    ///
    /// # Errors
    /// Shape mismatch, no tensors, or different sessions.
    pub fn stack(tensors: &[&CrypTensor], dim: usize) -> Result<Self> {
        let first = tensors.first().ok_or(Error::InvalidArgument {
            op: "stack",
            reason: "no tensors".into(),
        })?;
        for t in tensors {
            first.check(t, "stack")?;
        }
        first.join(tensors, |raws| Ok(RingTensor::stack(raws, dim)?))
    }
}
