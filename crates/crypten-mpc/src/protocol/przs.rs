//! Pseudo-random zero sharings (PRZS) from pairwise seeds.
//!
//! Every pair of parties (i, j) shares a PRG seed, agreed once when the session starts. To draw
//! a fresh sharing of zero, party i adds the pair stream's next tensor for every j > i and
//! subtracts it for every j < i; summed over all parties every term cancels. The binary variant
//! XORs instead. Sharing an input then costs no communication: its owner adds its value to its
//! zero share. Security: a coalition missing party i lacks at least one pair seed of i, so i's
//! share looks uniform to it.

use crypten_core::{Prg, RingTensor};

/// The pairwise PRGs of one party; `streams[j]` is shared with party j (none for itself).
pub(crate) struct Przs {
    rank: usize,
    streams: Vec<Option<Prg>>,
}

impl Przs {
    pub(crate) fn new(rank: usize, streams: Vec<Option<Prg>>) -> Self {
        Self { rank, streams }
    }

    /// This party's share of a fresh arithmetic sharing of zero.
    pub(crate) fn zero(&mut self, shape: &[usize]) -> RingTensor {
        let mut acc = RingTensor::zeros(shape);
        for (peer, stream) in self.streams.iter_mut().enumerate() {
            let Some(stream) = stream else { continue };
            let r = stream.ring(shape);
            let combined = if peer > self.rank {
                acc.add_assign(&r)
            } else {
                acc.sub_assign(&r)
            };
            combined.expect("a tensor drawn in the accumulator's own shape");
        }
        acc
    }

    /// This party's share of a fresh binary (XOR) sharing of zero.
    pub(crate) fn zero_xor(&mut self, shape: &[usize]) -> RingTensor {
        let mut acc = RingTensor::zeros(shape);
        for stream in self.streams.iter_mut().flatten() {
            acc.xor_assign(&stream.ring(shape))
                .expect("a tensor drawn in the accumulator's own shape");
        }
        acc
    }
}
