//! Arithmetic sharing: creating shares of an input and opening (revealing) shared values.
//!
//! A value `x` in Z/2^64 is held as shares `x_0 .. x_{N-1}` with `x = sum x_i (mod 2^64)`.

use crate::{Error, Result, Session};
use crypten_comm::Words;
use crypten_core::RingTensor;

/// Shares a value held by party `src` among all parties, without communication: every party
/// draws its share of a fresh zero sharing and `src` adds its value.
///
/// `value` must be `Some` (of shape `shape`) at `src`; it is ignored elsewhere.
///
/// Rounds: 0. Bytes: 0.
///
/// # Errors
/// `InvalidArgument` when `src` is not a party or `src` passes no value or a value of another
/// shape.
pub fn share(
    sess: &Session,
    src: usize,
    value: Option<&RingTensor>,
    shape: &[usize],
) -> Result<RingTensor> {
    let mut share = sess.zero_share(shape);
    if let Some(value) = source_value(sess, "share", src, value, shape)? {
        share.add_assign(value)?;
    }
    Ok(share)
}

/// Checks the arguments of a sharing from `src`: `src` is a party and, at `src`, `value` is
/// present with `shape`. Returns the value at `src` and `None` elsewhere.
///
/// # Errors
/// `InvalidArgument` (op `op`) otherwise.
pub(crate) fn source_value<'a>(
    sess: &Session,
    op: &'static str,
    src: usize,
    value: Option<&'a RingTensor>,
    shape: &[usize],
) -> Result<Option<&'a RingTensor>> {
    if src >= sess.parties() {
        return Err(Error::InvalidArgument {
            op,
            reason: format!(
                "source party {src} is not one of the {} parties",
                sess.parties()
            ),
        });
    }
    if sess.rank() != src {
        return Ok(None);
    }
    let value = value.ok_or_else(|| Error::InvalidArgument {
        op,
        reason: format!("party {src} is the source but passed no value"),
    })?;
    if value.shape() != shape {
        return Err(Error::InvalidArgument {
            op,
            reason: format!("value of shape {:?} shared as {shape:?}", value.shape()),
        });
    }
    Ok(Some(value))
}

/// Opens several shared tensors to every party in one round: each party sends its shares to
/// every other party and sums what it receives.
///
/// Rounds: 1. Bytes sent per party: `8 * (N-1) * total elements` plus frame headers.
///
/// # Errors
/// Communication failures (the error names the peer and `op`).
pub fn open(sess: &Session, op: &str, shares: &[&RingTensor]) -> Result<Vec<RingTensor>> {
    let mut words = Vec::with_capacity(shares.iter().map(|s| s.numel()).sum());
    for s in shares {
        words.extend_from_slice(s.data());
    }
    let received = exchange_with_peers(sess, op, words)?;
    let mut at = 0;
    shares
        .iter()
        .map(|s| {
            let opened = add_received(s.data().iter().copied(), &received, at);
            at += s.numel();
            Ok(RingTensor::new(s.shape(), opened)?)
        })
        .collect()
}

/// Opens one shared tensor to every party (one round; see [`open`]).
///
/// # Errors
/// Communication failures.
pub fn reveal(sess: &Session, share: &RingTensor) -> Result<RingTensor> {
    Ok(open(sess, "reveal", &[share])?.swap_remove(0))
}

/// Opens a shared tensor to party `dst` only; the others get `None`.
///
/// Rounds: 1. Bytes: every party but `dst` sends `8 * elements`.
///
/// # Errors
/// `InvalidArgument` for a bad `dst`; communication failures.
pub fn reveal_to(sess: &Session, share: &RingTensor, dst: usize) -> Result<Option<RingTensor>> {
    if dst >= sess.parties() {
        return Err(Error::InvalidArgument {
            op: "reveal_to",
            reason: format!("party {dst} is not one of the {} parties", sess.parties()),
        });
    }
    let op = "reveal_to";
    if sess.rank() == dst {
        let peers: Vec<(usize, usize)> = sess.peers().map(|p| (p, share.numel())).collect();
        let received = sess.comm().exchange_words(op, Vec::new(), &peers)?;
        let sum = add_received(share.data().iter().copied(), &received, 0);
        Ok(Some(RingTensor::new(share.shape(), sum)?))
    } else {
        let words = share.data().to_vec();
        sess.comm().exchange_words(op, vec![(dst, words)], &[])?;
        Ok(None)
    }
}

/// One round in which this party sends `words` to every other party and receives as many
/// words from each (in rank order): the exchange every opening is made of.
///
/// # Errors
/// Communication failures (the error names the peer and `op`).
pub(crate) fn exchange_with_peers(sess: &Session, op: &str, words: Vec<u64>) -> Result<Vec<Words>> {
    let len = words.len();
    send_to_peers(sess, op, words)?;
    receive_from_peers(sess, op, len)
}

/// The first half of [`exchange_with_peers`]: sends `words` to every other party, without a
/// copy for the last one. Work that needs nobody else's words can run before the second half,
/// [`receive_from_peers`], while they travel.
///
/// # Errors
/// Communication failures (the error names the peer and `op`).
pub(crate) fn send_to_peers(sess: &Session, op: &str, words: Vec<u64>) -> Result<()> {
    let peers: Vec<usize> = sess.peers().collect();
    if let Some((&last, others)) = peers.split_last() {
        for &peer in others {
            sess.comm().send_words(peer, op, words.clone())?;
        }
        sess.comm().send_words(last, op, words)?;
    }
    Ok(())
}

/// The second half of [`exchange_with_peers`]: receives `len` words from every other party
/// (in rank order) and counts the round.
///
/// # Errors
/// Communication failures (the error names the peer and `op`).
pub(crate) fn receive_from_peers(sess: &Session, op: &str, len: usize) -> Result<Vec<Words>> {
    let received = sess
        .peers()
        .map(|peer| sess.comm().recv_words(peer, op, len))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    sess.comm().stats().record_round(op);
    Ok(received)
}

/// `mine` plus, word by word, every peer's words `at..at + mine.len()`: this party's share of
/// a stretch of an opening, summed with the peers' shares of it.
pub(crate) fn add_received(
    mine: impl ExactSizeIterator<Item = u64>,
    received: &[Words],
    at: usize,
) -> Vec<u64> {
    let n = mine.len();
    let Some((first, rest)) = received.split_first() else {
        return mine.collect();
    };
    let mut out: Vec<u64> = mine
        .zip(&first.le_bytes()[at..at + n])
        .map(|(m, w)| m.wrapping_add(u64::from_le_bytes(*w)))
        .collect();
    for theirs in rest {
        for (o, w) in out.iter_mut().zip(&theirs.le_bytes()[at..at + n]) {
            *o = o.wrapping_add(u64::from_le_bytes(*w));
        }
    }
    out
}
