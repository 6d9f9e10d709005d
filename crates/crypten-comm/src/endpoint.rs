//! Where an endpoint sits in a computation, from arguments or from the environment: either
//! `crypten launch`'s (torch.distributed's style: `RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
//! `MASTER_PORT`) or a cluster file's (`CRYPTEN_CLUSTER`, `CRYPTEN_PARTY`, `CRYPTEN_CERT`,
//! `CRYPTEN_KEY`), and the communicator settings a deployment may override
//! (`CRYPTEN_RECV_TIMEOUT`, `CRYPTEN_CHANNEL`).

use crate::cluster::{Cluster, Credentials};
use crate::{CommConfig, Error, NetComm, Result};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// One endpoint of a computation of `parties` computing parties. A dealer, when there is
/// one, is the extra endpoint of rank `parties`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// This endpoint's rank (`parties` for a dealer).
    pub rank: usize,
    /// The number of computing parties, a dealer not included.
    pub parties: usize,
    /// How it finds the others.
    pub place: Place,
}

/// How an endpoint finds the others.
#[derive(Clone, Debug)]
pub enum Place {
    /// Through rank 0's rendezvous address (plain TCP).
    Master(SocketAddr),
    /// From a cluster file, as the endpoint called `name` (TLS when the file names a CA).
    Cluster {
        /// The parsed file.
        cluster: Box<Cluster>,
        /// This endpoint's name in it.
        name: String,
        /// Its certificate and key.
        credentials: Option<Credentials>,
    },
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
    /// Endpoint `name` of a cluster file, with its certificate and key.
    ///
    /// # Errors
    /// `Cluster` for an unreadable or malformed file, or a name it does not have.
    pub fn from_cluster(path: &Path, name: &str, credentials: Option<Credentials>) -> Result<Self> {
        let cluster = Cluster::load(path)?;
        let rank = cluster.rank_of(name)?;
        Ok(Self {
            rank,
            parties: cluster.parties.len(),
            place: Place::Cluster {
                cluster: Box::new(cluster),
                name: name.to_string(),
                credentials,
            },
        })
    }

    /// Reads and validates the environment. With `CRYPTEN_CLUSTER` set: the cluster file,
    /// `CRYPTEN_PARTY` (this endpoint's name in it) and, when the file asks for TLS,
    /// `CRYPTEN_CERT` and `CRYPTEN_KEY`. Otherwise `RANK`, `WORLD_SIZE` (the computing
    /// parties, at least 2), `MASTER_ADDR` and `MASTER_PORT`.
    ///
    /// # Errors
    /// `Environment` naming the missing or malformed variable; `Cluster` for a bad file.
    pub fn from_env() -> Result<Self> {
        exit_with_launcher();
        if let Ok(path) = std::env::var("CRYPTEN_CLUSTER") {
            let name = var("CRYPTEN_PARTY")?;
            let credentials = match (std::env::var("CRYPTEN_CERT"), std::env::var("CRYPTEN_KEY")) {
                (Ok(cert), Ok(key)) => Some(Credentials {
                    cert: cert.into(),
                    key: key.into(),
                }),
                (Err(_), Err(_)) => None,
                (Ok(_), Err(_)) => {
                    return Err(Error::Environment {
                        var: "CRYPTEN_KEY",
                        reason: "is not set, but CRYPTEN_CERT is".into(),
                    });
                }
                (Err(_), Ok(_)) => {
                    return Err(Error::Environment {
                        var: "CRYPTEN_CERT",
                        reason: "is not set, but CRYPTEN_KEY is".into(),
                    });
                }
            };
            return Self::from_cluster(Path::new(&path), name.trim(), credentials);
        }
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
        if parties > crate::cluster::MAX_ENDPOINTS || rank > parties {
            return Err(Error::Environment {
                var: if rank > parties { "RANK" } else { "WORLD_SIZE" },
                reason: format!(
                    "RANK {rank} of WORLD_SIZE {parties}: at most {} parties, and RANK at most \
                     WORLD_SIZE (the dealer)",
                    crate::cluster::MAX_ENDPOINTS - 1
                ),
            });
        }
        Ok(Self {
            rank,
            parties,
            place: Place::Master(master),
        })
    }

    /// Connects to the other `endpoints - 1` endpoints (the parties, plus the dealer when
    /// there is one): through the master ([`NetComm::rendezvous`]), or from the cluster file
    /// ([`Cluster::connect`]), which must then have exactly that many endpoints.
    ///
    /// # Errors
    /// As [`NetComm::rendezvous`] or [`Cluster::connect`]; `Cluster` when the file has a
    /// dealer and the computation none, or the other way round.
    pub fn connect(&self, endpoints: usize, config: CommConfig) -> Result<NetComm> {
        match &self.place {
            Place::Master(master) => {
                let mut config = config;
                if config.announce.is_none() {
                    // Set by `crypten launch` for rank 0 (see `CommConfig::announce`).
                    config.announce = std::env::var_os("CRYPTEN_MASTER_PORT_FILE").map(Into::into);
                }
                NetComm::rendezvous(self.rank, endpoints, *master, config)
            }
            Place::Cluster {
                cluster,
                name,
                credentials,
            } => {
                let have = cluster.members().count();
                if have != endpoints {
                    return Err(Error::Cluster {
                        path: cluster.path.display().to_string(),
                        reason: format!(
                            "the computation has {endpoints} endpoints ({}), the file {have}",
                            if endpoints > cluster.parties.len() {
                                "with a dealer: add a [dealer] entry"
                            } else {
                                "without a dealer: remove the [dealer] entry or use --provider ttp"
                            }
                        ),
                    });
                }
                cluster.connect(name, credentials.as_ref(), config)
            }
        }
    }
}

impl CommConfig {
    /// The defaults, with `CRYPTEN_RECV_TIMEOUT` and `CRYPTEN_IDLE_TIMEOUT` (seconds,
    /// positive) overriding the receive and idle timeouts and `CRYPTEN_CHANNEL` (a u32) the
    /// channel, when they are set.
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
        if let Ok(secs) = std::env::var("CRYPTEN_IDLE_TIMEOUT") {
            let invalid = || Error::Environment {
                var: "CRYPTEN_IDLE_TIMEOUT",
                reason: format!("must be a positive number of seconds, got `{secs}`"),
            };
            let secs: f64 = secs.trim().parse().map_err(|_| invalid())?;
            if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
                return Err(invalid());
            }
            config.idle_timeout = Duration::from_secs_f64(secs);
        }
        config.link = crate::shape::from_env()?;
        if let Ok(channel) = std::env::var("CRYPTEN_CHANNEL") {
            config.channel = channel.trim().parse().map_err(|_| Error::Environment {
                var: "CRYPTEN_CHANNEL",
                reason: format!("must be an integer in 0..2^32, got `{channel}`"),
            })?;
        }
        Ok(config)
    }
}

/// The variable a launcher sets when it holds the write end of this process's standard input
/// and nothing else: the process then exits once that pipe closes, that is once the launcher
/// is gone however it ended (a `kill -9` included), instead of running on without it.
pub const LAUNCHER_PIPE_VAR: &str = "CRYPTEN_LAUNCHER_PIPE";

/// Under a launcher that set [`LAUNCHER_PIPE_VAR`], watches standard input on a thread and
/// exits the process when it ends. Called by [`Endpoint::from_env`]; later calls do nothing.
pub fn exit_with_launcher() {
    static WATCH: std::sync::Once = std::sync::Once::new();
    if std::env::var_os(LAUNCHER_PIPE_VAR).is_none() {
        return;
    }
    WATCH.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("crypten-launcher-watch".into())
            .spawn(|| {
                let mut sink = [0u8; 64];
                let mut stdin = std::io::stdin();
                // The launcher never writes: the pipe's end (or a hard error) means it is gone.
                // A signal's interruption, or a descriptor someone made non-blocking, does not.
                loop {
                    match std::io::Read::read(&mut stdin, &mut sink) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(std::time::Duration::from_millis(200));
                        }
                        Err(_) => break,
                    }
                }
                // Not eprintln!: with the launcher gone, stderr may be a broken pipe, and a
                // failed print must not stop the exit.
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    b"the launcher is gone: exiting\n",
                );
                std::process::exit(1);
            });
        if spawned.is_err() {
            tracing::warn!("cannot watch the launcher: this process will not follow it");
        }
    });
}
