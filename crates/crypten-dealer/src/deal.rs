//! The dealer's arithmetic, shared by both providers.
//!
//! For a request, party `k` draws its *independent* parts from the PRG stream it shares with
//! the dealer (a triple's `a_k, b_k`), and, when `k != 0`, its *dependent* parts too (`c_k`),
//! which are then just random. The dealer, holding every stream, draws the same tensors in the
//! same order, reconstructs the secrets (`a = sum a_k`, `b = sum b_k`) and gives party 0 the
//! share that makes the dependent parts add up (`c_0 = a*b - sum_{k>0} c_k`). The order of
//! draws below is therefore part of the protocol: change it on both sides or not at all.
//!
//! Binary (XOR-shared) parts combine with XOR instead of addition: the secret behind them is
//! the XOR of the parties' draws, and party 0's dependent binary share is the value XORed with
//! everyone else's. The binary requests' completions are in `binary.rs`.

use crate::binary;
use crate::bit_test_plan::Plan;
use crate::{Bilinear, Request, Result};
use crypten_core::{Prg, RingTensor};
use rayon::prelude::*;

/// Draws party `party`'s parts of `request` from its stream: the independent parts, and for
/// `party != 0` the dependent parts as well.
///
/// # Errors
/// An inconsistent request.
pub fn draw(request: &Request, stream: &mut Prg, party: usize) -> Result<Vec<RingTensor>> {
    let shapes = request.part_shapes()?;
    let count = if party == 0 {
        request.independent()
    } else {
        shapes.len()
    };
    Ok(shapes[..count]
        .iter()
        .map(|shape| stream.ring(shape))
        .collect())
}

/// Party 0's dependent parts, from every party's draws (`draws[k]` as returned by [`draw`]).
///
/// # Errors
/// An inconsistent request, or draws that don't match it.
pub fn complete(request: &Request, draws: &[Vec<RingTensor>]) -> Result<Vec<RingTensor>> {
    let shapes = request.part_shapes()?;
    let ok = !draws.is_empty()
        && draws[0].len() == request.independent()
        && draws[1..].iter().all(|d| d.len() == shapes.len());
    if !ok {
        return Err(request.invalid("draws do not match the request".into()));
    }
    // The secret behind independent part `i`: the sum of every party's share.
    let secret = |i: usize| -> Result<RingTensor> {
        // The first sum makes the buffer (no copy of party 0's draw first).
        let mut acc = match draws.get(1) {
            Some(d) => draws[0][i].add(&d[i])?,
            None => draws[0][i].clone(),
        };
        for d in draws.iter().skip(2) {
            acc.add_assign(&d[i])?;
        }
        Ok(acc)
    };
    // Party 0's share of dependent part `i` holding the value `total`.
    let share_of = |i: usize, mut total: RingTensor| -> Result<RingTensor> {
        for d in &draws[1..] {
            total.sub_assign(&d[i])?;
        }
        Ok(total)
    };
    // The same for binary parts: XOR instead of addition.
    let secret_xor = |i: usize| binary::xor_of(draws, i);
    let share_of_xor = |i: usize, total: RingTensor| binary::xor_share(draws, i, total);
    match request {
        Request::Triple {
            op: Bilinear::Mul,
            x_shape,
            y_shape,
        } if x_shape == y_shape => Ok(vec![product_share(draws, x_shape)?]),
        Request::Triple { op, .. } => {
            let c = op.apply(&secret(0)?, &secret(1)?)?;
            Ok(vec![share_of(2, c)?])
        }
        Request::Square { .. } => {
            let r = secret(0)?;
            let square = r.mul(&r)?;
            Ok(vec![share_of(1, square)?])
        }
        Request::Trunc { bits, .. } => {
            let r = secret(0)?;
            Ok(vec![share_of(1, r.shr(*bits))?, share_of(2, r.shr(63))?])
        }
        Request::DeferredMul { bits, .. } => {
            // alpha and, for a deferred operand, msb(r), of both operands.
            let mut sides = Vec::with_capacity(2);
            for (i, &b) in bits.iter().enumerate() {
                let mask = secret(i)?;
                sides.push(if b > 0 {
                    (mask.shr(b).neg(), Some(mask.shr(63)))
                } else {
                    (mask, None)
                });
            }
            let mut values = Vec::new();
            for (alpha, msb) in &sides {
                if let Some(msb) = msb {
                    values.extend([alpha.clone(), msb.clone()]);
                }
            }
            let ((alpha_x, msb_x), (alpha_y, msb_y)) = (&sides[0], &sides[1]);
            values.push(alpha_x.mul(alpha_y)?);
            if let Some(msb_y) = msb_y {
                values.push(alpha_x.mul(msb_y)?);
            }
            if let Some(msb_x) = msb_x {
                values.push(msb_x.mul(alpha_y)?);
            }
            if bits[0] + bits[1] > 64
                && let (Some(msb_x), Some(msb_y)) = (msb_x, msb_y)
            {
                values.push(msb_x.mul(msb_y)?);
            }
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| share_of(2 + i, v))
                .collect()
        }
        Request::DeferredSquare { bits, .. } => {
            let r = secret(0)?;
            let (alpha, msb) = (r.shr(*bits).neg(), r.shr(63));
            let values = [alpha.mul(&alpha)?, alpha.mul(&msb)?];
            let [square, cross] = values;
            Ok(vec![
                share_of(1, alpha)?,
                share_of(2, msb)?,
                share_of(3, square)?,
                share_of(4, cross)?,
            ])
        }
        Request::AndTriple { .. } => {
            let c = secret_xor(0)?.and(&secret_xor(1)?)?;
            Ok(vec![share_of_xor(2, c)?])
        }
        Request::AdderLevel { shift, .. } => {
            let (u, v) = (secret_xor(0)?, secret_xor(1)?);
            let uv = u.and(&v.shl(*shift))?;
            let uu = u.and(&u.shl(*shift))?;
            Ok(vec![share_of_xor(2, uv)?, share_of_xor(3, uu)?])
        }
        Request::DaBits { n } => {
            let t = binary::unpack_bits(&secret_xor(0)?, *n)?;
            Ok(vec![share_of(1, t)?])
        }
        Request::BitMul { n } => {
            let t = binary::unpack_bits(&secret_xor(0)?, *n)?;
            let at = secret(1)?.mul(&t)?;
            Ok(vec![share_of(2, t)?, share_of(3, at)?])
        }
        Request::DeferredBitMul { n, bits } => {
            let t = binary::unpack_bits(&secret_xor(0)?, *n)?;
            let r = secret(1)?;
            let (alpha, msb) = (r.shr(*bits).neg(), r.shr(63));
            let (alpha_t, msb_t) = (alpha.mul(&t)?, msb.mul(&t)?);
            [t, alpha, msb, alpha_t, msb_t]
                .into_iter()
                .enumerate()
                .map(|(i, v)| share_of(2 + i, v))
                .collect()
        }
        Request::EdaBits { .. } => Ok(vec![share_of(1, secret_xor(0)?)?]),
        Request::BitTest { n, test } => {
            let plan = Plan::new(*test);
            let values =
                binary::bit_test_values(&plan, *n, &secret(0)?, |level| secret_xor(1 + level))?;
            let first = request.independent();
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| share_of_xor(first + i, v))
                .collect()
        }
    }
}

/// Party 0's `c` of a same-shape product triple, `a*b - sum_{k>0} c_k` with `a`, `b` the sums
/// of the parties' draws, in one pass over blocks that stay in L1 rather than building `a`,
/// `b` and `a*b` as whole tensors first.
fn product_share(draws: &[Vec<RingTensor>], shape: &[usize]) -> Result<RingTensor> {
    const BLOCK: usize = 512;
    let mut out = vec![0u64; shape.iter().product()];
    out.par_chunks_mut(BLOCK)
        .enumerate()
        .with_min_len(64)
        .for_each(|(blk, out)| {
            let (at, len) = (blk * BLOCK, out.len());
            let (mut a, mut b) = ([0u64; BLOCK], [0u64; BLOCK]);
            for d in draws {
                let (da, db) = (&d[0].data()[at..at + len], &d[1].data()[at..at + len]);
                for i in 0..len {
                    a[i] = a[i].wrapping_add(da[i]);
                    b[i] = b[i].wrapping_add(db[i]);
                }
            }
            for i in 0..len {
                out[i] = a[i].wrapping_mul(b[i]);
            }
            for d in &draws[1..] {
                let dc = &d[2].data()[at..at + len];
                for i in 0..len {
                    out[i] = out[i].wrapping_sub(dc[i]);
                }
            }
        });
    Ok(RingTensor::new(shape, out)?)
}

/// Deals `request` to every party at once: each party's full parts, in order.
///
/// # Errors
/// An inconsistent request.
pub fn deal_all(request: &Request, streams: &mut [Prg]) -> Result<Vec<Vec<RingTensor>>> {
    let mut draws = streams
        .iter_mut()
        .enumerate()
        .map(|(k, s)| draw(request, s, k))
        .collect::<Result<Vec<_>>>()?;
    let dependent = complete(request, &draws)?;
    draws[0].extend(dependent);
    Ok(draws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BitTest;

    fn streams(n: usize) -> Vec<Prg> {
        (0..n).map(|k| Prg::from_seed([k as u8 + 1; 16])).collect()
    }

    fn reconstruct(parts: &[Vec<RingTensor>], i: usize) -> RingTensor {
        let mut acc = parts[0][i].clone();
        for p in &parts[1..] {
            acc.add_assign(&p[i]).unwrap();
        }
        acc
    }

    #[test]
    fn triples_are_correct_for_every_map() {
        let maps = [
            (Bilinear::Mul, vec![3, 4], vec![4]),
            (Bilinear::Mul, vec![3, 700], vec![3, 700]),
            (Bilinear::Matmul, vec![2, 3, 5], vec![5, 4]),
            (
                Bilinear::Conv2d {
                    stride: (1, 2),
                    padding: (1, 0),
                    dilation: (1, 1),
                    groups: 1,
                },
                vec![2, 2, 5, 6],
                vec![3, 2, 3, 3],
            ),
        ];
        for n in [2, 3, 5] {
            for (op, xs, ys) in &maps {
                let req = Request::Triple {
                    op: op.clone(),
                    x_shape: xs.clone(),
                    y_shape: ys.clone(),
                };
                let parts = deal_all(&req, &mut streams(n)).unwrap();
                let (a, b, c) = (
                    reconstruct(&parts, 0),
                    reconstruct(&parts, 1),
                    reconstruct(&parts, 2),
                );
                assert_eq!(op.apply(&a, &b).unwrap(), c, "{op:?} with {n} parties");
            }
        }
    }

    #[test]
    fn separate_draws_match_dealing_all() {
        let req = Request::Trunc {
            shape: vec![7],
            bits: 16,
        };
        let all = deal_all(&req, &mut streams(3)).unwrap();
        let mut mine = streams(3);
        assert_eq!(draw(&req, &mut mine[2], 2).unwrap(), all[2]);
        assert_eq!(draw(&req, &mut mine[0], 0).unwrap()[..], all[0][..1]);
        let r = reconstruct(&all, 0);
        assert_eq!(reconstruct(&all, 1), r.shr(16));
        assert_eq!(reconstruct(&all, 2), r.shr(63));
    }

    #[test]
    fn deferred_product_material_matches_its_masks() {
        for n in [2, 3, 5] {
            for bits in [
                [16, 0],
                [0, 16],
                [16, 16],
                [0, 0],
                [36, 16],
                [12, 40],
                [36, 36],
            ] {
                let req = Request::DeferredMul {
                    x_shape: vec![3, 4],
                    y_shape: vec![3, 1],
                    bits,
                };
                let parts = deal_all(&req, &mut streams(n)).unwrap();
                assert_eq!(parts[0].len(), req.part_shapes().unwrap().len());
                let mut next = 2;
                let mut sides = Vec::new();
                for (i, &b) in bits.iter().enumerate() {
                    let mask = reconstruct(&parts, i);
                    sides.push(if b > 0 {
                        let (alpha, msb) =
                            (reconstruct(&parts, next), reconstruct(&parts, next + 1));
                        assert_eq!(alpha, mask.shr(b).neg());
                        assert_eq!(msb, mask.shr(63));
                        next += 2;
                        (alpha, Some(msb))
                    } else {
                        (mask, None)
                    });
                }
                let ((ax, mx), (ay, my)) = (&sides[0], &sides[1]);
                assert_eq!(reconstruct(&parts, next), ax.mul(ay).unwrap());
                next += 1;
                if let Some(my) = my {
                    assert_eq!(reconstruct(&parts, next), ax.mul(my).unwrap());
                    next += 1;
                }
                if let Some(mx) = mx {
                    assert_eq!(reconstruct(&parts, next), mx.mul(ay).unwrap());
                    next += 1;
                }
                if let (Some(mx), Some(my), true) = (mx, my, bits[0] + bits[1] > 64) {
                    assert_eq!(reconstruct(&parts, next), mx.mul(my).unwrap());
                    next += 1;
                }
                assert_eq!(next, parts[0].len(), "{bits:?}");
            }
            let req = Request::DeferredSquare {
                shape: vec![7],
                bits: 36,
            };
            let parts = deal_all(&req, &mut streams(n)).unwrap();
            let r = reconstruct(&parts, 0);
            let alpha = r.shr(36).neg();
            assert_eq!(reconstruct(&parts, 1), alpha);
            assert_eq!(reconstruct(&parts, 2), r.shr(63));
            assert_eq!(reconstruct(&parts, 3), alpha.mul(&alpha).unwrap());
            assert_eq!(reconstruct(&parts, 4), alpha.mul(&r.shr(63)).unwrap());
        }
    }

    fn reconstruct_xor(parts: &[Vec<RingTensor>], i: usize) -> RingTensor {
        let mut acc = parts[0][i].clone();
        for p in &parts[1..] {
            acc.xor_assign(&p[i]).unwrap();
        }
        acc
    }

    #[test]
    fn binary_correlations_are_correct() {
        for n in [2, 3, 5] {
            let and = deal_all(&Request::AndTriple { shape: vec![9] }, &mut streams(n)).unwrap();
            let (a, b) = (reconstruct_xor(&and, 0), reconstruct_xor(&and, 1));
            assert_eq!(reconstruct_xor(&and, 2), a.and(&b).unwrap());

            let level = Request::AdderLevel {
                shape: vec![9],
                shift: 4,
            };
            let adder = deal_all(&level, &mut streams(n)).unwrap();
            let (u, v) = (reconstruct_xor(&adder, 0), reconstruct_xor(&adder, 1));
            assert_eq!(reconstruct_xor(&adder, 2), u.and(&v.shl(4)).unwrap());
            assert_eq!(reconstruct_xor(&adder, 3), u.and(&u.shl(4)).unwrap());

            let bits = deal_all(&Request::BitMul { n: 70 }, &mut streams(n)).unwrap();
            let t = reconstruct_xor(&bits, 0);
            let t_arith = reconstruct(&bits, 2);
            for i in 0..70 {
                assert_eq!(t_arith.data()[i], (t.data()[i / 64] >> (i % 64)) & 1);
            }
            let at = reconstruct(&bits, 1).mul(&t_arith).unwrap();
            assert_eq!(reconstruct(&bits, 3), at);

            let req = Request::DeferredBitMul { n: 70, bits: 16 };
            let deferred = deal_all(&req, &mut streams(n)).unwrap();
            let t = reconstruct(&deferred, 2);
            assert_eq!(
                t,
                binary::unpack_bits(&reconstruct_xor(&deferred, 0), 70).unwrap()
            );
            let r = reconstruct(&deferred, 1);
            let (alpha, msb) = (r.shr(16).neg(), r.shr(63));
            assert_eq!(reconstruct(&deferred, 3), alpha);
            assert_eq!(reconstruct(&deferred, 4), msb);
            assert_eq!(reconstruct(&deferred, 5), alpha.mul(&t).unwrap());
            assert_eq!(reconstruct(&deferred, 6), msb.mul(&t).unwrap());

            let eda = deal_all(&Request::EdaBits { shape: vec![5] }, &mut streams(n)).unwrap();
            assert_eq!(reconstruct(&eda, 1), reconstruct_xor(&eda, 0));
        }
    }

    #[test]
    fn bit_test_material_matches_its_mask() {
        use crate::bit_test_plan::Plan;
        let req = Request::BitTest {
            n: 100,
            test: BitTest::Sign,
        };
        let plan = Plan::new(BitTest::Sign);
        let parts = deal_all(&req, &mut streams(3)).unwrap();
        let r = reconstruct(&parts, 0);
        let first = req.independent();
        let onehot = reconstruct_xor(&parts, first);
        let top = reconstruct_xor(&parts, first + 1);
        for (e, &v) in r.data().iter().enumerate() {
            let lane = |w: u64| (w >> (e % 64)) & 1;
            assert_eq!(lane(top.data()[e / 64]), v >> 63);
            for leaf in &plan.leaves {
                let value = (v >> leaf.lo) & ((1 << leaf.bits) - 1);
                for k in 1..(1u64 << leaf.bits) {
                    let plane =
                        onehot.data()[(e / 64) * plan.onehot_planes + leaf.onehot + k as usize - 1];
                    assert_eq!(lane(plane), u64::from(value == k));
                }
            }
        }
        // Level products: the AND of the level's masks.
        let g = 2;
        for (i, level) in plan.levels.iter().enumerate() {
            let masks = reconstruct_xor(&parts, 1 + i);
            let products = reconstruct_xor(&parts, first + 2 + i);
            for (p, vars) in level.products.iter().enumerate() {
                for grp in 0..g {
                    let expected = vars
                        .iter()
                        .fold(!0, |acc, &v| acc & masks.data()[v * g + grp]);
                    assert_eq!(products.data()[p * g + grp], expected);
                }
            }
        }
    }

    #[test]
    fn hostile_requests_are_rejected() {
        let huge = Request::Square {
            shape: vec![1 << 20, 1 << 20],
        };
        assert!(huge.part_shapes().is_err());
        let overflow = Request::Square {
            shape: vec![usize::MAX, 2],
        };
        assert!(overflow.part_shapes().is_err());
        let bad_shift = Request::Trunc {
            shape: vec![1],
            bits: 64,
        };
        assert!(bad_shift.part_shapes().is_err());
        let bad_shapes = Request::Triple {
            op: Bilinear::Matmul,
            x_shape: vec![2, 3],
            y_shape: vec![4, 5],
        };
        assert!(bad_shapes.part_shapes().is_err());
        for bits in [0, 49] {
            let deferred = Request::DeferredSquare {
                shape: vec![1],
                bits,
            };
            assert!(deferred.part_shapes().is_err(), "{bits} bits");
        }
        for bits in [[49, 0], [0, 60]] {
            let deferred = Request::DeferredMul {
                x_shape: vec![1],
                y_shape: vec![1],
                bits,
            };
            assert!(deferred.part_shapes().is_err(), "{bits:?} bits");
        }
        let bad_adder = Request::AdderLevel {
            shape: vec![1],
            shift: 64,
        };
        assert!(bad_adder.part_shapes().is_err());
        let huge_test = Request::BitTest {
            n: usize::MAX,
            test: BitTest::Zero,
        };
        assert!(huge_test.part_shapes().is_err());
    }
}
