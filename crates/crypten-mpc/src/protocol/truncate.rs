//! Truncation of shared fixed-point values: dividing by 2^bits after a product.
//!
//! - **2 parties, local** (SecureML's observation): party 0 shifts its share arithmetically,
//!   party 1 shifts the negation of its share and negates back. The result is off by at most
//!   one unit in the last place, except with probability about `|x| / 2^63` per element, when
//!   the two shares straddle the wrap-around and the result is garbage. With 16 fractional bits
//!   and |x| < 2^20 that is below 2^-27 per element.
//! - **3+ parties, dealer-assisted, one round**: local shifting fails there (the sum of N
//!   random shares wraps a random number of times), so the parties open `c = x + 2^62 + r` for
//!   a dealer mask `r` that is uniform in Z/2^64 (so `c` reveals nothing). Writing
//!   `x' = x + 2^62`, which lies in `[0, 2^63)` when `|x| < 2^62`, the sum `x' + r` wraps past
//!   2^64 exactly when the top bit of `r` is set and the top bit of `c` is clear. The dealer
//!   provides shares of `r >> bits` and of `msb(r)`, so
//!   `x >> bits = (c >> bits) - (r >> bits) + wrap * 2^(64-bits) - 2^(62-bits)`, where
//!   `wrap = (1 - msb(c)) * msb(r)` is linear in the shares. It never fails; the result is
//!   `floor(x / 2^bits)` or one more (the dropped borrow between the low bits of `c` and `r`).
//!   `CrypTensor` avoids this round where it can by deferring the truncation to the value's
//!   next opening (see `deferred`).

use crate::protocol::share::open;
use crate::provider::Request;
use crate::{Error, Result, Session};
use crypten_core::RingTensor;

/// Divides a shared value by `2^bits`, rounding to one of the two nearest integers.
///
/// Rounds: 0 with 1 or 2 parties (exact with one); 1 with 3+ parties. Bytes per party with
/// 3+ parties: `8 * (N-1) * |x|` plus headers. Failure probability: see the module docs (2
/// parties only).
/// Requires `|x| < 2^62`.
///
/// # Errors
/// `InvalidArgument` when `bits` is 0 or at least 63; provider or communication failures.
pub fn truncate(sess: &Session, x: &RingTensor, bits: u32) -> Result<RingTensor> {
    truncate_each(sess, &[(x, bits)])?
        .pop()
        .ok_or_else(|| Error::InvalidArgument {
            op: "truncate",
            reason: "no result".into(),
        })
}

/// [`truncate`] of every `(x, bits)`, each by its own bits, all in one round (none when the
/// session truncates locally).
///
/// # Errors
/// As [`truncate`].
pub fn truncate_each(sess: &Session, items: &[(&RingTensor, u32)]) -> Result<Vec<RingTensor>> {
    for &(_, bits) in items {
        if bits == 0 || bits >= 63 {
            return Err(Error::InvalidArgument {
                op: "truncate",
                reason: format!("cannot shift by {bits} bits"),
            });
        }
    }
    if sess.parties() == 1 {
        // The one share is the value: shifting it is exact.
        return Ok(items.iter().map(|&(x, bits)| x.sar(bits)).collect());
    }
    if sess.truncates_locally() {
        return Ok(items
            .iter()
            .map(|&(x, bits)| {
                if sess.rank() == 0 {
                    x.sar(bits)
                } else {
                    x.neg().sar(bits).neg()
                }
            })
            .collect());
    }
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut pendings = Vec::with_capacity(items.len());
    let mut masked_values = Vec::with_capacity(items.len());
    for &(x, bits) in items {
        let pending = sess.provider().begin(
            sess.comm(),
            Request::Trunc {
                shape: x.shape().to_vec(),
                bits,
            },
        )?;
        let mut masked = x.add(&pending.parts[0])?;
        if sess.rank() == 0 {
            masked = masked.add_scalar(1 << 62);
        }
        masked_values.push(masked);
        pendings.push(pending);
    }
    let opened = open(sess, "truncate", &masked_values.iter().collect::<Vec<_>>())?;
    let mut out = Vec::with_capacity(items.len());
    for ((&(_, bits), pending), c) in items.iter().zip(pendings).zip(opened) {
        let parts = sess.provider().finish(sess.comm(), pending)?;
        let (Some(r_shifted), Some(r_msb)) = (parts.get(1), parts.get(2)) else {
            return Err(Error::InvalidArgument {
                op: "truncate",
                reason: "fewer preprocessing parts than the request defines".into(),
            });
        };
        // wrap * 2^(64-bits), with wrap = (1 - msb(c)) * msb(r): msb(r) shares scaled,
        // masked to the positions where c's top bit is clear.
        let no_top = c.map(|v| if v >> 63 == 0 { 1 << (64 - bits) } else { 0 });
        let mut z = r_msb.mul(&no_top)?;
        z.sub_assign(r_shifted)?;
        if sess.rank() == 0 {
            let offset = 1u64 << (62 - bits);
            z.add_assign(&c.map(|v| (v >> bits).wrapping_sub(offset)))?;
        }
        out.push(z);
    }
    Ok(out)
}
