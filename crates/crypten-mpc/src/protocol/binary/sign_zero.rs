//! The sign and zero tests ("bit tests"): the sign bit, or whether the value is zero, of arithmetically shared values,
//! as one XOR-shared bit per value, without converting the whole value to binary.
//!
//! Construction (masked comparison with a dealer, bit-sliced). The dealer gives an arithmetic
//! mask `r`; the parties open `c = x + r`, which is uniform. Then `x = c - r`, so
//!
//! - sign: `msb(x) = c63 ^ r63 ^ [r mod 2^63 > c mod 2^63]` (the borrow out of the low 63 bits);
//! - zero: `x == 0` exactly when `r == c`.
//!
//! Both are comparisons of the public `c` with the shared `r`, evaluated by the circuit of
//! `crypten_dealer::Plan`: leaves of four bits are local thanks to the dealer's one-hot planes of `r`'s
//! blocks, then a pruned 4-ary lookahead tree of two rounds. Everything runs bit-sliced: 64
//! values per word, so each opened word carries 64 values' bits and the opened data shrinks
//! with the tree (27 and 6 words per 64 values for the sign).

use super::{Combine, SharedBits, open_words, xor_into};
use crate::provider::{Pending, Request};
use crate::{Result, Session};
use crypten_core::RingTensor;
use crypten_core::bitslice::{groups, indicators, to_planes};
use crypten_dealer::{BitTest, Kind, Level, NodeRef, Output, Plan, Src};

/// One XOR-shared bit per element of `x`: `x < 0` (as a signed 64-bit value) for
/// [`BitTest::Sign`], `x == 0` for [`BitTest::Zero`].
///
/// Rounds: 3 for any number of parties (open `c`, two tree levels); a trusted third party's
/// request overlaps the first. Bytes sent per party, with `N` parties and `n` values:
/// `(N-1) * (8 n + 8 w ceil(n/64))` plus three frame headers per peer, where `w` = 33 words for
/// the sign and 20 for the zero test, i.e. about 12.1 (sign) or 10.5 (zero) bytes per value
/// and peer. Exact: no failure probability. Security: `c` is uniform because `r` is, and every
/// tree opening is a value XORed with a fresh uniform mask.
///
/// # Errors
/// Provider or communication failures.
pub fn bit_test(sess: &Session, x: &RingTensor, test: BitTest) -> Result<SharedBits> {
    Ok(bit_test_with(sess, x, test, Vec::new())?.0)
}

/// [`bit_test`], also starting `followups` (requests for the step after the test) right after
/// the test's own request, so a dealer prepares them while the test runs. Returns their
/// pending material, to be finished by the caller.
pub(crate) fn bit_test_with(
    sess: &Session,
    x: &RingTensor,
    test: BitTest,
    followups: Vec<Request>,
) -> Result<(SharedBits, Vec<Pending>)> {
    let n = x.numel();
    let g = groups(n);
    let plan = Plan::new(test);
    let provider = sess.provider();
    let pending = provider.begin(sess.comm(), Request::BitTest { n, test })?;
    let followups = followups
        .into_iter()
        .map(|r| provider.begin(sess.comm(), r))
        .collect::<Result<Vec<_>>>()?;
    let mut masked = x.data().to_vec();
    for (m, r) in masked.iter_mut().zip(pending.parts[0].data()) {
        *m = m.wrapping_add(*r);
    }
    let c = open_words(sess, "bittest.open", &[(&masked, Combine::Add)])?.swap_remove(0);
    let parts = provider.finish(sess.comm(), pending)?;
    let depth = plan.levels.len();
    let masks = &parts[1..1 + depth];
    let onehot = &parts[1 + depth];
    let (top, products) = match test {
        BitTest::Sign => (Some(&parts[2 + depth]), &parts[3 + depth..]),
        BitTest::Zero => (None, &parts[2 + depth..]),
    };
    let first = sess.rank() == 0;
    let c_planes = to_planes(&c);
    let (mut gv, mut ev) = leaves(&plan, first, g, &c_planes, onehot.data());
    for (i, level) in plan.levels.iter().enumerate() {
        (gv, ev) = combine_level(
            sess,
            level,
            g,
            (&gv, &ev),
            masks[i].data(),
            products[i].data(),
        )?;
    }
    let mut words = match test {
        BitTest::Sign => gv,
        BitTest::Zero => ev,
    };
    if let Some(top) = top {
        xor_into(&mut words, top.data());
        if first {
            for (w, block) in words.iter_mut().zip(c_planes.chunks_exact(64)) {
                *w ^= block[63];
            }
        }
    }
    Ok((SharedBits { n, words }, followups))
}

/// The leaves, local: for each block, with `M_v = [c_block == v]` (public) and the shares of
/// the one-hot planes `[r_block == v]` (`v > 0`; value 0's plane is the XOR of the others and
/// 1), `E = M_0 ^ xor_v (M_v ^ M_0) & onehot_v` and `G = xor_v [c_block < v] & onehot_v`.
/// Returns the `G` and `E` planes, plane-major (`[leaves, groups]`; unneeded ones zero).
fn leaves(
    plan: &Plan,
    first: bool,
    g: usize,
    c_planes: &[u64],
    onehot: &[u64],
) -> (Vec<u64>, Vec<u64>) {
    let count = plan.leaves.len();
    let (mut gv, mut ev) = (vec![0u64; count * g], vec![0u64; count * g]);
    let width = plan.onehot_planes;
    let mut m = [0u64; 16];
    for (grp, (c, oh)) in c_planes
        .chunks_exact(64)
        .zip(onehot.chunks_exact(width))
        .enumerate()
    {
        for (i, leaf) in plan.leaves.iter().enumerate() {
            let values = 1 << leaf.bits;
            indicators(&c[leaf.lo..leaf.lo + leaf.bits], &mut m[..values]);
            let planes = &oh[leaf.onehot..leaf.onehot + values - 1];
            if leaf.needs.e {
                let mut e = if first { m[0] } else { 0 };
                for (&mv, &p) in m[1..values].iter().zip(planes) {
                    e ^= (mv ^ m[0]) & p;
                }
                ev[i * g + grp] = e;
            }
            if leaf.needs.g {
                // `below` runs through [c_block < v] = xor_{w < v} M_w.
                let (mut below, mut acc) = (0, 0);
                for (&mv, &p) in m[..values - 1].iter().zip(planes) {
                    below ^= mv;
                    acc ^= below & p;
                }
                gv[i * g + grp] = acc;
            }
        }
    }
    (gv, ev)
}

/// One tree level, one round: opens every input XOR its mask, then evaluates each node's
/// outputs from the openings, the masks and the dealer's mask products.
fn combine_level(
    sess: &Session,
    level: &Level,
    g: usize,
    (gv, ev): (&[u64], &[u64]),
    masks: &[u64],
    products: &[u64],
) -> Result<(Vec<u64>, Vec<u64>)> {
    let plane = |s: &'_ [u64], i: usize| -> std::ops::Range<usize> {
        debug_assert!(s.len() >= (i + 1) * g);
        i * g..(i + 1) * g
    };
    let value = |r: NodeRef| -> &[u64] {
        let s = match r.kind {
            Kind::G => gv,
            Kind::E => ev,
        };
        &s[plane(s, r.node)]
    };
    let mut payload = Vec::with_capacity(level.inputs.len() * g);
    for (v, r) in level.inputs.iter().enumerate() {
        let mask = &masks[plane(masks, v)];
        payload.extend(value(*r).iter().zip(mask).map(|(x, u)| x ^ u));
    }
    let opened = open_words(sess, "bittest.tree", &[(&payload, Combine::Xor)])?.swap_remove(0);
    let ctx = Ctx {
        g,
        first: sess.rank() == 0,
        opened: &opened,
        masks,
        products,
    };
    let count = level.combines.len();
    let (mut gout, mut eout) = (vec![0u64; count * g], vec![0u64; count * g]);
    for (j, node) in level.combines.iter().enumerate() {
        if let Some(out) = &node.g {
            ctx.eval(out, &value, &mut gout[j * g..(j + 1) * g]);
        }
        if let Some(out) = &node.e {
            ctx.eval(out, &value, &mut eout[j * g..(j + 1) * g]);
        }
    }
    Ok((gout, eout))
}

/// What evaluating a level's outputs reads.
struct Ctx<'a> {
    g: usize,
    first: bool,
    opened: &'a [u64],
    masks: &'a [u64],
    products: &'a [u64],
}

impl Ctx<'_> {
    fn plane<'s>(&self, s: &'s [u64], i: usize) -> &'s [u64] {
        &s[i * self.g..(i + 1) * self.g]
    }

    /// `acc = xor of the linear inputs ^ xor over terms of (AND of coef openings) & source`.
    fn eval<'v>(&self, out: &Output, value: &impl Fn(NodeRef) -> &'v [u64], acc: &mut [u64]) {
        for r in &out.linear {
            xor_into(acc, value(*r));
        }
        for term in &out.terms {
            let src = match term.src {
                // The constant 1 is party 0's alone.
                Src::One if !self.first => continue,
                Src::One => None,
                Src::Mask(v) => Some(self.plane(self.masks, v)),
                Src::Product(p) => Some(self.plane(self.products, p)),
            };
            let coefs: Vec<&[u64]> = term
                .coef
                .iter()
                .map(|&v| self.plane(self.opened, v))
                .collect();
            accumulate(acc, src, &coefs);
        }
    }
}

/// `acc ^= c_0 & c_1 & ... & src` (`src` all-ones when `None`), with the common short cases
/// written as plain slice loops so they vectorise.
fn accumulate(acc: &mut [u64], src: Option<&[u64]>, coefs: &[&[u64]]) {
    match (src, coefs) {
        (Some(s), []) => xor_into(acc, s),
        (Some(s), [c0]) => {
            for ((a, &s), &c0) in acc.iter_mut().zip(s).zip(*c0) {
                *a ^= s & c0;
            }
        }
        (Some(s), [c0, c1]) => {
            for (((a, &s), &c0), &c1) in acc.iter_mut().zip(s).zip(*c0).zip(*c1) {
                *a ^= s & c0 & c1;
            }
        }
        (None, [c0, c1]) => {
            for ((a, &c0), &c1) in acc.iter_mut().zip(*c0).zip(*c1) {
                *a ^= c0 & c1;
            }
        }
        _ => {
            let mut t = src.map_or_else(|| vec![!0u64; acc.len()], <[u64]>::to_vec);
            for c in coefs {
                for (t, &c) in t.iter_mut().zip(*c) {
                    *t &= c;
                }
            }
            xor_into(acc, &t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves and tree, evaluated in the clear with one "party" holding everything
    /// (masks zero), against the definition, for many values at once.
    #[test]
    fn local_circuit_matches_the_definition() {
        let mut prg = crypten_core::Prg::from_seed([3; 16]);
        let n = 200;
        let mut c = vec![0u64; n];
        let mut r = vec![0u64; n];
        prg.fill_u64(&mut c);
        prg.fill_u64(&mut r);
        // Edge cases: equal values, values differing in one low or high bit.
        r[0] = c[0];
        r[1] = c[1] ^ 1;
        r[2] = c[2] ^ (1 << 62);
        r[3] = c[3] ^ (1 << 63);
        for test in [BitTest::Sign, BitTest::Zero] {
            let plan = Plan::new(test);
            let g = groups(n);
            let r_t = RingTensor::new(&[n], r.clone()).unwrap();
            let zero = |level: usize| Ok(RingTensor::zeros(&[plan.levels[level].inputs.len(), g]));
            let dealt = crypten_dealer::bit_test_values(&plan, n, &r_t, zero).unwrap();
            let (mut gv, mut ev) = leaves(&plan, true, g, &to_planes(&c), dealt[0].data());
            let products = &dealt[if test == BitTest::Sign { 2 } else { 1 }..];
            for (i, level) in plan.levels.iter().enumerate() {
                let value = |k: NodeRef| -> &[u64] {
                    let s = if k.kind == Kind::G { &gv } else { &ev };
                    &s[k.node * g..(k.node + 1) * g]
                };
                let opened: Vec<u64> = level
                    .inputs
                    .iter()
                    .flat_map(|k| value(*k).to_vec())
                    .collect();
                let masks = vec![0u64; level.inputs.len() * g];
                let ctx = Ctx {
                    g,
                    first: true,
                    opened: &opened,
                    masks: &masks,
                    products: products[i].data(),
                };
                let count = level.combines.len();
                let (mut go, mut eo) = (vec![0u64; count * g], vec![0u64; count * g]);
                for (j, node) in level.combines.iter().enumerate() {
                    if let Some(out) = &node.g {
                        ctx.eval(out, &value, &mut go[j * g..(j + 1) * g]);
                    }
                    if let Some(out) = &node.e {
                        ctx.eval(out, &value, &mut eo[j * g..(j + 1) * g]);
                    }
                }
                (gv, ev) = (go, eo);
            }
            for i in 0..n {
                let lane = |w: &[u64]| (w[i / 64] >> (i % 64)) & 1;
                let low = (1u64 << 63) - 1;
                match test {
                    BitTest::Sign => assert_eq!(lane(&gv), u64::from(r[i] & low > c[i] & low)),
                    BitTest::Zero => assert_eq!(lane(&ev), u64::from(r[i] == c[i])),
                }
            }
        }
    }
}
