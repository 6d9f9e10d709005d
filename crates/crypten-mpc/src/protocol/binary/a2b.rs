//! Arithmetic to binary conversion (A2B) and the binary adder it is built on.
//!
//! A2B follows the classic construction (ABY; CrypTen's `A2B`): every party's arithmetic share
//! is an operand that party holds in the clear, hence trivially XOR-shared (the others hold 0).
//! With 3+ parties a Wallace tree of carry-save adders reduces the N operands to two, one AND
//! level per round (`sum = a ^ b ^ c`, `carry = maj(a, b, c) << 1` with
//! `maj = ((a ^ c) & (b ^ c)) ^ c`, one AND); then a Kogge-Stone parallel-prefix adder over
//! whole 64-bit words adds the last two: `g = a & b`, `p = a ^ b`, and for `s = 1, 2, .., 32`,
//! `G ^= P & (G << s)`, `P &= P << s`; the sum is `p ^ (G << 1)`. The masks of the shifted
//! operands are the shifted masks (`Request::AdderLevel`), so each level opens two words per
//! value, not four.

use super::{Combine, and_many, and_shares, open_words, xor_into};
use crate::provider::Request;
use crate::{Error, Result, Session};
use crypten_core::RingTensor;

/// Shifts of the Kogge-Stone levels for 64-bit words.
const SHIFTS: [u32; 6] = [1, 2, 4, 8, 16, 32];

/// Converts an arithmetic sharing of `x` into a fresh XOR sharing of the same words.
///
/// Rounds: `L + 7`, where `L` = [`carry_save_levels`]`(N)` (0 for 2 parties, 1 for 3, 2 for 4,
/// 3 for 5 and 6). Bytes sent per party per value: `16 (N-1)` per carry-save adder (two words
/// opened each), then `112 (N-1)` for the final adder, plus headers. Exact.
///
/// # Errors
/// Provider or communication failures.
pub fn a2b(sess: &Session, x: &RingTensor) -> Result<RingTensor> {
    let shape = x.shape();
    let mut operands: Vec<RingTensor> = (0..sess.parties())
        .map(|i| {
            if i == sess.rank() {
                x.clone()
            } else {
                RingTensor::zeros(shape)
            }
        })
        .collect();
    while operands.len() > 2 {
        operands = carry_save_level(sess, &operands)?;
    }
    let sum = add(sess, &operands[0], &operands[1], false)?;
    // Re-randomise: each party's share of the low bits would otherwise be its own input bits.
    Ok(sum.xor(&sess.zero_xor_share(shape))?)
}

/// The number of carry-save levels that reduce `n` operands to two.
pub fn carry_save_levels(mut n: usize) -> usize {
    let mut levels = 0;
    while n > 2 {
        n = 2 * (n / 3) + n % 3;
        levels += 1;
    }
    levels
}

/// One Wallace-tree level: every full group of three operands becomes a sum and a carry (one
/// AND each, all in one round); leftover operands pass through.
fn carry_save_level(sess: &Session, operands: &[RingTensor]) -> Result<Vec<RingTensor>> {
    let groups = operands.len() / 3;
    let mut inputs = Vec::with_capacity(groups);
    for t in operands.chunks_exact(3) {
        inputs.push((t[0].xor(&t[2])?, t[1].xor(&t[2])?));
    }
    let pairs: Vec<(&RingTensor, &RingTensor)> = inputs.iter().map(|(a, b)| (a, b)).collect();
    let majorities = and_many(sess, "a2b.csa", &pairs)?;
    let mut next = Vec::with_capacity(2 * groups + operands.len() % 3);
    for (t, maj) in operands.chunks_exact(3).zip(majorities) {
        next.push(t[0].xor(&t[1])?.xor(&t[2])?);
        next.push(maj.xor(&t[2])?.shl(1));
    }
    next.extend(operands[3 * groups..].iter().cloned());
    Ok(next)
}

/// `x + y (+ 1 if carry_in)` modulo 2^64 of two XOR-shared tensors of the same shape, with a
/// Kogge-Stone adder.
///
/// Rounds: 7 (the generate AND, then six prefix levels). Bytes sent per party:
/// `(N-1) * 112` per value plus headers. Exact.
///
/// # Errors
/// Different shapes; provider or communication failures.
pub fn add(sess: &Session, x: &RingTensor, y: &RingTensor, carry_in: bool) -> Result<RingTensor> {
    if x.shape() != y.shape() {
        return Err(Error::InvalidArgument {
            op: "binary::add",
            reason: format!("shapes {:?} and {:?} differ", x.shape(), y.shape()),
        });
    }
    let first = sess.rank() == 0;
    let p = x.xor(y)?;
    let mut g = and_many(sess, "adder.generate", &[(x, y)])?
        .swap_remove(0)
        .into_data();
    if carry_in {
        // The carry out of bit 0 becomes g0 | p0, and g0 & p0 = 0, so the OR is an XOR.
        for (g, p) in g.iter_mut().zip(p.data()) {
            *g ^= p & 1;
        }
    }
    let mut prop = p.data().to_vec();
    for s in SHIFTS {
        let pending = sess.provider().begin(
            sess.comm(),
            Request::AdderLevel {
                shape: vec![prop.len()],
                shift: s,
            },
        )?;
        let mut d = prop.clone();
        xor_into(&mut d, pending.parts[0].data());
        let mut e = g.clone();
        xor_into(&mut e, pending.parts[1].data());
        let opened = open_words(
            sess,
            "adder.level",
            &[(&d, Combine::Xor), (&e, Combine::Xor)],
        )?;
        let parts = sess.provider().finish(sess.comm(), pending)?;
        let (d, e) = (&opened[0], &opened[1]);
        let shifted = |w: &[u64]| -> Vec<u64> { w.iter().map(|v| v << s).collect() };
        let (u, v) = (parts[0].data(), parts[1].data());
        // G ^= P & (G << s): the second operand's opening and mask are the shifted ones.
        let pg = and_shares(first, d, &shifted(e), u, &shifted(v), parts[2].data());
        xor_into(&mut g, &pg);
        if s != SHIFTS[SHIFTS.len() - 1] {
            prop = and_shares(first, d, &shifted(d), u, &shifted(u), parts[3].data());
        }
    }
    let mut sum = p.into_data();
    for (out, carry) in sum.iter_mut().zip(&g) {
        *out ^= carry << 1;
        if carry_in && first {
            *out ^= 1;
        }
    }
    Ok(RingTensor::new(x.shape(), sum)?)
}
