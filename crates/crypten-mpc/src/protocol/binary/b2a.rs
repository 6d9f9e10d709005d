//! Binary to arithmetic conversion (B2A) of single bits and of whole words, and the product
//! of an arithmetic value with a shared bit.
//!
//! - **Bits** use daBits, random bits `t` held in both sharings: open `b ^ t` (one bit per
//!   value, packed), then `b = (b ^ t) + (1 - 2 (b ^ t)) t` is linear in the arithmetic
//!   shares of `t`.
//! - **Bit products** `x * b` fuse that conversion with a Beaver product: with a daBit `t`
//!   and an arithmetic mask `a` whose products `a * t` the dealer provides, the parties open
//!   `β = b ^ t` and `e = x - a` together, and `x * b = β x + (1 - 2β)(e t + a t)`. One round,
//!   exact (no truncation: `b` is an integer).
//! - **Words** use edaBits, a random word `r` held in both sharings: the binary adder computes
//!   `z = x - r = x + !r + 1` on XOR shares, `z` is opened (it is uniform), and
//!   `x = z + r` arithmetically.

use super::a2b::add;
use super::{Combine, SharedBits, not, open_words};
use crate::protocol::deferred::{self, Opened, Operand};
use crate::provider::{Pending, Request};
use crate::{Error, Result, Session};
use crypten_core::RingTensor;
use crypten_core::bitslice::unpack;

/// Converts XOR-shared bits into arithmetic shares of 0/1 values, shape `[n]`.
///
/// Rounds: 1. Bytes sent per party: `(N-1) * 8 * ceil(n/64)` plus headers. Exact.
///
/// # Errors
/// Provider or communication failures.
pub fn bits_to_arith(sess: &Session, bits: &SharedBits) -> Result<RingTensor> {
    let pending = sess
        .provider()
        .begin(sess.comm(), Request::DaBits { n: bits.len() })?;
    bits_to_arith_with(sess, bits, pending)
}

/// [`bits_to_arith`] with daBits requested earlier (`Request::DaBits` for `bits.len()`).
pub(crate) fn bits_to_arith_with(
    sess: &Session,
    bits: &SharedBits,
    pending: Pending,
) -> Result<RingTensor> {
    let n = bits.len();
    check_request(&pending, Request::DaBits { n })?;
    let mut masked = bits.words().to_vec();
    super::xor_into(&mut masked, pending.parts[0].data());
    let beta = open_words(sess, "b2a.bits", &[(&masked, Combine::Xor)])?.swap_remove(0);
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let first = sess.rank() == 0;
    let out = unpack(&beta, n)
        .into_iter()
        .zip(parts[1].data())
        .map(|(beta, &t)| flip(beta, t).wrapping_add(if first { beta } else { 0 }))
        .collect();
    Ok(RingTensor::new(&[n], out)?)
}

/// `(1 - 2 beta) * t` for a bit `beta`: `t` or `-t`.
#[inline]
fn flip(beta: u64, t: u64) -> u64 {
    t.wrapping_mul(1u64.wrapping_sub(beta << 1))
}

/// `x * b` elementwise, for arithmetic shares `x` (any shape, `n` elements in row-major
/// order) and XOR-shared bits `b` (`n` of them). Works on any ring value, fixed-point or not:
/// nothing is truncated.
///
/// Rounds: 1. Bytes sent per party: `(N-1) * (8 n + 8 ceil(n/64))` plus headers. Exact.
///
/// # Errors
/// `InvalidArgument` when the counts differ; provider or communication failures.
pub fn mul_bits(sess: &Session, bits: &SharedBits, x: &RingTensor) -> Result<RingTensor> {
    let pending = sess
        .provider()
        .begin(sess.comm(), Request::BitMul { n: bits.len() })?;
    mul_bits_with(sess, bits, x, pending)
}

/// [`mul_bits`] with the material requested earlier (`Request::BitMul` for `bits.len()`).
pub(crate) fn mul_bits_with(
    sess: &Session,
    bits: &SharedBits,
    x: &RingTensor,
    pending: Pending,
) -> Result<RingTensor> {
    let operand = Operand { share: x, bits: 0 };
    Ok(mul_bits_with_operand(sess, bits, operand, pending)?.0)
}

/// [`mul_bits_with`], or, when `x` is deferred (by `x.bits`), the same with
/// `Request::DeferredBitMul` (by those bits): the truncation then rides on
/// this round and the product is `trunc(x) * b`, at the session's scale. Also returns `b`
/// itself as arithmetic 0/1 values, shape `[n]` (it comes free with the daBit).
pub(crate) fn mul_bits_with_operand(
    sess: &Session,
    bits: &SharedBits,
    x: Operand<'_>,
    pending: Pending,
) -> Result<(RingTensor, RingTensor)> {
    let n = bits.len();
    if x.share.numel() != n {
        return Err(Error::InvalidArgument {
            op: "mul_bits",
            reason: format!("{n} bits for a tensor of {} elements", x.share.numel()),
        });
    }
    check_request(
        &pending,
        if x.deferred() {
            Request::DeferredBitMul { n, bits: x.bits }
        } else {
            Request::BitMul { n }
        },
    )?;
    let mut masked_bits = bits.words().to_vec();
    super::xor_into(&mut masked_bits, pending.parts[0].data());
    let masked_x = deferred::masked(sess, x, &pending.parts[1])?;
    let mut opened = open_words(
        sess,
        "bitmul",
        &[
            (&masked_bits, Combine::Xor),
            (masked_x.data(), Combine::Add),
        ],
    )?;
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let (Some(e), Some(beta)) = (opened.pop(), opened.pop()) else {
        return Err(Error::InvalidArgument {
            op: "mul_bits",
            reason: "fewer opened values than masked ones".into(),
        });
    };
    let Opened { e, wrap } = deferred::read(RingTensor::new(&[n], e)?, x.bits);
    let e = e.data();
    // This party's share of x (truncated, if deferred) and of x * t, element by element.
    let first = sess.rank() == 0;
    let (out, arith) = match (&wrap, parts.as_slice()) {
        (None, [_, _, t, at]) => bit_products(&beta, t.data(), first, |i| {
            let xt = e[i].wrapping_mul(t.data()[i]).wrapping_add(at.data()[i]);
            (x.share.data()[i], xt)
        }),
        (Some(wrap), [_, _, t, alpha, mu, alpha_t, mu_t]) => {
            bit_products(&beta, t.data(), first, |i| {
                let k = wrap.data()[i];
                let mut xi = alpha.data()[i].wrapping_add(k.wrapping_mul(mu.data()[i]));
                if first {
                    xi = xi.wrapping_add(e[i]);
                }
                let xt = e[i]
                    .wrapping_mul(t.data()[i])
                    .wrapping_add(alpha_t.data()[i])
                    .wrapping_add(k.wrapping_mul(mu_t.data()[i]));
                (xi, xt)
            })
        }
        _ => {
            return Err(Error::InvalidArgument {
                op: "mul_bits",
                reason: "fewer preprocessing parts than the request defines".into(),
            });
        }
    };
    Ok((
        RingTensor::new(x.share.shape(), out)?,
        RingTensor::new(&[n], arith)?,
    ))
}

/// The shares of `x * b` and of `b` for every element, from the opened `beta = b ^ t` (packed),
/// the daBits' arithmetic shares `t`, and `shares(i)`: this party's shares of `x_i` and of
/// `x_i * t_i`. `x b = beta x + (1 - 2 beta) x t` and `b = beta + (1 - 2 beta) t`.
fn bit_products(
    beta: &[u64],
    t: &[u64],
    first: bool,
    shares: impl Fn(usize) -> (u64, u64),
) -> (Vec<u64>, Vec<u64>) {
    let (mut out, mut arith) = (Vec::with_capacity(t.len()), Vec::with_capacity(t.len()));
    for (i, &ti) in t.iter().enumerate() {
        let beta = (beta[i / 64] >> (i % 64)) & 1;
        let (xi, xt) = shares(i);
        out.push(xi.wrapping_mul(beta).wrapping_add(flip(beta, xt)));
        let b = flip(beta, ti);
        arith.push(if first { b.wrapping_add(beta) } else { b });
    }
    (out, arith)
}

/// Converts an XOR sharing of words into an arithmetic sharing of the same words.
///
/// Rounds: 8 for any number of parties (the 7-round adder, then opening `z`). Bytes sent per
/// party per value: `(N-1) * 120` plus headers. Exact.
///
/// # Errors
/// Provider or communication failures.
pub fn b2a(sess: &Session, x: &RingTensor) -> Result<RingTensor> {
    let pending = sess.provider().begin(
        sess.comm(),
        Request::EdaBits {
            shape: x.shape().to_vec(),
        },
    )?;
    let not_r = not(sess, &pending.parts[0]);
    let z = add(sess, x, &not_r, true)?;
    // z's shares would otherwise carry each party's own bits into the opening.
    let z = z.xor(&sess.zero_xor_share(x.shape()))?;
    let z = open_words(sess, "b2a.words", &[(z.data(), Combine::Xor)])?.swap_remove(0);
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let mut out = parts[1].clone();
    if sess.rank() == 0 {
        out.add_assign(&RingTensor::new(x.shape(), z)?)?;
    }
    Ok(out)
}

/// Fails unless `pending` is the material `expected` describes.
fn check_request(pending: &Pending, expected: Request) -> Result<()> {
    if pending.request == expected {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op: "binary conversion",
            reason: format!(
                "prefetched {} where {} was needed",
                pending.request.describe(),
                expected.describe()
            ),
        })
    }
}
