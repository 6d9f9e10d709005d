//! Where an endpoint sits in a computation, from arguments or from the environment that
//! `crypten launch` sets (torch.distributed's style: `RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
//! `MASTER_PORT`), and the communicator settings a deployment may override
//! (`CRYPTEN_RECV_TIMEOUT`, `CRYPTEN_CHANNEL`).

use crate::{CommConfig, Error, NetComm, Result};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// One endpoint of a computation of `parties` computing parties, reached through rank 0's
/// rendezvous address. A dealer, when there is one, is the extra endpoint of rank `parties`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// This endpoint's rank (`parties` for a dealer).
    pub rank: usize,
    /// The number of computing parties, a dealer not included.
    pub parties: usize,
    /// Rank 0's rendezvous address.
    pub master: SocketAddr,
}

fn var(name: &'static str) -> Result<String> {
    std::env::var(name).map_err(|_| Error::Environment {
        var: name,
        reason: "is not set".into(),
    })
}

fn number(name: &'static str) -> Result<usize> {
    var(name)?.trim().parse().map_err(|_| Error::Environment {
        var: name,
        reason: "must be a non-negative integer".into(),
    })
}

impl Endpoint {
    /// Reads and validates `RANK`, `WORLD_SIZE` (the computing parties, at least 2),
    /// `MASTER_ADDR` and `MASTER_PORT`.
    ///
    /// # Errors
    /// `Environment` naming the missing or malformed variable.
    pub fn from_env() -> Result<Self> {
        let rank = number("RANK")?;
        let parties = number("WORLD_SIZE")?;
        if parties < 2 {
            return Err(Error::Environment {
                var: "WORLD_SIZE",
                reason: format!("must be at least 2, got {parties}"),
            });
        }
        let host = var("MASTER_ADDR")?;
        let port: u16 = var("MASTER_PORT")?
            .trim()
            .parse()
            .map_err(|_| Error::Environment {
                var: "MASTER_PORT",
                reason: "must be a port number".into(),
            })?;
        let master = (host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::Environment {
                var: "MASTER_ADDR",
                reason: format!("cannot resolve {host}:{port}"),
            })?;
        Ok(Self {
            rank,
            parties,
            master,
        })
    }

    /// Connects over TCP through the master to the other `endpoints - 1` endpoints (the
    /// parties, plus the dealer when there is one); see [`NetComm::rendezvous`].
    ///
    /// # Errors
    /// As [`NetComm::rendezvous`].
    pub fn connect(&self, endpoints: usize, config: CommConfig) -> Result<NetComm> {
        NetComm::rendezvous(self.rank, endpoints, self.master, config)
    }
}

impl CommConfig {
    /// The defaults, with `CRYPTEN_RECV_TIMEOUT` (seconds, positive) overriding the receive
    /// timeout and `CRYPTEN_CHANNEL` (a u32) the channel, when they are set.
    ///
    /// # Errors
    /// `Environment` when a variable is malformed.
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Ok(secs) = std::env::var("CRYPTEN_RECV_TIMEOUT") {
            let invalid = || Error::Environment {
                var: "CRYPTEN_RECV_TIMEOUT",
                reason: format!("must be a positive number of seconds, got `{secs}`"),
            };
            let secs: f64 = secs.trim().parse().map_err(|_| invalid())?;
            if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
                return Err(invalid());
            }
            config.recv_timeout = Duration::from_secs_f64(secs);
        }
        if let Ok(channel) = std::env::var("CRYPTEN_CHANNEL") {
            config.channel = channel.trim().parse().map_err(|_| Error::Environment {
                var: "CRYPTEN_CHANNEL",
                reason: format!("must be an integer in 0..2^32, got `{channel}`"),
            })?;
        }
        Ok(config)
    }
}
