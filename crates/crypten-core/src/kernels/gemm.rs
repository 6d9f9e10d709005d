//! The blocked, multi-threaded driver of the wrapping u64 GEMM `C = A * B` (row-major).
//!
//! # Blocking scheme
//! The main path follows the usual packed-GEMM structure, with the micro-kernel's register tile
//! MR x NR chosen per instruction set (8 x 16 with AVX-512, 4 x 4 otherwise):
//! 1. B (k x n) is packed once into column panels NR wide: panel `j` holds rows `0..k` of columns
//!    `j*NR..j*NR+NR` contiguously (zero padded on the right), so the kernel streams it linearly.
//! 2. C is cut into a grid of rectangular blocks (rows in multiples of MR, columns in multiples
//!    of NR), one rayon task each; a lone block when the work is small or the pool has one thread.
//! 3. Inside a block, k is cut into slices of `KC` and the block's rows into slices of `MC`; each
//!    MC x KC piece of A is packed into MR-row slivers (column-major within a sliver).
//! 4. For each NR panel, the KC x NR sliver of B (32 KiB with AVX-512) stays in L1 while every
//!    MR-row sliver of packed A (in L2) runs through the register tile; the MR x NR result is
//!    added into C.
//!
//! Two shapes do not fit the register tile well and take a strip path instead: A with fewer than
//! 2 x MR rows (and tiny products), computed row by row as sums of scaled rows of B, where
//! packing B would cost more than it saves; and B with at most 8 columns, computed as dot
//! products against a transposed copy of B, where most of the NR-wide tile would be padding.
//! The cut-offs were measured at 512 and 2048 on AVX-512.

use super::micro::{
    AVX2_MR, AVX2_NR, AVX512_MR, AVX512_NR, Isa, SCALAR_MR, SCALAR_NR, tile_scalar,
};
use rayon::prelude::*;
use std::cell::Cell;
use std::thread::LocalKey;

/// Depth of one k slice: the KC x NR sliver of packed B must stay in L1.
const KC: usize = 256;
/// Rows of A packed at once: MC x KC u64 (256 KiB) sits comfortably in L2.
const MC: usize = 128;
/// Multiply-adds below which threads cost more than they save, when called from a thread
/// outside the pool: handing work to sleeping workers costs tens of microseconds, so this is
/// about 40 us of one core (measured crossover near 112^3 on two cores).
const PAR_MIN_WORK: usize = 1 << 21;
/// The same on a pool worker, where splitting is cheap (measured gains from 100^3 up).
const PAR_MIN_WORK_IN_POOL: usize = 1 << 19;
/// Smallest share of the work worth a rayon task of its own.
const TASK_MIN_WORK: usize = 1 << 18;
/// Tasks per thread, so that uneven blocks and a busy core still balance.
const TASKS_PER_THREAD: usize = 4;
/// Products this small skip packing altogether.
const SMALL_WORK: usize = 1 << 12;
/// At most this many columns of B go through the dot-product path (if A has more rows).
const DOT_MAX_N: usize = 8;
/// Width of the column strips of the row path: a strip of C stays in L1.
const STRIP_COLS: usize = 512;
/// Depth of the row path's k slices: STRIP_DEPTH x STRIP_COLS of B (256 KiB) stays in L2.
const STRIP_DEPTH: usize = 64;

/// The inputs of one product: `a` is m x k and `b` is k x n, row-major, lengths checked.
#[derive(Clone, Copy)]
pub(super) struct Operands<'a> {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) a: &'a [u64],
    pub(super) b: &'a [u64],
}

/// `c = a * b` (`c += a * b` when `accumulate`), wrapping, on up to `threads` threads of the
/// current rayon pool.
pub(super) fn gemm(isa: Isa, ops: Operands<'_>, c: &mut [u64], threads: usize, accumulate: bool) {
    let Operands { m, k, n, .. } = ops;
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0);
        }
        return;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    let min_work = match rayon::current_thread_index() {
        Some(_) => PAR_MIN_WORK_IN_POOL,
        None => PAR_MIN_WORK,
    };
    let parts = if threads <= 1 || work < min_work {
        1
    } else {
        (threads * TASKS_PER_THREAD)
            .min(work / TASK_MIN_WORK)
            .max(1)
    };
    let tile_rows = match isa {
        Isa::Scalar => SCALAR_MR,
        Isa::Avx2(_) => AVX2_MR,
        Isa::Avx512(_) => AVX512_MR,
    };
    if n <= DOT_MAX_N && m > n {
        dot_path(isa, ops, c, parts, accumulate);
    } else if m < 2 * tile_rows || work <= SMALL_WORK {
        row_path(isa, ops, c, parts, accumulate);
    } else {
        let c = (c, accumulate);
        match isa {
            Isa::Scalar => blocked::<SCALAR_MR, SCALAR_NR, _>(ops, c, parts, tile_scalar),
            Isa::Avx2(t) => {
                blocked::<AVX2_MR, AVX2_NR, _>(ops, c, parts, |x, y, z| t.tile(x, y, z))
            }
            Isa::Avx512(t) => {
                blocked::<AVX512_MR, AVX512_NR, _>(ops, c, parts, |x, y, z| t.tile(x, y, z))
            }
        }
    }
}

/// A rectangle of C owned by one task: `rows[i]` is row `row0 + i`, columns `col0..`.
struct Block<'c> {
    row0: usize,
    col0: usize,
    rows: Vec<&'c mut [u64]>,
}

/// Cuts the m x n matrix `c` into about `parts` disjoint blocks whose row (column) boundaries
/// are multiples of `row_unit` (`col_unit`). Rows are split first: row blocks share nothing,
/// while column blocks of the same rows each pack the same rows of A.
fn split_c(
    c: &mut [u64],
    m: usize,
    n: usize,
    row_unit: usize,
    col_unit: usize,
    parts: usize,
) -> Vec<Block<'_>> {
    let row_units = m.div_ceil(row_unit);
    let col_units = n.div_ceil(col_unit);
    let rparts = row_units.min(parts).max(1);
    let cparts = col_units.min(parts.div_ceil(rparts)).max(1);
    let row_at = |r: usize| (row_units * r / rparts * row_unit).min(m);
    let col_at = |q: usize| (col_units * q / cparts * col_unit).min(n);

    let mut blocks = Vec::with_capacity(rparts * cparts);
    let mut c_rows = c.chunks_exact_mut(n);
    for r in 0..rparts {
        let first = blocks.len();
        let height = row_at(r + 1) - row_at(r);
        for q in 0..cparts {
            blocks.push(Block {
                row0: row_at(r),
                col0: col_at(q),
                rows: Vec::with_capacity(height),
            });
        }
        for row in c_rows.by_ref().take(height) {
            let mut rest = row;
            for (q, block) in blocks[first..].iter_mut().enumerate() {
                let (head, tail) = rest.split_at_mut(col_at(q + 1) - col_at(q));
                block.rows.push(head);
                rest = tail;
            }
        }
    }
    blocks
}

/// Runs `f` on every block, on the rayon pool when there is more than one.
fn for_each_block<'c, F>(blocks: Vec<Block<'c>>, f: F)
where
    F: Fn(Block<'c>) + Sync + Send,
{
    if blocks.len() == 1 {
        blocks.into_iter().for_each(f);
    } else {
        blocks.into_par_iter().for_each(f);
    }
}

thread_local! {
    /// Packed B, kept between calls on this thread: a fresh multi-megabyte allocation per call
    /// costs more in page faults than packing itself (measured on conv layers).
    static PACKED_B: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
    /// Packed A of the blocks this thread runs.
    static PACKED_A: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

/// Scratch buffers larger than this (8 MiB) are freed after use rather than kept per thread.
const SCRATCH_KEEP_MAX: usize = 1 << 20;

/// Runs `f` on a buffer of `len` u64 (stale contents) taken from this thread's `slot`. A call
/// nested inside `f` on the same thread finds the slot empty and allocates its own.
fn with_scratch<R>(
    slot: &'static LocalKey<Cell<Vec<u64>>>,
    len: usize,
    f: impl FnOnce(&mut [u64]) -> R,
) -> R {
    let mut buf = slot.take();
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let result = f(&mut buf[..len]);
    if buf.len() <= SCRATCH_KEEP_MAX {
        slot.set(buf);
    }
    result
}

/// Packs B (k x n) into NR-wide column panels of `k` rows each, zero padding the last one.
fn pack_b<const NR: usize>(k: usize, n: usize, b: &[u64], out: &mut [[u64; NR]], parallel: bool) {
    let fill = |(jp, panel): (usize, &mut [[u64; NR]])| {
        let j0 = jp * NR;
        let w = NR.min(n - j0);
        for (dst, src) in panel.iter_mut().zip(b.chunks_exact(n)) {
            dst[..w].copy_from_slice(&src[j0..j0 + w]);
            dst[w..].fill(0);
        }
    };
    if parallel {
        out.par_chunks_exact_mut(k).enumerate().for_each(fill);
    } else {
        out.chunks_exact_mut(k).enumerate().for_each(fill);
    }
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of A (row stride `k`) into MR-row slivers:
/// sliver `s` holds `kc` entries of MR values, rows past `mc` zero.
fn pack_a<const MR: usize>(
    a: &[u64],
    k: usize,
    (i0, mc): (usize, usize),
    (p0, kc): (usize, usize),
    out: &mut [[u64; MR]],
) {
    for (s, sliver) in out.chunks_exact_mut(kc).enumerate() {
        let r0 = i0 + s * MR;
        let height = MR.min(i0 + mc - r0);
        for i in 0..height {
            let arow = &a[(r0 + i) * k + p0..][..kc];
            for (dst, &x) in sliver.iter_mut().zip(arow) {
                dst[i] = x;
            }
        }
        if height < MR {
            sliver.iter_mut().for_each(|d| d[height..].fill(0));
        }
    }
}

/// The packed path (see the module docs) into `c`, added to it when `accumulate`; `tile` is
/// the register kernel for MR x NR.
fn blocked<const MR: usize, const NR: usize, T>(
    ops: Operands<'_>,
    (c, accumulate): (&mut [u64], bool),
    parts: usize,
    tile: T,
) where
    T: Fn(&[[u64; MR]], &[[u64; NR]], &mut [[u64; NR]; MR]) + Sync,
{
    let Operands { m, k, n, a, b } = ops;
    with_scratch(&PACKED_B, n.div_ceil(NR) * NR * k, |bbuf| {
        let bpack = bbuf.as_chunks_mut::<NR>().0;
        pack_b::<NR>(k, n, b, bpack, parts > 1);
        let bpack = &*bpack;
        let blocks = split_c(c, m, n, MR, NR, parts);
        for_each_block(blocks, |mut block| {
            let height = block.rows.len();
            let a_len = height.min(MC).div_ceil(MR) * MR * KC.min(k);
            with_scratch(&PACKED_A, a_len, |abuf| {
                let abuf = abuf.as_chunks_mut::<MR>().0;
                run_block(&mut block, (k, a, bpack), abuf, &tile, accumulate)
            });
        });
    });
}

/// One task of the packed path: all of `block`, with `abuf` as room for packed A.
fn run_block<const MR: usize, const NR: usize, T>(
    block: &mut Block<'_>,
    (k, a, bpack): (usize, &[u64], &[[u64; NR]]),
    abuf: &mut [[u64; MR]],
    tile: &T,
    accumulate: bool,
) where
    T: Fn(&[[u64; MR]], &[[u64; NR]], &mut [[u64; NR]; MR]),
{
    let width = block.rows.first().map_or(0, |r| r.len());
    if !accumulate {
        block.rows.iter_mut().for_each(|r| r.fill(0));
    }
    let mut acc = [[0u64; NR]; MR];
    for p0 in (0..k).step_by(KC) {
        let kc = KC.min(k - p0);
        for ib in (0..block.rows.len()).step_by(MC) {
            let mc = MC.min(block.rows.len() - ib);
            let apack = &mut abuf[..mc.div_ceil(MR) * kc];
            pack_a::<MR>(a, k, (block.row0 + ib, mc), (p0, kc), apack);
            // `col0` is a multiple of NR, so each NR step of the block is one B panel.
            for jb in (0..width).step_by(NR) {
                let panel = (block.col0 + jb) / NR;
                let bsliver = &bpack[panel * k + p0..][..kc];
                let w = NR.min(width - jb);
                for (s, asliver) in apack.chunks_exact(kc).enumerate() {
                    tile(asliver, bsliver, &mut acc);
                    let r0 = ib + s * MR;
                    let r1 = (r0 + MR).min(ib + mc);
                    for (crow, arow) in block.rows[r0..r1].iter_mut().zip(&acc) {
                        for (cv, &x) in crow[jb..jb + w].iter_mut().zip(arow) {
                            *cv = cv.wrapping_add(x);
                        }
                    }
                }
            }
        }
    }
}

/// Row path for short A: each row of C is accumulated from scaled rows of B, in column strips
/// and k slices so the slice of B is re-read from cache rather than memory for every row.
fn row_path(isa: Isa, ops: Operands<'_>, c: &mut [u64], parts: usize, accumulate: bool) {
    let Operands { m, k, n, a, b } = ops;
    // Column blocks first: with few rows, rows cannot feed the threads.
    let blocks = split_c(c, m, n, m, STRIP_COLS, parts);
    for_each_block(blocks, |mut block| {
        if !accumulate {
            block.rows.iter_mut().for_each(|r| r.fill(0));
        }
        let width = block.rows.first().map_or(0, |r| r.len());
        for j0 in (0..width).step_by(STRIP_COLS) {
            let w = STRIP_COLS.min(width - j0);
            let col = block.col0 + j0;
            for p0 in (0..k).step_by(STRIP_DEPTH) {
                let kd = STRIP_DEPTH.min(k - p0);
                let bslice = &b[p0 * n + col..];
                for (i, crow) in block.rows.iter_mut().enumerate() {
                    let arow = &a[(block.row0 + i) * k + p0..][..kd];
                    isa.axpy_row(arow, bslice, n, &mut crow[j0..j0 + w]);
                }
            }
        }
    });
}

/// Dot-product path for narrow B: B is transposed (n x k, tiny) and each C entry is one dot.
fn dot_path(isa: Isa, ops: Operands<'_>, c: &mut [u64], parts: usize, accumulate: bool) {
    let Operands { m, k, n, a, b } = ops;
    let mut bt = vec![0u64; n * k];
    for (p, brow) in b.chunks_exact(n).enumerate() {
        for (j, &x) in brow.iter().enumerate() {
            bt[j * k + p] = x;
        }
    }
    let blocks = split_c(c, m, n, 1, n, parts);
    for_each_block(blocks, |block| {
        for (i, crow) in block.rows.into_iter().enumerate() {
            let arow = &a[(block.row0 + i) * k..][..k];
            for (cv, bcol) in crow.iter_mut().zip(bt.chunks_exact(k)) {
                let dot = isa.dot(arow, bcol);
                *cv = if accumulate {
                    cv.wrapping_add(dot)
                } else {
                    dot
                };
            }
        }
    });
}
