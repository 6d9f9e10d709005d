//! The protocols over shares: each a function that takes the session first and reads as
//! straight-line code (mask, open, combine), documenting its rounds, bytes and failure
//! probability. `CrypTensor`'s methods are thin wrappers over them.
//!
//! - [`share`]: creating and opening arithmetic shares;
//! - [`beaver`]: products (elementwise, matmul, convolutions, squares) in one round;
//! - [`truncate`]: dividing shared fixed-point values by a power of two;
//! - `deferred`: the truncation of a product riding on the value's next opening;
//! - `batch`: several products or truncations in one round;
//! - `przs`: pseudo-random zero sharings from pairwise seeds;
//! - [`binary`]: XOR sharing, A2B/B2A and the dealer-assisted sign and zero tests.

pub(crate) mod batch;
pub mod beaver;
pub mod binary;
pub(crate) mod deferred;
pub(crate) mod przs;
pub mod share;
pub mod truncate;
