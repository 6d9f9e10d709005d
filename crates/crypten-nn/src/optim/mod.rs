//! Optimizers: they update parameters from their gradients, outside the autograd graph.

mod sgd;

pub use sgd::{Sgd, SgdConfig};
