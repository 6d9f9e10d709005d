//! max/avg pooling and their adaptive forms against a plaintext reference with PyTorch's
//! semantics, for 2, 3, 4 and 5 parties: strides, padding (which max pooling must ignore and
//! average pooling counts), non-square kernels, 3-d and 4-d inputs, adaptive windows that
//! overlap, and bad arguments.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::{FixedPointEncoder, Prg};
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind, Result};
use ndarray::{ArrayD, IxDyn};

fn data(shape: &[usize], seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n: usize = shape.iter().product();
    // Negative values everywhere make a max that wrongly reads padding (zero) visible.
    let v = (0..n).map(|_| -1.0 - prg.uniform_f64() * 10.0).collect();
    let e = FixedPointEncoder::default();
    e.decode(
        &e.encode(&ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
            .unwrap(),
    )
}

/// Plaintext pooling of `[N, C, H, W]` over explicit windows: `rows(i)` and `cols(j)` give the
/// (possibly padded, i.e. out of range) input coordinates of output `(i, j)`.
fn reference(
    x: &ArrayD<f64>,
    out_hw: (usize, usize),
    window: impl Fn(usize, usize) -> (Vec<isize>, Vec<isize>),
    max: bool,
    divisor: impl Fn(usize, usize) -> f64,
) -> ArrayD<f64> {
    let s = x.shape();
    let (h, w) = (s[2] as isize, s[3] as isize);
    ArrayD::from_shape_fn(IxDyn(&[s[0], s[1], out_hw.0, out_hw.1]), |ix| {
        let (rows, cols) = window(ix[2], ix[3]);
        let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
        for &r in &rows {
            for &c in &cols {
                let inside = (0..h).contains(&r) && (0..w).contains(&c);
                let v = if inside {
                    x[[ix[0], ix[1], r as usize, c as usize]]
                } else {
                    0.0
                };
                if max {
                    if inside {
                        acc = acc.max(v);
                    }
                } else {
                    acc += v;
                }
            }
        }
        if max {
            acc
        } else {
            acc / divisor(ix[2], ix[3])
        }
    })
}

fn range(start: isize, len: usize) -> Vec<isize> {
    (start..start + len as isize).collect()
}

/// Within the error of a fixed-point product with the encoded `1 / count`: the divisor's
/// encoding is off by up to half a unit (relative error up to `count / 2^17`), plus the
/// truncation's unit.
fn close(a: &ArrayD<f64>, b: &ArrayD<f64>, count: f64) -> bool {
    let ulp = 1.0 / 65536.0;
    a.shape() == b.shape()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= y.abs() * count * ulp / 2.0 + 2.0 * ulp)
}

#[test]
fn pooling_matches_plaintext() {
    let x = data(&[2, 3, 7, 6], 1);
    let k = ((3usize, 2usize), (2usize, 1usize), (1usize, 1usize));
    let (oh, ow) = ((7 + 2 - 3) / 2 + 1, (6 + 2 - 2) + 1);
    let sliding = |i: usize, j: usize| (range((i * 2) as isize - 1, 3), range(j as isize - 1, 2));
    let expect_max = reference(&x, (oh, ow), sliding, true, |_, _| 1.0);
    let expect_avg = reference(&x, (oh, ow), sliding, false, |_, _| 6.0);
    let spans = |n: usize, m: usize, i: usize| (i * n / m, ((i + 1) * n).div_ceil(m));
    let adaptive = |i: usize, j: usize| {
        let (r0, r1) = spans(7, 3, i);
        let (c0, c1) = spans(6, 4, j);
        (range(r0 as isize, r1 - r0), range(c0 as isize, c1 - c0))
    };
    let count = |i: usize, j: usize| {
        let (r0, r1) = spans(7, 3, i);
        let (c0, c1) = spans(6, 4, j);
        ((r1 - r0) * (c1 - c0)) as f64
    };
    let expect_amax = reference(&x, (3, 4), adaptive, true, |_, _| 1.0);
    let expect_aavg = reference(&x, (3, 4), adaptive, false, count);
    for provider in [
        ProviderKind::TrustedThirdParty,
        ProviderKind::InsecureTrustedFirstParty,
    ] {
        for parties in [2, 3, 4, 5] {
            let out = run(parties, provider, |sess| -> Result<Vec<ArrayD<f64>>> {
                let t = CrypTensor::from_array(&sess, &x, 0)?;
                [
                    t.max_pool2d(k.0, k.1, k.2)?,
                    t.avg_pool2d(k.0, k.1, k.2)?,
                    t.adaptive_max_pool2d((3, 4))?,
                    t.adaptive_avg_pool2d((3, 4))?,
                ]
                .iter()
                .map(CrypTensor::get_plain_text)
                .collect()
            })
            .unwrap();
            let label = format!("{parties} parties, {provider:?}");
            assert_eq!(out[0][0], expect_max, "max_pool2d {label}");
            assert!(close(&out[0][1], &expect_avg, 6.0), "avg_pool2d {label}");
            assert_eq!(out[0][2], expect_amax, "adaptive_max_pool2d {label}");
            assert!(close(&out[0][3], &expect_aavg, 6.0), "adaptive_avg {label}");
        }
    }
}

#[test]
fn three_dimensional_inputs_and_bad_arguments() {
    let x = data(&[2, 4, 4], 2);
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let t = CrypTensor::from_array(&sess, &x, 1)?;
        let pooled = t.max_pool2d((2, 2), (2, 2), (0, 0))?.get_plain_text()?;
        let errors = [
            t.max_pool2d((2, 2), (0, 1), (0, 0)).is_err(),
            t.max_pool2d((2, 2), (2, 2), (2, 0)).is_err(),
            t.avg_pool2d((9, 1), (1, 1), (0, 0)).is_err(),
            t.adaptive_avg_pool2d((0, 1)).is_err(),
            t.reshape(&[32])?
                .max_pool2d((2, 2), (2, 2), (0, 0))
                .is_err(),
        ];
        Ok((pooled, errors))
    })
    .unwrap();
    let (pooled, errors) = &out[0];
    assert_eq!(pooled.shape(), &[2, 2, 2]);
    for c in 0..2 {
        for i in 0..2 {
            for j in 0..2 {
                let m = (0..2)
                    .flat_map(|a| (0..2).map(move |b| (a, b)))
                    .map(|(a, b)| x[[c, 2 * i + a, 2 * j + b]])
                    .fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(pooled[[c, i, j]], m);
            }
        }
    }
    assert!(errors.iter().all(|&e| e), "{errors:?}");
}
