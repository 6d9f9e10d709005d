//! The error type of `crypten-nn`.

/// Errors of modules, losses and optimizers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The computation failed (shapes, protocols, communication).
    #[error(transparent)]
    Mpc(#[from] crypten_mpc::Error),
    /// A layer or optimizer was configured with invalid values.
    #[error("invalid configuration of {what}: {reason}")]
    Config {
        /// The layer or optimizer.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An input has the wrong shape for the layer.
    #[error("{layer}: expected input {expected}, got shape {got:?}")]
    InputShape {
        /// The layer.
        layer: &'static str,
        /// What it expects.
        expected: String,
        /// What it got.
        got: Vec<usize>,
    },
    /// A graph is malformed, or an operation got inputs or attributes it cannot use.
    #[error("{0}")]
    Graph(String),
    /// A node of a graph failed.
    #[error("node {node} ({op}): {cause}")]
    Node {
        /// The node's name.
        node: String,
        /// Its operation.
        op: &'static str,
        /// Why (part of the message, not a separate source, so that it is printed once).
        cause: Box<Error>,
    },
    /// Reading or writing a file failed.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file is malformed or does not fit the model (names, shapes, types, metadata).
    #[error("state {path}: {reason}")]
    State {
        /// The file or directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias for `crypten-nn`.
pub type Result<T> = std::result::Result<T, Error>;
