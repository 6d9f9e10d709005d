//! Binary (XOR) secret sharing: a word `x` is held as shares with `x = x_0 ^ x_1 ^ ... ^ x_{N-1}`,
//! so one share packs 64 independent bits and one AND of words is 64 parallel ANDs.
//!
//! XOR, NOT, shifts and masks with public constants are local: XOR with a public value and
//! NOT are applied by party 0 only; shifts and ANDs with a public mask are applied by everyone
//! to their own share (they are linear over GF(2)). AND of two shared words is Beaver's
//! protocol over GF(2): with a triple `(a, b, c = a & b)` the parties open `d = x ^ a` and
//! `e = y ^ b` together, and `x & y = d & e ^ d & b ^ a & e ^ c`, party 0 adding `d & e`.
//!
//! Submodules: [`a2b`] and [`b2a`] convert between sharings; `sign_zero` ([`bit_test`]) computes a sign bit
//! or a zero test of an arithmetic share without a full conversion, and is what comparisons
//! use.

pub mod a2b;
pub mod b2a;
mod sign_zero;

use crypten_core::bitslice;
pub use crypten_dealer::BitTest;
pub use sign_zero::bit_test;
pub(crate) use sign_zero::bit_test_with;

use crate::provider::Request;
use crate::{Error, Result, Session};
use crypten_core::RingTensor;

/// One bit per element, XOR-shared and packed 64 to a word (element `i` in bit `i % 64` of
/// word `i / 64`): what a bit test returns and what bit conversions take. `Debug` prints the
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedBits {
    n: usize,
    words: Vec<u64>,
}

impl std::fmt::Debug for SharedBits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedBits(len={})", self.n)
    }
}

impl SharedBits {
    /// Wraps this party's packed share of `n` bits (advanced use: protocols).
    ///
    /// # Errors
    /// `InvalidArgument` unless `words` holds exactly `ceil(n / 64)` words.
    pub fn from_words(n: usize, words: Vec<u64>) -> Result<Self> {
        if words.len() != bitslice::groups(n) {
            return Err(Error::InvalidArgument {
                op: "SharedBits::from_words",
                reason: format!("{} words cannot hold exactly {n} bits", words.len()),
            });
        }
        Ok(Self { n, words })
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// This party's packed share.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The complement of every bit (party 0 flips its share). Local.
    pub fn not(&self, sess: &Session) -> Self {
        let words = if sess.rank() == 0 {
            self.words.iter().map(|w| !w).collect()
        } else {
            self.words.clone()
        };
        Self { n: self.n, words }
    }

    /// The bits at `indices` (repeats allowed), in that order. Local.
    ///
    /// # Errors
    /// `InvalidArgument` for an index out of range.
    pub fn gather(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n) {
            return Err(Error::InvalidArgument {
                op: "SharedBits::gather",
                reason: format!("index {bad} out of range for {} bits", self.n),
            });
        }
        Ok(Self {
            n: indices.len(),
            words: bitslice::gather(&self.words, indices),
        })
    }

    /// The bits of several vectors one after the other. Local.
    pub fn concat(parts: &[&SharedBits]) -> Self {
        let list: Vec<(&[u64], usize)> = parts.iter().map(|p| (&p.words[..], p.n)).collect();
        Self {
            n: parts.iter().map(|p| p.n).sum(),
            words: bitslice::concat(&list),
        }
    }

    /// Opens the bits to every party as 0/1 values of shape `[n]`. One round.
    ///
    /// # Errors
    /// Communication failures.
    pub fn reveal(&self, sess: &Session) -> Result<RingTensor> {
        let words = open_words(sess, "bits.reveal", &[(&self.words, Combine::Xor)])?;
        Ok(RingTensor::new(
            &[self.n],
            bitslice::unpack(&words[0], self.n),
        )?)
    }
}

/// How opened shares combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Combine {
    /// Arithmetic shares: wrapping sum.
    Add,
    /// Binary shares: XOR.
    Xor,
}

/// Opens several word vectors, arithmetic or binary, to every party in one round: each party
/// sends the concatenation of its shares to every other and combines what it receives.
///
/// Rounds: 1. Bytes sent per party: `8 * (N-1) * total words` plus one frame header per peer.
pub(crate) fn open_words(
    sess: &Session,
    op: &str,
    parts: &[(&[u64], Combine)],
) -> Result<Vec<Vec<u64>>> {
    let total: usize = parts.iter().map(|(p, _)| p.len()).sum();
    let mut acc = Vec::with_capacity(total);
    for (p, _) in parts {
        acc.extend_from_slice(p);
    }
    let received = crate::protocol::share::exchange_with_peers(sess, op, acc)?;
    let mut out = Vec::with_capacity(parts.len());
    let mut at = 0;
    for &(p, combine) in parts {
        let mine = match combine {
            Combine::Add => crate::protocol::share::add_received(p.iter().copied(), &received, at),
            Combine::Xor => {
                let mut mine = p.to_vec();
                for theirs in &received {
                    for (m, t) in mine.iter_mut().zip(&theirs.le_bytes()[at..at + p.len()]) {
                        *m ^= u64::from_le_bytes(*t);
                    }
                }
                mine
            }
        };
        out.push(mine);
        at += p.len();
    }
    Ok(out)
}

/// Shares a value held by party `src` as XOR shares, without communication: every party draws
/// its share of a fresh binary zero sharing and `src` XORs in its value.
///
/// # Errors
/// `InvalidArgument` when `src` is not a party or passes no value or one of another shape.
pub fn share(
    sess: &Session,
    src: usize,
    value: Option<&RingTensor>,
    shape: &[usize],
) -> Result<RingTensor> {
    let mut share = sess.zero_xor_share(shape);
    if let Some(value) =
        crate::protocol::share::source_value(sess, "binary::share", src, value, shape)?
    {
        share.xor_assign(value)?;
    }
    Ok(share)
}

/// Opens several XOR-shared tensors to every party in one round.
///
/// Rounds: 1. Bytes sent per party: `8 * (N-1) * total elements` plus headers.
///
/// # Errors
/// Communication failures.
pub fn open(sess: &Session, op: &str, shares: &[&RingTensor]) -> Result<Vec<RingTensor>> {
    let parts: Vec<(&[u64], Combine)> = shares.iter().map(|s| (s.data(), Combine::Xor)).collect();
    open_words(sess, op, &parts)?
        .into_iter()
        .zip(shares)
        .map(|(words, s)| Ok(RingTensor::new(s.shape(), words)?))
        .collect()
}

/// Opens one XOR-shared tensor to every party (one round).
///
/// # Errors
/// Communication failures.
pub fn reveal(sess: &Session, share: &RingTensor) -> Result<RingTensor> {
    Ok(open(sess, "binary.reveal", &[share])?.swap_remove(0))
}

/// `x ^ y` of two shared tensors (broadcasting). Local.
///
/// # Errors
/// Shapes that do not broadcast.
pub fn xor(x: &RingTensor, y: &RingTensor) -> Result<RingTensor> {
    Ok(x.xor(y)?)
}

/// `x ^ c` for a public `c` (broadcasting): party 0 XORs, the others keep their share (in the
/// broadcast shape). Local.
///
/// # Errors
/// Shapes that do not broadcast.
pub fn xor_public(sess: &Session, x: &RingTensor, c: &RingTensor) -> Result<RingTensor> {
    let c = if sess.rank() == 0 {
        c.clone()
    } else {
        RingTensor::zeros(c.shape())
    };
    Ok(x.xor(&c)?)
}

/// `!x`: party 0 complements its share. Local.
pub fn not(sess: &Session, x: &RingTensor) -> RingTensor {
    if sess.rank() == 0 { x.not() } else { x.clone() }
}

/// `x & m` for a public mask `m`: every party masks its own share. Local. (Shifts are local
/// too: shift each share with `RingTensor::shl` / `shr`.)
pub fn and_public(x: &RingTensor, m: u64) -> RingTensor {
    x.and_scalar(m)
}

/// `x & y` of two shared tensors of the same shape, with a binary triple.
///
/// Rounds: 1. Bytes sent per party: `16 * (N-1) * elements` plus headers. Exact.
///
/// # Errors
/// Different shapes; provider or communication failures.
pub fn and(sess: &Session, x: &RingTensor, y: &RingTensor) -> Result<RingTensor> {
    Ok(and_many(sess, "binary.and", &[(x, y)])?.swap_remove(0))
}

/// Several independent ANDs in one round (one triple request and one opening for all).
///
/// Rounds: 1. Bytes sent per party: `16 * (N-1) * total elements` plus headers. Exact.
///
/// # Errors
/// A pair of different shapes; provider or communication failures.
pub fn and_many(
    sess: &Session,
    op: &str,
    pairs: &[(&RingTensor, &RingTensor)],
) -> Result<Vec<RingTensor>> {
    let mut total = 0;
    for (x, y) in pairs {
        if x.shape() != y.shape() {
            return Err(Error::InvalidArgument {
                op: "binary::and",
                reason: format!("shapes {:?} and {:?} differ", x.shape(), y.shape()),
            });
        }
        total += x.numel();
    }
    let pending = sess
        .provider()
        .begin(sess.comm(), Request::AndTriple { shape: vec![total] })?;
    let (a, b) = (pending.parts[0].data(), pending.parts[1].data());
    let mut d = Vec::with_capacity(total);
    let mut e = Vec::with_capacity(total);
    for (x, y) in pairs {
        d.extend_from_slice(x.data());
        e.extend_from_slice(y.data());
    }
    xor_into(&mut d, a);
    xor_into(&mut e, b);
    let opened = open_words(sess, op, &[(&d, Combine::Xor), (&e, Combine::Xor)])?;
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let z = and_shares(
        sess.rank() == 0,
        &opened[0],
        &opened[1],
        parts[0].data(),
        parts[1].data(),
        parts[2].data(),
    );
    let mut out = Vec::with_capacity(pairs.len());
    let mut at = 0;
    for (x, _) in pairs {
        out.push(RingTensor::new(x.shape(), z[at..at + x.numel()].to_vec())?);
        at += x.numel();
    }
    Ok(out)
}

/// `acc ^= other`, elementwise.
pub(crate) fn xor_into(acc: &mut [u64], other: &[u64]) {
    for (a, o) in acc.iter_mut().zip(other) {
        *a ^= o;
    }
}

/// A party's share of `x & y` from the openings `d = x ^ a`, `e = y ^ b` and its shares of the
/// triple: `d & b ^ a & e ^ c`, plus `d & e` at party 0.
pub(crate) fn and_shares(
    first: bool,
    d: &[u64],
    e: &[u64],
    a: &[u64],
    b: &[u64],
    c: &[u64],
) -> Vec<u64> {
    let public = if first { !0 } else { 0 };
    d.iter()
        .zip(e)
        .zip(a.iter().zip(b))
        .zip(c)
        .map(|(((&d, &e), (&a, &b)), &c)| (d & e & public) ^ (d & b) ^ (a & e) ^ c)
        .collect()
}
