//! Elementwise ring arithmetic on `RingTensor`: wrapping add/sub/mul, bitwise logic, shifts,
//! public-scalar operations and floor division, all with numpy broadcasting.
//!
//! Same-shape operands go straight over slices. Broadcast operands are walked row by row
//! through [`Strided`] (in the `strided` submodule, shared with `shape.rs` and `reduce.rs`), so
//! row and scalar broadcasts run as plain slice loops rather than per-element index maths.

mod strided;

pub(crate) use strided::{
    PAR_CHUNK, PAR_THRESHOLD, Strided, broadcast_strides, contiguous_strides,
};

use crate::shape::broadcast_shapes_for;
use crate::{Error, Result, RingTensor};
use rayon::prelude::*;

/// `out[i] = f(a[ao + i*sa], b[bo + i*sb])`, specialised for the stride patterns broadcasting
/// produces so that the common cases compile to plain (vectorisable) slice loops.
#[inline(always)]
fn binary_row<F: Fn(u64, u64) -> u64>(
    out: &mut [u64],
    (a, ao, sa): (&[u64], usize, usize),
    (b, bo, sb): (&[u64], usize, usize),
    f: &F,
) {
    let n = out.len();
    match (sa, sb) {
        (1, 1) => {
            for ((o, &x), &y) in out.iter_mut().zip(&a[ao..ao + n]).zip(&b[bo..bo + n]) {
                *o = f(x, y);
            }
        }
        (1, 0) => {
            let y = b[bo];
            for (o, &x) in out.iter_mut().zip(&a[ao..ao + n]) {
                *o = f(x, y);
            }
        }
        (0, 1) => {
            let x = a[ao];
            for (o, &y) in out.iter_mut().zip(&b[bo..bo + n]) {
                *o = f(x, y);
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = f(a[ao + i * sa], b[bo + i * sb]);
            }
        }
    }
}

/// `out[i] = f(out[i], b[bo + i*sb])`: the in-place counterpart of [`binary_row`].
#[inline(always)]
fn assign_row<F: Fn(u64, u64) -> u64>(out: &mut [u64], (b, bo, sb): (&[u64], usize, usize), f: &F) {
    let n = out.len();
    match sb {
        1 => {
            for (o, &y) in out.iter_mut().zip(&b[bo..bo + n]) {
                *o = f(*o, y);
            }
        }
        0 => {
            let y = b[bo];
            for o in out.iter_mut() {
                *o = f(*o, y);
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = f(*o, b[bo + i * sb]);
            }
        }
    }
}

/// `f` over every element of a slice, in parallel for large inputs.
fn map_slice<F: Fn(u64) -> u64 + Sync>(src: &[u64], f: &F) -> Vec<u64> {
    if src.len() < PAR_THRESHOLD {
        return src.iter().map(|&x| f(x)).collect();
    }
    let mut out = vec![0u64; src.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(src.par_chunks(PAR_CHUNK))
        .for_each(|(o, s)| {
            for (o, &x) in o.iter_mut().zip(s) {
                *o = f(x);
            }
        });
    out
}

/// `f` over two equally long slices, in parallel for large inputs.
fn zip_slices<F: Fn(u64, u64) -> u64 + Sync>(a: &[u64], b: &[u64], f: &F) -> Vec<u64> {
    if a.len() < PAR_THRESHOLD {
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    let mut out = vec![0u64; a.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(a.par_chunks(PAR_CHUNK).zip(b.par_chunks(PAR_CHUNK)))
        .for_each(|(o, (a, b))| binary_row(o, (a, 0, 1), (b, 0, 1), f));
    out
}

/// Floor division of a two's-complement value by a nonzero public `d`.
#[inline(always)]
fn floor_div(x: u64, d: i64) -> u64 {
    let x = x as i64;
    // Wrapping: i64::MIN / -1 is 2^63, which is i64::MIN again modulo 2^64.
    let q = x.wrapping_div(d);
    let r = x.wrapping_rem(d);
    let q = if r != 0 && ((r < 0) != (d < 0)) {
        q.wrapping_sub(1)
    } else {
        q
    };
    q as u64
}

impl RingTensor {
    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(u64) -> u64 + Sync + Send) -> RingTensor {
        RingTensor {
            shape: self.shape.clone(),
            data: map_slice(&self.data, &f),
        }
    }

    /// Combines `self` and `rhs` elementwise with `f`, broadcasting numpy-style; `op` names the
    /// operation in errors.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn zip_map(
        &self,
        rhs: &RingTensor,
        op: &'static str,
        f: impl Fn(u64, u64) -> u64 + Sync + Send,
    ) -> Result<RingTensor> {
        if self.shape == rhs.shape {
            return Ok(RingTensor {
                shape: self.shape.clone(),
                data: zip_slices(&self.data, &rhs.data, &f),
            });
        }
        let shape = broadcast_shapes_for(op, &self.shape, &rhs.shape)?;
        let numel = shape.iter().product();
        let plan = Strided::new(
            &shape,
            [
                broadcast_strides(&self.shape, &shape),
                broadcast_strides(&rhs.shape, &shape),
            ],
        );
        let [sa, sb] = plan.inner_strides();
        let mut data = vec![0u64; numel];
        plan.fill_rows(&mut data, |row, [ao, bo]| {
            binary_row(row, (&self.data, ao, sa), (&rhs.data, bo, sb), &f);
        });
        Ok(RingTensor { shape, data })
    }

    /// In place `self[i] = f(self[i], rhs[i])` with `rhs` broadcast to `self`'s shape.
    fn zip_assign(
        &mut self,
        rhs: &RingTensor,
        op: &'static str,
        f: impl Fn(u64, u64) -> u64 + Sync + Send,
    ) -> Result<()> {
        if self.shape == rhs.shape {
            if self.data.len() < PAR_THRESHOLD {
                assign_row(&mut self.data, (&rhs.data, 0, 1), &f);
            } else {
                self.data
                    .par_chunks_mut(PAR_CHUNK)
                    .zip(rhs.data.par_chunks(PAR_CHUNK))
                    .for_each(|(o, b)| assign_row(o, (b, 0, 1), &f));
            }
            return Ok(());
        }
        let shape = broadcast_shapes_for(op, &self.shape, &rhs.shape)?;
        if shape != self.shape {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape.clone(),
                rhs: rhs.shape.clone(),
            });
        }
        let plan = Strided::new(
            &shape,
            [
                contiguous_strides(&shape),
                broadcast_strides(&rhs.shape, &shape),
            ],
        );
        let [_, sb] = plan.inner_strides();
        plan.fill_rows(&mut self.data, |row, [_, bo]| {
            assign_row(row, (&rhs.data, bo, sb), &f)
        });
        Ok(())
    }

    /// Wrapping sum, broadcasting.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn add(&self, rhs: &RingTensor) -> Result<RingTensor> {
        self.zip_map(rhs, "add", u64::wrapping_add)
    }

    /// Wrapping difference, broadcasting.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn sub(&self, rhs: &RingTensor) -> Result<RingTensor> {
        self.zip_map(rhs, "sub", u64::wrapping_sub)
    }

    /// Wrapping product, broadcasting.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn mul(&self, rhs: &RingTensor) -> Result<RingTensor> {
        self.zip_map(rhs, "mul", u64::wrapping_mul)
    }

    /// Bitwise xor, broadcasting.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn xor(&self, rhs: &RingTensor) -> Result<RingTensor> {
        self.zip_map(rhs, "xor", |x, y| x ^ y)
    }

    /// Bitwise and, broadcasting.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn and(&self, rhs: &RingTensor) -> Result<RingTensor> {
        self.zip_map(rhs, "and", |x, y| x & y)
    }

    /// Bitwise or, broadcasting.
    ///
    /// # Errors
    /// `ShapeMismatch` when the shapes do not broadcast.
    pub fn or(&self, rhs: &RingTensor) -> Result<RingTensor> {
        self.zip_map(rhs, "or", |x, y| x | y)
    }

    /// In-place wrapping sum; `rhs` broadcasts into `self`'s shape.
    ///
    /// # Errors
    /// `ShapeMismatch` when `rhs` does not broadcast to exactly `self`'s shape.
    pub fn add_assign(&mut self, rhs: &RingTensor) -> Result<()> {
        self.zip_assign(rhs, "add_assign", u64::wrapping_add)
    }

    /// In-place wrapping difference; `rhs` broadcasts into `self`'s shape.
    ///
    /// # Errors
    /// `ShapeMismatch` when `rhs` does not broadcast to exactly `self`'s shape.
    pub fn sub_assign(&mut self, rhs: &RingTensor) -> Result<()> {
        self.zip_assign(rhs, "sub_assign", u64::wrapping_sub)
    }

    /// In-place `self += c * rhs` (wrapping); `rhs` broadcasts into `self`'s shape.
    ///
    /// # Errors
    /// `ShapeMismatch` when `rhs` does not broadcast to exactly `self`'s shape.
    pub fn add_scaled_assign(&mut self, c: u64, rhs: &RingTensor) -> Result<()> {
        self.zip_assign(rhs, "add_scaled_assign", move |x, y| {
            x.wrapping_add(y.wrapping_mul(c))
        })
    }

    /// In-place xor; `rhs` broadcasts into `self`'s shape.
    ///
    /// # Errors
    /// `ShapeMismatch` when `rhs` does not broadcast to exactly `self`'s shape.
    pub fn xor_assign(&mut self, rhs: &RingTensor) -> Result<()> {
        self.zip_assign(rhs, "xor_assign", |x, y| x ^ y)
    }

    /// In-place and; `rhs` broadcasts into `self`'s shape.
    ///
    /// # Errors
    /// `ShapeMismatch` when `rhs` does not broadcast to exactly `self`'s shape.
    pub fn and_assign(&mut self, rhs: &RingTensor) -> Result<()> {
        self.zip_assign(rhs, "and_assign", |x, y| x & y)
    }

    /// Additive inverse modulo 2^64.
    pub fn neg(&self) -> RingTensor {
        self.map(u64::wrapping_neg)
    }

    /// Bitwise complement.
    pub fn not(&self) -> RingTensor {
        self.map(|x| !x)
    }

    /// Adds a public constant to every element (wrapping).
    pub fn add_scalar(&self, c: u64) -> RingTensor {
        self.map(|x| x.wrapping_add(c))
    }

    /// Multiplies every element by a public constant (wrapping).
    pub fn mul_scalar(&self, c: u64) -> RingTensor {
        self.map(|x| x.wrapping_mul(c))
    }

    /// Xors every element with a public constant.
    pub fn xor_scalar(&self, c: u64) -> RingTensor {
        self.map(|x| x ^ c)
    }

    /// Ands every element with a public constant (a bit mask).
    pub fn and_scalar(&self, c: u64) -> RingTensor {
        self.map(|x| x & c)
    }

    /// Logical left shift; 64 or more bits gives zero.
    pub fn shl(&self, bits: u32) -> RingTensor {
        if bits >= u64::BITS {
            return RingTensor::zeros(&self.shape);
        }
        self.map(|x| x << bits)
    }

    /// Logical right shift; 64 or more bits gives zero.
    pub fn shr(&self, bits: u32) -> RingTensor {
        if bits >= u64::BITS {
            return RingTensor::zeros(&self.shape);
        }
        self.map(|x| x >> bits)
    }

    /// Arithmetic right shift of the elements read as `i64`; 64 or more bits leaves only the
    /// sign (0 or all ones).
    pub fn sar(&self, bits: u32) -> RingTensor {
        let bits = bits.min(u64::BITS - 1);
        self.map(|x| ((x as i64) >> bits) as u64)
    }

    /// Floor division of the elements, read as two's-complement `i64`, by the public integer
    /// `d` (rounding towards negative infinity, like Python's `//`).
    ///
    /// # Errors
    /// `InvalidArgument` when `d == 0`.
    pub fn div_scalar(&self, d: i64) -> Result<RingTensor> {
        if d == 0 {
            return Err(Error::InvalidArgument {
                op: "div_scalar",
                shape: self.shape.clone(),
                reason: "division by zero".into(),
            });
        }
        // Division is slow; a positive power of two is an arithmetic shift, which is what
        // fixed-point truncation and most means need.
        if d > 0 && d.count_ones() == 1 {
            return Ok(self.sar(d.trailing_zeros()));
        }
        Ok(self.map(|x| floor_div(x, d)))
    }
}

#[cfg(test)]
mod tests {
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
}
