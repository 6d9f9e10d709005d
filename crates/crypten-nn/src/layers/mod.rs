//! The layers.

mod activation;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod norm;
mod pooling;
mod sequential;

pub use activation::{Gelu, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh};
pub use conv::{Conv1d, Conv2d, Flatten};
pub use dropout::Dropout;
pub use embedding::{Embedding, one_hot};
pub use linear::Linear;
pub use norm::{BatchNorm, LayerNorm};
pub use pooling::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use sequential::Sequential;
