//! Reverse-mode automatic differentiation over plaintext and encrypted tensors.
//!
//! A [`Variable`] wraps a [`Tensor`] (plaintext f64 or a `CrypTensor`) and remembers the
//! operation that produced it. [`Variable::backward`] walks the recorded graph from an output
//! back to the leaves in reverse topological order, applying each operation's gradient rule,
//! so the same training code runs on plaintext and on secret-shared data: gradients of
//! encrypted values are encrypted, and nothing is revealed by differentiation itself.
//!
//! This crate sees encrypted tensors only through `CrypTensor`'s public API: it knows nothing
//! of shares, protocols or party counts.
#![deny(missing_docs)]

mod functions;
mod nonlinear;
mod ops;
mod plain;
mod pooling;
mod shape;
mod tensor;
mod variable;

/// This crate adds no failure modes of its own: its errors are `crypten_mpc`'s (shapes and
/// arguments, encoding, protocols, communication), as candle-nn's are candle-core's.
pub use crypten_mpc::{Error, Result};
pub use tensor::Tensor;
pub use variable::{Backward, NoGradGuard, Variable, is_grad_enabled, no_grad};
