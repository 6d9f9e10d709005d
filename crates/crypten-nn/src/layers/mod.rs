//! The layers.

mod conv;
mod linear;
mod sequential;

pub use conv::{Conv2d, Flatten};
pub use linear::Linear;
pub use sequential::Sequential;
