//! The error type of `crypten-core`.

/// Errors from ring-tensor operations, encoding and randomness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two operand shapes do not fit the operation.
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not match")]
    ShapeMismatch {
        /// The operation that was attempted.
        op: &'static str,
        /// Shape of the left operand.
        lhs: Vec<usize>,
        /// Shape of the right operand.
        rhs: Vec<usize>,
    },
    /// A shape or an argument (dimension, range, parameter) is invalid for the operation.
    #[error("{op}: {reason} (shape {shape:?})")]
    InvalidArgument {
        /// The operation that was attempted.
        op: &'static str,
        /// The shape of the tensor involved.
        shape: Vec<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A value cannot be encoded as fixed point: NaN, infinite or beyond the safe range. The
    /// message leaves the value out (it may be private, and errors travel to the other parties
    /// as the reason of an abort); the `value` field holds it for the local program.
    #[error(
        "cannot encode a value as fixed point with {frac_bits} fractional bits: {reason} (the \
         value is not shown: it may be private)"
    )]
    Encode {
        /// The offending value.
        value: f64,
        /// The encoder's precision.
        frac_bits: u32,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The operating system's entropy source failed.
    #[error("entropy source failed: {0}")]
    Entropy(String),
}

/// Result alias for `crypten-core`.
pub type Result<T> = std::result::Result<T, Error>;
