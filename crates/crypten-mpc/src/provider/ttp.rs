//! The trusted-third-party provider: the parties' side (the dealer's serving loop is
//! `crypten_dealer::serve`).
//!
//! The dealer is its own process, the last rank of the communicator. At set-up it sends each
//! party a fresh stream seed. Afterwards only party 0 talks to it: `begin` sends the request
//! (before the parties' opening round, so the dealer computes while the parties exchange) and
//! `finish` receives party 0's dependent parts. The dealer learns the sequence of requested
//! shapes, which every party knows anyway, and nothing about inputs. The dealer answers in the
//! order it was asked; party 0 numbers its requests and keeps an answer that arrives before
//! its `finish` until that `finish` comes.

use super::{Pending, Provider};
use crate::{Error, Result};
use crypten_comm::{Communicator, Words};
use crypten_core::{Prg, RingTensor};
use crypten_dealer::{Message, Request, SERVE_OP, SETUP_OP, deal, parse_seed};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

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

    fn send(&self, comm: &dyn Communicator, message: &Message) -> Result<()> {
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
            deal::draw(&request, &mut stream, self.rank)?
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
            self.send(comm, &Message::Serve(request.clone()))?;
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
            self.send(comm, &Message::Shutdown)?;
        }
        Ok(())
    }
}
