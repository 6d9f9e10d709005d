//! Elementwise ring arithmetic on `RingTensor`: wrapping add/sub/mul, bitwise logic, shifts,
//! public-scalar operations and floor division, all with numpy broadcasting.
//!
//! Same-shape operands go straight over slices. Broadcast operands are walked row by row
//! through [`Strided`] (in `strided.rs`, shared with `shape.rs` and `reduce.rs`), so
//! row and scalar broadcasts run as plain slice loops rather than per-element index maths.

use crate::strided::{
    PAR_CHUNK, PAR_THRESHOLD, Strided, broadcast_shapes_for, broadcast_strides, contiguous_strides,
};
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
mod tests;
