//! Beaver products: elementwise multiplication, matmul and convolution of two shared tensors,
//! and squaring, each in one round with a triple from the preprocessing provider.
//!
//! For a bilinear map `op` and a triple `(a, b, c = op(a, b))`, the parties open
//! `e = x - a` and `f = y - b` together; party i then holds
//! `z_i = op(e, y_i) + op(a_i, f) + c_i`, and summing gives
//! `op(e, y) + op(a, f) + op(a, b) = op(x, y)` by bilinearity. The opened values are uniform
//! because `a` and `b` are. These are ring products: fixed-point callers truncate afterwards
//! (see `truncate`), or, with 3+ parties, defer the truncation (see `deferred`).

use crate::provider::{Pending, Request};
use crate::share::{open, open_words};
use crate::{Bilinear, Result, Session};
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
    if *op == Bilinear::Mul && x.shape() == y.shape() {
        return elementwise_product(sess, x, y, pending);
    }
    let e = x.sub(&pending.parts[0])?;
    let f = y.sub(&pending.parts[1])?;
    let opened = open(sess, op.name(), &[&e, &f])?;
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let (e, f) = (&opened[0], &opened[1]);
    let mut z = op.apply(e, y)?;
    z.add_assign(&op.apply(&parts[0], f)?)?;
    z.add_assign(&parts[2])?;
    Ok(z)
}

/// The same-shape elementwise product in single passes: the masked values are written straight
/// into the buffer that goes on the wire, and `z = e*y + a*f + c` is one loop.
fn elementwise_product(
    sess: &Session,
    x: &RingTensor,
    y: &RingTensor,
    pending: Pending,
) -> Result<RingTensor> {
    let n = x.numel();
    let (a, b) = (pending.parts[0].data(), pending.parts[1].data());
    let mut words = vec![0u64; 2 * n];
    let (e_part, f_part) = words.split_at_mut(n);
    e_part
        .par_iter_mut()
        .zip(x.data().par_iter().zip(a))
        .with_min_len(MIN_CHUNK)
        .for_each(|(o, (&xv, &av))| *o = xv.wrapping_sub(av));
    f_part
        .par_iter_mut()
        .zip(y.data().par_iter().zip(b))
        .with_min_len(MIN_CHUNK)
        .for_each(|(o, (&yv, &bv))| *o = yv.wrapping_sub(bv));
    open_words(sess, "mul", &mut words)?;
    let parts = sess.provider().finish(sess.comm(), pending)?;
    let (e, f) = words.split_at(n);
    let (a, c) = (parts[0].data(), parts[2].data());
    let mut z = vec![0u64; n];
    z.par_iter_mut()
        .enumerate()
        .with_min_len(MIN_CHUNK)
        .for_each(|(i, o)| {
            *o = e[i]
                .wrapping_mul(y.data()[i])
                .wrapping_add(a[i].wrapping_mul(f[i]))
                .wrapping_add(c[i])
        });
    Ok(RingTensor::new(x.shape(), z)?)
}

/// Elements below which splitting a loop across threads costs more than it saves.
const MIN_CHUNK: usize = 1 << 15;

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
