//! Secret-shared computation for crypten-rs: sessions, arithmetic shares and their protocols,
//! preprocessing providers, and [`CrypTensor`], the user's encrypted tensor.
//!
//! Every party runs the same program (SPMD). A [`Session`] holds what a party needs: its rank,
//! the communicator, pairwise seeds for zero sharings, the preprocessing provider and the
//! configuration. Protocols are functions over shares that take the session first
//! (`beaver::bilinear`, `truncate::truncate`, `share::reveal`); `CrypTensor`'s methods are thin
//! wrappers over them.
#![deny(missing_docs)]

pub mod beaver;
pub mod binary;
mod compare;
mod config;
mod cryptensor;
mod deferred;
mod error;
pub mod functions;
mod pooling;
pub mod provider;
mod przs;
mod reduce_max;
mod sampling;
mod session;
pub mod share;
pub mod testing;
pub mod truncate;

pub use config::{Config, ProviderKind};
pub use crypten_dealer::{Bilinear, ConvParams};
pub use cryptensor::CrypTensor;
pub use error::{Error, Result};
pub use functions::{FunctionConfig, NormOrd, SigmoidMethod};
pub use session::{EnvSettings, Session};
