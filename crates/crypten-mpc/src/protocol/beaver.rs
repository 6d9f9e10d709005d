//! Beaver products: elementwise multiplication, matmul and convolution of two shared tensors,
//! and squaring, each in one round with a triple from the preprocessing provider.
//!
//! For a bilinear map `op` and a triple `(a, b, c = op(a, b))`, the parties open
//! `e = x - a` and `f = y - b` together; party i then holds
//! `z_i = op(e, y_i) + op(a_i, f) + c_i`, and summing gives
//! `op(e, y) + op(a, f) + op(a, b) = op(x, y)` by bilinearity. The opened values are uniform
//! because `a` and `b` are. These are ring products: fixed-point callers truncate afterwards
//! (see `truncate`) or, by default, defer the truncation (see `deferred`).

use crate::protocol::share::{add_received, open, receive_from_peers, send_to_peers};
use crate::provider::Request;
use crate::{Bilinear, Error, Result, Session};
use crypten_comm::Words;
use crypten_core::RingTensor;
use rayon::prelude::*;

/// The ring product `op(x, y)` of two shared tensors.
///
/// Rounds: 1 (a trusted third party's request and reply overlap it).
/// Bytes sent per party: `8 * (N-1) * (|x| + |y|)` plus frame headers (party 0 also sends the
/// dealer a request of a few dozen bytes). Exact: no failure probability.
///
/// # Errors
/// Shape mismatch, provider or communication failures.
pub fn bilinear(
    sess: &Session,
    op: &Bilinear,
    x: &RingTensor,
    y: &RingTensor,
) -> Result<RingTensor> {
    let request = Request::Triple {
        op: op.clone(),
        x_shape: x.shape().to_vec(),
        y_shape: y.shape().to_vec(),
    };
    // Checks shapes before anything leaves this party.
    request.part_shapes()?;
    let pending = sess.provider().begin(sess.comm(), request)?;
    let (a, b) = (pending.parts[0].data(), pending.parts[1].data());
    // This party's `x - a` and `y - b`, laid out as they go on the wire.
    let mut masked = Vec::with_capacity(x.numel() + y.numel());
    difference(x.data(), a)
        .chain(difference(y.data(), b))
        .collect_into_vec(&mut masked);
    send_to_peers(sess, op.name(), masked)?;
    // While the masked values travel: a first party's party 0 computes `c` here.
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let received = receive_from_peers(sess, op.name(), x.numel() + y.numel())?;
    let [a, b, c] = <[RingTensor; 3]>::try_from(parts).map_err(|_| Error::Provider {
        provider: sess.provider().name(),
        op: op.name().into(),
        reason: "a triple must have three parts".into(),
    })?;
    if *op == Bilinear::Mul && x.shape() == y.shape() {
        return Ok(elementwise_product(x, y, &a, &b, c, &received));
    }
    // The opened `e = x - a` and `f = y - b`: this party's differences plus the peers'.
    let e = opened(x, &a, &received, 0)?;
    let f = opened(y, &b, &received, x.numel())?;
    if *op == Bilinear::Matmul {
        // Both products accumulate into `c`'s buffer: no temporaries, no passes to add them.
        let mut z = c;
        e.matmul_acc(y, &mut z)?;
        a.matmul_acc(&f, &mut z)?;
        return Ok(z);
    }
    let mut z = op.apply(&e, y)?;
    z.add_assign(&op.apply(&a, &f)?)?;
    z.add_assign(&c)?;
    Ok(z)
}

/// `x - a`, elementwise (in parallel for large tensors).
fn difference<'a>(x: &'a [u64], a: &'a [u64]) -> impl IndexedParallelIterator<Item = u64> + 'a {
    x.par_iter()
        .zip(a)
        .with_min_len(MIN_CHUNK)
        .map(|(x, a)| x.wrapping_sub(*a))
}

/// The opened value of `x - a` from this party's `x` and `a` and the peers' words `at..`.
fn opened(x: &RingTensor, a: &RingTensor, received: &[Words], at: usize) -> Result<RingTensor> {
    let mine = x
        .data()
        .iter()
        .zip(a.data())
        .map(|(x, a)| x.wrapping_sub(*a));
    Ok(RingTensor::new(
        x.shape(),
        add_received(mine, received, at),
    )?)
}

/// The same-shape elementwise product in one pass, over blocks that stay in L1: each block
/// opens `e` and `f` from this party's differences and the peers' words, then computes
/// `z = e*y + a*f + c` in `c`'s own buffer.
fn elementwise_product(
    x: &RingTensor,
    y: &RingTensor,
    a: &RingTensor,
    b: &RingTensor,
    mut c: RingTensor,
    received: &[Words],
) -> RingTensor {
    let n = x.numel();
    let (x, y, a, b) = (x.data(), y.data(), a.data(), b.data());
    c.data_mut()
        .par_chunks_mut(BLOCK)
        .enumerate()
        .with_min_len(MIN_CHUNK / BLOCK)
        .for_each(|(blk, z)| {
            let at = blk * BLOCK;
            let len = z.len();
            let (x, y, a, b) = (
                &x[at..at + len],
                &y[at..at + len],
                &a[at..at + len],
                &b[at..at + len],
            );
            let (mut e, mut f) = ([0u64; BLOCK], [0u64; BLOCK]);
            let (e, f) = (&mut e[..len], &mut f[..len]);
            for i in 0..len {
                e[i] = x[i].wrapping_sub(a[i]);
                f[i] = y[i].wrapping_sub(b[i]);
            }
            for theirs in received {
                let words = theirs.le_bytes();
                let (we, wf) = (&words[at..at + len], &words[n + at..n + at + len]);
                for i in 0..len {
                    e[i] = e[i].wrapping_add(u64::from_le_bytes(we[i]));
                    f[i] = f[i].wrapping_add(u64::from_le_bytes(wf[i]));
                }
            }
            for i in 0..len {
                z[i] = e[i]
                    .wrapping_mul(y[i])
                    .wrapping_add(a[i].wrapping_mul(f[i]))
                    .wrapping_add(z[i]);
            }
        });
    c
}

/// Elements below which splitting a loop across threads costs more than it saves.
const MIN_CHUNK: usize = 1 << 15;

/// Elements per block of the fused elementwise product: its blocks of words fit in L1.
const BLOCK: usize = 512;

/// The ring square `x * x` with a square pair `(r, r^2)`: open `e = x - r`, then
/// `z_i = s_i + 2 e r_i`, plus `e^2` at party 0.
///
/// Rounds: 1. Bytes sent per party: `8 * (N-1) * |x|` plus headers: half of a general product.
///
/// # Errors
/// Provider or communication failures.
pub fn square(sess: &Session, x: &RingTensor) -> Result<RingTensor> {
    let pending = sess.provider().begin(
        sess.comm(),
        Request::Square {
            shape: x.shape().to_vec(),
        },
    )?;
    let e = x.sub(&pending.parts[0])?;
    let e = open(sess, "square", &[&e])?.swap_remove(0);
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let mut z = e.mul(&parts[0])?.shl(1);
    z.add_assign(&parts[1])?;
    if sess.rank() == 0 {
        z.add_assign(&e.mul(&e)?)?;
    }
    Ok(z)
}
