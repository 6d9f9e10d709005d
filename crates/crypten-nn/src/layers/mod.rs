//! The layers.

mod activation;
mod conv;
mod embedding;
mod linear;
mod pooling;
mod sequential;

pub use activation::ReLU;
pub use conv::{Conv2d, Flatten};
pub use embedding::{Embedding, one_hot};
pub use linear::Linear;
pub use pooling::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use sequential::Sequential;
