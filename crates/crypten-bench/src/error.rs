//! The error type of `crypten-bench`.

/// Benchmark failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The computation failed.
    #[error(transparent)]
    Mpc(#[from] crypten::Error),
    /// Writing results failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A model or graph failed to build or run.
    #[error(transparent)]
    Nn(#[from] crypten::nn::Error),
    /// A plot could not be drawn.
    #[error("cannot draw {path}: {reason}")]
    Plot {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// An unknown op name was requested.
    #[error("unknown benchmark op `{0}`")]
    UnknownOp(String),
}

/// Result alias for `crypten-bench`.
pub type Result<T> = std::result::Result<T, Error>;

impl From<crypten::advanced::comm::Error> for Error {
    fn from(e: crypten::advanced::comm::Error) -> Self {
        Self::Mpc(e.into())
    }
}

impl From<crypten::advanced::core::Error> for Error {
    fn from(e: crypten::advanced::core::Error) -> Self {
        Self::Mpc(e.into())
    }
}
