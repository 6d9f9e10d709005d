//! `CrypTensor`: an encrypted (arithmetically secret-shared, fixed-point) tensor with a
//! PyTorch-like API. Its methods are thin wrappers over the protocols in `protocol`; every one
//! that can fail returns `Result`. This file holds the type, its constructors, reveals and
//! settling; the methods live beside it by concern.

mod arithmetic;
mod compare;
mod max;
mod pooling;
mod reduce;
mod shape;
mod validate;

use crate::protocol::batch::truncate_mixed;
use crate::protocol::deferred::Operand;
use crate::protocol::{share, truncate};
use crate::{Error, Result, Session};
use crypten_core::RingTensor;
use ndarray::ArrayD;
use std::sync::{Arc, OnceLock};

/// An encrypted tensor: this party's share of a fixed-point value, and its session.
///
/// All parties hold a `CrypTensor` of the same shape for the same value; none of them can read
/// it until they all agree to reveal it (`get_plain_text`). `Debug` prints the shape only.
///
/// With 2+ parties and exact truncation (the default) the result of a product is *deferred*:
/// its share stays at twice the scale until its truncation can ride on the next opening of
/// the value (see `deferred`), so every product costs one round whatever the number of
/// parties. Deferred values must stay below `2^(62-2f)` in magnitude, the range of any
/// fixed-point product; mixing one with a settled value settles it first, so settled values
/// keep their full range.
#[derive(Clone)]
pub struct CrypTensor {
    pub(crate) sess: Session,
    /// This party's share: at the session's scale `2^f`, or at `2^(f + pending)` while
    /// deferred.
    raw: RingTensor,
    /// Set while deferred: the truncated share, computed once when first needed (one round)
    /// and shared by clones.
    settled: Option<Arc<OnceLock<RingTensor>>>,
    /// The pending truncation while deferred (`f` for a product), 0 when settled.
    pending: u32,
}

impl std::fmt::Debug for CrypTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CrypTensor(shape={:?}, party={})",
            self.raw.shape(),
            self.sess.rank()
        )
    }
}

impl CrypTensor {
    /// Wraps this party's share of a fixed-point value (advanced use: protocols).
    pub fn from_share(sess: &Session, share: RingTensor) -> Self {
        Self {
            sess: sess.clone(),
            raw: share,
            settled: None,
            pending: 0,
        }
    }

    /// Encrypts a plaintext array held by party `src`. Every party calls it with an array of
    /// the same shape; only `src`'s values are read (the others' are ignored, as in CrypTen).
    ///
    /// Costs no communication.
    ///
    /// # Errors
    /// `Core(Encode)` when `src`'s array holds NaN, infinity or a value beyond the encoder's
    /// range; `InvalidArgument` for a bad `src`.
    pub fn from_array(sess: &Session, array: &ArrayD<f64>, src: usize) -> Result<Self> {
        let value = if sess.rank() == src {
            Some(sess.encoder().encode(array)?)
        } else {
            None
        };
        Self::from_encoded(sess, value.as_ref(), array.shape(), src)
    }

    /// Encrypts an already encoded value held by `src` (`None` at the other parties).
    ///
    /// # Errors
    /// See [`share::share`].
    pub fn from_encoded(
        sess: &Session,
        value: Option<&RingTensor>,
        shape: &[usize],
        src: usize,
    ) -> Result<Self> {
        Ok(Self::from_share(
            sess,
            share::share(sess, src, value, shape)?,
        ))
    }

    /// A public array as a (trivial) sharing: party 0 holds its encoding, the others zero.
    ///
    /// # Errors
    /// Encoding errors (NaN, infinity, out of range).
    pub fn from_public(sess: &Session, array: &ArrayD<f64>) -> Result<Self> {
        let encoded = sess.encoder().encode(array)?;
        let share = if sess.rank() == 0 {
            encoded
        } else {
            RingTensor::zeros(array.shape())
        };
        Ok(Self::from_share(sess, share))
    }

    /// This party's share at the session's scale. A deferred product is truncated first (one
    /// round, the first time only).
    ///
    /// # Errors
    /// Provider or communication failures of the truncation.
    pub fn share(&self) -> Result<&RingTensor> {
        let Some(cell) = &self.settled else {
            return Ok(&self.raw);
        };
        Self::settle_all(&[self])?;
        cell.get().ok_or_else(|| Error::InvalidArgument {
            op: "share",
            reason: "deferred truncation did not settle".into(),
        })
    }

    /// Whether this tensor is deferred (its share at a larger scale, its truncation pending).
    pub fn is_deferred(&self) -> bool {
        self.settled.is_some()
    }

    /// Settles every deferred tensor among `tensors` in one truncation round.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn settle_all(tensors: &[&CrypTensor]) -> Result<()> {
        let mut cells: Vec<&Arc<OnceLock<RingTensor>>> = Vec::new();
        let mut raws = Vec::new();
        for t in tensors {
            if let Some(cell) = &t.settled
                && cell.get().is_none()
                && !cells.iter().any(|c| Arc::ptr_eq(c, cell))
            {
                cells.push(cell);
                raws.push((&t.raw, t.pending));
            }
        }
        let Some(first) = tensors.first().filter(|_| !raws.is_empty()) else {
            return Ok(());
        };
        for (cell, t) in cells.into_iter().zip(truncate_mixed(&first.sess, &raws)?) {
            let _ = cell.set(t);
        }
        Ok(())
    }

    /// This party's share as it is: at twice the scale when deferred.
    pub(crate) fn raw(&self) -> &RingTensor {
        &self.raw
    }

    /// [`Self::raw`], taken.
    pub(crate) fn into_raw(self) -> RingTensor {
        self.raw
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.sess
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.raw.shape()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.raw.numel()
    }

    /// Reveals the value to every party and decodes it. One round (a deferred product is
    /// revealed at twice the scale: no truncation needed).
    ///
    /// # Errors
    /// Communication failures.
    pub fn get_plain_text(&self) -> Result<ArrayD<f64>> {
        let value = share::reveal(&self.sess, &self.raw)?;
        Ok(self.decode(&value))
    }

    /// Reveals the value to party `dst` only. One round.
    ///
    /// # Errors
    /// A bad `dst`; communication failures.
    pub fn reveal_to(&self, dst: usize) -> Result<Option<ArrayD<f64>>> {
        let value = share::reveal_to(&self.sess, &self.raw, dst)?;
        Ok(value.map(|v| self.decode(&v)))
    }

    /// Decodes a revealed raw value at this tensor's scale.
    fn decode(&self, value: &RingTensor) -> ArrayD<f64> {
        let encoded = self.sess.encoder().decode(value);
        if self.is_deferred() {
            encoded.mapv(|v| v / 2f64.powi(self.pending as i32))
        } else {
            encoded
        }
    }

    /// A settled tensor of the same session holding `share`.
    pub(crate) fn with(&self, share: RingTensor) -> Self {
        Self::from_share(&self.sess, share)
    }

    /// The settled share of a deferred tensor whose truncation has already happened.
    fn settled_share(&self) -> Option<&RingTensor> {
        self.settled.as_ref().and_then(|cell| cell.get())
    }

    /// A linear map `f` of this tensor's share: of the settled share once there is one (so
    /// the result needs no truncation), else of the share as it is, at its scale.
    pub(crate) fn map_share(
        &self,
        f: impl FnOnce(&RingTensor) -> crypten_core::Result<RingTensor>,
    ) -> Result<Self> {
        Ok(match self.settled_share() {
            Some(share) => self.with(f(share)?),
            None => self.with_raw(f(&self.raw)?),
        })
    }

    /// [`Self::map_share`] for a map that cannot fail.
    pub(crate) fn map_share_infallible(&self, f: impl FnOnce(&RingTensor) -> RingTensor) -> Self {
        match self.settled_share() {
            Some(share) => self.with(f(share)),
            None => self.with_raw(f(&self.raw)),
        }
    }

    /// A tensor at this one's scale holding `raw` (a deferred one when this is deferred).
    pub(crate) fn with_raw(&self, raw: RingTensor) -> Self {
        if self.is_deferred() {
            self.deferred_by(raw, self.pending)
        } else {
            self.with(raw)
        }
    }

    /// This tensor as an operand of a deferred product (its settled share once settled).
    pub(crate) fn operand(&self) -> Operand<'_> {
        match self.settled.as_ref().and_then(|cell| cell.get()) {
            Some(share) => Operand { share, bits: 0 },
            None => Operand {
                share: &self.raw,
                bits: self.pending,
            },
        }
    }

    /// A deferred tensor: `product` is at twice the scale.
    pub(crate) fn deferred(&self, product: RingTensor) -> Self {
        self.deferred_by(product, self.sess.encoder().frac_bits())
    }

    /// A deferred tensor at scale `2^(f + bits)` (`bits` >= 1), whose truncation by `bits` is
    /// pending.
    pub(crate) fn deferred_by(&self, raw: RingTensor, bits: u32) -> Self {
        Self {
            sess: self.sess.clone(),
            raw,
            settled: Some(Arc::new(OnceLock::new())),
            pending: bits,
        }
    }

    /// `self / 2^bits` without a round: a settled value becomes one deferred by `bits`, a
    /// deferred one's pending truncation grows by `bits` (up to 48 in all; beyond, or where
    /// the session truncates locally, it is truncated at once).
    ///
    /// # Errors
    /// Communication failures of a truncation that cannot be deferred.
    pub(crate) fn shift_down(&self, bits: u32) -> Result<Self> {
        let total = self.pending + bits;
        if self.defers_products() && total <= 48 {
            return Ok(self.deferred_by(self.raw.clone(), total));
        }
        Ok(self.with(truncate::truncate(&self.sess, self.share()?, bits)?))
    }

    /// Applies a linear map to the shares of `tensors`: at twice the scale when all are
    /// deferred (the result is deferred), else at the session's scale, settling the deferred
    /// ones first in one round. (Scaling a settled share up instead would be free but would
    /// shrink its range from `2^(62-f)` to `2^(62-2f)`.)
    pub(super) fn join(
        &self,
        tensors: &[&CrypTensor],
        map: impl FnOnce(&[&RingTensor]) -> Result<RingTensor>,
    ) -> Result<Self> {
        if let Some(first) = tensors.first()
            && first.is_deferred()
            && tensors.iter().all(|t| t.pending == first.pending)
        {
            let raws: Vec<&RingTensor> = tensors.iter().map(|t| &t.raw).collect();
            return Ok(self.deferred_by(map(&raws)?, first.pending));
        }
        Self::settle_all(tensors)?;
        let shares = tensors
            .iter()
            .map(|t| t.share())
            .collect::<Result<Vec<&RingTensor>>>()?;
        Ok(self.with(map(&shares)?))
    }

    /// Fails unless `other` belongs to the same session.
    pub(crate) fn check(&self, other: &CrypTensor, op: &'static str) -> Result<()> {
        if self.sess.same(&other.sess) {
            Ok(())
        } else {
            Err(Error::SessionMismatch { op })
        }
    }

    fn encode_public(&self, array: &ArrayD<f64>) -> Result<RingTensor> {
        Ok(self.sess.encoder().encode(array)?)
    }

    fn encode_scalar(&self, value: f64) -> Result<u64> {
        Ok(self.sess.encoder().encode_scalar(value)?)
    }

    /// Whether this session's fixed-point products come back deferred (2+ parties with exact
    /// truncation; see `deferred`) rather than truncated at once by a local shift: the one
    /// place that decides.
    pub(crate) fn defers_products(&self) -> bool {
        !self.sess.truncates_locally()
    }

    /// A product at twice the scale, at the session's precision: truncated locally with 2
    /// parties, deferred with 3+ (see `deferred`).
    pub(crate) fn rescale(&self, product: RingTensor) -> Result<Self> {
        if !self.defers_products() {
            let bits = self.sess.encoder().frac_bits();
            Ok(self.with(truncate::truncate(&self.sess, &product, bits)?))
        } else {
            Ok(self.deferred(product))
        }
    }

    /// This value at the session's scale (settling a deferred product: one round with 3+
    /// parties, the first time only).
    ///
    /// # Errors
    /// Provider or communication failures of the truncation.
    pub fn settled(&self) -> Result<Self> {
        if self.is_deferred() {
            Ok(self.with(self.share()?.clone()))
        } else {
            Ok(self.clone())
        }
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident) => {
        impl std::ops::$trait<&CrypTensor> for &CrypTensor {
            type Output = Result<CrypTensor>;
            fn $method(self, rhs: &CrypTensor) -> Result<CrypTensor> {
                CrypTensor::$method(self, rhs)
            }
        }
    };
}
binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);

impl std::ops::Neg for &CrypTensor {
    type Output = CrypTensor;
    fn neg(self) -> CrypTensor {
        CrypTensor::neg(self)
    }
}
