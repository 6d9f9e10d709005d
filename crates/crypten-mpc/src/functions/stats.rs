//! Norms, variance, standard deviation and layer normalisation: reductions (free), products
//! and the square root / inverse square root of `sqrt`.

use crate::{CrypTensor, Error, Result};

/// Which norm [`CrypTensor::norm`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormOrd {
    /// `sum |x|` (one comparison and one product for `|x|`).
    L1,
    /// `sqrt(sum x^2)` (one square round, then `sqrt`).
    L2,
}

impl CrypTensor {
    /// The `ord` norm over `dims`.
    ///
    /// Domain: a sum of squares (L2) within `sqrt`'s domain `[0, 2^(f+4))`. Error: `sqrt`'s
    /// (L2) or a unit of the last place per element (L1).
    ///
    /// # Errors
    /// Invalid dimensions; provider or communication failures.
    pub fn norm(&self, ord: NormOrd, dims: &[usize], keepdim: bool) -> Result<CrypTensor> {
        match ord {
            NormOrd::L1 => self.abs()?.sum(dims, keepdim),
            NormOrd::L2 => self.square()?.sum(dims, keepdim)?.sqrt(),
        }
    }

    /// Variance over `dims`: `sum (x - mean)^2 / (N - 1)` when `unbiased`, else `/ N`.
    ///
    /// Error: a few units of the last place times `N`-relative rounding. Rounds: one (the
    /// square), plus one where a deferred value must be settled first.
    ///
    /// # Errors
    /// Invalid dimensions, or `unbiased` with a single element; provider or communication
    /// failures.
    pub fn var(&self, dims: &[usize], keepdim: bool, unbiased: bool) -> Result<CrypTensor> {
        let mean = self.mean(dims, true)?;
        let count = self.numel() / mean.numel().max(1);
        let denom = if unbiased {
            count.saturating_sub(1)
        } else {
            count
        };
        if denom == 0 {
            return Err(Error::InvalidArgument {
                op: "var",
                reason: format!("{count} element(s) per reduction"),
            });
        }
        self.sub(&mean)?
            .square()?
            .sum(dims, keepdim)?
            .div_scalar(denom as f64)
    }

    /// Standard deviation: `sqrt` of [`CrypTensor::var`].
    ///
    /// # Errors
    /// As `var` and `sqrt`.
    pub fn std(&self, dims: &[usize], keepdim: bool, unbiased: bool) -> Result<CrypTensor> {
        self.var(dims, keepdim, unbiased)?.sqrt()
    }

    /// Layer normalisation over the last `normalized_dims` dimensions:
    /// `(x - mean) / sqrt(var + eps) * weight + bias` (biased variance, as in PyTorch), with
    /// optional encrypted `weight` and `bias` shaped like the normalised dimensions.
    ///
    /// Error: `inv_sqrt`'s relative error on `var + eps` (which must lie in its domain) times
    /// the normalised values. Rounds, for any number of parties: 20
    /// without a weight (the mean, the square, `inv_sqrt`'s 15, the normalising product, and
    /// settling the deferred statistics); 15 under local truncation.
    ///
    /// # Errors
    /// `InvalidArgument` for `normalized_dims` of 0 or more than the tensor's dimensions, or a
    /// non-positive `eps`; shape mismatches; provider or communication failures.
    pub fn layer_norm(
        &self,
        normalized_dims: usize,
        weight: Option<&CrypTensor>,
        bias: Option<&CrypTensor>,
        eps: f64,
    ) -> Result<CrypTensor> {
        let ndim = self.shape().len();
        if normalized_dims == 0 || normalized_dims > ndim || !(eps > 0.0 && eps.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "layer_norm",
                reason: format!(
                    "normalising {normalized_dims} of {ndim} dimensions with eps {eps}"
                ),
            });
        }
        let dims: Vec<usize> = (ndim - normalized_dims..ndim).collect();
        let centred = self.sub(&self.mean(&dims, true)?)?;
        let var = centred.square()?.mean(&dims, true)?;
        let inv = var.add_scalar(eps)?.inv_sqrt()?;
        let mut y = centred.mul(&inv)?;
        if let Some(w) = weight {
            y = y.mul(w)?;
        }
        if let Some(b) = bias {
            y = y.add(b)?;
        }
        Ok(y)
    }
}
