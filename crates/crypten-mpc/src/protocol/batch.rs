//! Batching: several independent elementwise products in one Beaver round, and several
//! truncations in one truncation.
//!
//! The non-linear functions are built from levels of independent products (all the powers of
//! one level of a polynomial, a Newton step's two factors). Multiplying them one by one would
//! cost a round each; here the operands of a level are flattened and concatenated into one
//! tensor, multiplied with one triple, and split again, so a level costs exactly one round
//! whatever its width (the callers keep the products' truncations pending: `deferred`).

use super::share::open;
use super::truncate;
use crate::provider::Request;
use crate::{Bilinear, Error, Result, Session};
use crypten_core::{RingTensor, broadcast_shapes};
use std::borrow::Borrow;

/// Appends the elements of `t`, broadcast to `shape`, to `out`.
fn extend_broadcast(out: &mut Vec<u64>, t: &RingTensor, shape: &[usize]) -> Result<()> {
    if t.shape() == shape {
        out.extend_from_slice(t.data());
    } else {
        out.extend_from_slice(t.expand(shape)?.data());
    }
    Ok(())
}

/// Splits a flat vector back into tensors of `shapes`.
fn split_flat(flat: &[u64], shapes: &[Vec<usize>]) -> Result<Vec<RingTensor>> {
    let mut out = Vec::with_capacity(shapes.len());
    let mut offset = 0;
    for shape in shapes {
        let n: usize = shape.iter().product();
        out.push(RingTensor::new(shape, flat[offset..offset + n].to_vec())?);
        offset += n;
    }
    Ok(out)
}

/// The ring products `x * y` of every pair (broadcasting within a pair), all in one round,
/// without truncation: the results carry twice the fractional bits of fixed-point operands.
///
/// Pairs whose two operands are the same tensor (`std::ptr::eq`) are squares: they use a
/// square pair `(r, r^2)` and open one masked value instead of two. Products use one Beaver
/// triple for all of them. Every masked value of the round leaves in one message per peer.
///
/// Rounds: 1 (0 for no pairs). Bytes sent per party: `8 (N-1)` per element of a square and
/// twice that per element of a product, plus headers. Exact.
///
/// # Errors
/// Pairs that do not broadcast; provider or communication failures.
pub(crate) fn ring_products(
    sess: &Session,
    pairs: &[(&RingTensor, &RingTensor)],
) -> Result<Vec<RingTensor>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let mut shapes = Vec::with_capacity(pairs.len());
    let (mut xs, mut ys, mut sq) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y) in pairs {
        let shape = broadcast_shapes(x.shape(), y.shape())?;
        if std::ptr::eq(*x, *y) {
            extend_broadcast(&mut sq, x, &shape)?;
        } else {
            extend_broadcast(&mut xs, x, &shape)?;
            extend_broadcast(&mut ys, y, &shape)?;
        }
        shapes.push(shape);
    }
    let (n_mul, n_sq) = (xs.len(), sq.len());
    let x = RingTensor::new(&[n_mul], xs)?;
    let y = RingTensor::new(&[n_mul], ys)?;
    let r_sq = RingTensor::new(&[n_sq], sq)?;
    let provider = sess.provider();
    let triple = (n_mul > 0)
        .then(|| {
            provider.begin(
                sess.comm(),
                Request::Triple {
                    op: Bilinear::Mul,
                    x_shape: vec![n_mul],
                    y_shape: vec![n_mul],
                },
            )
        })
        .transpose()?;
    let square = (n_sq > 0)
        .then(|| provider.begin(sess.comm(), Request::Square { shape: vec![n_sq] }))
        .transpose()?;
    let mut masked = Vec::with_capacity(3);
    if let Some(t) = &triple {
        masked.push(x.sub(&t.parts[0])?);
        masked.push(y.sub(&t.parts[1])?);
    }
    if let Some(q) = &square {
        masked.push(r_sq.sub(&q.parts[0])?);
    }
    let opened = open(sess, "products", &masked.iter().collect::<Vec<_>>())?;
    let mut opened = opened.into_iter();
    let mut products = Vec::new();
    if let Some(t) = triple {
        let (e, f) = (next_opened(&mut opened)?, next_opened(&mut opened)?);
        let parts = provider.finish(sess.comm(), t)?;
        // z = e y + a f + c
        let mut z = e.mul(&y)?;
        z.add_assign(&parts[0].mul(&f)?)?;
        z.add_assign(&parts[2])?;
        products = z.into_data();
    }
    let mut squares = Vec::new();
    if let Some(q) = square {
        let e = next_opened(&mut opened)?;
        let parts = provider.finish(sess.comm(), q)?;
        // z = r^2 + 2 e r + e^2 (party 0)
        let mut z = e.mul(&parts[0])?.shl(1);
        z.add_assign(&parts[1])?;
        if sess.rank() == 0 {
            z.add_assign(&e.mul(&e)?)?;
        }
        squares = z.into_data();
    }
    // Back in the callers' order.
    let (mut at_mul, mut at_sq) = (0, 0);
    let mut out = Vec::with_capacity(pairs.len());
    for ((x, y), shape) in pairs.iter().zip(&shapes) {
        let n: usize = shape.iter().product();
        let data = if std::ptr::eq(*x, *y) {
            at_sq += n;
            squares[at_sq - n..at_sq].to_vec()
        } else {
            at_mul += n;
            products[at_mul - n..at_mul].to_vec()
        };
        out.push(RingTensor::new(shape, data)?);
    }
    Ok(out)
}

/// The next opened value (the opening returns one per masked value sent).
fn next_opened(opened: &mut impl Iterator<Item = RingTensor>) -> Result<RingTensor> {
    opened.next().ok_or_else(|| Error::InvalidArgument {
        op: "products",
        reason: "fewer opened values than masked ones".into(),
    })
}

/// Truncates every tensor by `bits` (one round; none with local truncation).
///
/// # Errors
/// See [`truncate::truncate`].
pub(crate) fn truncate_many<T: Borrow<RingTensor>>(
    sess: &Session,
    values: &[T],
    bits: u32,
) -> Result<Vec<RingTensor>> {
    if sess.truncates_locally() || values.len() <= 1 {
        // Local (or a single call): no concatenation needed.
        return values
            .iter()
            .map(|v| truncate::truncate(sess, v.borrow(), bits))
            .collect();
    }
    let shapes: Vec<Vec<usize>> = values.iter().map(|v| v.borrow().shape().to_vec()).collect();
    let total = values.iter().map(|v| v.borrow().numel()).sum();
    let mut flat = Vec::with_capacity(total);
    for v in values {
        flat.extend_from_slice(v.borrow().data());
    }
    let flat = truncate::truncate(sess, &RingTensor::new(&[total], flat)?, bits)?;
    split_flat(flat.data(), &shapes)
}

/// Truncates every `(x, bits)` by its own `bits`, all in one round (none when the session
/// truncates locally): the tensors with the same shift share one concatenated mask.
///
/// # Errors
/// See [`truncate::truncate`].
pub(crate) fn truncate_mixed(
    sess: &Session,
    items: &[(&RingTensor, u32)],
) -> Result<Vec<RingTensor>> {
    if items.len() <= 1 {
        // Nothing to concatenate.
        return truncate::truncate_each(sess, items);
    }
    let mut groups: Vec<u32> = items.iter().map(|&(_, b)| b).collect();
    groups.sort_unstable();
    groups.dedup();
    let mut flats = Vec::with_capacity(groups.len());
    for &bits in &groups {
        let members: Vec<&RingTensor> = items
            .iter()
            .filter(|&&(_, b)| b == bits)
            .map(|&(x, _)| x)
            .collect();
        let total = members.iter().map(|x| x.numel()).sum();
        let mut flat = Vec::with_capacity(total);
        for x in &members {
            flat.extend_from_slice(x.data());
        }
        flats.push(RingTensor::new(&[total], flat)?);
    }
    let requests: Vec<(&RingTensor, u32)> = flats.iter().zip(groups.iter().copied()).collect();
    let truncated = truncate::truncate_each(sess, &requests)?;
    // Back in the callers' order.
    let mut offsets = vec![0usize; groups.len()];
    let mut out = Vec::with_capacity(items.len());
    for &(x, bits) in items {
        let g = groups
            .binary_search(&bits)
            .map_err(|_| Error::InvalidArgument {
                op: "truncate",
                reason: "a shift without its group".into(),
            })?;
        let n = x.numel();
        let data = truncated[g].data()[offsets[g]..offsets[g] + n].to_vec();
        offsets[g] += n;
        out.push(RingTensor::new(x.shape(), data)?);
    }
    Ok(out)
}
