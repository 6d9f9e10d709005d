//! The error type of `crypten-onnx`.

/// One node the importer cannot translate, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The node's name (or its position when unnamed).
    pub node: String,
    /// Its operation type (with its domain when not the default one).
    pub op: String,
    /// What is not supported.
    pub reason: String,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.node, self.op, self.reason)
    }
}

/// Errors of reading and importing an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model (corrupt or truncated protobuf).
    #[error("not a valid ONNX model: {0}")]
    Decode(String),
    /// The model is well-formed protobuf but not a usable graph (no graph, an unknown value,
    /// an opset outside the supported range, a malformed tensor).
    #[error("invalid ONNX model: {0}")]
    Invalid(String),
    /// Nodes use operations, attribute values or data types the importer does not support:
    /// every offending node is listed.
    #[error("{} unsupported node(s):\n  {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Unsupported(Vec<Unsupported>),
    /// The translated graph failed to build (a constant subgraph failed to evaluate, say).
    #[error(transparent)]
    Graph(#[from] crypten_nn::Error),
}

/// Result alias for `crypten-onnx`.
pub type Result<T> = std::result::Result<T, Error>;
