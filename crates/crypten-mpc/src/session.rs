//! `Session`: everything one party needs to take part in a computation.

use crate::protocol::przs::Przs;
use crate::provider::{InsecureTrustedFirstParty, Provider, TrustedThirdParty};
use crate::{Config, Error, ProviderKind, Result};
use crypten_comm::{Communicator, StatsSnapshot};
use crypten_core::{FixedPointEncoder, Prg, RingTensor, Seed};
use crypten_dealer::{SeedPurpose, fresh_seed, parse_seed};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const PRZS_SETUP_OP: &str = "setup.przs";

/// One party's handle on a running computation; cheap to clone, held by every `CrypTensor`.
///
/// Owns the rank, the communicator, the pairwise zero-sharing streams, the preprocessing
/// provider, the configuration and (through the communicator) the traffic statistics.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    rank: usize,
    parties: usize,
    comm: Box<dyn Communicator>,
    provider: Box<dyn Provider>,
    config: Config,
    encoder: FixedPointEncoder,
    przs: Mutex<Przs>,
    /// This party's private randomness (its contribution to random samples).
    local: Mutex<Prg>,
    /// Set by `close` (or `abort`): nothing more to tell the dealer when the session ends.
    finished: AtomicBool,
}

impl Drop for Inner {
    /// A session dropped without `close` (a program that returned early, or never closed)
    /// still ends the dealer's session, so that the dealer does not mistake this party's
    /// departure for a death and abort, racing this party's last frames to the others. A
    /// party that dies without dropping its session is still reported as such.
    fn drop(&mut self) {
        if !self.finished.swap(true, Ordering::Relaxed) {
            let _ = self.provider.shutdown(self.comm.as_ref());
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("rank", &self.inner.rank)
            .field("parties", &self.inner.parties)
            .field("provider", &self.inner.provider.name())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session over `comm` among `parties` computing parties (ranks `0..parties`;
    /// with a trusted third party, the communicator has one more endpoint, the dealer).
    ///
    /// Set-up costs two rounds: pairwise seeds for zero sharings, then the provider's seeds.
    ///
    /// # Errors
    /// Invalid configuration, a communicator of the wrong size, or failed set-up traffic.
    pub fn new(comm: Box<dyn Communicator>, parties: usize, config: Config) -> Result<Self> {
        let encoder = config.validate()?;
        let rank = comm.rank();
        let endpoints = config.provider.endpoints(parties);
        if parties == 0 {
            return Err(Error::Config("a session needs at least one party".into()));
        }
        if rank >= parties || comm.world_size() != endpoints {
            return Err(Error::Config(format!(
                "rank {rank} of {parties} parties needs {endpoints} endpoints with the {} \
                 provider, the communicator has {}",
                config.provider.name(),
                comm.world_size()
            )));
        }
        let przs = setup_przs(comm.as_ref(), parties, config.seed.as_ref())?;
        let provider: Box<dyn Provider> = match config.provider {
            ProviderKind::TrustedThirdParty => {
                Box::new(TrustedThirdParty::setup(comm.as_ref(), parties)?)
            }
            ProviderKind::InsecureTrustedFirstParty => {
                Box::new(InsecureTrustedFirstParty::setup_seeded(
                    comm.as_ref(),
                    parties,
                    config.seed.as_ref(),
                )?)
            }
        };
        let local = Prg::from_seed(fresh_seed(
            config.seed.as_ref(),
            SeedPurpose::Local,
            rank,
            0,
        )?);
        Ok(Self {
            inner: Arc::new(Inner {
                rank,
                parties,
                comm,
                provider,
                config,
                encoder,
                przs: Mutex::new(przs),
                local: Mutex::new(local),
                finished: AtomicBool::new(false),
            }),
        })
    }

    /// This party's rank.
    pub fn rank(&self) -> usize {
        self.inner.rank
    }

    /// The number of computing parties (the dealer not included).
    pub fn parties(&self) -> usize {
        self.inner.parties
    }

    /// Ranks of the other computing parties.
    pub fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.inner.parties).filter(move |&p| p != self.inner.rank)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// Whether a truncation is a local shift of each share (no round): with one party
    /// (exact), or with two under the opt-in [`Truncation::Local`](crate::Truncation).
    pub fn truncates_locally(&self) -> bool {
        self.parties() == 1
            || (self.parties() == 2 && self.config().truncation == crate::Truncation::Local)
    }

    /// The fixed-point encoder.
    pub fn encoder(&self) -> FixedPointEncoder {
        self.inner.encoder
    }

    /// The communicator.
    pub fn comm(&self) -> &dyn Communicator {
        self.inner.comm.as_ref()
    }

    /// The preprocessing provider.
    pub fn provider(&self) -> &dyn Provider {
        self.inner.provider.as_ref()
    }

    /// A snapshot of this party's traffic so far (bytes, rounds, per-op breakdown).
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.comm.stats().snapshot()
    }

    /// Time this party has spent blocked waiting for its peers' messages (the rest of the
    /// elapsed time is computing, or waiting on something else).
    pub fn waiting(&self) -> std::time::Duration {
        self.inner.comm.stats().waiting()
    }

    /// Whether two handles refer to the same session.
    pub fn same(&self, other: &Session) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// This party's share of a fresh arithmetic sharing of zero.
    pub(crate) fn zero_share(&self, shape: &[usize]) -> RingTensor {
        self.inner
            .przs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .zero(shape)
    }

    /// Runs `f` on this party's private random stream (its contribution to random samples).
    pub(crate) fn with_local_prg<T>(&self, f: impl FnOnce(&mut Prg) -> T) -> T {
        f(&mut self.inner.local.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// This party's share of a fresh binary (XOR) sharing of zero.
    pub(crate) fn zero_xor_share(&self, shape: &[usize]) -> RingTensor {
        self.inner
            .przs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .zero_xor(shape)
    }

    /// Gives up on a failed computation: tells every other party (and a dealer) why, so their
    /// next receive from this party fails with `reason` instead of a bare closed connection.
    /// `reason` must not hold secrets (this crate's error messages name parties and
    /// operations only).
    pub fn abort(&self, reason: &str) {
        self.inner.finished.store(true, Ordering::Relaxed);
        self.comm().abort(reason);
    }

    /// Ends the session: tells a trusted third party to stop, and returns once this party's
    /// last frames are on the wire (`Communicator::finish`), so the process may exit at once
    /// even while tensors of the session live on. Call it on every party when the computation
    /// is over; nothing can be sent afterwards. Later calls do nothing, and dropping the last
    /// handle of a session that was neither closed nor aborted does the same.
    ///
    /// # Errors
    /// The dealer is unreachable.
    pub fn close(&self) -> Result<()> {
        if self.inner.finished.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        let result = self.inner.provider.shutdown(self.comm());
        self.comm().finish();
        result
    }
}

/// One round: every party sends a fresh seed to each higher rank and receives one from each
/// lower rank; each pair then holds a common stream. `fixed` is the test-only seed.
fn setup_przs(comm: &dyn Communicator, parties: usize, fixed: Option<&Seed>) -> Result<Przs> {
    let rank = comm.rank();
    let mut streams: Vec<Option<Prg>> = (0..parties).map(|_| None).collect();
    let mut sends = Vec::new();
    for (peer, slot) in streams.iter_mut().enumerate().skip(rank + 1) {
        let seed = fresh_seed(fixed, SeedPurpose::Przs, rank, peer)?;
        sends.push((peer, seed.to_vec()));
        *slot = Some(Prg::from_seed(seed));
    }
    let lower: Vec<usize> = (0..rank).collect();
    let received = comm.exchange(PRZS_SETUP_OP, sends, &lower)?;
    for (peer, bytes) in lower.into_iter().zip(received) {
        let seed = parse_seed(&bytes, peer, PRZS_SETUP_OP)?;
        streams[peer] = Some(Prg::from_seed(seed));
    }
    Ok(Przs::new(rank, streams))
}
