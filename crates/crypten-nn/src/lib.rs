//! Neural networks for crypten-rs: modules with parameters, losses and optimizers that work the
//! same on plaintext and on encrypted tensors.
//!
//! A model is built in plaintext (every party knows the architecture), then
//! [`Module::encrypt`] shares its parameters from the party that owns them. The training loop
//! is ordinary autograd code: forward, loss, `backward`, optimizer `step`; with encrypted
//! parameters or data every step runs as secure multi-party computation.
#![deny(missing_docs)]

mod error;
pub mod graph;
pub mod init;
mod layers;
mod loss;
mod module;
pub mod optim;
mod parameter;
pub mod state;
pub mod train;
pub mod zoo;

pub use error::{Error, Result};
pub use graph::{Graph, GraphSpec};
pub use layers::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm, Conv1d, Conv2d, Dropout, Embedding, Flatten, Gelu,
    LayerNorm, Linear, LogSoftmax, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh, one_hot,
};
pub use loss::{BceLoss, BceWithLogitsLoss, CrossEntropyLoss, L1Loss, MseLoss, Target};
pub use module::Module;
pub use parameter::Parameter;
