//! The layers.

mod activation;
mod conv;
mod embedding;
mod linear;
mod sequential;

pub use activation::ReLU;
pub use conv::{Conv2d, Flatten};
pub use embedding::{Embedding, one_hot};
pub use linear::Linear;
pub use sequential::Sequential;
