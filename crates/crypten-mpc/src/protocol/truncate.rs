//! Truncation of shared fixed-point values: dividing by 2^bits after a product.
//!
//! - **Exact, dealer-assisted, one round** (the default for any number of parties): the
//!   parties open `c = x + 2^62 + r` for a dealer mask `r` that is uniform in Z/2^64 (so `c`
//!   reveals nothing). Writing `x' = x + 2^62`, which lies in `[0, 2^63)` when `|x| < 2^62`,
//!   the sum `x' + r` wraps past 2^64 exactly when the top bit of `r` is set and the top bit
//!   of `c` is clear. The dealer provides shares of `r >> bits` and of `msb(r)`, so
//!   `x >> bits = (c >> bits) - (r >> bits) + wrap * 2^(64-bits) - 2^(62-bits)`, where
//!   `wrap = (1 - msb(c)) * msb(r)` is linear in the shares. It never fails for `|x| < 2^62`;
//!   the result is `floor(x / 2^bits)` or one more (the dropped borrow between the low bits of
//!   `c` and `r`). `CrypTensor` avoids its round where it can by deferring the truncation to
//!   the value's next opening (see `deferred`).
//! - **Local, 2 parties, opt-in** (`Truncation::Local`, SecureML's observation): party 0
//!   shifts its share arithmetically, party 1 shifts the negation of its share and negates
//!   back. No round, no dealer; the result is off by at most one unit in the last place,
//!   except when the two shares straddle the wrap-around, and then it is garbage (off by about
//!   `2^(64-bits)`). That happens with probability at most `|x| / 2^63` per element, `x` being
//!   the value truncated: for a product at twice the scale, `|v| 2^(2f) / 2^63` for a real
//!   product `v` (2^-31 for `|v| = 1`, 2^-21 for 1000, 2^-14.6 for 10^5 with 16 bits).
//!   Local truncation is not possible with 3+ parties: the sum of N random shares wraps a
//!   random number of times.
//! - **One party**: the one share is the value; shifting it is exact.

use crate::protocol::share::open;
use crate::provider::Request;
use crate::{Error, Result, Session};
use crypten_core::RingTensor;

/// Divides a shared value by `2^bits`, rounding to one of the two nearest integers.
///
/// Rounds: 1 (0 with one party, or two under the opt-in local truncation). Bytes per party:
/// `8 * (N-1) * |x|` plus headers. Exact for `|x| < 2^62`; the local truncation's failure
/// probability is in the module docs.
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
