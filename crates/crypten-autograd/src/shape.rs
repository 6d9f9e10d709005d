//! Differentiable shape and indexing operations: permute, narrow, cat, index_select,
//! unsqueeze, squeeze and flatten. All are local (no communication) in both directions.

use crate::{Error, Result};
use crate::{Tensor, Variable};
use crypten_mpc::CrypTensor;
use ndarray::{ArrayD, Axis, IxDyn, Slice};

fn invalid(op: &'static str, reason: String) -> Error {
    Error::InvalidArgument { op, reason }
}

impl Tensor {
    /// Permute dimensions.
    ///
    /// # Errors
    /// `dims` is not a permutation of the dimensions.
    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        Ok(match self {
            Tensor::Plain(a) => {
                let mut seen = vec![false; a.ndim()];
                if dims.len() != a.ndim()
                    || dims
                        .iter()
                        .any(|&d| d >= a.ndim() || std::mem::replace(&mut seen[d], true))
                {
                    return Err(invalid(
                        "permute",
                        format!("{dims:?} for shape {:?}", a.shape()),
                    ));
                }
                Tensor::Plain(
                    a.view()
                        .permuted_axes(IxDyn(dims))
                        .as_standard_layout()
                        .into_owned(),
                )
            }
            Tensor::Encrypted(c) => Tensor::Encrypted(c.permute(dims)?),
        })
    }

    /// `len` entries of dimension `dim` from `start`.
    ///
    /// # Errors
    /// Out of range.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Tensor> {
        Ok(match self {
            Tensor::Plain(a) => {
                if dim >= a.ndim() || start + len > a.shape()[dim] {
                    return Err(invalid(
                        "narrow",
                        format!("dim {dim}, {start}+{len} of {:?}", a.shape()),
                    ));
                }
                Tensor::Plain(
                    a.slice_axis(Axis(dim), Slice::from(start..start + len))
                        .to_owned(),
                )
            }
            Tensor::Encrypted(c) => Tensor::Encrypted(c.narrow(dim, start, len)?),
        })
    }

    /// Select `indices` along `dim`.
    ///
    /// # Errors
    /// Invalid dimension or index.
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> Result<Tensor> {
        Ok(match self {
            Tensor::Plain(a) => {
                if dim >= a.ndim() || indices.iter().any(|&i| i >= a.shape()[dim]) {
                    return Err(invalid(
                        "index_select",
                        format!("dim {dim}, indices {indices:?} of {:?}", a.shape()),
                    ));
                }
                Tensor::Plain(a.select(Axis(dim), indices))
            }
            Tensor::Encrypted(c) => Tensor::Encrypted(c.index_select(dim, indices)?),
        })
    }

    /// Concatenate along `dim`; plaintext parts join encrypted ones as public values.
    ///
    /// # Errors
    /// No tensors; shapes that do not fit; different sessions.
    pub fn cat(parts: &[&Tensor], dim: usize) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| invalid("cat", "no tensors".into()))?;
        if let Some(sess) = parts
            .iter()
            .find_map(|t| t.as_encrypted())
            .map(|c| c.session().clone())
        {
            let encrypted = parts
                .iter()
                .map(|t| match t {
                    Tensor::Encrypted(c) => Ok(c.clone()),
                    Tensor::Plain(a) => CrypTensor::from_public(&sess, a),
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Tensor::Encrypted(CrypTensor::cat(
                &encrypted.iter().collect::<Vec<_>>(),
                dim,
            )?));
        }
        let views: Vec<_> = parts
            .iter()
            .filter_map(|t| {
                if let Tensor::Plain(a) = t {
                    Some(a.view())
                } else {
                    None
                }
            })
            .collect();
        if dim >= first.shape().len() {
            return Err(invalid("cat", format!("dim {dim} of {:?}", first.shape())));
        }
        Ok(Tensor::Plain(
            ndarray::concatenate(Axis(dim), &views).map_err(|e| invalid("cat", e.to_string()))?,
        ))
    }
}

impl Variable {
    /// Permute dimensions; the gradient is permuted back.
    ///
    /// # Errors
    /// Not a permutation.
    pub fn permute(&self, dims: &[usize]) -> Result<Variable> {
        let value = self.value().permute(dims)?;
        let mut inverse = vec![0; dims.len()];
        for (i, &d) in dims.iter().enumerate() {
            inverse[d] = i;
        }
        Ok(Variable::from_op(
            value,
            "permute",
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(g.permute(&inverse)?)])),
        ))
    }

    /// `len` entries of `dim` from `start`; the gradient is zero outside them.
    ///
    /// # Errors
    /// Out of range.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Variable> {
        let value = self.value().narrow(dim, start, len)?;
        let shape = self.shape().to_vec();
        Ok(Variable::from_op(
            value,
            "narrow",
            vec![self.clone()],
            Box::new(move |g| {
                let zeros = |n: usize| {
                    let mut s = shape.clone();
                    s[dim] = n;
                    Tensor::Plain(ArrayD::zeros(IxDyn(&s)))
                };
                let (before, after) = (zeros(start), zeros(shape[dim] - start - len));
                Ok(vec![Some(Tensor::cat(&[&before, g, &after], dim)?)])
            }),
        ))
    }

    /// Concatenate along `dim`; each part's gradient is its slice of the output's.
    ///
    /// # Errors
    /// No variables; shapes that do not fit.
    pub fn cat(parts: &[&Variable], dim: usize) -> Result<Variable> {
        let values: Vec<&Tensor> = parts.iter().map(|v| v.value()).collect();
        let value = Tensor::cat(&values, dim)?;
        let sizes: Vec<usize> = parts.iter().map(|v| v.shape()[dim]).collect();
        Ok(Variable::from_op(
            value,
            "cat",
            parts.iter().map(|&v| v.clone()).collect(),
            Box::new(move |g| {
                let mut offset = 0;
                sizes
                    .iter()
                    .map(|&n| {
                        let part = g.narrow(dim, offset, n)?;
                        offset += n;
                        Ok(Some(part))
                    })
                    .collect()
            }),
        ))
    }

    /// Select public `indices` along `dim`; the gradient adds each selected entry's gradient
    /// back to its source (a product with the public selection matrix).
    ///
    /// # Errors
    /// Invalid dimension or index.
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> Result<Variable> {
        let value = self.value().index_select(dim, indices)?;
        let (n, rank) = (self.shape()[dim], self.shape().len());
        let selection = ArrayD::from_shape_fn(IxDyn(&[indices.len(), n]), |ix| {
            if indices[ix[0]] == ix[1] { 1.0 } else { 0.0 }
        });
        Ok(Variable::from_op(
            value,
            "index_select",
            vec![self.clone()],
            Box::new(move |g| {
                // Move `dim` last, multiply by the selection matrix, move it back.
                let mut order: Vec<usize> = (0..rank).filter(|&d| d != dim).collect();
                order.push(dim);
                let mut back = vec![0; rank];
                for (i, &d) in order.iter().enumerate() {
                    back[d] = i;
                }
                let moved = g.permute(&order)?;
                let summed = moved.matmul(&Tensor::Plain(selection.clone()))?;
                Ok(vec![Some(summed.permute(&back)?)])
            }),
        ))
    }

    /// Insert a dimension of size 1 at `dim`.
    ///
    /// # Errors
    /// Invalid dimension.
    pub fn unsqueeze(&self, dim: usize) -> Result<Variable> {
        let mut shape = self.shape().to_vec();
        if dim > shape.len() {
            return Err(invalid("unsqueeze", format!("dim {dim} of {shape:?}")));
        }
        shape.insert(dim, 1);
        self.reshape(&shape)
    }

    /// Remove dimension `dim`, which must have size 1.
    ///
    /// # Errors
    /// Invalid dimension or a size other than 1.
    pub fn squeeze(&self, dim: usize) -> Result<Variable> {
        let mut shape = self.shape().to_vec();
        if shape.get(dim) != Some(&1) {
            return Err(invalid("squeeze", format!("dim {dim} of {shape:?}")));
        }
        shape.remove(dim);
        self.reshape(&shape)
    }

    /// Flatten dimensions `start..=end` into one.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Variable> {
        let shape = self.shape();
        if start > end || end >= shape.len() {
            return Err(invalid(
                "flatten",
                format!("dims {start}..={end} of {shape:?}"),
            ));
        }
        let mut out = shape[..start].to_vec();
        out.push(shape[start..=end].iter().product());
        out.extend_from_slice(&shape[end + 1..]);
        self.reshape(&out)
    }
}
