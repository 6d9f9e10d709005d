//! Batching: several independent elementwise products in one Beaver round, several
//! truncations in one truncation, and public constants as shares.
//!
//! The non-linear functions are built from levels of independent products (all the powers of
//! one level of a polynomial, a Newton step's two factors). Multiplying them one by one would
//! cost a round each; here the operands of a level are flattened and concatenated into one
//! tensor, multiplied with one triple, and split again, so a level costs exactly one round
//! (plus one truncation round with 3+ parties), whatever its width.

use crate::{Bilinear, CrypTensor, Result, Session, beaver, truncate};
use crypten_core::{RingTensor, broadcast_shapes};

/// Concatenates the elements of `parts` (row-major) into one flat tensor.
fn flatten_all(parts: &[&RingTensor]) -> Result<RingTensor> {
    let total = parts.iter().map(|p| p.numel()).sum();
    let mut data = Vec::with_capacity(total);
    for p in parts {
        data.extend_from_slice(p.data());
    }
    Ok(RingTensor::new(&[total], data)?)
}

/// Splits a flat tensor back into tensors of `shapes`.
fn split_flat(flat: &RingTensor, shapes: &[Vec<usize>]) -> Result<Vec<RingTensor>> {
    let mut out = Vec::with_capacity(shapes.len());
    let mut offset = 0;
    for shape in shapes {
        let n: usize = shape.iter().product();
        out.push(RingTensor::new(
            shape,
            flat.data()[offset..offset + n].to_vec(),
        )?);
        offset += n;
    }
    Ok(out)
}

/// The ring products `x * y` of every pair (broadcasting within a pair), in one Beaver round,
/// without truncation: the results carry twice the fractional bits of fixed-point operands.
///
/// Rounds: 1 (0 for no pairs). Bytes: those of one product of the total size.
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
    let mut xs = Vec::with_capacity(pairs.len());
    let mut ys = Vec::with_capacity(pairs.len());
    let mut shapes = Vec::with_capacity(pairs.len());
    for (x, y) in pairs {
        let shape = broadcast_shapes(x.shape(), y.shape())?;
        xs.push(if x.shape() == shape.as_slice() {
            (*x).clone()
        } else {
            x.expand(&shape)?
        });
        ys.push(if y.shape() == shape.as_slice() {
            (*y).clone()
        } else {
            y.expand(&shape)?
        });
        shapes.push(shape);
    }
    let x = flatten_all(&xs.iter().collect::<Vec<_>>())?;
    let y = flatten_all(&ys.iter().collect::<Vec<_>>())?;
    let z = beaver::bilinear(sess, &Bilinear::Mul, &x, &y)?;
    split_flat(&z, &shapes)
}

/// Truncates every tensor by `bits` in one go (one round with 3+ parties, none with 2).
///
/// # Errors
/// See [`truncate::truncate`].
pub(crate) fn truncate_many(
    sess: &Session,
    values: &[RingTensor],
    bits: u32,
) -> Result<Vec<RingTensor>> {
    match values {
        [] => Ok(Vec::new()),
        [one] => Ok(vec![truncate::truncate(sess, one, bits)?]),
        _ => {
            let shapes: Vec<Vec<usize>> = values.iter().map(|v| v.shape().to_vec()).collect();
            let flat = flatten_all(&values.iter().collect::<Vec<_>>())?;
            split_flat(&truncate::truncate(sess, &flat, bits)?, &shapes)
        }
    }
}

/// Fixed-point products of every pair, in one round with 2 parties (two with 3+).
///
/// # Errors
/// Pairs from different sessions or that do not broadcast; provider or communication failures.
pub(crate) fn mul_many(pairs: &[(&CrypTensor, &CrypTensor)]) -> Result<Vec<CrypTensor>> {
    let Some((first, _)) = pairs.first() else {
        return Ok(Vec::new());
    };
    for (x, y) in pairs {
        first.check(x, "mul_many")?;
        first.check(y, "mul_many")?;
    }
    let sess = &first.sess;
    let raw: Vec<(&RingTensor, &RingTensor)> =
        pairs.iter().map(|(x, y)| (&x.share, &y.share)).collect();
    let products = ring_products(sess, &raw)?;
    let truncated = truncate_many(sess, &products, sess.encoder().frac_bits())?;
    Ok(truncated.into_iter().map(|s| first.with(s)).collect())
}

impl CrypTensor {
    /// `self + value` for a public ring value (party 0 adds it): exact, no encoding.
    pub(crate) fn add_ring(&self, value: u64) -> CrypTensor {
        if self.sess.rank() == 0 {
            self.with(self.share.add_scalar(value))
        } else {
            self.clone()
        }
    }

    /// The fixed-point encoding of `value` as a ring scalar (rounded to the session's
    /// precision, wrapping for negatives). The caller keeps `value` in the encoder's range.
    pub(crate) fn encode_ring(sess: &Session, value: f64, extra_bits: u32) -> u64 {
        let scale = (sess.encoder().frac_bits() + extra_bits) as i32;
        (value * 2f64.powi(scale)).round() as i64 as u64
    }
}
