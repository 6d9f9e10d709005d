//! `CrypTensor`: an encrypted (arithmetically secret-shared, fixed-point) tensor with a
//! PyTorch-like API. Its methods are thin wrappers over the protocols in `share`, `beaver`,
//! `truncate` and `deferred`; every one that can fail returns `Result`.

use crate::deferred::{self, Operand};
use crate::functions::batch::truncate_many;
use crate::{Bilinear, Error, Result, Session, beaver, share, truncate};
use crypten_core::{Conv1dParams, Conv2dParams, RingTensor};
use ndarray::{ArrayD, IxDyn};
use std::sync::{Arc, OnceLock};

/// An encrypted tensor: this party's share of a fixed-point value, and its session.
///
/// All parties hold a `CrypTensor` of the same shape for the same value; none of them can read
/// it until they all agree to reveal it (`get_plain_text`). `Debug` prints the shape only.
///
/// With 3+ parties the result of a product is *deferred*: its share stays at twice the scale
/// until its truncation can ride on the next opening of the value (see `deferred`), so every
/// product costs one round whatever the number of parties. Deferred values must stay below
/// `2^(62-2f)` in magnitude, the range of any fixed-point product; mixing one with a settled
/// value settles it first, so settled values keep their full range.
#[derive(Clone)]
pub struct CrypTensor {
    pub(crate) sess: Session,
    /// This party's share: at the session's scale `2^f`, or at `2^(2f)` while deferred.
    raw: RingTensor,
    /// Set while deferred: the truncated share, computed once when first needed (one round)
    /// and shared by clones.
    settled: Option<Arc<OnceLock<RingTensor>>>,
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
    /// round with 3+ parties, the first time only).
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

    /// Whether this tensor is a deferred product (share at twice the scale).
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
                raws.push(&t.raw);
            }
        }
        let Some(first) = tensors.first().filter(|_| !raws.is_empty()) else {
            return Ok(());
        };
        let bits = first.sess.encoder().frac_bits();
        for (cell, t) in cells
            .into_iter()
            .zip(truncate_many(&first.sess, &raws, bits)?)
        {
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
        let encoder = self.sess.encoder();
        if self.is_deferred() {
            let scale = (encoder.scale() as f64).powi(2);
            encoder
                .decode(value)
                .mapv(|v| v * encoder.scale() as f64 / scale)
        } else {
            encoder.decode(value)
        }
    }

    /// A settled tensor of the same session holding `share`.
    pub(crate) fn with(&self, share: RingTensor) -> Self {
        Self::from_share(&self.sess, share)
    }

    /// A tensor at this one's scale holding `raw` (a deferred one when this is deferred): for
    /// linear maps of the share.
    pub(crate) fn with_raw(&self, raw: RingTensor) -> Self {
        if self.is_deferred() {
            self.deferred(raw)
        } else {
            self.with(raw)
        }
    }

    /// This tensor as an operand of a deferred product.
    pub(crate) fn operand(&self) -> Operand<'_> {
        Operand {
            share: &self.raw,
            deferred: self.is_deferred(),
        }
    }

    /// A deferred tensor: `product` is at twice the scale.
    fn deferred(&self, product: RingTensor) -> Self {
        Self {
            sess: self.sess.clone(),
            raw: product,
            settled: Some(Arc::new(OnceLock::new())),
        }
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

    /// A product at twice the scale, at the session's precision: truncated locally with 2
    /// parties, deferred with 3+ (see `deferred`).
    pub(crate) fn rescale(&self, product: RingTensor) -> Result<Self> {
        if self.sess.parties() == 2 {
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

    // ---- linear operations: local, no communication ----

    /// `self + other` (broadcasting). Local, except that a deferred operand next to a settled
    /// one is settled first (one round with 3+ parties); two deferred operands give a deferred
    /// sum, whose magnitude must stay below `2^(62-2f)` like the sums inside a matmul.
    ///
    /// # Errors
    /// Shape mismatch or different sessions; communication failures settling an operand.
    pub fn add(&self, other: &CrypTensor) -> Result<Self> {
        self.check(other, "add")?;
        self.join(&[self, other], |raws| Ok(raws[0].add(raws[1])?))
    }

    /// Applies a linear map to the shares of `tensors`: at twice the scale when all are
    /// deferred (the result is deferred), else at the session's scale, settling the deferred
    /// ones first in one round. (Scaling a settled share up instead would be free but would
    /// shrink its range from `2^(62-f)` to `2^(62-2f)`.)
    fn join(
        &self,
        tensors: &[&CrypTensor],
        map: impl FnOnce(&[&RingTensor]) -> Result<RingTensor>,
    ) -> Result<Self> {
        if tensors.iter().all(|t| t.is_deferred()) {
            let raws: Vec<&RingTensor> = tensors.iter().map(|t| &t.raw).collect();
            return Ok(self.deferred(map(&raws)?));
        }
        Self::settle_all(tensors)?;
        let shares = tensors
            .iter()
            .map(|t| t.share())
            .collect::<Result<Vec<&RingTensor>>>()?;
        Ok(self.with(map(&shares)?))
    }

    /// `self - other` (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch or different sessions.
    pub fn sub(&self, other: &CrypTensor) -> Result<Self> {
        self.add(&other.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        self.with_raw(self.raw.neg())
    }

    /// `self + p` for a public array `p` (broadcasting): party 0 adds the encoding.
    ///
    /// A deferred `self` is settled first (one round with 3+ parties), which keeps the range
    /// of the sum that of any settled value.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; communication failures settling a deferred `self`.
    pub fn add_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        let share = self.share()?;
        let sum = if self.sess.rank() == 0 {
            share.add(&encoded)?
        } else {
            // Broadcast like party 0 does so every party's share has the result's shape.
            share.add(&RingTensor::zeros(encoded.shape()))?
        };
        Ok(self.with(sum))
    }

    /// `self - p` for a public array `p`.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors.
    pub fn sub_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        self.add_plain(&p.mapv(|v| -v))
    }

    /// `self + c` for a public scalar (a deferred `self` is settled first, as in
    /// [`Self::add_plain`]).
    ///
    /// # Errors
    /// Encoding errors; communication failures settling a deferred `self`.
    pub fn add_scalar(&self, c: f64) -> Result<Self> {
        let encoded = self.encode_scalar(c)?;
        let share = self.share()?;
        Ok(self.with(if self.sess.rank() == 0 {
            share.add_scalar(encoded)
        } else {
            share.clone()
        }))
    }

    /// `self * k` for a public integer: exact and local (no truncation).
    pub fn mul_int(&self, k: i64) -> Self {
        self.with_raw(self.raw.mul_scalar(k as u64))
    }

    /// `self * c` for a public real scalar: local product, then truncation (local with 2
    /// parties, deferred with 3+).
    ///
    /// # Errors
    /// Encoding errors; communication failures settling a deferred `self`.
    pub fn mul_scalar(&self, c: f64) -> Result<Self> {
        if c.fract() == 0.0 && c.abs() < (1u64 << 52) as f64 {
            return Ok(self.mul_int(c as i64));
        }
        let encoded = self.encode_scalar(c)?;
        self.rescale(self.share()?.mul_scalar(encoded))
    }

    /// `self / c` for a public real scalar.
    ///
    /// # Errors
    /// `InvalidArgument` when `c` is zero or not finite; otherwise as [`Self::mul_scalar`].
    pub fn div_scalar(&self, c: f64) -> Result<Self> {
        if c == 0.0 || !c.is_finite() {
            return Err(Error::InvalidArgument {
                op: "div_scalar",
                reason: format!("cannot divide by {c}"),
            });
        }
        self.mul_scalar(1.0 / c)
    }

    /// `self * p` elementwise for a public array (broadcasting): local product + truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn mul_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        self.rescale(self.share()?.mul(&encoded)?)
    }

    /// `self @ p` for a public matrix: local matmul + truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn matmul_plain(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        self.rescale(self.share()?.matmul(&encoded)?)
    }

    /// `p @ self` for a public matrix: local matmul + truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn plain_matmul(&self, p: &ArrayD<f64>) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        self.rescale(encoded.matmul(self.share()?)?)
    }

    // ---- products of two encrypted tensors: one round ----

    fn product(&self, other: &CrypTensor, op: &Bilinear) -> Result<Self> {
        self.check(other, op.name())?;
        if self.is_deferred() || other.is_deferred() {
            if *op == Bilinear::Mul {
                let bits = self.sess.encoder().frac_bits();
                let z = deferred::mul(&self.sess, self.operand(), other.operand(), bits)?;
                return Ok(self.deferred(z));
            }
            Self::settle_all(&[self, other])?;
        }
        let z = beaver::bilinear(&self.sess, op, self.share()?, other.share()?)?;
        self.rescale(z)
    }

    /// `self * other` elementwise (broadcasting).
    ///
    /// Rounds: 1, for any number of parties (with 3+ the result is deferred, and a deferred
    /// operand's truncation rides on this round).
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn mul(&self, other: &CrypTensor) -> Result<Self> {
        self.product(other, &Bilinear::Mul)
    }

    /// `self * self`, with half the traffic of a general product. One round.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn square(&self) -> Result<Self> {
        if self.is_deferred() {
            let bits = self.sess.encoder().frac_bits();
            return Ok(self.deferred(deferred::square(&self.sess, &self.raw, bits)?));
        }
        let z = beaver::square(&self.sess, &self.raw)?;
        self.rescale(z)
    }

    /// `self @ other` with numpy/torch semantics (batched, broadcast).
    ///
    /// Rounds: 1 (with 3+ parties the result is deferred; deferred operands are settled
    /// first, in one more round).
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn matmul(&self, other: &CrypTensor) -> Result<Self> {
        self.product(other, &Bilinear::Matmul)
    }

    /// `self + mat1 @ mat2` (PyTorch's `addmm`): a matmul plus a bias (`self`, broadcast over
    /// the rows).
    ///
    /// Rounds: 1 for any number of parties when `self` is a row vector (`[n]`, with `mat2` of
    /// shape `[k, n]`): with 3+ parties the bias is folded into the product
    /// (`[mat1, 1] @ [mat2; self]`), whose result then has a product's range, so adding a
    /// settled bias to a deferred product costs no settling round. Otherwise as
    /// [`Self::matmul`] followed by [`Self::add`].
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn addmm(&self, mat1: &CrypTensor, mat2: &CrypTensor) -> Result<Self> {
        let (bias, s1, s2) = (self.shape(), mat1.shape(), mat2.shape());
        let folds = self.sess.parties() > 2
            && bias.len() == 1
            && s1.len() >= 2
            && s2.len() == 2
            && s2[1] == bias[0];
        if !folds {
            return mat1.matmul(mat2)?.add(self);
        }
        let last = s1.len() - 1;
        let mut ones_shape = s1.to_vec();
        ones_shape[last] = 1;
        let ones = Self::from_public(&self.sess, &ArrayD::ones(IxDyn(&ones_shape)))?;
        let x1 = Self::cat(&[mat1, &ones], last)?;
        let wb = Self::cat(&[mat2, &self.unsqueeze(0)?], 0)?;
        x1.matmul(&wb)
    }

    /// 1-d convolution of `self` (`[N, C, L]`) with an encrypted weight (`[O, C/groups, K]`).
    /// Rounds as [`Self::matmul`].
    ///
    /// # Errors
    /// Shape or parameter errors, provider or communication failures.
    pub fn conv1d(&self, weight: &CrypTensor, p: &Conv1dParams) -> Result<Self> {
        self.product(weight, &Bilinear::conv1d(p))
    }

    /// 2-d convolution of `self` (`[N, C, H, W]`) with an encrypted weight
    /// (`[O, C/groups, KH, KW]`). Rounds as [`Self::matmul`].
    ///
    /// # Errors
    /// Shape or parameter errors, provider or communication failures.
    pub fn conv2d(&self, weight: &CrypTensor, p: &Conv2dParams) -> Result<Self> {
        self.product(weight, &Bilinear::conv2d(p))
    }

    /// Any bilinear map of two encrypted tensors: one Beaver round, then truncation.
    ///
    /// # Errors
    /// Shape mismatch, different sessions, provider or communication failures.
    pub fn bilinear(&self, other: &CrypTensor, op: &Bilinear) -> Result<Self> {
        self.product(other, op)
    }

    /// A bilinear map of this encrypted tensor and a public array: `op(self, p)`, or
    /// `op(p, self)` with `plain_first`. Local, then truncation.
    ///
    /// # Errors
    /// Shape mismatch; encoding errors; truncation's communication failures.
    pub fn bilinear_plain(
        &self,
        op: &Bilinear,
        p: &ArrayD<f64>,
        plain_first: bool,
    ) -> Result<Self> {
        let encoded = self.encode_public(p)?;
        let share = self.share()?;
        let product = if plain_first {
            op.apply(&encoded, share)?
        } else {
            op.apply(share, &encoded)?
        };
        self.rescale(product)
    }

    /// 2-d convolution with a public weight: local convolution + truncation.
    ///
    /// # Errors
    /// Shape or parameter errors; encoding errors; truncation's communication failures.
    pub fn conv2d_plain(&self, weight: &ArrayD<f64>, p: &Conv2dParams) -> Result<Self> {
        let encoded = self.encode_public(weight)?;
        self.rescale(self.share()?.conv2d(&encoded, p)?)
    }

    // ---- reductions ----

    /// Sum over `dims`.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn sum(&self, dims: &[usize], keepdim: bool) -> Result<Self> {
        Ok(self.with_raw(self.raw.sum(dims, keepdim)?))
    }

    /// Mean over `dims`: a local sum times the public `1/count` (truncated).
    ///
    /// # Errors
    /// Invalid dimensions; truncation's communication failures.
    pub fn mean(&self, dims: &[usize], keepdim: bool) -> Result<Self> {
        let sum = self.sum(dims, keepdim)?;
        let count = (self.numel() / sum.numel().max(1)).max(1);
        sum.div_scalar(count as f64)
    }

    // ---- shape operations: local ----

    /// Reshape (same number of elements).
    ///
    /// # Errors
    /// Element count mismatch.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        Ok(self.with_raw(self.raw.reshape(shape)?))
    }

    /// Broadcast to `shape` (materialised).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn expand(&self, shape: &[usize]) -> Result<Self> {
        Ok(self.with_raw(self.raw.expand(shape)?))
    }

    /// Sum over the dimensions that broadcasting added or stretched, so the result has
    /// `shape` (the adjoint of `expand`, used by autograd).
    ///
    /// # Errors
    /// `shape` does not broadcast to this tensor's shape.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        Ok(self.with_raw(self.raw.sum_to_shape(shape)?))
    }

    /// Permute dimensions.
    ///
    /// # Errors
    /// Not a permutation of the dimensions.
    pub fn permute(&self, dims: &[usize]) -> Result<Self> {
        Ok(self.with_raw(self.raw.permute(dims)?))
    }

    /// Swap two dimensions.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Self> {
        Ok(self.with_raw(self.raw.transpose(d0, d1)?))
    }

    /// `len` elements of dimension `dim` from `start`.
    ///
    /// # Errors
    /// Out of range.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Self> {
        Ok(self.with_raw(self.raw.narrow(dim, start, len)?))
    }

    /// Flatten dimensions `start..=end` into one.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Self> {
        Ok(self.with_raw(self.raw.flatten(start, end)?))
    }

    /// Insert a dimension of size 1.
    ///
    /// # Errors
    /// Invalid dimension.
    pub fn unsqueeze(&self, dim: usize) -> Result<Self> {
        Ok(self.with_raw(self.raw.unsqueeze(dim)?))
    }

    /// Remove dimension `dim` (or all) of size 1.
    ///
    /// # Errors
    /// Invalid dimension.
    pub fn squeeze(&self, dim: Option<usize>) -> Result<Self> {
        Ok(self.with_raw(self.raw.squeeze(dim)?))
    }

    /// Select `indices` (public) along `dim`.
    ///
    /// # Errors
    /// Invalid dimension or index.
    pub fn index_select(&self, dim: usize, indices: &[usize]) -> Result<Self> {
        Ok(self.with_raw(self.raw.index_select(dim, indices)?))
    }

    /// Concatenate along `dim`.
    ///
    /// # Errors
    /// Shape mismatch, no tensors, or different sessions.
    pub fn cat(tensors: &[&CrypTensor], dim: usize) -> Result<Self> {
        let first = tensors.first().ok_or(Error::InvalidArgument {
            op: "cat",
            reason: "no tensors".into(),
        })?;
        for t in tensors {
            first.check(t, "cat")?;
        }
        first.join(tensors, |raws| Ok(RingTensor::cat(raws, dim)?))
    }

    /// Stack along a new dimension `dim`.
    ///
    /// # Errors
    /// Shape mismatch, no tensors, or different sessions.
    pub fn stack(tensors: &[&CrypTensor], dim: usize) -> Result<Self> {
        let first = tensors.first().ok_or(Error::InvalidArgument {
            op: "stack",
            reason: "no tensors".into(),
        })?;
        for t in tensors {
            first.check(t, "stack")?;
        }
        first.join(tensors, |raws| Ok(RingTensor::stack(raws, dim)?))
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
