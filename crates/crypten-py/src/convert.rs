//! What crosses the boundary: errors, operands from Python, arrays back to numpy, and the GIL
//! released around every protocol step.

use crate::CryptenError;
use crate::tensor::PyTensor;
use crypten::Variable;
use crypten::autograd::Tensor;
use ndarray::ArrayD;
use numpy::{PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use send_wrapper::SendWrapper;

/// A crypten-rs error as a Python `CryptenError`, with the error's message.
pub(crate) fn err(e: impl std::fmt::Display) -> PyErr {
    CryptenError::new_err(e.to_string())
}

/// Runs `f` with the GIL released. The closure may hold this thread's autograd values (which
/// are not `Send`): it runs on this same thread, and the wrapper checks that it does.
pub(crate) fn nogil<T>(py: Python<'_>, f: impl FnOnce() -> T) -> T {
    let f = SendWrapper::new(f);
    py.detach(move || SendWrapper::new((f.take())())).take()
}

/// An operand of a tensor operation: an encrypted (or plaintext) tensor of this package, a
/// float64 numpy array (the Python side converts torch tensors, lists and other arrays), or a
/// number.
#[derive(FromPyObject)]
pub(crate) enum Operand<'py> {
    /// A tensor of this package.
    Tensor(PyRef<'py, PyTensor>),
    /// A public array.
    Array(PyReadonlyArrayDyn<'py, f64>),
    /// A public number.
    Scalar(f64),
}

impl Operand<'_> {
    /// The operand as an autograd value (public values are constants).
    pub(crate) fn variable(&self) -> Variable {
        match self {
            Self::Tensor(t) => t.var.clone(),
            Self::Array(a) => Variable::constant(Tensor::from(a.as_array().to_owned())),
            Self::Scalar(c) => Variable::constant(Tensor::from(ArrayD::from_elem(vec![], *c))),
        }
    }
}

/// A numpy array holding `array`.
pub(crate) fn to_numpy(py: Python<'_>, array: ArrayD<f64>) -> Bound<'_, PyArrayDyn<f64>> {
    PyArrayDyn::from_owned_array(py, array)
}
