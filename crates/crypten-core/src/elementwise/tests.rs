//! Tests of the elementwise operations.

use super::*;
use proptest::prelude::*;

/// Naive broadcasting reference: per-element multi-index arithmetic.
fn naive_zip(a: &RingTensor, b: &RingTensor, f: impl Fn(u64, u64) -> u64) -> RingTensor {
    let nd = a.ndim().max(b.ndim());
    let pad = |s: &[usize]| {
        let mut v = vec![1; nd - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (sa, sb) = (pad(a.shape()), pad(b.shape()));
    let shape: Vec<usize> = sa
        .iter()
        .zip(&sb)
        .map(|(&x, &y)| if x == 1 { y } else { x })
        .collect();
    let numel: usize = shape.iter().product();
    let mut data = Vec::with_capacity(numel);
    for flat in 0..numel {
        let mut rest = flat;
        let (mut ia, mut ib, mut ma, mut mb) = (0, 0, 1, 1);
        for d in (0..nd).rev() {
            let i = rest % shape[d];
            rest /= shape[d];
            ia += if sa[d] == 1 { 0 } else { i * ma };
            ib += if sb[d] == 1 { 0 } else { i * mb };
            ma *= sa[d];
            mb *= sb[d];
        }
        data.push(f(a.data()[ia], b.data()[ib]));
    }
    RingTensor::new(&shape, data).unwrap()
}

/// Deterministic, wrap-heavy test data.
fn filled(shape: &[usize], seed: u64) -> RingTensor {
    let n: usize = shape.iter().product();
    let data = (0..n as u64)
        .map(|i| {
            (i ^ seed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17)
        })
        .collect();
    RingTensor::new(shape, data).unwrap()
}

const CASES: &[(&[usize], &[usize])] = &[
    (&[3, 5, 7], &[3, 5, 7]),
    (&[3, 5, 7], &[7]),
    (&[3, 5, 7], &[5, 1]),
    (&[3, 1, 7], &[1, 5, 1]),
    (&[1], &[4, 3]),
    (&[], &[2, 3]),
    (&[2, 3], &[]),
    (&[0, 3], &[3]),
    (&[2, 1, 3, 1], &[4, 1, 5]),
    // Large enough to take the parallel path, with a row broadcast and a column broadcast.
    (&[257, 301], &[301]),
    (&[257, 301], &[257, 1]),
    (&[40_000], &[1]),
];

#[test]
fn binary_ops_match_naive_broadcasting() {
    type Op = (
        fn(&RingTensor, &RingTensor) -> Result<RingTensor>,
        fn(u64, u64) -> u64,
    );
    let ops: [Op; 6] = [
        (RingTensor::add, u64::wrapping_add),
        (RingTensor::sub, u64::wrapping_sub),
        (RingTensor::mul, u64::wrapping_mul),
        (RingTensor::xor, |x, y| x ^ y),
        (RingTensor::and, |x, y| x & y),
        (RingTensor::or, |x, y| x | y),
    ];
    for (i, &(sa, sb)) in CASES.iter().enumerate() {
        let a = filled(sa, i as u64);
        let b = filled(sb, 100 + i as u64);
        for (op, f) in ops {
            assert_eq!(op(&a, &b).unwrap(), naive_zip(&a, &b, f), "{sa:?} {sb:?}");
            assert_eq!(op(&b, &a).unwrap(), naive_zip(&b, &a, f), "{sb:?} {sa:?}");
        }
    }
}

#[test]
fn add_wraps() {
    let a = RingTensor::new(&[2], vec![u64::MAX, 5]).unwrap();
    let b = RingTensor::new(&[2], vec![3, u64::MAX]).unwrap();
    assert_eq!(a.add(&b).unwrap().data(), &[2, 4]);
    assert_eq!(b.sub(&a).unwrap().data(), &[4, u64::MAX - 5]);
    assert_eq!(a.mul(&b).unwrap().data(), &[u64::MAX - 2, u64::MAX - 4]);
}

#[test]
fn incompatible_shapes_error_names_op() {
    let err = filled(&[2, 3], 0).mul(&filled(&[4], 0)).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { op: "mul", .. }),
        "{err}"
    );
}

#[test]
fn assign_ops_match_out_of_place() {
    for &(sa, sb) in &[
        (&[3usize, 5, 7][..], &[5usize, 1][..]),
        (&[257, 301], &[301]),
        (&[4], &[4]),
    ] {
        let a = filled(sa, 1);
        let b = filled(sb, 2);
        let mut x = a.clone();
        x.add_assign(&b).unwrap();
        assert_eq!(x, a.add(&b).unwrap());
        let mut x = a.clone();
        x.sub_assign(&b).unwrap();
        assert_eq!(x, a.sub(&b).unwrap());
        let mut x = a.clone();
        x.xor_assign(&b).unwrap();
        assert_eq!(x, a.xor(&b).unwrap());
        let mut x = a.clone();
        x.and_assign(&b).unwrap();
        assert_eq!(x, a.and(&b).unwrap());
    }
    let big = RingTensor::zeros(&[PAR_THRESHOLD + 3]);
    let mut x = filled(&[PAR_THRESHOLD + 3], 9);
    let before = x.clone();
    x.xor_assign(&big).unwrap();
    assert_eq!(x, before);
}

#[test]
fn assign_rejects_growing_self() {
    let mut a = filled(&[3], 0);
    let err = a.add_assign(&filled(&[2, 3], 0)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ShapeMismatch {
                op: "add_assign",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        a,
        filled(&[3], 0),
        "a failed assign must leave self untouched"
    );
}

#[test]
fn unary_and_scalar_ops() {
    let a = filled(&[3, 11], 5);
    let each = |t: RingTensor, f: &dyn Fn(u64) -> u64| {
        assert_eq!(t.shape(), a.shape());
        for (&y, &x) in t.data().iter().zip(a.data()) {
            assert_eq!(y, f(x));
        }
    };
    each(a.neg(), &|x| 0u64.wrapping_sub(x));
    each(a.not(), &|x| u64::MAX ^ x);
    each(a.add_scalar(u64::MAX), &|x| x.wrapping_sub(1));
    each(a.mul_scalar(3), &|x| x.wrapping_add(x).wrapping_add(x));
    each(a.xor_scalar(0xff), &|x| x ^ 0xff);
    each(a.and_scalar(1), &|x| x % 2);
    each(a.shl(5), &|x| x.wrapping_mul(32));
    each(a.shr(5), &|x| x / 32);
    each(a.sar(5), &|x| ((x as i64).div_euclid(32)) as u64);
    each(a.shl(64), &|_| 0);
    each(a.shr(100), &|_| 0);
    each(a.sar(64), &|x| if (x as i64) < 0 { u64::MAX } else { 0 });
}

#[test]
fn div_scalar_floors_like_python() {
    let vals: Vec<u64> = [-7i64, -6, -1, 0, 1, 6, 7, i64::MIN, i64::MAX]
        .iter()
        .map(|&v| v as u64)
        .collect();
    let t = RingTensor::new(&[vals.len()], vals.clone()).unwrap();
    for d in [1i64, 2, 3, -3, 4, 7, -8, i64::MAX, -1] {
        let q = t.div_scalar(d).unwrap();
        for (&x, &y) in vals.iter().zip(q.data()) {
            let expect = (x as i64 as i128).div_euclid(d as i128)
                - i128::from(d < 0 && (x as i64 as i128).rem_euclid(d as i128) != 0);
            assert_eq!(y, expect as i64 as u64, "{} // {d}", x as i64);
        }
    }
    assert!(matches!(
        t.div_scalar(0),
        Err(Error::InvalidArgument {
            op: "div_scalar",
            ..
        })
    ));
}

fn tensor_pair() -> impl Strategy<Value = (RingTensor, RingTensor)> {
    proptest::collection::vec(1usize..4, 0..4).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let other: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(i, &d)| if i % 2 == 0 { 1 } else { d })
            .collect();
        let m: usize = other.iter().product();
        (
            proptest::collection::vec(any::<u64>(), n),
            proptest::collection::vec(any::<u64>(), m),
        )
            .prop_map(move |(x, y)| {
                (
                    RingTensor::new(&shape, x).unwrap(),
                    RingTensor::new(&other, y).unwrap(),
                )
            })
    })
}

proptest! {
    #[test]
    fn ring_identities((a, b) in tensor_pair()) {
        let s = a.add(&b).unwrap();
        prop_assert_eq!(s.sub(&b).unwrap(), a.clone());
        prop_assert_eq!(a.sub(&b).unwrap(), a.add(&b.neg()).unwrap());
        prop_assert_eq!(a.mul(&b).unwrap(), b.mul(&a).unwrap());
        prop_assert_eq!(a.xor(&b).unwrap().xor(&b).unwrap(), a.clone());
        // x + y == (x ^ y) + 2 (x & y)
        let carry = a.and(&b).unwrap().shl(1);
        prop_assert_eq!(a.xor(&b).unwrap().add(&carry).unwrap(), s);
        prop_assert_eq!(a.not().add_scalar(1), a.neg());
    }
}
