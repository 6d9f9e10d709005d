//! Instruction-set specific inner loops of the wrapping u64 GEMM, and the tokens that make
//! calling them sound.
//!
//! Three kinds of loop live here, each in a portable, an AVX2 and an AVX-512 flavour:
//! - `tile`: the register-blocked micro-kernel of the packed GEMM. It multiplies an MR x kc
//!   packed sliver of A by a kc x NR packed sliver of B and writes the MR x NR product.
//! - `axpy_row`: adds to one row of C a sum of scaled rows of B (used when A has few rows).
//! - `dot`: one element of C as a dot product (used when B has few columns).
//!
//! A CPU feature may only be used after it has been detected, so the AVX2 and AVX-512 loops are
//! reachable only through the zero-sized tokens [`Avx2`] and [`Avx512`], which this module
//! constructs only after `is_x86_feature_detected!` said yes. Holding a token is the proof that
//! the `unsafe` calls into `#[target_feature]` functions below are sound.
//!
//! This is the one module of the workspace that may use `unsafe` (the lint denies it
//! everywhere else).
#![allow(unsafe_code)]

use super::KernelLevel;

/// Rows of the portable register tile.
pub(super) const SCALAR_MR: usize = 4;
/// Columns of the portable register tile.
pub(super) const SCALAR_NR: usize = 4;
/// Rows of the AVX2 register tile: 4 x 4 outputs need 8 of the 16 ymm registers as
/// accumulators (two per output vector, see `x86::tile_avx2`).
pub(super) const AVX2_MR: usize = 4;
/// Columns of the AVX2 register tile (one ymm vector of u64).
pub(super) const AVX2_NR: usize = 4;
/// Rows of the AVX-512 register tile: 8 x 16 outputs are 16 zmm accumulators, leaving half of
/// the 32 registers for B and for latency hiding. Wider tiles (6x32, 12x16) measured the same
/// on this class of CPU, and the narrower tile wastes less on ragged edges.
pub(super) const AVX512_MR: usize = 8;
/// Columns of the AVX-512 register tile (two zmm vectors of u64).
pub(super) const AVX512_NR: usize = 16;

/// Proof that the running CPU supports AVX2.
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2(());

/// Proof that the running CPU supports AVX-512F and AVX-512DQ (for `vpmullq`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx512(());

/// The instruction set a GEMM call will use, with the proof of support where one is needed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Isa {
    Scalar,
    Avx2(Avx2),
    Avx512(Avx512),
}

impl Isa {
    /// The best supported instruction set not above `requested`.
    pub(super) fn select(requested: KernelLevel) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if requested >= KernelLevel::Avx512
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                return Isa::Avx512(Avx512(()));
            }
            if requested >= KernelLevel::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2(Avx2(()));
            }
        }
        // Only read on x86-64; this keeps other targets free of an unused-variable warning.
        let _ = requested;
        Isa::Scalar
    }

    /// The level this instruction set corresponds to.
    pub(super) fn level(self) -> KernelLevel {
        match self {
            Isa::Scalar => KernelLevel::Scalar,
            Isa::Avx2(_) => KernelLevel::Avx2,
            Isa::Avx512(_) => KernelLevel::Avx512,
        }
    }

    /// `crow += sum_p arow[p] * b[p*ldb .. p*ldb + crow.len()]`, wrapping.
    ///
    /// Panics if `b` holds fewer than `arow.len()` such rows (an internal invariant).
    pub(super) fn axpy_row(self, arow: &[u64], b: &[u64], ldb: usize, crow: &mut [u64]) {
        match self {
            Isa::Scalar => axpy_row_body(arow, b, ldb, crow),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Avx2` token exists only after AVX2 was detected on this CPU.
            Isa::Avx2(_) => unsafe { x86::axpy_row_avx2(arow, b, ldb, crow) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Avx512` token exists only after AVX-512F/DQ were detected.
            Isa::Avx512(_) => unsafe { x86::axpy_row_avx512(arow, b, ldb, crow) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => axpy_row_body(arow, b, ldb, crow),
        }
    }

    /// Wrapping dot product of two equally long slices.
    pub(super) fn dot(self, x: &[u64], y: &[u64]) -> u64 {
        match self {
            Isa::Scalar => dot_body(x, y),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Avx2` token exists only after AVX2 was detected on this CPU.
            Isa::Avx2(_) => unsafe { x86::dot_avx2(x, y) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Avx512` token exists only after AVX-512F/DQ were detected.
            Isa::Avx512(_) => unsafe { x86::dot_avx512(x, y) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => dot_body(x, y),
        }
    }
}

impl Avx2 {
    /// The AVX2 register tile: `acc = a_sliver^T * b_sliver` (both packed, kc steps).
    pub(super) fn tile(
        self,
        a: &[[u64; AVX2_MR]],
        b: &[[u64; AVX2_NR]],
        acc: &mut [[u64; AVX2_NR]; AVX2_MR],
    ) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` proves AVX2 was detected on this CPU.
        unsafe {
            x86::tile_avx2(a, b, acc)
        }
        #[cfg(not(target_arch = "x86_64"))]
        tile_body(a, b, acc)
    }
}

impl Avx512 {
    /// The AVX-512 register tile: `acc = a_sliver^T * b_sliver` (both packed, kc steps).
    pub(super) fn tile(
        self,
        a: &[[u64; AVX512_MR]],
        b: &[[u64; AVX512_NR]],
        acc: &mut [[u64; AVX512_NR]; AVX512_MR],
    ) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` proves AVX-512F and AVX-512DQ were detected on this CPU.
        unsafe {
            x86::tile_avx512(a, b, acc)
        }
        #[cfg(not(target_arch = "x86_64"))]
        tile_body(a, b, acc)
    }
}

/// The portable register tile; LLVM keeps the small accumulator array in registers.
pub(super) fn tile_scalar(
    a: &[[u64; SCALAR_MR]],
    b: &[[u64; SCALAR_NR]],
    acc: &mut [[u64; SCALAR_NR]; SCALAR_MR],
) {
    tile_body(a, b, acc)
}

#[inline(always)]
fn tile_body<const MR: usize, const NR: usize>(
    a: &[[u64; MR]],
    b: &[[u64; NR]],
    acc: &mut [[u64; NR]; MR],
) {
    let mut t = [[0u64; NR]; MR];
    for (ar, br) in a.iter().zip(b) {
        for (ti, &x) in t.iter_mut().zip(ar) {
            for (tij, &y) in ti.iter_mut().zip(br) {
                *tij = tij.wrapping_add(x.wrapping_mul(y));
            }
        }
    }
    *acc = t;
}

/// Shared body of the `axpy_row` flavours. Four rows of B are folded per pass over the C row,
/// so C is loaded and stored once per four multiply-adds rather than once per one.
#[inline(always)]
fn axpy_row_body(arow: &[u64], b: &[u64], ldb: usize, crow: &mut [u64]) {
    let w = crow.len();
    if w == 0 || arow.is_empty() {
        return;
    }
    let mut brows = b.chunks(ldb).map(|r| &r[..w]);
    let (quads, rest) = arow.as_chunks::<4>();
    for q in quads {
        let (Some(b0), Some(b1), Some(b2), Some(b3)) =
            (brows.next(), brows.next(), brows.next(), brows.next())
        else {
            panic!("axpy_row: B has fewer rows than A has columns");
        };
        let it = crow.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3);
        for ((((cv, &y0), &y1), &y2), &y3) in it {
            let s = (q[0].wrapping_mul(y0)).wrapping_add(q[1].wrapping_mul(y1));
            let t = (q[2].wrapping_mul(y2)).wrapping_add(q[3].wrapping_mul(y3));
            *cv = cv.wrapping_add(s.wrapping_add(t));
        }
    }
    for &x in rest {
        let brow = brows
            .next()
            .expect("axpy_row: B has fewer rows than A has columns");
        for (cv, &y) in crow.iter_mut().zip(brow) {
            *cv = cv.wrapping_add(x.wrapping_mul(y));
        }
    }
}

/// Shared body of the `dot` flavours. Written as a plain fold on purpose: LLVM vectorizes this
/// reduction with contiguous loads, while a hand-split 8-way accumulator made it emit gathers
/// (ten times slower, measured).
#[inline(always)]
fn dot_body(x: &[u64], y: &[u64]) -> u64 {
    x.iter()
        .zip(y)
        .fold(0, |s, (&p, &q)| s.wrapping_add(p.wrapping_mul(q)))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The `#[target_feature]` flavours. Callers must have detected the features first.

    use super::{AVX2_MR, AVX2_NR, AVX512_MR, AVX512_NR, axpy_row_body, dot_body};
    use std::arch::x86_64::*;

    /// AVX2 has no 64-bit lane multiply. With a = ah*2^32 + al and b = bh*2^32 + bl,
    /// a*b mod 2^64 = al*bl + ((al*bh + ah*bl) mod 2^32) * 2^32. The full al*bl products
    /// (`vpmuludq`) go into one accumulator; `vpmulld` of a by b with its halves swapped gives
    /// al*bh and ah*bl in the two 32-bit halves of each lane, summed mod 2^32 in a second
    /// accumulator. The shift by 32 is linear mod 2^64, so the halves are combined once at the
    /// end instead of every step: two multiplies and two adds per four multiply-adds.
    #[target_feature(enable = "avx2")]
    pub(super) fn tile_avx2(
        a: &[[u64; AVX2_MR]],
        b: &[[u64; AVX2_NR]],
        acc: &mut [[u64; AVX2_NR]; AVX2_MR],
    ) {
        let mut lo = [_mm256_setzero_si256(); AVX2_MR];
        let mut cross = [_mm256_setzero_si256(); AVX2_MR];
        for (ar, br) in a.iter().zip(b) {
            // SAFETY: `br` is 4 readable u64 (32 bytes); `loadu` has no alignment requirement.
            let bv = unsafe { _mm256_loadu_si256(br.as_ptr().cast()) };
            let bswap = _mm256_shuffle_epi32::<0b10_11_00_01>(bv);
            for ((l, c), &x) in lo.iter_mut().zip(cross.iter_mut()).zip(ar) {
                let av = _mm256_set1_epi64x(x as i64);
                *l = _mm256_add_epi64(*l, _mm256_mul_epu32(av, bv));
                *c = _mm256_add_epi32(*c, _mm256_mullo_epi32(av, bswap));
            }
        }
        for ((row, l), c) in acc.iter_mut().zip(lo).zip(cross) {
            let folded = _mm256_add_epi32(c, _mm256_srli_epi64::<32>(c));
            let r = _mm256_add_epi64(l, _mm256_slli_epi64::<32>(folded));
            // SAFETY: `row` is 4 writable u64 (32 bytes); `storeu` has no alignment requirement.
            unsafe { _mm256_storeu_si256(row.as_mut_ptr().cast(), r) };
        }
    }

    /// The AVX-512 tile: one `vpmullq` and one `vpaddq` per 8 multiply-adds, B kept in two
    /// registers per step, A broadcast from the packed sliver.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn tile_avx512(
        a: &[[u64; AVX512_MR]],
        b: &[[u64; AVX512_NR]],
        acc: &mut [[u64; AVX512_NR]; AVX512_MR],
    ) {
        let mut t = [[_mm512_setzero_si512(); 2]; AVX512_MR];
        for (ar, br) in a.iter().zip(b) {
            // SAFETY: `br` is 16 readable u64, so both 8-lane unaligned loads are in bounds.
            let (b0, b1) = unsafe {
                (
                    _mm512_loadu_si512(br.as_ptr().cast()),
                    _mm512_loadu_si512(br.as_ptr().add(8).cast()),
                )
            };
            for (ti, &x) in t.iter_mut().zip(ar) {
                let av = _mm512_set1_epi64(x as i64);
                ti[0] = _mm512_add_epi64(ti[0], _mm512_mullo_epi64(av, b0));
                ti[1] = _mm512_add_epi64(ti[1], _mm512_mullo_epi64(av, b1));
            }
        }
        for (row, ti) in acc.iter_mut().zip(t) {
            // SAFETY: `row` is 16 writable u64, so both 8-lane unaligned stores are in bounds.
            unsafe {
                _mm512_storeu_si512(row.as_mut_ptr().cast(), ti[0]);
                _mm512_storeu_si512(row.as_mut_ptr().add(8).cast(), ti[1]);
            }
        }
    }

    // The strip loops are simple enough for LLVM to vectorize; compiling the shared body with
    // the features enabled is what turns its multiplies into vector code.
    #[target_feature(enable = "avx2")]
    pub(super) fn axpy_row_avx2(arow: &[u64], b: &[u64], ldb: usize, crow: &mut [u64]) {
        axpy_row_body(arow, b, ldb, crow)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn axpy_row_avx512(arow: &[u64], b: &[u64], ldb: usize, crow: &mut [u64]) {
        axpy_row_body(arow, b, ldb, crow)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn dot_avx2(x: &[u64], y: &[u64]) -> u64 {
        dot_body(x, y)
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) fn dot_avx512(x: &[u64], y: &[u64]) -> u64 {
        dot_body(x, y)
    }
}
