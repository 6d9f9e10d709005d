//! The trusted-first-party provider. INSECURE: for tests and demos only.
//!
//! Party 0 plays the dealer inside its own process: at set-up it picks every party's stream
//! seed and sends each party its own, so it can compute every party's randomness. The other
//! parties draw their parts from their stream exactly as with a third party. No communication
//! after set-up, so protocol costs are the parties' own. Party 0 draws everyone's parts in
//! `begin` but computes its dependent parts (a triple's `c = a*b - ...`, a GEMM for a matmul)
//! only in `finish`: after its masked values have left, so the other parties do not wait for
//! that work before they can start theirs, and it overlaps their words' journey.

use super::{Pending, Provider};
use crate::Result;
use crypten_comm::Communicator;
use crypten_core::{Prg, RingTensor, Seed};
use crypten_dealer::{Request, SeedPurpose, deal, fresh_seed, parse_seed};
use std::sync::Mutex;

const SETUP_OP: &str = "setup.tfp";

/// The insecure trusted-first-party provider: party 0 deals to everyone.
pub struct InsecureTrustedFirstParty {
    rank: usize,
    /// Party 0: every party's stream; others: their own stream only.
    streams: Mutex<Vec<Prg>>,
}

impl InsecureTrustedFirstParty {
    /// Set-up: party 0 draws a seed per party and sends each party its own (one round).
    ///
    /// # Errors
    /// Communication failures, or a malformed seed message.
    pub fn setup(comm: &dyn Communicator, parties: usize) -> Result<Self> {
        Self::setup_seeded(comm, parties, None)
    }

    /// [`Self::setup`], with party 0's seeds derived from `fixed` when given (tests only: see
    /// `Config::seed`).
    ///
    /// # Errors
    /// Communication failures, or a malformed seed message.
    pub fn setup_seeded(
        comm: &dyn Communicator,
        parties: usize,
        fixed: Option<&Seed>,
    ) -> Result<Self> {
        let rank = comm.rank();
        tracing::warn!(
            "using the INSECURE trusted-first-party provider: party 0 can see every input"
        );
        let streams = if rank == 0 {
            let seeds = (0..parties)
                .map(|k| fresh_seed(fixed, SeedPurpose::FirstParty, k, 0))
                .collect::<crypten_dealer::Result<Vec<Seed>>>()?;
            let sends = (1..parties).map(|k| (k, seeds[k].to_vec())).collect();
            comm.exchange(SETUP_OP, sends, &[])?;
            seeds.into_iter().map(Prg::from_seed).collect()
        } else {
            let got = comm.exchange(SETUP_OP, Vec::new(), &[0])?;
            vec![Prg::from_seed(parse_seed(&got[0], 0, SETUP_OP)?)]
        };
        Ok(Self {
            rank,
            streams: Mutex::new(streams),
        })
    }
}

impl Provider for InsecureTrustedFirstParty {
    fn name(&self) -> &'static str {
        "insecure trusted first party"
    }

    fn begin(&self, _comm: &dyn Communicator, request: Request) -> Result<Pending> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let (parts, others) = if self.rank == 0 {
            let mut draws = streams
                .iter_mut()
                .enumerate()
                .map(|(k, s)| deal::draw(&request, s, k))
                .collect::<crypten_dealer::Result<Vec<_>>>()?;
            let own = draws.remove(0);
            (own, draws)
        } else {
            let own = deal::draw(&request, &mut streams[0], self.rank)?;
            (own, Vec::new())
        };
        Ok(Pending {
            request,
            parts,
            awaiting: false,
            seq: 0,
            others,
        })
    }

    fn finish(&self, _comm: &dyn Communicator, pending: Pending) -> Result<Vec<RingTensor>> {
        if self.rank != 0 {
            return Ok(pending.parts);
        }
        let mut draws = vec![pending.parts];
        draws.extend(pending.others);
        let dependent = deal::complete(&pending.request, &draws)?;
        let mut parts = draws.swap_remove(0);
        parts.extend(dependent);
        Ok(parts)
    }
}
