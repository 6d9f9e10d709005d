//! The dealer's side of the binary correlations: XOR reconstruction of binary parts, party 0's
//! XOR corrections, and the values behind a bit test's dependent parts (the one-hot planes of
//! the mask's blocks, its top bit, and the tree levels' mask products; see `bit_test_plan`).

use crate::Result;
use crate::bit_test_plan::{BitTest, Plan};
use crypten_core::RingTensor;
use crypten_core::bitslice::{groups, indicators, to_planes, unpack};

/// The secret behind binary independent part `i`: the XOR of every party's draw.
pub(crate) fn xor_of(draws: &[Vec<RingTensor>], i: usize) -> Result<RingTensor> {
    let mut acc = draws[0][i].clone();
    for d in &draws[1..] {
        acc.xor_assign(&d[i])?;
    }
    Ok(acc)
}

/// Party 0's share of binary dependent part `i` holding `total`: `total` XOR the others' draws.
pub(crate) fn xor_share(
    draws: &[Vec<RingTensor>],
    i: usize,
    mut total: RingTensor,
) -> Result<RingTensor> {
    for d in &draws[1..] {
        total.xor_assign(&d[i])?;
    }
    Ok(total)
}

/// The first `n` bits of a packed vector as arithmetic 0/1 values of shape `[n]`.
pub(crate) fn unpack_bits(packed: &RingTensor, n: usize) -> Result<RingTensor> {
    Ok(RingTensor::new(&[n], unpack(packed.data(), n))?)
}

/// The shapes of a bit test's parts for `n` values: the arithmetic mask and each level's masks
/// (independent), then the one-hot planes, the top bit plane (sign only) and each level's
/// mask products (dependent). The one-hot planes are group-major (`[groups, planes]`, read
/// group by group at the leaves); the levels' masks and products are plane-major
/// (`[planes, groups]`, combined plane by plane).
pub(crate) fn bit_test_shapes(plan: &Plan, n: usize) -> Vec<Vec<usize>> {
    let g = groups(n);
    let mut shapes = vec![vec![n]];
    shapes.extend(plan.levels.iter().map(|l| vec![l.inputs.len(), g]));
    shapes.push(vec![g, plan.onehot_planes]);
    if plan.test == BitTest::Sign {
        shapes.push(vec![g]);
    }
    shapes.extend(plan.levels.iter().map(|l| vec![l.products.len(), g]));
    shapes
}

/// The values of a bit test's dependent parts, in order, for the mask `r` (shape `[n]`) and
/// the levels' masks (`masks(level)`, shape `[inputs, groups]`).
pub fn bit_test_values(
    plan: &Plan,
    n: usize,
    r: &RingTensor,
    masks: impl Fn(usize) -> Result<RingTensor>,
) -> Result<Vec<RingTensor>> {
    let g = groups(n);
    let planes = to_planes(r.data());
    let width = plan.onehot_planes;
    let mut onehot = vec![0u64; g * width];
    let mut ind = [0u64; 1 << 4];
    for (block, out) in planes.chunks_exact(64).zip(onehot.chunks_exact_mut(width)) {
        for leaf in &plan.leaves {
            let values = 1 << leaf.bits;
            indicators(&block[leaf.lo..leaf.lo + leaf.bits], &mut ind[..values]);
            // Value 0's plane is implied: the planes of one block XOR to all-ones.
            out[leaf.onehot..leaf.onehot + values - 1].copy_from_slice(&ind[1..values]);
        }
    }
    let mut values = vec![RingTensor::new(&[g, width], onehot)?];
    if plan.test == BitTest::Sign {
        let top = planes.chunks_exact(64).map(|b| b[63]).collect();
        values.push(RingTensor::new(&[g], top)?);
    }
    for (i, level) in plan.levels.iter().enumerate() {
        let u = masks(i)?;
        let plane = |v: usize| &u.data()[v * g..(v + 1) * g];
        let mut products = Vec::with_capacity(level.products.len() * g);
        for vars in &level.products {
            let start = products.len();
            products.extend_from_slice(plane(vars[0]));
            for &v in &vars[1..] {
                for (p, &m) in products[start..].iter_mut().zip(plane(v)) {
                    *p &= m;
                }
            }
        }
        values.push(RingTensor::new(&[level.products.len(), g], products)?);
    }
    Ok(values)
}
