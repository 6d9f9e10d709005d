//! Batched products of encrypted tensors (one Beaver round for a level of a polynomial or a
//! Newton step), and public constants as shares.

use crate::protocol::batch::{ring_products, truncate_many};
use crate::protocol::deferred;
use crate::{CrypTensor, Result, Session};
use crypten_core::RingTensor;

/// Fixed-point products of every pair, in one round. When the session defers products
/// (exact truncation with 2+ parties) the operands may be deferred and the results are: each
/// operand's pending truncation rides on the round's opening, and each product's own waits
/// for the next one. Otherwise the products are truncated at once (locally).
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
    if first.defers_products() {
        let operands: Vec<_> = pairs
            .iter()
            .map(|(x, y)| (x.operand(), y.operand()))
            .collect();
        let products = deferred::mul_many(sess, &operands)?;
        return Ok(products.into_iter().map(|z| first.deferred(z)).collect());
    }
    let operands: Vec<&CrypTensor> = pairs.iter().flat_map(|&(x, y)| [x, y]).collect();
    CrypTensor::settle_all(&operands)?;
    let raw = pairs
        .iter()
        .map(|(x, y)| Ok((x.share()?, y.share()?)))
        .collect::<Result<Vec<(&RingTensor, &RingTensor)>>>()?;
    let products = ring_products(sess, &raw)?;
    let truncated = truncate_many(sess, &products, sess.encoder().frac_bits())?;
    Ok(truncated.into_iter().map(|s| first.with(s)).collect())
}

impl CrypTensor {
    /// `self + value` for a public ring value at the session's scale (party 0 adds it):
    /// exact, no encoding. A deferred `self` stays deferred (the value is added at its scale):
    /// for a function's internal values, which are small.
    ///
    /// # Errors
    /// Communication failures settling a deferred `self`.
    pub(crate) fn add_ring(&self, value: u64) -> Result<CrypTensor> {
        let operand = self.operand();
        if operand.deferred() {
            // At the deferred scale: the caller's values are small (a function's internals).
            let raw = if self.sess.rank() == 0 {
                operand.share.add_scalar(value.wrapping_shl(operand.bits))
            } else {
                operand.share.clone()
            };
            return Ok(self.deferred_by(raw, operand.bits));
        }
        let share = self.share()?;
        Ok(if self.sess.rank() == 0 {
            self.with(share.add_scalar(value))
        } else {
            self.with(share.clone())
        })
    }

    /// The fixed-point encoding of `value` as a ring scalar (rounded to the session's
    /// precision, wrapping for negatives). The caller keeps `value` in the encoder's range.
    pub(crate) fn encode_ring(sess: &Session, value: f64, extra_bits: u32) -> u64 {
        let scale = (sess.encoder().frac_bits() + extra_bits) as i32;
        (value * 2f64.powi(scale)).round() as i64 as u64
    }
}
