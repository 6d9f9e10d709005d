//! A cluster file: one per computation, the same at every party. It names the parties (ranks
//! in the order of the `[[party]]` entries), their addresses, the dealer's, the CA that issues
//! every endpoint's certificate, and the timeouts. Each endpoint's own certificate and key come
//! from its own command line or environment, never from this shared file.
//!
//! ```toml
//! ca = "ca.pem"                 # relative to this file; omit for plain TCP (one machine only)
//! [[party]]
//! name = "alice"
//! address = "127.0.0.1:29500"
//! [[party]]
//! name = "bob"
//! address = "127.0.0.1:29501"
//! [dealer]                      # the trusted third party, rank = number of parties
//! name = "dealer"
//! address = "127.0.0.1:29502"
//! [timeouts]                    # seconds, optional
//! connect = 30
//! receive = 60                  # a peer silent this long (keepalives included) has failed
//! idle = 1800                   # the longest wait for one message from a live peer
//! ```

use crate::{CommConfig, Error, NetComm, Result, TlsConfig};
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The largest number of endpoints a cluster file may name.
pub const MAX_ENDPOINTS: usize = 1024;

/// One endpoint of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Its name: what its certificate is issued for.
    pub name: String,
    /// Where it listens (`host:port`).
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timeouts {
    connect: Option<f64>,
    receive: Option<f64>,
    idle: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    ca: Option<PathBuf>,
    #[serde(default)]
    party: Vec<Member>,
    dealer: Option<Member>,
    timeouts: Option<Timeouts>,
}

/// A parsed and checked cluster file.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The file it came from.
    pub path: PathBuf,
    /// The computing parties, in rank order.
    pub parties: Vec<Member>,
    /// The dealer (rank `parties.len()`), if the computation has one.
    pub dealer: Option<Member>,
    /// The CA certificate (resolved against the file's directory); `None` for plain TCP.
    pub ca: Option<PathBuf>,
    /// Connection set-up limit, if the file sets one.
    pub connect_timeout: Option<Duration>,
    /// Receive limit (a peer's silence), if the file sets one.
    pub recv_timeout: Option<Duration>,
    /// The longest wait for one message from a live peer, if the file sets one.
    pub idle_timeout: Option<Duration>,
}

/// An endpoint's own credentials: its certificate chain and private key (PEM files).
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The certificate (chain), PEM.
    pub cert: PathBuf,
    /// The private key, PEM.
    pub key: PathBuf,
}

fn seconds(path: &Path, what: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e7 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(Error::Cluster {
            path: path.display().to_string(),
            reason: format!("timeouts.{what} must be a positive number of seconds, got {s}"),
        }),
    }
}

impl Cluster {
    /// Reads and checks a cluster file: at least two parties, distinct names that can be
    /// certificate names, addresses of the form `host:port`.
    ///
    /// # Errors
    /// `Cluster` naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::Cluster {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let file: File = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.party.len() < 2 {
            return Err(bad(format!(
                "needs at least two [[party]] entries, has {}",
                file.party.len()
            )));
        }
        if file.party.len() + 1 > MAX_ENDPOINTS {
            return Err(bad(format!("at most {} parties", MAX_ENDPOINTS - 1)));
        }
        let mut names = std::collections::HashSet::new();
        for m in file.party.iter().chain(&file.dealer) {
            crate::tls::server_name(&m.name).map_err(|e| bad(e.to_string()))?;
            if !names.insert(m.name.as_str()) {
                return Err(bad(format!("the name `{}` appears twice", m.name)));
            }
            if m.address
                .rsplit_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_err())
            {
                return Err(bad(format!(
                    "{}: address `{}` is not host:port",
                    m.name, m.address
                )));
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let timeouts = file.timeouts.unwrap_or(Timeouts {
            connect: None,
            receive: None,
            idle: None,
        });
        Ok(Self {
            path: path.to_path_buf(),
            ca: file.ca.map(|ca| dir.join(ca)),
            connect_timeout: seconds(path, "connect", timeouts.connect)?,
            recv_timeout: seconds(path, "receive", timeouts.receive)?,
            idle_timeout: seconds(path, "idle", timeouts.idle)?,
            parties: file.party,
            dealer: file.dealer,
        })
    }

    /// Every endpoint, parties first, then the dealer.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.parties.iter().chain(&self.dealer)
    }

    /// The rank of the endpoint called `name`.
    ///
    /// # Errors
    /// `Cluster` when no endpoint has that name.
    pub fn rank_of(&self, name: &str) -> Result<usize> {
        self.members()
            .position(|m| m.name == name)
            .ok_or_else(|| Error::Cluster {
                path: self.path.display().to_string(),
                reason: format!(
                    "no endpoint is called `{name}` (the names are {})",
                    self.members()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Whether the file asks for TLS (it names a CA).
    pub fn tls(&self) -> bool {
        self.ca.is_some()
    }

    /// Connects endpoint `name` to every other endpoint of the file: over TLS with mutual
    /// authentication when the file names a CA (then `credentials` are required), plain TCP
    /// otherwise. The file's timeouts replace `config`'s.
    ///
    /// # Errors
    /// `Cluster` for an unknown name, an unresolvable address or missing credentials; `Tls`
    /// for unusable certificates; `Rendezvous` as [`NetComm::connect`].
    pub fn connect(
        &self,
        name: &str,
        credentials: Option<&Credentials>,
        mut config: CommConfig,
    ) -> Result<NetComm> {
        let rank = self.rank_of(name)?;
        let bad = |reason: String| Error::Cluster {
            path: self.path.display().to_string(),
            reason,
        };
        let addrs = self
            .members()
            .map(|m| {
                m.address
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        bad(format!("cannot resolve {}'s address {}", m.name, m.address))
                    })
            })
            .collect::<Result<Vec<SocketAddr>>>()?;
        if let Some(t) = self.connect_timeout {
            config.connect_timeout = t;
        }
        if let Some(t) = self.recv_timeout {
            config.recv_timeout = t;
        }
        if let Some(t) = self.idle_timeout {
            config.idle_timeout = t;
        }
        config.tls = match (&self.ca, credentials) {
            (None, _) => None,
            (Some(ca), Some(c)) => Some(Arc::new(TlsConfig::from_files(
                ca,
                &c.cert,
                &c.key,
                self.members().map(|m| m.name.clone()).collect(),
                rank,
            )?)),
            (Some(_), None) => {
                return Err(bad(format!(
                    "the cluster asks for TLS: `{name}` needs its certificate and key \
                     (--cert/--key, or CRYPTEN_CERT/CRYPTEN_KEY)"
                )));
            }
        };
        NetComm::connect(rank, &addrs, config)
    }
}
