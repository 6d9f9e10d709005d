//! ONNX import for crypten-rs: a model exported from PyTorch (`torch.onnx.export`) becomes a
//! [`crypten_nn::Graph`].
//!
//! The importer translates each node into the graph's allow-listed operations, reading every
//! attribute with the ONNX spec's default when it is absent and from either place when a newer
//! opset moved it to an input (axes, split, pads, bounds). Everything that depends only on
//! public values (shape arithmetic, `Constant` nodes, integer initializers) is computed at
//! import, so the graph that runs holds only what touches private data.
//!
//! Model ownership: only the model owner reads the file. [`Model::spec`] is the public graph
//! without weight values, which the owner sends the other parties; [`Model::weights`] stay
//! with the owner until they are shared. Float initializers are weights; integer ones, and
//! floats read only where a public value is required (a shape, an exponent, a bound), are
//! public constants of the architecture. Batch-normalization statistics are folded by the
//! owner into a per-channel scale and shift before anything is sent.
//!
//! The protobuf messages are generated from `onnx.proto` ahead of time (`src/proto`): no
//! protoc binary is needed to build.
#![deny(missing_docs)]

mod attr;
mod convert;
mod error;
mod export;
mod import;
mod proto;
mod tensor;

pub use error::{Error, Result, Unsupported};
pub use export::with_weights;
pub use import::{MASK_MAGNITUDE, Model, OPSETS};
