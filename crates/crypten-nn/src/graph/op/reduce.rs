//! Reductions over axes: sum, mean, maximum.

use super::{Args, axis_of};
use crate::Result;
use crypten_autograd::Variable;
use serde::{Deserialize, Serialize};

/// Reduction attributes. The axes come from input 1 when present (ReduceSum from opset 13,
/// the others from 18), else from `axes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reduce {
    /// Axes attribute (older opsets).
    pub axes: Option<Vec<i64>>,
    /// Keep reduced axes as size 1.
    pub keepdims: bool,
    /// Without axes, return the input unchanged rather than reducing every axis.
    pub noop_with_empty_axes: bool,
}

impl Reduce {
    /// The axes to reduce, sorted; `None` for no reduction at all.
    fn dims(&self, a: &Args<'_>, rank: usize) -> Result<Option<Vec<usize>>> {
        let axes = match a.ints(1)? {
            Some(v) => v,
            None => self.axes.clone().unwrap_or_default(),
        };
        if axes.is_empty() {
            return Ok((!self.noop_with_empty_axes).then(|| (0..rank).collect()));
        }
        let mut dims = axes
            .iter()
            .map(|&x| axis_of(x, rank))
            .collect::<Result<Vec<_>>>()?;
        dims.sort_unstable();
        dims.dedup();
        Ok(Some(dims))
    }

    pub(super) fn sum(&self, a: &Args<'_>) -> Result<Variable> {
        let x = a.get(0)?;
        match self.dims(a, x.shape().len())? {
            Some(d) => Ok(x.sum(&d, self.keepdims)?),
            None => Ok(x.clone()),
        }
    }

    pub(super) fn mean(&self, a: &Args<'_>) -> Result<Variable> {
        let x = a.get(0)?;
        match self.dims(a, x.shape().len())? {
            Some(d) => Ok(x.mean(&d, self.keepdims)?),
            None => Ok(x.clone()),
        }
    }

    /// One axis at a time, from the last, so that the remaining axes keep their numbers.
    pub(super) fn max(&self, a: &Args<'_>) -> Result<Variable> {
        let x = a.get(0)?;
        let Some(dims) = self.dims(a, x.shape().len())? else {
            return Ok(x.clone());
        };
        let mut y = x.clone();
        for &d in dims.iter().rev() {
            y = y.max(d, self.keepdims)?;
        }
        Ok(y)
    }
}
