//! The native half of the Python package `crypten_rs`: the session, encrypted tensors, imported
//! models, losses and optimizers of crypten-rs, exposed to Python through pyo3.
//!
//! The Python half (`python/crypten_rs`) gives them CrypTen's names and semantics: operators,
//! conversions from numpy arrays and torch tensors, `run_multiprocess`. Every protocol step
//! runs with the GIL released ([`nogil`]), so other Python threads keep running while a party
//! waits on the network.
//!
//! Tensors, models and optimizers are per thread, like the autograd graph they hold: their
//! classes are `unsendable`, and a use from another thread raises an error.

mod bench;
mod convert;
mod model;
mod session;
mod tensor;

use pyo3::prelude::*;

// The protocols allocate and free large buffers at every step; the system allocator returns
// each to the kernel and faults it back in (relu on 1e5 elements took twice the time).
// Python's own objects keep Python's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pyo3::create_exception!(
    _native,
    CryptenError,
    pyo3::exceptions::PyRuntimeError,
    "An error of crypten-rs: bad input, a protocol failure or a party that failed."
);

/// The module `crypten_rs._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CryptenError", m.py().get_type::<CryptenError>())?;
    session::register(m)?;
    tensor::register(m)?;
    model::register(m)?;
    bench::register(m)?;
    Ok(())
}
