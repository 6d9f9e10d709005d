//! `_native.Tensor`: one party's handle on an encrypted (or public) tensor in the autograd
//! graph. The Python class `crypten_rs.CrypTensor` wraps it with CrypTen's operators and
//! conversions; dimensions arrive here already normalised (non-negative).

use crate::convert::{Operand, err, nogil, to_numpy};
use crate::session::session;
use crypten::autograd::{NoGradGuard, Tensor};
use crypten::nn::state::{load_tensor_shares, save_tensor_shares};
use crypten::{Conv2dParams, CrypTensor, Variable};
use numpy::{PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use std::path::PathBuf;

/// The name of the one tensor a saved share file holds.
const SHARE_NAME: &str = "share";

/// An encrypted (or public) tensor of one party, with its place in the autograd graph.
#[pyclass(unsendable, module = "crypten_rs._native", name = "Tensor")]
pub(crate) struct PyTensor {
    pub(crate) var: Variable,
}

impl PyTensor {
    pub(crate) fn new(var: Variable) -> Self {
        Self { var }
    }

    /// The value as a `CrypTensor`: a public value is shared as a public constant.
    pub(crate) fn encrypted(&self) -> PyResult<CrypTensor> {
        match self.var.value() {
            Tensor::Encrypted(c) => Ok(c.clone()),
            Tensor::Plain(a) => CrypTensor::from_public(&session()?, a).map_err(err),
        }
    }
}

fn wrap(r: crypten::autograd::Result<Variable>) -> PyResult<PyTensor> {
    r.map(PyTensor::new).map_err(err)
}

fn constant(c: crypten::Result<CrypTensor>) -> PyResult<PyTensor> {
    c.map(|c| PyTensor::new(Variable::constant(c))).map_err(err)
}

/// A pooling window's kernel, stride and padding, each one or two numbers.
type Window = ((usize, usize), (usize, usize), (usize, usize));

fn window(kernel: Vec<usize>, stride: Vec<usize>, padding: Vec<usize>) -> PyResult<Window> {
    Ok((
        pair(kernel, "kernel_size")?,
        pair(stride, "stride")?,
        pair(padding, "padding")?,
    ))
}

fn pair(v: Vec<usize>, what: &str) -> PyResult<(usize, usize)> {
    match v[..] {
        [a] => Ok((a, a)),
        [a, b] => Ok((a, b)),
        _ => Err(err(format!("{what} takes one or two numbers, got {v:?}"))),
    }
}

#[pymethods]
impl PyTensor {
    /// Shares `array` from party `src`; the other parties pass `None` and the shape.
    #[staticmethod]
    #[pyo3(signature = (array, shape, src, requires_grad=false))]
    fn encrypt(
        py: Python<'_>,
        array: Option<PyReadonlyArrayDyn<'_, f64>>,
        shape: Vec<usize>,
        src: usize,
        requires_grad: bool,
    ) -> PyResult<Self> {
        let sess = session()?;
        let array = match array {
            Some(a) if sess.rank() == src => a.as_array().to_owned(),
            _ => ndarray::ArrayD::zeros(shape),
        };
        let c = nogil(py, || CrypTensor::from_array(&sess, &array, src)).map_err(err)?;
        Ok(Self::new(Variable::leaf(c, requires_grad)))
    }

    /// A public value in the graph (no gradient).
    #[staticmethod]
    fn public(array: PyReadonlyArrayDyn<'_, f64>) -> Self {
        Self::new(Variable::constant(Tensor::from(
            array.as_array().to_owned(),
        )))
    }

    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.var.shape().to_vec()
    }

    #[getter]
    fn is_encrypted(&self) -> bool {
        self.var.value().is_encrypted()
    }

    #[getter]
    fn requires_grad(&self) -> bool {
        self.var.requires_grad()
    }

    /// A leaf with the same value that does (or does not) take gradients.
    fn with_requires_grad(&self, flag: bool) -> Self {
        Self::new(Variable::leaf(self.var.value().clone(), flag))
    }

    /// The accumulated gradient of a leaf, if any.
    fn grad(&self) -> Option<Self> {
        self.var.grad().map(|g| Self::new(Variable::constant(g)))
    }

    fn zero_grad(&self) {
        self.var.zero_grad();
    }

    fn detach(&self) -> Self {
        Self::new(self.var.detach())
    }

    /// Back-propagates from this (scalar) value, or from `grad` for another shape.
    #[pyo3(signature = (grad=None))]
    fn backward(&self, py: Python<'_>, grad: Option<Operand<'_>>) -> PyResult<()> {
        let seed = grad.map(|g| g.variable().value().clone());
        nogil(py, || match seed {
            Some(s) => self.var.backward_with(s),
            None => self.var.backward(),
        })
        .map_err(err)
    }

    /// The value, revealed to every party (`dst` None) or to party `dst` only (`None`
    /// elsewhere).
    #[pyo3(signature = (dst=None))]
    fn reveal<'py>(
        &self,
        py: Python<'py>,
        dst: Option<usize>,
    ) -> PyResult<Option<Bound<'py, PyArrayDyn<f64>>>> {
        let value = self.var.value();
        let out = nogil(py, || match (value, dst) {
            (Tensor::Plain(a), None) => Ok(Some(a.clone())),
            (Tensor::Plain(a), Some(d)) => {
                let sess = session().map_err(|e| e.to_string())?;
                Ok((sess.rank() == d).then(|| a.clone()))
            }
            (Tensor::Encrypted(c), None) => c.get_plain_text().map(Some).map_err(|e| e.to_string()),
            (Tensor::Encrypted(c), Some(d)) => c.reveal_to(d).map_err(|e| e.to_string()),
        })
        .map_err(err)?;
        Ok(out.map(|a| to_numpy(py, a)))
    }

    fn add(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || match other {
            Operand::Scalar(c) => self.var.add_scalar(c),
            _ => self.var.add(&o),
        }))
    }

    fn sub(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || match other {
            Operand::Scalar(c) => self.var.add_scalar(-c),
            _ => self.var.sub(&o),
        }))
    }

    /// `other - self`.
    fn rsub(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || match other {
            Operand::Scalar(c) => self.var.neg().add_scalar(c),
            _ => o.sub(&self.var),
        }))
    }

    fn mul(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || match other {
            Operand::Scalar(c) => self.var.mul_scalar(c),
            _ => self.var.mul(&o),
        }))
    }

    /// `self / other`: a public divisor is a product with its reciprocal; an encrypted one
    /// goes through the encrypted reciprocal (its documented range applies).
    fn div(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        match other {
            Operand::Scalar(c) => {
                if c == 0.0 || !c.is_finite() {
                    return Err(err(format!("division by {c}")));
                }
                wrap(nogil(py, || self.var.mul_scalar(1.0 / c)))
            }
            Operand::Array(a) => {
                let a = a.as_array();
                if a.iter().any(|&v| v == 0.0 || !v.is_finite()) {
                    return Err(err(
                        "division by a public array holding 0 or a non-finite value",
                    ));
                }
                let inv = Variable::constant(Tensor::from(a.mapv(|v| 1.0 / v)));
                wrap(nogil(py, || self.var.mul(&inv)))
            }
            Operand::Tensor(t) => {
                let o = t.var.clone();
                wrap(nogil(py, || self.var.mul(&o.reciprocal()?)))
            }
        }
    }

    /// `other / self`.
    fn rdiv(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || o.mul(&self.var.reciprocal()?)))
    }

    fn matmul(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || self.var.matmul(&o)))
    }

    /// `other @ self`.
    fn rmatmul(&self, py: Python<'_>, other: Operand<'_>) -> PyResult<Self> {
        let o = other.variable();
        wrap(nogil(py, || o.matmul(&self.var)))
    }

    fn neg(&self) -> Self {
        Self::new(self.var.neg())
    }

    /// An element-wise function by name (differentiable except `sign`).
    fn unary(&self, py: Python<'_>, name: &str) -> PyResult<Self> {
        let v = &self.var;
        if name == "sign" {
            let c = self.encrypted()?;
            return constant(nogil(py, || c.sign()));
        }
        wrap(nogil(py, || match name {
            "relu" => v.relu(),
            "sigmoid" => v.sigmoid(),
            "tanh" => v.tanh(),
            "exp" => v.exp(),
            "log" => v.log(),
            "sqrt" => v.sqrt(),
            "rsqrt" => v.inv_sqrt(),
            "reciprocal" => v.reciprocal(),
            "square" => v.square(),
            "abs" => v.abs(),
            "erf" => v.erf(),
            "gelu" => v.gelu(),
            other => Err(crypten::autograd::Error::InvalidArgument {
                op: "unary",
                reason: format!("no function `{other}`"),
            }),
        }))
    }

    fn softmax(&self, py: Python<'_>, dim: usize) -> PyResult<Self> {
        wrap(nogil(py, || self.var.softmax(dim)))
    }

    fn log_softmax(&self, py: Python<'_>, dim: usize) -> PyResult<Self> {
        wrap(nogil(py, || self.var.log_softmax(dim)))
    }

    /// A comparison (`lt`, `le`, `gt`, `ge`, `eq`, `ne`) as encrypted 0/1; no gradient.
    fn compare(&self, py: Python<'_>, op: &str, other: Operand<'_>) -> PyResult<Self> {
        let x = self.encrypted()?;
        let unknown = || crypten::Error::InvalidArgument {
            op: "compare",
            reason: format!("no comparison `{op}`"),
        };
        let y = match other {
            Operand::Scalar(c) => {
                return constant(nogil(py, || match op {
                    "lt" => x.lt_scalar(c),
                    "le" => x.le_scalar(c),
                    "gt" => x.gt_scalar(c),
                    "ge" => x.ge_scalar(c),
                    "eq" => x.eq_scalar(c),
                    "ne" => x.ne_scalar(c),
                    _ => Err(unknown()),
                }));
            }
            Operand::Tensor(t) => t.encrypted()?,
            Operand::Array(a) => {
                CrypTensor::from_public(&session()?, &a.as_array().to_owned()).map_err(err)?
            }
        };
        constant(nogil(py, || match op {
            "lt" => x.lt(&y),
            "le" => x.le(&y),
            "gt" => x.gt(&y),
            "ge" => x.ge(&y),
            "eq" => x.eq(&y),
            "ne" => x.ne(&y),
            _ => Err(unknown()),
        }))
    }

    /// `cond * self + (1 - cond) * other` for an encrypted or public 0/1 `cond`.
    fn where_(&self, py: Python<'_>, cond: Operand<'_>, other: Operand<'_>) -> PyResult<Self> {
        let c = cond.variable();
        let o = other.variable();
        wrap(nogil(py, || {
            let diff = self.var.sub(&o)?;
            o.add(&c.mul(&diff)?)
        }))
    }

    #[pyo3(signature = (dims, keepdim=false))]
    fn sum(&self, py: Python<'_>, dims: Vec<usize>, keepdim: bool) -> PyResult<Self> {
        wrap(nogil(py, || self.var.sum(&dims, keepdim)))
    }

    #[pyo3(signature = (dims, keepdim=false))]
    fn mean(&self, py: Python<'_>, dims: Vec<usize>, keepdim: bool) -> PyResult<Self> {
        wrap(nogil(py, || self.var.mean(&dims, keepdim)))
    }

    /// The maximum along `dim` (differentiable).
    #[pyo3(signature = (dim, keepdim=false))]
    fn max(&self, py: Python<'_>, dim: usize, keepdim: bool) -> PyResult<Self> {
        wrap(nogil(py, || self.var.max(dim, keepdim)))
    }

    /// The maximum along `dim` (differentiable) and its position, one-hot, from one tournament.
    #[pyo3(signature = (dim, keepdim=false))]
    fn max_argmax(&self, py: Python<'_>, dim: usize, keepdim: bool) -> PyResult<(Self, Self)> {
        let (values, onehot) = nogil(py, || -> crypten::autograd::Result<_> {
            let mask = Variable::constant(self.var.value().argmax_onehot(dim)?);
            Ok((self.var.mul(&mask)?.sum(&[dim], keepdim)?, mask))
        })
        .map_err(err)?;
        Ok((Self::new(values), Self::new(onehot)))
    }

    /// The minimum along `dim` (differentiable).
    #[pyo3(signature = (dim, keepdim=false))]
    fn min(&self, py: Python<'_>, dim: usize, keepdim: bool) -> PyResult<Self> {
        wrap(nogil(py, || Ok(self.var.neg().max(dim, keepdim)?.neg())))
    }

    /// The position of the maximum (`min` = false) or minimum along `dim`, one-hot.
    #[pyo3(signature = (dim, min=false))]
    fn argmax(&self, py: Python<'_>, dim: usize, min: bool) -> PyResult<Self> {
        let x = self.encrypted()?;
        constant(nogil(py, || {
            if min {
                x.argmin(dim, true)
            } else {
                x.argmax(dim, true)
            }
        }))
    }

    fn reshape(&self, shape: Vec<usize>) -> PyResult<Self> {
        wrap(self.var.reshape(&shape))
    }

    fn transpose(&self, d0: usize, d1: usize) -> PyResult<Self> {
        wrap(self.var.transpose(d0, d1))
    }

    fn permute(&self, dims: Vec<usize>) -> PyResult<Self> {
        wrap(self.var.permute(&dims))
    }

    fn flatten(&self, start: usize, end: usize) -> PyResult<Self> {
        wrap(self.var.flatten(start, end))
    }

    fn unsqueeze(&self, dim: usize) -> PyResult<Self> {
        wrap(self.var.unsqueeze(dim))
    }

    fn squeeze(&self, dim: usize) -> PyResult<Self> {
        wrap(self.var.squeeze(dim))
    }

    fn narrow(&self, dim: usize, start: usize, length: usize) -> PyResult<Self> {
        wrap(self.var.narrow(dim, start, length))
    }

    fn index_select(&self, dim: usize, indices: Vec<usize>) -> PyResult<Self> {
        wrap(self.var.index_select(dim, &indices))
    }

    /// The tensors joined along `dim`.
    #[staticmethod]
    fn cat(tensors: Vec<PyRef<'_, PyTensor>>, dim: usize) -> PyResult<Self> {
        let vars: Vec<&Variable> = tensors.iter().map(|t| &t.var).collect();
        wrap(Variable::cat(&vars, dim))
    }

    /// A 2-d convolution of `[N, C, H, W]` by `weight` `[O, C/groups, kh, kw]`, plus `bias`.
    #[pyo3(signature = (weight, bias, stride, padding, dilation, groups))]
    #[allow(clippy::too_many_arguments)]
    fn conv2d(
        &self,
        py: Python<'_>,
        weight: Operand<'_>,
        bias: Option<Operand<'_>>,
        stride: Vec<usize>,
        padding: Vec<usize>,
        dilation: Vec<usize>,
        groups: usize,
    ) -> PyResult<Self> {
        let p = Conv2dParams {
            stride: pair(stride, "stride")?,
            padding: pair(padding, "padding")?,
            dilation: pair(dilation, "dilation")?,
            groups,
        };
        let w = weight.variable();
        let b = bias.map(|b| b.variable());
        wrap(nogil(py, || {
            let out = self.var.conv2d(&w, &p)?;
            match b {
                Some(b) => {
                    let channels = b.shape().iter().product();
                    out.add_bias(&b.reshape(&[1, channels, 1, 1])?)
                }
                None => Ok(out),
            }
        }))
    }

    fn max_pool2d(
        &self,
        py: Python<'_>,
        kernel: Vec<usize>,
        stride: Vec<usize>,
        padding: Vec<usize>,
    ) -> PyResult<Self> {
        let (kernel, stride, padding) = window(kernel, stride, padding)?;
        if padding != (0, 0) {
            // The encrypted kernel pads; the differentiable one does not.
            let x = self.encrypted()?;
            return constant(nogil(py, || x.max_pool2d(kernel, stride, padding)));
        }
        wrap(nogil(py, || self.var.max_pool2d(kernel, stride)))
    }

    fn avg_pool2d(
        &self,
        py: Python<'_>,
        kernel: Vec<usize>,
        stride: Vec<usize>,
        padding: Vec<usize>,
    ) -> PyResult<Self> {
        let (kernel, stride, padding) = window(kernel, stride, padding)?;
        wrap(nogil(py, || self.var.avg_pool2d(kernel, stride, padding)))
    }

    fn adaptive_avg_pool2d(&self, py: Python<'_>, output: Vec<usize>) -> PyResult<Self> {
        let out = pair(output, "output_size")?;
        wrap(nogil(py, || self.var.adaptive_avg_pool2d(out)))
    }

    /// Writes this party's share to `path` (each party its own file).
    fn save_share(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let sess = session()?;
        let c = self.encrypted()?;
        nogil(py, || {
            save_tensor_shares(&[(SHARE_NAME.to_string(), c)], &sess, &path)
        })
        .map_err(err)
    }

    /// Reads this party's share written by `save_share`.
    #[staticmethod]
    fn load_share(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let sess = session()?;
        let mut loaded = nogil(py, || load_tensor_shares(&sess, &path)).map_err(err)?;
        match (loaded.pop(), loaded.is_empty()) {
            (Some((name, c)), true) if name == SHARE_NAME => Ok(Self::new(Variable::constant(c))),
            _ => Err(err(format!(
                "{} does not hold one tensor's share (saved by crypten_rs.save)",
                path.display()
            ))),
        }
    }

    fn __repr__(&self) -> String {
        // Never the values: a share printed is a share leaked.
        format!(
            "CrypTensor(shape={:?}, encrypted={}, requires_grad={})",
            self.var.shape(),
            self.var.value().is_encrypted(),
            self.var.requires_grad()
        )
    }
}

/// Stops recording the autograd graph while held (`with crypten_rs.no_grad():`).
#[pyclass(unsendable, module = "crypten_rs._native")]
pub(crate) struct NoGrad {
    guard: Option<NoGradGuard>,
}

#[pymethods]
impl NoGrad {
    #[new]
    fn new() -> Self {
        Self { guard: None }
    }

    fn __enter__(&mut self) {
        self.guard = Some(NoGradGuard::new());
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.guard = None;
        false
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTensor>()?;
    m.add_class::<NoGrad>()?;
    Ok(())
}
