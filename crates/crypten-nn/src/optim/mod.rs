//! Optimizers: they update parameters from their gradients, outside the autograd graph.

mod adam;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use sgd::{Sgd, SgdConfig};
