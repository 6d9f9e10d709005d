//! Secret-shared computation for crypten-rs: sessions, the protocols over shares,
//! preprocessing providers, and [`CrypTensor`], the user's encrypted tensor.
//!
//! Every party runs the same program (SPMD). A [`Session`] holds what a party needs: its rank,
//! the communicator, pairwise seeds for zero sharings, the preprocessing provider and the
//! configuration. The crate has three floors:
//! - [`protocol`]: functions over shares that take the session first and read as
//!   mask-open-combine (`protocol::beaver::bilinear`, `protocol::truncate::truncate`,
//!   `protocol::share::reveal`, the binary protocols), with deferred truncation and batching;
//! - `tensor`: [`CrypTensor`], whose methods are thin wrappers over the protocols, split by
//!   concern (arithmetic, shape, reductions, comparisons, max, pooling);
//! - [`functions`]: the non-linear functions and random sampling, built from the tensor's
//!   operations.
//!
//! [`provider`] supplies the correlated randomness (through `crypten_dealer`'s contract), and
//! [`simulator`] runs a computation's parties on threads of one process.
#![deny(missing_docs)]

mod config;
mod error;
pub mod functions;
pub mod protocol;
pub mod provider;
mod session;
pub mod simulator;
mod tensor;

pub use config::{Config, ProviderKind, Truncation, Validation};
pub use crypten_dealer::{Bilinear, ConvParams};
pub use error::{Error, Result};
pub use functions::{FunctionConfig, NormOrd, SigmoidMethod};
pub use session::Session;
pub use tensor::CrypTensor;
