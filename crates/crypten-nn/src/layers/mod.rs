//! The layers.

mod linear;
mod sequential;

pub use linear::Linear;
pub use sequential::Sequential;
