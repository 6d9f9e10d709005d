//! Imported models, their parameters, the losses and the optimizers.

use crate::convert::{Operand, err, nogil};
use crate::session::session;
use crate::tensor::PyTensor;
use crypten::Variable;
use crypten::autograd::Tensor;
use crypten::nn::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use crypten::nn::{
    BceLoss, BceWithLogitsLoss, CrossEntropyLoss, Graph, Module, MseLoss, Parameter, Target,
};
use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::cell::RefCell;
use std::rc::Rc;

/// A model imported from ONNX: every party loads the same architecture, and `encrypt(src)`
/// shares the weights of party `src`.
#[pyclass(unsendable, module = "crypten_rs._native", name = "Model")]
pub(crate) struct PyModel {
    pub(crate) graph: RefCell<Graph>,
    /// The file it came from, to write the trained weights back into.
    onnx: Vec<u8>,
}

#[pymethods]
impl PyModel {
    /// Imports an ONNX file's bytes.
    #[staticmethod]
    fn from_onnx(py: Python<'_>, bytes: Vec<u8>) -> PyResult<Self> {
        let graph = nogil(py, || {
            crypten::onnx::Model::from_bytes(&bytes)
                .and_then(crypten::onnx::Model::into_graph)
                .map_err(|e| e.to_string())
        })
        .map_err(err)?;
        Ok(Self {
            graph: RefCell::new(graph),
            onnx: bytes,
        })
    }

    /// Shares every weight from party `src`.
    fn encrypt(&self, py: Python<'_>, src: usize) -> PyResult<()> {
        let sess = session()?;
        let graph = self.graph.borrow();
        nogil(py, || graph.encrypt(&sess, src)).map_err(err)
    }

    /// Reveals every weight to every party.
    fn decrypt(&self, py: Python<'_>) -> PyResult<()> {
        let graph = self.graph.borrow();
        nogil(py, || graph.decrypt()).map_err(err)
    }

    /// The declared shape of the first input, `None` for a dimension of any size.
    #[getter]
    fn input_shape(&self) -> Vec<Option<usize>> {
        self.graph
            .borrow()
            .spec()
            .inputs
            .first()
            .map(|i| i.shape.clone())
            .unwrap_or_default()
    }

    #[getter]
    fn encrypted(&self) -> bool {
        self.graph
            .borrow()
            .parameters()
            .iter()
            .any(|p| p.is_encrypted())
    }

    fn set_training(&self, training: bool) {
        self.graph.borrow_mut().set_training(training);
    }

    fn forward(&self, py: Python<'_>, input: Operand<'_>) -> PyResult<PyTensor> {
        let x = input.variable();
        let graph = self.graph.borrow();
        nogil(py, || graph.forward(&x))
            .map(PyTensor::new)
            .map_err(err)
    }

    fn named_parameters(&self) -> Vec<(String, PyParameter)> {
        self.graph
            .borrow()
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, PyParameter { param: p }))
            .collect()
    }

    fn zero_grad(&self) {
        self.graph.borrow().zero_grad();
    }

    /// The trained model as ONNX bytes: the original file with its weights replaced. The
    /// weights must be public (`decrypt()` first).
    fn to_onnx<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let graph = self.graph.borrow();
        let mut weights = Vec::new();
        for (name, p) in graph.named_parameters() {
            match p.value() {
                Tensor::Plain(a) => weights.push((name, a)),
                Tensor::Encrypted(_) => {
                    return Err(err(format!(
                        "weight `{name}` is encrypted: call decrypt() before exporting"
                    )));
                }
            }
        }
        let bytes = crypten::onnx::with_weights(&self.onnx, &weights).map_err(err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(parameters={}, encrypted={})",
            self.graph.borrow().parameters().len(),
            self.encrypted()
        )
    }
}

/// A model's parameter: its current value and gradient (the optimizer replaces the value).
#[pyclass(unsendable, module = "crypten_rs._native", name = "Parameter")]
#[derive(Clone)]
pub(crate) struct PyParameter {
    pub(crate) param: Rc<Parameter>,
}

#[pymethods]
impl PyParameter {
    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.param.shape()
    }

    #[getter]
    fn encrypted(&self) -> bool {
        self.param.is_encrypted()
    }

    /// The current value, as a tensor outside the graph.
    fn value(&self) -> PyTensor {
        PyTensor::new(Variable::constant(self.param.value()))
    }

    fn grad(&self) -> Option<PyTensor> {
        self.param
            .grad()
            .map(|g| PyTensor::new(Variable::constant(g)))
    }

    fn zero_grad(&self) {
        self.param.zero_grad();
    }

    /// Replaces a public value (a model not encrypted yet).
    fn set_public<'py>(&self, value: PyReadonlyArrayDyn<'py, f64>) -> PyResult<()> {
        let value = value.as_array().to_owned();
        if value.shape() != self.param.shape().as_slice() {
            return Err(err(format!(
                "a value of shape {:?} for a parameter of shape {:?}",
                value.shape(),
                self.param.shape()
            )));
        }
        self.param.set(Tensor::from(value));
        Ok(())
    }
}

/// A loss by name: `cross_entropy` (targets one-hot, plaintext or encrypted, or public class
/// indices), `mse`, `bce`, `bce_with_logits`.
#[pyfunction]
#[pyo3(signature = (name, prediction, target, indices=None))]
fn loss(
    py: Python<'_>,
    name: &str,
    prediction: PyRef<'_, PyTensor>,
    target: Option<Operand<'_>>,
    indices: Option<Vec<usize>>,
) -> PyResult<PyTensor> {
    let z = prediction.var.clone();
    let y = target.map(|t| t.variable());
    let out = nogil(py, || -> Result<Variable, String> {
        let e = |e: crypten::nn::Error| e.to_string();
        if name == "cross_entropy" {
            let target = match (indices, y) {
                (Some(ids), _) => Target::Indices(ids),
                (None, Some(y)) => Target::OneHot(y),
                (None, None) => return Err("cross_entropy needs a target".into()),
            };
            return CrossEntropyLoss.forward(&z, &target).map_err(e);
        }
        let y = y.ok_or_else(|| format!("{name} needs a target"))?;
        match name {
            "mse" => MseLoss.forward(&z, &y).map_err(e),
            "bce" => BceLoss.forward(&z, &y).map_err(e),
            "bce_with_logits" => BceWithLogitsLoss.forward(&z, &y).map_err(e),
            other => Err(format!("no loss `{other}`")),
        }
    })
    .map_err(err)?;
    Ok(PyTensor::new(out))
}

enum Rule {
    Sgd(Sgd),
    Adam(Adam),
}

/// An optimizer over a fixed list of parameters.
#[pyclass(unsendable, module = "crypten_rs._native", name = "Optimizer")]
pub(crate) struct PyOptimizer {
    rule: Rule,
}

fn params(list: Vec<PyRef<'_, PyParameter>>) -> Vec<Rc<Parameter>> {
    list.iter().map(|p| Rc::clone(&p.param)).collect()
}

#[pymethods]
impl PyOptimizer {
    #[staticmethod]
    fn sgd(
        list: Vec<PyRef<'_, PyParameter>>,
        lr: f64,
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
    ) -> PyResult<Self> {
        let config = SgdConfig {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
        };
        let rule = Sgd::new(params(list), config).map_err(err)?;
        Ok(Self {
            rule: Rule::Sgd(rule),
        })
    }

    #[staticmethod]
    fn adam(
        list: Vec<PyRef<'_, PyParameter>>,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    ) -> PyResult<Self> {
        let config = AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        };
        let rule = Adam::new(params(list), config).map_err(err)?;
        Ok(Self {
            rule: Rule::Adam(rule),
        })
    }

    fn step(&mut self, py: Python<'_>) -> PyResult<()> {
        let rule = &mut self.rule;
        nogil(py, || match rule {
            Rule::Sgd(s) => s.step(),
            Rule::Adam(a) => a.step(),
        })
        .map_err(err)
    }

    fn zero_grad(&self) {
        match &self.rule {
            Rule::Sgd(s) => s.zero_grad(),
            Rule::Adam(a) => a.zero_grad(),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_class::<PyParameter>()?;
    m.add_class::<PyOptimizer>()?;
    m.add_function(wrap_pyfunction!(loss, m)?)?;
    Ok(())
}
