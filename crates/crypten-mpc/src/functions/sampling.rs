//! Random sampling on secret shares: uniform, normal, Bernoulli, Laplace and weighted index
//! samples that no party (nor a coalition missing one party) can predict.
//!
//! Everything starts from shared random bits. Every party draws private bits from its own
//! stream (`Session`'s local PRG) and the sample bit is their XOR, computed on arithmetic
//! shares as `a + b - 2ab` in a tree over the parties (`ceil(log2 N)` rounds of ring
//! products, batched over all bits): one honest party's uniform bit makes the XOR uniform and
//! hides it from the others. A uniform sample on the fixed-point grid of `[0, 1)` is
//! `sum_k bit_k 2^(k - f)` with `f` such bits. Then:
//! - normal: Box-Muller, `sqrt(-2 ln u1) (cos 2pi u2, sin 2pi u2)` with `u1 = 1 - U` in
//!   `(0, 1]` (two samples per pair of uniforms). `u1 >= 2^-f` truncates the tails at
//!   `sqrt(2 f ln 2)` (4.71 standard deviations with 16 bits: probability 2.5e-6 lost);
//! - Bernoulli: `[U < p]`, one comparison;
//! - Laplace: a random sign times an exponential `-ln u1` (tails truncated at `f ln 2`
//!   scales: probability 1.5e-5 lost with 16 bits);
//! - weighted index: cumulative sums `C` of the weights (free), `r = U * C_last` (one
//!   product), and the one-hot of the first `j` with `r < C_j` from one batched comparison.

use crate::protocol::batch::ring_products;
use crate::{CrypTensor, Error, Result, Session};
use crypten_core::RingTensor;
use std::f64::consts::TAU;

/// Arithmetic shares of `count` uniform bits (ring integers 0/1), each the XOR of one private
/// bit from every party.
///
/// Rounds: `ceil(log2 N)` for `N` parties. Bytes: those of `count * (N - 1)` ring products.
fn shared_bits(sess: &Session, count: usize) -> Result<RingTensor> {
    let mine = sess.with_local_prg(|prg| prg.bits(&[count]));
    // Party i's bits as a sharing held by i alone; XOR them pairwise, level by level.
    let mut terms: Vec<RingTensor> = (0..sess.parties())
        .map(|i| {
            if i == sess.rank() {
                mine.clone()
            } else {
                RingTensor::zeros(&[count])
            }
        })
        .collect();
    while terms.len() > 1 {
        let pairs: Vec<(&RingTensor, &RingTensor)> = terms
            .chunks_exact(2)
            .map(|pair| (&pair[0], &pair[1]))
            .collect();
        let products = ring_products(sess, &pairs)?;
        let mut next = Vec::with_capacity(terms.len().div_ceil(2));
        for (pair, ab) in terms.chunks_exact(2).zip(products) {
            let mut x = pair[0].add(&pair[1])?;
            x.sub_assign(&ab.shl(1))?;
            next.push(x);
        }
        if terms.len() % 2 == 1 {
            next.extend(terms.pop());
        }
        terms = next;
    }
    Ok(terms.swap_remove(0))
}

impl CrypTensor {
    /// Uniform samples on the fixed-point grid of `[0, 1)` (every multiple of `2^-f` equally
    /// likely), unpredictable to any coalition that misses a party.
    ///
    /// Rounds: `ceil(log2 N)` (1 for 2 parties). Bytes: `f` ring products per element.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn rand(sess: &Session, shape: &[usize]) -> Result<CrypTensor> {
        let frac = sess.encoder().frac_bits() as usize;
        let n: usize = shape.iter().product();
        let bits = shared_bits(sess, n * frac)?;
        // Element i takes bits [i*f, (i+1)*f), the k-th weighted 2^k in the ring: 2^(k-f).
        let data = bits
            .data()
            .chunks_exact(frac.max(1))
            .map(|chunk| {
                chunk.iter().enumerate().fold(0u64, |acc, (k, &b)| {
                    acc.wrapping_add(b.wrapping_shl(k as u32))
                })
            })
            .collect();
        Ok(CrypTensor::from_share(sess, RingTensor::new(shape, data)?))
    }

    /// Standard normal samples by Box-Muller, tails truncated beyond `sqrt(2 f ln 2)` (4.71
    /// with 16 fractional bits).
    ///
    /// Accuracy: the sample moments and distribution match N(0, 1) within the statistical
    /// tests' tolerance; each sample carries `sqrt` and `log`'s rounding (below 1e-3).
    /// Rounds: 1 + `log` + `sqrt` + 1.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn randn(sess: &Session, shape: &[usize]) -> Result<CrypTensor> {
        let n: usize = shape.iter().product();
        let pairs = n.div_ceil(2).max(1);
        let u = CrypTensor::rand(sess, &[2, pairs])?;
        // 1 - U lies in (0, 1]: its logarithm is finite.
        let u1 = u.narrow(0, 0, 1)?.neg().add_scalar(1.0)?;
        let u2 = u.narrow(0, 1, 1)?;
        let radius = u1.log()?.mul_int(-2).sqrt()?;
        let degree = sess.config().functions.chebyshev_degree.max(16) as usize;
        let cos = u2.approximate(|v| (TAU * v).cos(), degree, 0.0, 1.0)?;
        let sin = u2.approximate(|v| (TAU * v).sin(), degree, 0.0, 1.0)?;
        let angle = CrypTensor::cat(&[&cos, &sin], 0)?;
        let z = angle.mul(&radius)?.reshape(&[2 * pairs])?;
        z.narrow(0, 0, n)?.reshape(shape)
    }

    /// Laplace samples with location `loc` and scale `scale`: a uniform random sign times
    /// `-ln(u)` for `u` uniform in `(0, 1]`; tails truncated beyond `f ln 2` scales.
    ///
    /// Rounds: 1 + `log` + 1.
    ///
    /// # Errors
    /// `InvalidArgument` for a non-positive or non-finite scale or a non-finite location;
    /// provider or communication failures.
    pub fn laplace(sess: &Session, shape: &[usize], loc: f64, scale: f64) -> Result<CrypTensor> {
        if !(scale > 0.0 && scale.is_finite() && loc.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "laplace",
                reason: format!("location {loc}, scale {scale}"),
            });
        }
        let n: usize = shape.iter().product();
        let frac = sess.encoder().frac_bits();
        let u = CrypTensor::rand(sess, &[n])?;
        let sign_bits = shared_bits(sess, n)?;
        // 1 - 2s as fixed point.
        let sign = CrypTensor::from_share(sess, sign_bits.shl(frac + 1).neg()).add_scalar(1.0)?;
        let magnitude = u.neg().add_scalar(1.0)?.log()?.neg();
        sign.mul(&magnitude)?
            .mul_scalar(scale)?
            .add_scalar(loc)?
            .reshape(shape)
    }

    /// Bernoulli samples: 1 with probability `self` (elementwise, clamped to `[0, 1]` by the
    /// comparison), else 0, as fixed-point 0/1.
    ///
    /// Rounds: 1 + one comparison.
    ///
    /// # Errors
    /// Provider or communication failures.
    pub fn bernoulli(&self) -> Result<CrypTensor> {
        let u = CrypTensor::rand(&self.sess, self.shape())?;
        u.sub(self)?.ltz()
    }

    /// One sample per row of the last dimension: a one-hot (fixed-point 0/1) of index `j` drawn
    /// with probability `w_j / sum(w)` from the non-negative weights `self` (not all zero).
    /// Zero weights are never drawn.
    ///
    /// Rounds: 1 (uniforms, with the product) + 1 + one comparison.
    ///
    /// # Errors
    /// `InvalidArgument` for a 0-d tensor or an empty last dimension; provider or
    /// communication failures.
    pub fn sample_index(&self) -> Result<CrypTensor> {
        let shape = self.shape().to_vec();
        let Some(&n) = shape.last() else {
            return Err(Error::InvalidArgument {
                op: "sample_index",
                reason: "weights must have at least one dimension".into(),
            });
        };
        if n == 0 {
            return Err(Error::InvalidArgument {
                op: "sample_index",
                reason: "no weights".into(),
            });
        }
        let last = shape.len() - 1;
        // Cumulative sums: a product with the public 0/1 upper-triangular matrix (exact).
        let tri: Vec<u64> = (0..n * n).map(|k| u64::from(k / n <= k % n)).collect();
        let tri = RingTensor::new(&[n, n], tri)?;
        let cumulative = self.with(self.share()?.matmul(&tri)?);
        let total = cumulative.narrow(last, n - 1, 1)?;
        let mut row_shape = shape.clone();
        row_shape[last] = 1;
        let u = CrypTensor::rand(&self.sess, &row_shape)?;
        let r = u.mul(&total)?;
        if n == 1 {
            return r.mul_int(0).add_scalar(1.0);
        }
        // below[j] = [r < C_j] for j < n - 1; the last is 1 by construction.
        let below = r.sub(&cumulative.narrow(last, 0, n - 1)?)?.ltz()?;
        let one = below.narrow(last, 0, 1)?.mul_int(0).add_scalar(1.0)?;
        let padded_hi = CrypTensor::cat(&[&below, &one], last)?;
        let zero = one.mul_int(0);
        let padded_lo = CrypTensor::cat(&[&zero, &below], last)?;
        padded_hi.sub(&padded_lo)
    }
}
