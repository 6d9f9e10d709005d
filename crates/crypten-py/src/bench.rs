//! The same computations timed without Python between the repetitions, in the same party
//! processes, with `crypten bench`'s method (`crypten_bench::measure`): what the Python front
//! end's cost is measured against (`bench/bench_python.py`).

use crate::convert::{err, nogil};
use crate::model::PyModel;
use crate::session::session;
use crate::tensor::PyTensor;
use crypten::Variable;
use crypten::nn::optim::{Sgd, SgdConfig};
use crypten::nn::{CrossEntropyLoss, Module, Target};
use pyo3::prelude::*;

/// (slowest party's median seconds, bytes sent per party, rounds)
type Figures = (f64, u64, u64);

/// Waits for every party (one round), as `crypten bench` does before each repetition.
#[pyfunction]
fn barrier(py: Python<'_>) -> PyResult<()> {
    let sess = session()?;
    nogil(py, || crypten_bench::barrier(&sess)).map_err(err)
}

/// `op` (`mul`: `x * y`; `relu`: `relu(x)`) on the encrypted tensors, `reps` times after a
/// warm-up; every party calls it.
#[pyfunction]
fn measure_op(
    py: Python<'_>,
    op: &str,
    x: PyRef<'_, PyTensor>,
    y: PyRef<'_, PyTensor>,
    reps: usize,
) -> PyResult<Figures> {
    let sess = session()?;
    let (x, y) = (x.encrypted()?, y.encrypted()?);
    let m = nogil(py, || match op {
        "mul" => crypten_bench::measure(&sess, reps, || x.mul(&y)),
        "relu" => crypten_bench::measure(&sess, reps, || x.relu()),
        other => Err(crypten_bench::Error::UnknownOp(other.to_string())),
    })
    .map_err(err)?;
    Ok((m.seconds, m.bytes_per_party, m.rounds))
}

/// A training step of `model` (forward, cross-entropy against one-hot `labels`, backward, SGD
/// at `lr`), `reps` times after a warm-up; every party calls it.
#[pyfunction]
fn measure_train_step(
    py: Python<'_>,
    model: PyRef<'_, PyModel>,
    x: PyRef<'_, PyTensor>,
    labels: PyRef<'_, PyTensor>,
    lr: f64,
    reps: usize,
) -> PyResult<Figures> {
    let sess = session()?;
    let graph = model.graph.borrow();
    let (x, labels) = (x.var.clone(), labels.var.clone());
    let config = SgdConfig {
        lr,
        ..SgdConfig::default()
    };
    let mut sgd = Sgd::new(graph.parameters(), config).map_err(err)?;
    let m = nogil(py, || {
        crypten_bench::measure(&sess, reps, || {
            let mut step = || -> crypten::nn::Result<Variable> {
                sgd.zero_grad();
                let loss = CrossEntropyLoss
                    .forward(&graph.forward(&x)?, &Target::OneHot(labels.clone()))?;
                loss.backward()?;
                sgd.step()?;
                Ok(loss)
            };
            step().map_err(|e| crypten::Error::Config(e.to_string()))
        })
    })
    .map_err(err)?;
    Ok((m.seconds, m.bytes_per_party, m.rounds))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(barrier, m)?)?;
    m.add_function(wrap_pyfunction!(measure_op, m)?)?;
    m.add_function(wrap_pyfunction!(measure_train_step, m)?)?;
    Ok(())
}
