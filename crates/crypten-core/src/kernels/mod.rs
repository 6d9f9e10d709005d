//! Wrapping u64 matrix multiplication (GEMM mod 2^64), the hottest code in crypten-rs: every
//! Beaver matmul and convolution ends here.
//!
//! The entry points check slice lengths, pick an instruction set ([`KernelLevel`]) and hand
//! over to the blocked driver in `gemm` (the blocking scheme is documented there), which runs the
//! register micro-kernels in `micro`. [`gemm_u64_naive`] is the triple-loop reference that the
//! tests hold the fast paths to. `im2col` lowers convolutions onto the same GEMM.

mod gemm;
mod im2col;
mod micro;

pub(crate) use im2col::Window;
use micro::Isa;
use std::sync::OnceLock;

/// The instruction-set level of the GEMM micro-kernels, ordered from least to most capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelLevel {
    /// Portable Rust, whatever the compile target's baseline offers.
    Scalar,
    /// AVX2 (x86-64): 64-bit products emulated from 32-bit multiplies.
    Avx2,
    /// AVX-512F with AVX-512DQ (x86-64): native 64-bit lane multiplies (`vpmullq`).
    Avx512,
}

impl KernelLevel {
    /// The best level this CPU supports, detected at run time on first use and cached.
    ///
    /// `Avx512` needs both AVX-512F and AVX-512DQ; anything but x86-64 gets `Scalar`.
    pub fn detect() -> KernelLevel {
        static DETECTED: OnceLock<KernelLevel> = OnceLock::new();
        *DETECTED.get_or_init(|| Isa::select(KernelLevel::Avx512).level())
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_supported(self) -> bool {
        self <= KernelLevel::detect()
    }
}

/// `c = a * b` over Z/2^64 for row-major `a` (m x k), `b` (k x n) and `c` (m x n).
///
/// `c` is overwritten. Uses the best [`KernelLevel`] of this CPU and, when the product is large
/// enough, the current rayon pool (so it runs on one thread inside a one-thread pool).
///
/// # Panics
/// If `a.len() != m * k`, `b.len() != k * n` or `c.len() != m * n`: callers check shapes, so a
/// mismatch here is a bug.
pub fn gemm_u64(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], c: &mut [u64]) {
    gemm_u64_with(KernelLevel::detect(), m, k, n, a, b, c);
}

/// [`gemm_u64`] with an explicit kernel level, for tests and benchmarks.
///
/// A level this CPU does not support is lowered to the best one it does (see
/// [`KernelLevel::is_supported`]), so the call is always safe and always correct.
///
/// # Panics
/// If `a.len() != m * k`, `b.len() != k * n` or `c.len() != m * n`.
pub fn gemm_u64_with(
    level: KernelLevel,
    m: usize,
    k: usize,
    n: usize,
    a: &[u64],
    b: &[u64],
    c: &mut [u64],
) {
    gemm_into(level, (m, k, n), a, b, c, false);
}

/// `c += a * b` over Z/2^64: [`gemm_u64`] adding into `c` instead of overwriting it, which
/// saves a caller that sums products a temporary and a pass over it.
///
/// # Panics
/// If `a.len() != m * k`, `b.len() != k * n` or `c.len() != m * n`.
pub fn gemm_u64_acc(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], c: &mut [u64]) {
    gemm_into(KernelLevel::detect(), (m, k, n), a, b, c, true);
}

/// `c = a * b`, or `c += a * b` when `accumulate`, at `level`.
fn gemm_into(
    level: KernelLevel,
    (m, k, n): (usize, usize, usize),
    a: &[u64],
    b: &[u64],
    c: &mut [u64],
    accumulate: bool,
) {
    check_lengths(m, k, n, a, b, c);
    let ops = gemm::Operands { m, k, n, a, b };
    let threads = rayon::current_num_threads();
    gemm::gemm(Isa::select(level), ops, c, threads, accumulate);
}

/// Reference `c = a * b` over Z/2^64 by the textbook triple loop; slow, obviously correct.
///
/// # Panics
/// If `a.len() != m * k`, `b.len() != k * n` or `c.len() != m * n`.
pub fn gemm_u64_naive(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], c: &mut [u64]) {
    check_lengths(m, k, n, a, b, c);
    for i in 0..m {
        for j in 0..n {
            let mut s = 0u64;
            for p in 0..k {
                s = s.wrapping_add(a[i * k + p].wrapping_mul(b[p * n + j]));
            }
            c[i * n + j] = s;
        }
    }
}

fn check_lengths(m: usize, k: usize, n: usize, a: &[u64], b: &[u64], c: &[u64]) {
    let len = |r: usize, s: usize| {
        r.checked_mul(s)
            .expect("gemm_u64: dimensions overflow usize")
    };
    assert_eq!(
        a.len(),
        len(m, k),
        "gemm_u64: a has {} elements, not m*k for {m}x{k}",
        a.len()
    );
    assert_eq!(
        b.len(),
        len(k, n),
        "gemm_u64: b has {} elements, not k*n for {k}x{n}",
        b.len()
    );
    assert_eq!(
        c.len(),
        len(m, n),
        "gemm_u64: c has {} elements, not m*n for {m}x{n}",
        c.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic xorshift values: tests must not depend on the PRG being written elsewhere.
    fn values(len: usize, seed: u64) -> Vec<u64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect()
    }

    /// Values near 2^64 and with high bits set, so every product and sum wraps.
    fn overflow_heavy(len: usize, seed: u64) -> Vec<u64> {
        values(len, seed)
            .into_iter()
            .map(|v| (u64::MAX - (v & 0xff)) | (1 << 63))
            .collect()
    }

    fn levels() -> Vec<KernelLevel> {
        [KernelLevel::Scalar, KernelLevel::Avx2, KernelLevel::Avx512]
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }

    fn naive(m: usize, k: usize, n: usize, a: &[u64], b: &[u64]) -> Vec<u64> {
        let mut c = vec![0; m * n];
        gemm_u64_naive(m, k, n, a, b, &mut c);
        c
    }

    fn check_all_levels(m: usize, k: usize, n: usize, a: &[u64], b: &[u64]) {
        let want = naive(m, k, n, a, b);
        for level in levels() {
            // Garbage in `c` checks that it is overwritten, not accumulated into.
            let mut c = values(m * n, 99);
            gemm_u64_with(level, m, k, n, a, b, &mut c);
            assert!(c == want, "{level:?} differs from naive at {m}x{k}x{n}");
        }
        let mut c = vec![7; m * n];
        gemm_u64(m, k, n, a, b, &mut c);
        assert!(c == want, "gemm_u64 differs from naive at {m}x{k}x{n}");
        // Accumulating adds the product to what `c` held.
        let start = values(m * n, 5);
        let summed: Vec<u64> = start
            .iter()
            .zip(&want)
            .map(|(s, w)| s.wrapping_add(*w))
            .collect();
        for level in levels() {
            let mut c = start.clone();
            gemm_into(level, (m, k, n), a, b, &mut c, true);
            assert!(c == summed, "{level:?} accumulates wrongly at {m}x{k}x{n}");
        }
    }

    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 1, 1),
        (3, 5, 7),
        (17, 33, 65),
        (64, 1, 64),
        (100, 37, 129),
        (8, 16, 16),
        (9, 300, 17),
        (1, 700, 600),
        (5, 70, 1100),
        (130, 257, 3),
        (200, 40, 1),
        (2, 2, 2),
        (33, 520, 47),
        (16, 300, 17),
        (24, 5, 40),
        (40, 50, 9),
        (50, 90, 8),
        (15, 64, 64),
        (0, 4, 5),
        (4, 0, 5),
        (4, 5, 0),
    ];

    #[test]
    fn every_level_matches_naive_on_odd_shapes() {
        for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
            let s = s as u64;
            check_all_levels(m, k, n, &values(m * k, 2 * s), &values(k * n, 2 * s + 1));
        }
    }

    #[test]
    fn every_level_matches_naive_when_everything_wraps() {
        for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
            let s = s as u64;
            check_all_levels(
                m,
                k,
                n,
                &overflow_heavy(m * k, s),
                &overflow_heavy(k * n, s + 50),
            );
        }
    }

    #[test]
    fn known_small_product() {
        // [[1, 2], [3, 4]] * [[5, 6], [7, 8]] = [[19, 22], [43, 50]]; and -1 * -1 = 1.
        let mut c = vec![0; 4];
        gemm_u64(2, 2, 2, &[1, 2, 3, 4], &[5, 6, 7, 8], &mut c);
        assert_eq!(c, [19, 22, 43, 50]);
        let mut c = vec![0; 1];
        gemm_u64(1, 1, 1, &[u64::MAX], &[u64::MAX], &mut c);
        assert_eq!(c, [1]);
    }

    #[test]
    fn parallel_blocks_match_naive() {
        // Large enough for the task grid, with ragged edges on every level's tile.
        let (m, k, n) = (203, 300, 157);
        let (a, b) = (values(m * k, 11), values(k * n, 12));
        let want = naive(m, k, n, &a, &b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("rayon pool");
        for level in levels() {
            let mut c = vec![0; m * n];
            pool.install(|| gemm_u64_with(level, m, k, n, &a, &b, &mut c));
            assert!(c == want, "{level:?} with 3 threads differs from naive");
        }
        // Short and wide (row path, split by columns) and tall and narrow (dot path).
        for (m, k, n) in [(3, 700, 1500), (3000, 700, 2)] {
            let (a, b) = (values(m * k, 13), values(k * n, 14));
            let mut c = vec![0; m * n];
            pool.install(|| gemm_u64(m, k, n, &a, &b, &mut c));
            assert!(c == naive(m, k, n, &a, &b), "{m}x{k}x{n} with 3 threads");
        }
    }

    #[test]
    fn one_block_spans_several_row_and_depth_slices() {
        // On one thread the whole product is one block: rows cross MC and k crosses KC twice.
        let (m, k, n) = (300, 600, 40);
        let (a, b) = (overflow_heavy(m * k, 21), values(k * n, 22));
        let want = naive(m, k, n, &a, &b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("rayon pool");
        for level in levels() {
            let mut c = vec![0; m * n];
            pool.install(|| gemm_u64_with(level, m, k, n, &a, &b, &mut c));
            assert!(c == want, "{level:?} on one thread differs from naive");
        }
    }

    #[test]
    fn detect_is_stable_and_supported() {
        let level = KernelLevel::detect();
        assert_eq!(level, KernelLevel::detect());
        assert!(level.is_supported());
        assert!(KernelLevel::Scalar.is_supported());
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            assert_eq!(level, KernelLevel::Avx512);
        }
    }

    #[test]
    #[should_panic(expected = "a has 5 elements")]
    fn wrong_slice_length_panics() {
        let mut c = vec![0; 4];
        gemm_u64(2, 3, 2, &[0; 5], &[0; 6], &mut c);
    }

    #[test]
    #[should_panic(expected = "c has 3 elements")]
    fn wrong_output_length_panics() {
        let mut c = vec![0; 3];
        gemm_u64_naive(2, 3, 2, &[0; 6], &[0; 6], &mut c);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_shapes_match_naive(
            m in 0usize..40, k in 0usize..40, n in 0usize..40, seed in any::<u64>(),
        ) {
            let (a, b) = (values(m * k, seed), values(k * n, seed ^ 1));
            let want = naive(m, k, n, &a, &b);
            let summed: Vec<u64> = want.iter().map(|w| w.wrapping_add(1)).collect();
            for level in levels() {
                let mut c = vec![1; m * n];
                gemm_u64_with(level, m, k, n, &a, &b, &mut c);
                prop_assert_eq!(&c, &want, "{:?} at {}x{}x{}", level, m, k, n);
                let mut c = vec![1; m * n];
                gemm_into(level, (m, k, n), &a, &b, &mut c, true);
                prop_assert_eq!(&c, &summed, "{:?} accumulating at {}x{}x{}", level, m, k, n);
            }
        }
    }
}
