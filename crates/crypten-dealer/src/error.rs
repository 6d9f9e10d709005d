//! The error type of `crypten-dealer`.

/// Failures of preprocessing: an inconsistent request, a failing local tensor operation, or
/// (in the dealer's serving loop) a failed link to a party.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local tensor operation failed (shapes, sizes), or the operating system could not
    /// provide randomness for a seed.
    #[error(transparent)]
    Core(#[from] crypten_core::Error),
    /// Communication with a party failed; the inner error names the party and the operation.
    #[error(transparent)]
    Comm(#[from] crypten_comm::Error),
    /// A request, or the shapes it names, is invalid.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The dealer was started with a rank or world size that cannot serve the parties.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Result alias for `crypten-dealer`.
pub type Result<T> = std::result::Result<T, Error>;
