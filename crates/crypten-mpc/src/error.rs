//! The error type of `crypten-mpc`.

/// Errors of secret-shared computation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local tensor operation failed (shapes, arguments, encoding).
    #[error(transparent)]
    Core(#[from] crypten_core::Error),
    /// Communication with a peer failed; the inner error names the peer and the operation.
    #[error(transparent)]
    Comm(#[from] crypten_comm::Error),
    /// A preprocessing request or its material is inconsistent.
    #[error(transparent)]
    Dealer(#[from] crypten_dealer::Error),
    /// An argument is invalid for the operation.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Two tensors belong to different sessions.
    #[error("{op}: operands belong to different sessions")]
    SessionMismatch {
        /// The operation.
        op: &'static str,
    },
    /// The preprocessing provider failed or sent something inconsistent.
    #[error("preprocessing provider ({provider}) failed during `{op}`: {reason}")]
    Provider {
        /// The provider's name.
        provider: &'static str,
        /// The operation that needed preprocessing.
        op: String,
        /// What went wrong.
        reason: String,
    },
    /// No session is installed for this thread (see `crypten::init`).
    #[error(
        "no crypten session on this thread: call crypten::init_from_env() or crypten::set_session() first"
    )]
    NoSession,
    /// The configuration or the environment is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Validation mode (`Config::validation`) found an operation whose result is wrong.
    #[error("validation: `{op}` went wrong at element {index}: {reason}")]
    Validation {
        /// The operation.
        op: &'static str,
        /// The first wrong element (row-major).
        index: usize,
        /// What is wrong: the result, and the plaintext value or the range it left.
        reason: String,
    },
}

/// Result alias for `crypten-mpc`.
pub type Result<T> = std::result::Result<T, Error>;
