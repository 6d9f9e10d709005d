//! Deferred truncation: a fixed-point product keeps its double scale until the value is next
//! opened, and the truncation rides on that opening.
//!
//! An exact truncation needs an opening of its own (see `truncate`), so a product followed by
//! its truncation would cost two rounds. Instead `CrypTensor` keeps the product `X` (scale
//! `2^(2f)`) as it is, marked *deferred* with a pending shift of `f` bits, and settles it only
//! when something needs the truncated value `t = X >> f`. The cheapest such moment is the next
//! Beaver product that takes `X` as an operand, because that product opens a masked operand
//! anyway: instead of `t - a`, the parties open the truncation protocol's `c = X + 2^62 + r`.
//! From `c` every party knows `E = (c >> b) - 2^(62-b)` and the wrap mask `W = [msb(c) = 0]`
//! (`b` the pending shift), and
//!
//! `t = E + alpha + K W mu`, with `alpha = -(r >> b)`, `mu = msb(r)`, `K = 2^(64-b)`
//!
//! (the truncation identity of `truncate`). So `t` is a public value plus shares the dealer
//! knows, exactly like a Beaver-masked operand `x = e + a`, except for the public factor `W`
//! in front of `mu`. For an elementwise product that factor commutes with everything, so the
//! dealer supplies `alpha_x alpha_y`, `alpha_x mu_y` and `mu_x alpha_y` and
//!
//! `t_x t_y = E_x E_y + E_x alpha_y + alpha_x E_y + alpha_x alpha_y
//!            + K_y (E_x W_y) mu_y + K_y W_y (alpha_x mu_y) + K_x (W_x E_y) mu_x
//!            + K_x W_x (mu_x alpha_y) + K_x K_y W_x W_y (mu_x mu_y)`
//!
//! where the last term vanishes in the ring unless the two pending shifts add up to more than
//! 64 bits (then the dealer also supplies `mu_x mu_y`); a square's `K^2 W mu` likewise. A
//! settled operand is the special case `E = e`, `alpha = a`, `mu = 0`. The product is one
//! round, like any Beaver product, and its own result is deferred again.
//!
//! The pending shift is per value: `f` for a product, more where a function divides by a
//! power of two or accumulates its terms with extra fractional bits (a Chebyshev sum), up to
//! 48 bits. Matmul and convolution cannot absorb `W` (it would sit inside their sums), so they
//! settle deferred operands first, in one truncation round for all of them; the comparisons
//! test the sign of `X` directly (it is the sign of `t`), max plays its tournament on `X`
//! itself, and relu's product with the sign bit settles `X` in its own opening (`b2a`).
//!
//! The opened `c` is uniform (`r` is), so the opening reveals nothing, as in `truncate`. The
//! result is `t` up to one unit in the last place per operand, like any truncation. A value
//! deferred by `b` bits must stay below `2^62` at its scale `2^(f+b)`: `2^(62-2f)` for a
//! product, which any fixed-point product already needs.

use crate::protocol::share::open;
use crate::provider::Request;
use crate::{Error, Result, Session};
use crypten_core::RingTensor;

/// One operand of a product: this party's share and its pending truncation: 0 for a settled
/// operand (at the session's scale `2^f`), `bits` for a deferred one (at `2^(f + bits)`).
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pub share: &'a RingTensor,
    pub bits: u32,
}

impl Operand<'_> {
    /// Whether the operand is deferred.
    pub(crate) fn deferred(&self) -> bool {
        self.bits > 0
    }
}

/// What the opening tells every party about one operand: `t = e + alpha + wrap * mu`, where
/// `wrap = K W` (only for a deferred operand).
pub(crate) struct Opened {
    pub e: RingTensor,
    pub wrap: Option<RingTensor>,
}

/// A protocol step that found fewer values than the request defines.
fn missing(what: &str) -> Error {
    Error::InvalidArgument {
        op: "deferred product",
        reason: format!("fewer {what} than the request defines"),
    }
}

/// The value this party contributes to the opening of `x` with `mask` (as many elements as
/// `x`, in row-major order; the result has `x`'s shape), in one pass.
pub(crate) fn masked(sess: &Session, x: Operand<'_>, mask: &RingTensor) -> Result<RingTensor> {
    if mask.numel() != x.share.numel() {
        return Err(missing("mask elements"));
    }
    let pairs = x.share.data().iter().zip(mask.data());
    let data = if x.deferred() {
        let offset = if sess.rank() == 0 { 1u64 << 62 } else { 0 };
        pairs
            .map(|(&v, &m)| v.wrapping_add(m).wrapping_add(offset))
            .collect()
    } else {
        pairs.map(|(&v, &m)| v.wrapping_sub(m)).collect()
    };
    Ok(RingTensor::new(x.share.shape(), data)?)
}

/// Reads an opened value: `e` itself for a settled operand (`bits` 0); `E` and `K W` for one
/// deferred by `bits`.
pub(crate) fn read(opened: RingTensor, bits: u32) -> Opened {
    if bits == 0 {
        return Opened {
            e: opened,
            wrap: None,
        };
    }
    let offset = 1u64 << (62 - bits);
    let k = 1u64.wrapping_shl(64 - bits);
    Opened {
        e: opened.map(|v| (v >> bits).wrapping_sub(offset)),
        wrap: Some(opened.map(|v| if v >> 63 == 0 { k } else { 0 })),
    }
}

/// The elementwise fixed-point product of two operands (broadcasting), either of which may be
/// deferred; the result is an untruncated product at scale `2^(2f)` (deferred by `f`).
///
/// Rounds: 1. Bytes sent per party: `8 (N-1) (|x| + |y|)` plus headers, as a plain Beaver
/// product.
///
/// # Errors
/// Shapes that do not broadcast; pending truncations above 48 bits or adding up to more than
/// 64; provider or communication failures.
pub(crate) fn mul(sess: &Session, x: Operand<'_>, y: Operand<'_>) -> Result<RingTensor> {
    mul_many(sess, &[(x, y)])?
        .pop()
        .ok_or_else(|| missing("products"))
}

/// [`mul`] for every pair, all in one round: each pair has its own preprocessing, and every
/// masked operand of the batch leaves in one message per peer. The results are deferred.
///
/// Rounds: 1 (0 for no pairs). Bytes sent per party: `8 (N-1)` per operand element, plus
/// headers.
///
/// # Errors
/// As [`mul`].
pub(crate) fn mul_many(
    sess: &Session,
    pairs: &[(Operand<'_>, Operand<'_>)],
) -> Result<Vec<RingTensor>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    // A pair whose two operands are the same tensor is a square: one masked value, not two.
    let is_square =
        |x: &Operand<'_>, y: &Operand<'_>| std::ptr::eq(x.share, y.share) && x.bits == y.bits;
    let mut pendings = Vec::with_capacity(pairs.len());
    let mut masked_values = Vec::with_capacity(2 * pairs.len());
    for (x, y) in pairs {
        let request = match (is_square(x, y), x.bits) {
            (true, 0) => Request::Square {
                shape: x.share.shape().to_vec(),
            },
            (true, bits) => Request::DeferredSquare {
                shape: x.share.shape().to_vec(),
                bits,
            },
            (false, _) => Request::DeferredMul {
                x_shape: x.share.shape().to_vec(),
                y_shape: y.share.shape().to_vec(),
                bits: [x.bits, y.bits],
            },
        };
        request.part_shapes()?;
        let pending = sess.provider().begin(sess.comm(), request)?;
        masked_values.push(masked(sess, *x, &pending.parts[0])?);
        if !is_square(x, y) {
            masked_values.push(masked(sess, *y, &pending.parts[1])?);
        }
        pendings.push(pending);
    }
    let opened = open(sess, "mul", &masked_values.iter().collect::<Vec<_>>())?;
    drop(masked_values);
    let mut opened = opened.into_iter();
    let mut out = Vec::with_capacity(pairs.len());
    for ((x, y), pending) in pairs.iter().zip(pendings) {
        let parts = sess.provider().finish(sess.comm(), pending)?;
        let ox = opened.next().ok_or_else(|| missing("opened values"))?;
        if is_square(x, y) {
            out.push(complete_square(sess, read(ox, x.bits), x.bits, &parts)?);
            continue;
        }
        let oy = opened.next().ok_or_else(|| missing("opened values"))?;
        let (ox, oy) = (read(ox, x.bits), read(oy, y.bits));
        out.push(complete(sess, *x, *y, &ox, &oy, &parts)?);
    }
    Ok(out)
}

/// This party's share of a square from its opened operand and the preprocessing parts of a
/// [`Request::Square`] (settled operand) or a [`Request::DeferredSquare`].
fn complete_square(
    sess: &Session,
    opened: Opened,
    bits: u32,
    parts: &[RingTensor],
) -> Result<RingTensor> {
    let Opened { e, wrap } = opened;
    let mut z = match (wrap, parts) {
        // x^2 = e^2 + 2 e r + r^2
        (None, [r, r_sq]) => {
            let mut z = e.mul(r)?.shl(1);
            z.add_assign(r_sq)?;
            z
        }
        // t^2 = E^2 + 2 E alpha + 2 K W E mu + alpha^2 + 2 K W (alpha mu) + K^2 W mu (W and
        // mu are bits; K^2 vanishes in the ring for pending shifts up to 32).
        (Some(wrap), [_, alpha, mu, alpha_sq, alpha_mu]) => {
            let mut twice = e.mul(alpha)?;
            twice.add_assign(&e.mul(&wrap)?.mul(mu)?)?;
            twice.add_assign(&wrap.mul(alpha_mu)?)?;
            let mut z = twice.shl(1);
            z.add_assign(alpha_sq)?;
            if bits > 32 {
                z.add_assign(&wrap.mul(&wrap)?.mul(mu)?)?;
            }
            z
        }
        _ => return Err(missing("preprocessing parts")),
    };
    if sess.rank() == 0 {
        z.add_assign(&e.mul(&e)?)?;
    }
    Ok(z)
}

/// This party's share of the product from the opened operands and the preprocessing parts
/// of a [`Request::DeferredMul`].
fn complete(
    sess: &Session,
    x: Operand<'_>,
    y: Operand<'_>,
    ox: &Opened,
    oy: &Opened,
    parts: &[RingTensor],
) -> Result<RingTensor> {
    // The dependent parts in the dealer's order (see `Request::DeferredMul`).
    let mut rest = parts.iter().skip(2);
    let (alpha_x, mu_x) = match x.deferred() {
        true => (rest.next(), rest.next()),
        false => (parts.first(), None),
    };
    let (alpha_y, mu_y) = match y.deferred() {
        true => (rest.next(), rest.next()),
        false => (parts.get(1), None),
    };
    let (aa, alpha_x_mu_y) = (rest.next(), y.deferred().then(|| rest.next()).flatten());
    let mu_x_alpha_y = x.deferred().then(|| rest.next()).flatten();
    let mu_x_mu_y = (x.bits + y.bits > 64).then(|| rest.next()).flatten();
    let (Some(alpha_x), Some(alpha_y), Some(aa)) = (alpha_x, alpha_y, aa) else {
        return Err(missing("preprocessing parts"));
    };

    let mut z = ox.e.mul(alpha_y)?;
    z.add_assign(&alpha_x.mul(&oy.e)?)?;
    z.add_assign(aa)?;
    if let (Some(wrap_y), Some(mu_y), Some(alpha_x_mu_y)) = (&oy.wrap, mu_y, alpha_x_mu_y) {
        z.add_assign(&ox.e.mul(wrap_y)?.mul(mu_y)?)?;
        z.add_assign(&wrap_y.mul(alpha_x_mu_y)?)?;
    }
    if let (Some(wrap_x), Some(mu_x), Some(mu_x_alpha_y)) = (&ox.wrap, mu_x, mu_x_alpha_y) {
        z.add_assign(&wrap_x.mul(&oy.e)?.mul(mu_x)?)?;
        z.add_assign(&wrap_x.mul(mu_x_alpha_y)?)?;
    }
    // K_x K_y W_x W_y mu_x mu_y, which vanishes in the ring unless the pending truncations
    // add up to more than 64 bits.
    if let (Some(wrap_x), Some(wrap_y), Some(mu_x_mu_y)) = (&ox.wrap, &oy.wrap, mu_x_mu_y) {
        z.add_assign(&wrap_x.mul(wrap_y)?.mul(mu_x_mu_y)?)?;
    }
    if sess.rank() == 0 {
        z.add_assign(&ox.e.mul(&oy.e)?)?;
    }
    Ok(z)
}

/// The fixed-point square of an operand deferred by `bits` (`1..=48`); the result is deferred
/// by `f`.
///
/// Rounds: 1. Bytes sent per party: `8 (N-1) |x|` plus headers.
///
/// # Errors
/// `bits` outside `1..=48`; provider or communication failures.
pub(crate) fn square(sess: &Session, x: &RingTensor, bits: u32) -> Result<RingTensor> {
    let request = Request::DeferredSquare {
        shape: x.shape().to_vec(),
        bits,
    };
    request.part_shapes()?;
    let pending = sess.provider().begin(sess.comm(), request)?;
    let operand = Operand { share: x, bits };
    let c = masked(sess, operand, &pending.parts[0])?;
    let c = open(sess, "square", &[&c])?.swap_remove(0);
    let parts = sess.provider().finish(sess.comm(), pending)?;
    complete_square(sess, read(c, bits), bits, &parts)
}
