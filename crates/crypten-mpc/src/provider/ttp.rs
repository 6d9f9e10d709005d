//! The trusted-third-party provider: the parties' side and the dealer's serving loop.
//!
//! The dealer is its own process, the last rank of the communicator. At set-up it sends each
//! party a fresh stream seed. Afterwards only party 0 talks to it: `begin` sends the request
//! (before the parties' opening round, so the dealer computes while the parties exchange) and
//! `finish` receives party 0's dependent parts. The dealer learns the sequence of requested
//! shapes, which every party knows anyway, and nothing about inputs. The dealer answers in the
//! order it was asked; party 0 numbers its requests and keeps an answer that arrives before
//! its `finish` until that `finish` comes.

use super::dealer::{self, Request};
use super::tfp::parse_seed;
use super::{Pending, Provider};
use crate::config::{SeedPurpose, fresh_seed};
use crate::{Error, Result};
use crypten_comm::{Communicator, Words};
use crypten_core::{Prg, RingTensor, Seed};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const SETUP_OP: &str = "setup.ttp";
const SERVE_OP: &str = "ttp";

/// What party 0 sends the dealer.
#[derive(Serialize, Deserialize)]
enum DealerMessage {
    Serve(Request),
    Shutdown,
}

/// The parties' side of the trusted-third-party provider.
pub struct TrustedThirdParty {
    rank: usize,
    dealer: usize,
    stream: Mutex<Prg>,
    replies: Mutex<Replies>,
}

/// Party 0's bookkeeping of the dealer's answers.
#[derive(Default)]
struct Replies {
    /// The number of requests sent so far.
    sent: u64,
    /// Requests not answered yet, oldest first: (number, words expected).
    outstanding: VecDeque<(u64, usize)>,
    /// Answers received ahead of their `finish`.
    early: HashMap<u64, Words>,
}

impl TrustedThirdParty {
    /// Set-up: receives this party's stream seed from the dealer (rank `parties`).
    ///
    /// # Errors
    /// The dealer is unreachable or sent a malformed seed.
    pub fn setup(comm: &dyn Communicator, parties: usize) -> Result<Self> {
        let dealer = parties;
        let got = comm.recv(dealer, SETUP_OP)?;
        let seed = parse_seed(&got, dealer, SETUP_OP)?;
        Ok(Self {
            rank: comm.rank(),
            dealer,
            stream: Mutex::new(Prg::from_seed(seed)),
            replies: Mutex::new(Replies::default()),
        })
    }

    fn send(&self, comm: &dyn Communicator, message: &DealerMessage) -> Result<()> {
        let bytes = postcard::to_stdvec(message).map_err(|e| Error::Provider {
            provider: self.name(),
            op: "request".into(),
            reason: e.to_string(),
        })?;
        Ok(comm.send(self.dealer, SERVE_OP, bytes)?)
    }
}

impl Provider for TrustedThirdParty {
    fn name(&self) -> &'static str {
        "trusted third party"
    }

    fn begin(&self, comm: &dyn Communicator, request: Request) -> Result<Pending> {
        let parts = {
            let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
            dealer::draw(&request, &mut stream, self.rank)?
        };
        let awaiting = self.rank == 0;
        let mut seq = 0;
        if awaiting {
            let shapes = request.part_shapes()?;
            let expected = shapes[request.independent()..]
                .iter()
                .map(|s| s.iter().product::<usize>())
                .sum();
            let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
            seq = replies.sent;
            self.send(comm, &DealerMessage::Serve(request.clone()))?;
            replies.sent += 1;
            replies.outstanding.push_back((seq, expected));
        }
        Ok(Pending {
            request,
            parts,
            awaiting,
            seq,
            others: Vec::new(),
        })
    }

    fn finish(&self, comm: &dyn Communicator, pending: Pending) -> Result<Vec<RingTensor>> {
        let Pending {
            request,
            mut parts,
            awaiting,
            seq,
            ..
        } = pending;
        if !awaiting {
            return Ok(parts);
        }
        let shapes = request.part_shapes()?;
        let dependent = &shapes[request.independent()..];
        let words = {
            let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(words) = replies.early.remove(&seq) {
                    break words;
                }
                let Some((next, len)) = replies.outstanding.pop_front() else {
                    return Err(Error::Provider {
                        provider: self.name(),
                        op: request.describe(),
                        reason: "finished a request that was never started".into(),
                    });
                };
                let words = comm.recv_words(self.dealer, SERVE_OP, len)?;
                if next == seq {
                    break words;
                }
                replies.early.insert(next, words);
            }
        };
        let mut at = 0;
        for shape in dependent {
            let len: usize = shape.iter().product();
            let part = words.le_bytes()[at..at + len]
                .iter()
                .map(|w| u64::from_le_bytes(*w))
                .collect();
            parts.push(RingTensor::new(shape, part)?);
            at += len;
        }
        Ok(parts)
    }

    fn shutdown(&self, comm: &dyn Communicator) -> Result<()> {
        if self.rank == 0 {
            self.send(comm, &DealerMessage::Shutdown)?;
        }
        Ok(())
    }
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
            .map(|(k, s)| dealer::draw(request, s, k))
            .collect::<Result<Vec<_>>>()?;
        let mut dependent = dealer::complete(request, &draws)?;
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

/// [`run_ttp`], with the parties' stream seeds derived from `fixed` when given (tests only:
/// see `Config::seed`).
///
/// # Errors
/// See [`run_ttp`].
pub fn run_ttp_seeded(comm: &dyn Communicator, parties: usize, fixed: Option<&Seed>) -> Result<()> {
    serve(comm, parties, fixed).inspect_err(|e| comm.abort(&e.to_string()))
}

fn serve(comm: &dyn Communicator, parties: usize, fixed: Option<&Seed>) -> Result<()> {
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
        let message: DealerMessage = postcard::from_bytes(&bytes).map_err(|e| {
            Error::Comm(crypten_comm::Error::Malformed {
                peer: 0,
                op: SERVE_OP.into(),
                reason: format!("undecodable dealer request: {e}"),
            })
        })?;
        let request = match message {
            DealerMessage::Shutdown => break,
            DealerMessage::Serve(request) => request,
        };
        let words = dealer.serve(request)?;
        comm.send_words(0, SERVE_OP, words)?;
        served += 1;
        dealer.guess_ahead();
    }
    tracing::debug!(served, "dealer finished");
    Ok(())
}
