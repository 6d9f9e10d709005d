//! Benchmarks of the ring kernels: wrapping u64 GEMM against an f64 GEMM (`matrixmultiply`'s
//! dgemm) of the same shape, on one thread and on the whole pool, and one convolution.
//!
//! Besides criterion's report, a table of GOPS (10^9 multiply-adds per second) is printed to
//! stderr first, since the ring/f64 ratio is the figure we track.

use criterion::{Criterion, Throughput};
use crypten_core::{Conv2dParams, KernelLevel, RingTensor, gemm_u64, gemm_u64_with};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [100, 256, 512];

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

/// Small integers as f64: the f64 GEMM's speed does not depend on the values, only on their
/// being normal numbers.
fn as_f64(v: &[u64]) -> Vec<f64> {
    v.iter().map(|&x| (x % 1000) as f64).collect()
}

fn one_thread_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread rayon pool")
}

// The f64 reference GEMM's interface is raw pointers.
#[allow(unsafe_code)]
fn dgemm(n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    let s = n as isize;
    // SAFETY: all three buffers hold n*n f64 and the strides describe row-major n x n matrices.
    unsafe {
        matrixmultiply::dgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            s,
            1,
            b.as_ptr(),
            s,
            1,
            0.0,
            c.as_mut_ptr(),
            s,
            1,
        );
    }
}

/// Best-of throughput in GOPS: repeats `f` for about `budget`, keeping the fastest run, which
/// is the least disturbed by other processes on a shared machine.
fn gops(work: usize, budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut runs = 0;
    while runs < 3 || start.elapsed() < budget {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    work as f64 / best / 1e9
}

fn print_table() {
    let budget = Duration::from_millis(300);
    let single = one_thread_pool();
    eprintln!(
        "ring_kernels: level {:?}, {} rayon threads",
        KernelLevel::detect(),
        rayon::current_num_threads()
    );
    eprintln!(
        "  shape       ring 1T   f64 1T   ratio   ring {}T   (GOPS)",
        rayon::current_num_threads()
    );
    for n in SIZES {
        let (a, b) = (values(n * n, 1), values(n * n, 2));
        let (af, bf) = (as_f64(&a), as_f64(&b));
        let mut c = vec![0u64; n * n];
        let mut cf = vec![0f64; n * n];
        let work = n * n * n;
        let ring1 = single.install(|| gops(work, budget, || gemm_u64(n, n, n, &a, &b, &mut c)));
        let f64_1 = gops(work, budget, || dgemm(n, &af, &bf, &mut cf));
        let ring_mt = gops(work, budget, || gemm_u64(n, n, n, &a, &b, &mut c));
        eprintln!(
            "  {n:>3}^3    {ring1:8.2} {f64_1:8.2}  {:6.2}   {ring_mt:8.2}",
            ring1 / f64_1
        );
    }
    let n = 512;
    let (a, b) = (values(n * n, 1), values(n * n, 2));
    let mut c = vec![0u64; n * n];
    for level in [KernelLevel::Scalar, KernelLevel::Avx2, KernelLevel::Avx512] {
        if level.is_supported() {
            let g = single.install(|| {
                gops(n * n * n, budget, || {
                    gemm_u64_with(level, n, n, n, &a, &b, &mut c)
                })
            });
            eprintln!("  512^3 at {level:?}, 1 thread: {g:.2} GOPS");
        }
    }
    let (x, w, p, work) = conv_case();
    let mut conv = || {
        black_box(x.conv2d(&w, &p).expect("valid convolution"));
    };
    let conv1 = single.install(|| gops(work, budget, &mut conv));
    let conv_mt = gops(work, budget, &mut conv);
    eprintln!(
        "  conv2d [8,64,32,32] * [64,64,3,3] pad 1: {conv1:.2} GOPS 1 thread, {conv_mt:.2} all"
    );
}

/// A ResNet-like 3x3 layer; returns the operands and its multiply-add count.
fn conv_case() -> (RingTensor, RingTensor, Conv2dParams, usize) {
    let (input, weight) = ([8, 64, 32, 32], [64, 64, 3, 3]);
    let x = RingTensor::new(&input, values(input.iter().product(), 3)).expect("shape");
    let w = RingTensor::new(&weight, values(weight.iter().product(), 4)).expect("shape");
    let p = Conv2dParams {
        padding: (1, 1),
        ..Default::default()
    };
    (x, w, p, 8 * 64 * 32 * 32 * 64 * 9)
}

fn bench_gemm(c: &mut Criterion) {
    print_table();
    let single = one_thread_pool();
    let mut group = c.benchmark_group("gemm");
    group.sample_size(10);
    for n in SIZES {
        let (a, b) = (values(n * n, 1), values(n * n, 2));
        let (af, bf) = (as_f64(&a), as_f64(&b));
        let mut out = vec![0u64; n * n];
        let mut outf = vec![0f64; n * n];
        group.throughput(Throughput::Elements((n * n * n) as u64));
        group.bench_function(format!("ring_1t/{n}"), |bench| {
            single.install(|| bench.iter(|| gemm_u64(n, n, n, &a, &b, black_box(&mut out))))
        });
        group.bench_function(format!("f64_1t/{n}"), |bench| {
            bench.iter(|| dgemm(n, &af, &bf, black_box(&mut outf)))
        });
        group.bench_function(format!("ring_mt/{n}"), |bench| {
            bench.iter(|| gemm_u64(n, n, n, &a, &b, black_box(&mut out)))
        });
    }
    group.finish();

    let (x, w, p, work) = conv_case();
    let mut group = c.benchmark_group("conv2d");
    group.sample_size(10);
    group.throughput(Throughput::Elements(work as u64));
    group.bench_function("resnet_3x3_64ch_32px_batch8", |bench| {
        bench.iter(|| x.conv2d(&w, &p).expect("valid convolution"))
    });
    group.finish();
}

// What `criterion_main!` would generate, written out: the macros emit undocumented public items.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_gemm(&mut criterion);
    criterion.final_summary();
}
