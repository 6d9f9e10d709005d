//! Seeds for the PRG streams: fresh from the operating system, or (tests only) derived from a
//! fixed seed so that a whole computation replays exactly.

use crate::Result;
use crypten_core::{Prg, Seed};

/// What a derived seed is for: keeps the streams of different purposes apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedPurpose {
    /// The pairwise zero-sharing stream of parties `(a, b)`.
    Przs = 1,
    /// Party `a`'s stream from a trusted first party.
    FirstParty = 2,
    /// Party `a`'s stream from a trusted third party.
    ThirdParty = 3,
    /// Party `a`'s private stream (its contribution to random samples).
    Local = 4,
}

/// A fresh seed: from the operating system, or (tests only) derived deterministically from
/// `fixed`, `purpose` and the indices `a`, `b`.
///
/// # Errors
/// The operating system cannot provide randomness.
pub fn fresh_seed(fixed: Option<&Seed>, purpose: SeedPurpose, a: usize, b: usize) -> Result<Seed> {
    let Some(fixed) = fixed else {
        return Ok(Prg::random_seed()?);
    };
    // Distinct (purpose, a, b) give distinct AES keys, hence independent streams.
    let mut key = *fixed;
    let tag = [purpose as u32, a as u32, b as u32, 0x5eed];
    for (chunk, word) in key.chunks_exact_mut(4).zip(tag) {
        for (k, t) in chunk.iter_mut().zip(word.to_le_bytes()) {
            *k ^= t;
        }
    }
    Ok(Prg::from_seed(key).gen_seed())
}
