//! The trusted third party's serving loop: the dealer process runs this and nothing else.
//!
//! At set-up the dealer sends each party a fresh stream seed; afterwards only party 0 talks to
//! it, sending [`Message::Serve`] requests (before the parties' opening round, so the dealer
//! computes while the parties exchange) and receiving party 0's dependent parts, in the order
//! it asked. The dealer learns the sequence of requested shapes, which every party knows
//! anyway, and nothing about inputs.

use crate::seed::{SeedPurpose, fresh_seed};
use crate::{Error, Request, Result, deal};
use crypten_comm::{CommConfig, Communicator, Endpoint};
use crypten_core::{Prg, SEED_LEN, Seed};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The operation name of the dealer's set-up frames (one stream seed per party).
pub const SETUP_OP: &str = "setup.ttp";
/// The operation name of party 0's requests and the dealer's answers.
pub const SERVE_OP: &str = "ttp";

/// What party 0 sends the dealer.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Deal this request; the answer is party 0's dependent parts, as `u64` words.
    Serve(Request),
    /// The session is over.
    Shutdown,
}

/// Reads a seed sent by `peer` during `op`.
///
/// # Errors
/// `Comm(Malformed)` when the payload is not a seed.
pub fn parse_seed(bytes: &[u8], peer: usize, op: &str) -> Result<Seed> {
    <Seed>::try_from(bytes).map_err(|_| {
        Error::Comm(crypten_comm::Error::Malformed {
            peer,
            op: op.to_string(),
            reason: format!("a seed must be {SEED_LEN} bytes, got {}", bytes.len()),
        })
    })
}

/// The dealer's state: every party's stream, and a guess of the next request computed ahead.
///
/// Programs repeat themselves (training steps, benchmark repetitions, layers of the same
/// shape), so the dealer remembers which request followed which and, after answering one,
/// computes the answer to the request that followed it last time while the parties work. A
/// right guess takes the dealer's work off the parties' critical path; a wrong one rewinds the
/// streams to where the guess began, so the randomness handed out is exactly what it would
/// have been without guessing.
struct Dealer {
    streams: Vec<Prg>,
    follows: HashMap<Request, Request>,
    last: Option<Request>,
    ahead: Option<Ahead>,
}

/// An answer computed ahead for a guessed request.
struct Ahead {
    request: Request,
    /// Stream positions before the guess was computed.
    start: Vec<u128>,
    words: Vec<u64>,
}

impl Dealer {
    /// Party 0's dependent parts for `request`, drawn from the streams' current positions.
    fn compute(&mut self, request: &Request) -> Result<Vec<u64>> {
        let draws = self
            .streams
            .iter_mut()
            .enumerate()
            .map(|(k, s)| deal::draw(request, s, k))
            .collect::<Result<Vec<_>>>()?;
        let mut dependent = deal::complete(request, &draws)?;
        if dependent.len() == 1 {
            // A triple's `c`, say: its buffer goes on the wire as it is.
            return Ok(dependent.swap_remove(0).into_data());
        }
        Ok(dependent
            .iter()
            .flat_map(|t| t.data().iter().copied())
            .collect())
    }

    fn rewind(&mut self, start: &[u128]) {
        for (stream, &position) in self.streams.iter_mut().zip(start) {
            stream.seek(position);
        }
    }

    /// The answer to `request`, from the guess if it was right.
    fn serve(&mut self, request: Request) -> Result<Vec<u64>> {
        let words = match self.ahead.take() {
            Some(ahead) if ahead.request == request => ahead.words,
            Some(ahead) => {
                self.rewind(&ahead.start);
                self.compute(&request)?
            }
            None => self.compute(&request)?,
        };
        if let Some(previous) = self.last.replace(request.clone()) {
            self.follows.insert(previous, request);
        }
        Ok(words)
    }

    /// Computes the answer to the request that followed the last one the previous time.
    fn guess_ahead(&mut self) {
        let Some(next) = self
            .last
            .as_ref()
            .and_then(|r| self.follows.get(r))
            .cloned()
        else {
            return;
        };
        let start: Vec<u128> = self.streams.iter().map(Prg::position).collect();
        match self.compute(&next) {
            Ok(words) => {
                self.ahead = Some(Ahead {
                    request: next,
                    start,
                    words,
                })
            }
            Err(_) => self.rewind(&start),
        }
    }
}

/// The dealer's serving loop: run by the trusted third party's process (rank `parties` of
/// `comm`) until party 0 says the session is over. When it fails, it tells every party why
/// before returning ([`Communicator::abort`]).
///
/// # Errors
/// A party died or timed out, or party 0 sent a malformed or inconsistent request (the
/// dealer treats requests as untrusted input and stops with an error naming party 0).
pub fn run_ttp(comm: &dyn Communicator, parties: usize) -> Result<()> {
    run_ttp_seeded(comm, parties, None)
}

/// Runs the dealer of the computation described by the environment (`RANK` = `WORLD_SIZE`,
/// the dealer's rank, `MASTER_ADDR`, `MASTER_PORT`, or a cluster file's `CRYPTEN_CLUSTER`,
/// `CRYPTEN_PARTY`, `CRYPTEN_CERT`, `CRYPTEN_KEY`; `CRYPTEN_RECV_TIMEOUT`; see
/// [`Endpoint::from_env`]) until party 0 ends the session.
///
/// # Errors
/// Missing or malformed variables, failed rendezvous, or a failing or misbehaving party.
pub fn run_from_env() -> Result<()> {
    run_at(&Endpoint::from_env()?, CommConfig::from_env()?)
}

/// Runs the dealer at `endpoint` (which must be the dealer's rank, the number of parties)
/// until party 0 ends the session.
///
/// # Errors
/// As [`run_from_env`].
pub fn run_at(endpoint: &Endpoint, config: CommConfig) -> Result<()> {
    if endpoint.rank != endpoint.parties {
        return Err(Error::Config(format!(
            "the dealer must be rank {} (the number of parties), this endpoint is rank {}",
            endpoint.parties, endpoint.rank
        )));
    }
    let comm = endpoint.connect(endpoint.parties + 1, config)?;
    run_ttp(&comm, endpoint.parties)
}

/// [`run_ttp`], with the parties' stream seeds derived from `fixed` when given (tests only).
///
/// # Errors
/// See [`run_ttp`].
pub fn run_ttp_seeded(comm: &dyn Communicator, parties: usize, fixed: Option<&Seed>) -> Result<()> {
    serve_until_shutdown(comm, parties, fixed).inspect_err(|e| comm.abort(&e.to_string()))
}

fn serve_until_shutdown(
    comm: &dyn Communicator,
    parties: usize,
    fixed: Option<&Seed>,
) -> Result<()> {
    if comm.rank() != parties || comm.world_size() != parties + 1 {
        return Err(Error::Config(format!(
            "the dealer must be rank {parties} of {} endpoints, is rank {} of {}",
            parties + 1,
            comm.rank(),
            comm.world_size()
        )));
    }
    let mut streams = Vec::with_capacity(parties);
    for k in 0..parties {
        let seed = fresh_seed(fixed, SeedPurpose::ThirdParty, k, 0)?;
        comm.send(k, SETUP_OP, seed.to_vec())?;
        streams.push(Prg::from_seed(seed));
    }
    let mut dealer = Dealer {
        streams,
        follows: HashMap::new(),
        last: None,
        ahead: None,
    };
    let mut served = 0u64;
    loop {
        let bytes = comm.recv(0, SERVE_OP)?;
        let message: Message = postcard::from_bytes(&bytes).map_err(|e| {
            Error::Comm(crypten_comm::Error::Malformed {
                peer: 0,
                op: SERVE_OP.into(),
                reason: format!("undecodable dealer request: {e}"),
            })
        })?;
        let request = match message {
            Message::Shutdown => break,
            Message::Serve(request) => request,
        };
        let words = dealer.serve(request)?;
        comm.send_words(0, SERVE_OP, words)?;
        served += 1;
        dealer.guess_ahead();
    }
    tracing::debug!(served, "dealer finished");
    Ok(())
}
