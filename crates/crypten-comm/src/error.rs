//! The error type of `crypten-comm`.

use std::time::Duration;

/// Communication failures. Every variant names the peer and, where known, the operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The peer closed its connection (it exited or crashed).
    #[error("party {peer} closed the connection during `{op}`")]
    PeerClosed {
        /// The peer's rank.
        peer: usize,
        /// The operation in progress.
        op: String,
    },
    /// The peer gave up (its own operation failed) and said why before closing.
    #[error("party {peer} aborted during `{op}`: {reason}")]
    Aborted {
        /// The peer's rank.
        peer: usize,
        /// The operation in progress here.
        op: String,
        /// The peer's reason (untrusted text, cut short and stripped of control characters).
        reason: String,
    },
    /// Nothing arrived from the peer within the receive timeout (over TCP: the peer was
    /// silent, keepalives included, that long), or the wait for `op` outlasted the idle
    /// timeout.
    #[error("party {peer} sent nothing for {after:?} during `{op}`")]
    Timeout {
        /// The peer's rank.
        peer: usize,
        /// The operation in progress.
        op: String,
        /// The timeout that expired.
        after: Duration,
    },
    /// The peer sent a frame for a different operation or out of sequence: the parties are no
    /// longer running the same program.
    #[error("party {peer} diverged: expected {expected}, got {got}")]
    Diverged {
        /// The peer's rank.
        peer: usize,
        /// What this party expected (operation and sequence number).
        expected: String,
        /// What arrived.
        got: String,
    },
    /// A frame could not be decoded, or its payload has the wrong size.
    #[error("malformed frame from party {peer} during `{op}`: {reason}")]
    Malformed {
        /// The peer's rank.
        peer: usize,
        /// The operation in progress.
        op: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An operation name too long to be carried by a frame (see `MAX_OP_NAME`).
    #[error("operation name `{op}` is {len} bytes long; at most {max} are allowed")]
    InvalidOp {
        /// The rejected name.
        op: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An operation name the communicator keeps for itself (its keepalive frames).
    #[error("operation name `{op}` is reserved by the communicator")]
    ReservedOp {
        /// The rejected name.
        op: String,
    },
    /// A rank outside `0..world_size`, or this party's own rank.
    #[error("invalid peer {peer} (world size {world_size}, own rank {rank})")]
    InvalidPeer {
        /// The requested peer.
        peer: usize,
        /// This endpoint's rank.
        rank: usize,
        /// The number of endpoints.
        world_size: usize,
    },
    /// An I/O error on the connection to a peer.
    #[error("I/O error with party {peer} during `{op}`: {source}")]
    Io {
        /// The peer's rank.
        peer: usize,
        /// The operation in progress.
        op: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// This endpoint has already given up (see `Communicator::abort`): nothing more is sent.
    #[error("this party has aborted; cannot send during `{op}`")]
    SelfAborted {
        /// The operation attempted.
        op: String,
    },
    /// An environment variable that describes the computation is missing or malformed.
    #[error("environment variable {var} {reason}")]
    Environment {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Setting up connections failed.
    #[error("rendezvous failed: {0}")]
    Rendezvous(String),
    /// TLS cannot be set up: unreadable or mismatched certificates or keys, a bad name.
    #[error("TLS: {0}")]
    Tls(String),
    /// A cluster file is missing, malformed or does not name this endpoint.
    #[error("cluster file {path}: {reason}")]
    Cluster {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias for `crypten-comm`.
pub type Result<T> = std::result::Result<T, Error>;
