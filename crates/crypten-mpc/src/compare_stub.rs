//! TEMPORARY, INSECURE stand-in for issue 3's comparisons (`ltz`, `max`), so the functions of
//! issue 4 can be developed before they land: it REVEALS its input. Deleted when branch
//! `issue3` is merged; nothing here may survive that merge.
#![allow(missing_docs)]

use crate::{CrypTensor, Result, share};
use crypten_core::RingTensor;

impl CrypTensor {
    /// `[x < 0]` as fixed-point 0/1 (stand-in: reveals `x`).
    pub fn ltz(&self) -> Result<CrypTensor> {
        let v = share::reveal(&self.sess, &self.share)?;
        let one = self.sess.encoder().scale();
        let bits = v.map(|w| if (w as i64) < 0 { one } else { 0 });
        Ok(CrypTensor::public_ring_tensor(&self.sess, bits))
    }

    /// Maximum along `dim` (stand-in: reveals `x`).
    pub fn max(&self, dim: usize, keepdim: bool) -> Result<CrypTensor> {
        let v = share::reveal(&self.sess, &self.share)?;
        let arr = v.to_array().mapv(|w| w as i64);
        let m = arr.fold_axis(ndarray::Axis(dim), i64::MIN, |a, &b| (*a).max(b));
        let m = if keepdim {
            m.insert_axis(ndarray::Axis(dim))
        } else {
            m
        };
        let ring = RingTensor::from_array(&m.mapv(|w| w as u64));
        Ok(CrypTensor::public_ring_tensor(&self.sess, ring))
    }

    fn public_ring_tensor(sess: &crate::Session, v: RingTensor) -> CrypTensor {
        let share = if sess.rank() == 0 {
            v
        } else {
            RingTensor::zeros(v.shape())
        };
        CrypTensor::from_share(sess, share)
    }
}
