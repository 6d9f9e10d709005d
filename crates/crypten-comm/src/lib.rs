//! Communication between the parties of a crypten-rs computation.
//!
//! A [`Communicator`] moves framed byte payloads between endpoints (the computing parties and,
//! when there is one, the trusted third party as the last rank). Every frame carries a
//! per-link sequence number, the channel (computation) and the name of the operation it belongs to, so a peer that
//! runs a different program is caught (`Error::Diverged`) instead of producing garbage. Every
//! byte written and every round is counted in [`Stats`].
//!
//! Two implementations: [`MemoryComm`] for endpoints on threads of one process (tests,
//! simulation) and [`NetComm`] for separate processes, set up from an address table
//! ([`NetComm::connect`], [`NetComm::from_listener`]) or through a master address in
//! torch.distributed's style ([`NetComm::rendezvous`]).
#![deny(missing_docs)]

mod cluster;
mod communicator;
pub mod devcerts;
mod endpoint;
mod error;
mod frame;
mod memory;
mod net;
mod rendezvous;
mod shape;
mod stats;
mod tls;
mod transport;

pub use cluster::{Cluster, Credentials, MAX_ENDPOINTS, Member};
pub use communicator::{CommConfig, Communicator, Words};
pub use endpoint::{Endpoint, LAUNCHER_PIPE_VAR, Place, exit_with_launcher};
pub use error::{Error, Result};
pub use frame::{FRAME_HEADER_BYTES, MAX_OP_NAME};
pub use memory::MemoryComm;
pub use net::NetComm;
pub use shape::LinkShape;
pub use stats::{OpStats, Stats, StatsSnapshot};
pub use time::OffsetDateTime;
pub use tls::TlsConfig;
pub use transport::{Closer, Halves, Transport};
