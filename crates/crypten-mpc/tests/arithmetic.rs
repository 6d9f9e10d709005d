//! Arithmetic shares against plaintext f64, for 2, 3 and 4 parties on threads, with both
//! providers: sharing and revealing, products, matmul, convolutions, reductions.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod common;

use common::uniform as data;
use crypten_core::{Conv1dParams, Conv2dParams, FixedPointEncoder};
use crypten_mpc::simulator::{run, run_with};
use crypten_mpc::{Config, CrypTensor, ProviderKind, Truncation};
use ndarray::{ArrayD, IxDyn};

const PROVIDERS: [ProviderKind; 2] = [
    ProviderKind::TrustedThirdParty,
    ProviderKind::InsecureTrustedFirstParty,
];

fn max_abs_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// One fixed-point unit.
const ULP: f64 = 1.0 / 65536.0;

fn matmul_f64(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let a2 = a.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    let b2 = b.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    a2.dot(&b2).into_dyn()
}

#[test]
fn reveal_of_share_is_identity() {
    for provider in PROVIDERS {
        for parties in [2, 3, 4] {
            let x = data(&[3, 5], 1000.0, 1);
            let encoder = FixedPointEncoder::default();
            let out = run(parties, provider, |sess| {
                let src = parties - 1;
                let t = CrypTensor::from_array(&sess, &x, src)?;
                t.get_plain_text()
            })
            .unwrap();
            let expected = encoder.decode(&encoder.encode(&x).unwrap());
            for got in out {
                assert_eq!(got, expected, "{parties} parties, {provider:?}");
            }
        }
    }
}

#[test]
fn shares_look_random_to_each_party() {
    // A zero input must not give a zero share anywhere: each share is masked by PRZS.
    let out = run(3, ProviderKind::InsecureTrustedFirstParty, |sess| {
        let t = CrypTensor::from_array(&sess, &ArrayD::zeros(IxDyn(&[64])), 0)?;
        Ok(t.share()?.data().iter().filter(|&&v| v == 0).count())
    })
    .unwrap();
    assert_eq!(out, vec![0, 0, 0]);
}

#[test]
fn mul_square_and_linear_ops_match_f64() {
    for provider in PROVIDERS {
        for parties in [2, 3, 4] {
            let x = data(&[4, 6], 30.0, 2);
            let y = data(&[6], 30.0, 3);
            let out = run(parties, provider, |sess| {
                let a = CrypTensor::from_array(&sess, &x, 0)?;
                let b = CrypTensor::from_array(&sess, &y, 1)?;
                Ok((
                    a.mul(&b)?.get_plain_text()?,
                    a.square()?.get_plain_text()?,
                    (&a + &b)?.sub(&b)?.get_plain_text()?,
                    a.mul_scalar(-2.5)?.add_scalar(1.0)?.get_plain_text()?,
                    a.mean(&[1], false)?.get_plain_text()?,
                ))
            })
            .unwrap();
            let (mul, sq, lin, affine, mean) = &out[0];
            let tol = 1e-3; // inputs' encoding error (2^-17 each) times |30| plus 1 ulp
            assert!(
                max_abs_diff(mul, &(&x * &y)) < tol,
                "mul {parties} {provider:?}"
            );
            assert!(max_abs_diff(sq, &(&x * &x)) < tol, "square");
            assert!(max_abs_diff(lin, &x) < ULP, "add/sub");
            assert!(
                max_abs_diff(affine, &x.mapv(|v| v * -2.5 + 1.0)) < 1e-4,
                "affine"
            );
            let mean_ref = x.mean_axis(ndarray::Axis(1)).unwrap();
            assert!(max_abs_diff(mean, &mean_ref) < 1e-3, "mean");
            for other in &out[1..] {
                assert_eq!(other.0, *mul, "all parties reveal the same value");
            }
        }
    }
}

#[test]
fn matmul_matches_f64() {
    for provider in PROVIDERS {
        for parties in [2, 3, 4] {
            let x = data(&[7, 13], 4.0, 4);
            let y = data(&[13, 5], 4.0, 5);
            let out = run(parties, provider, |sess| {
                let a = CrypTensor::from_array(&sess, &x, 0)?;
                let b = CrypTensor::from_array(&sess, &y, parties - 1)?;
                Ok((
                    a.matmul(&b)?.get_plain_text()?,
                    a.matmul_plain(&y)?.get_plain_text()?,
                ))
            })
            .unwrap();
            let expected = matmul_f64(&x, &y);
            // 13 products, each with encoding error about 4 * 2^-16, plus 1 ulp of truncation.
            assert!(
                max_abs_diff(&out[0].0, &expected) < 2e-3,
                "{parties} {provider:?}"
            );
            assert!(
                max_abs_diff(&out[0].1, &expected) < 2e-3,
                "plain {parties} {provider:?}"
            );
        }
    }
}

/// Direct convolution in f64 (reference).
fn conv2d_f64(x: &ArrayD<f64>, w: &ArrayD<f64>, p: &Conv2dParams) -> ArrayD<f64> {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, cg, kh, kw) = (w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]);
    let oh = (h + 2 * p.padding.0 - p.dilation.0 * (kh - 1) - 1) / p.stride.0 + 1;
    let ow = (wd + 2 * p.padding.1 - p.dilation.1 * (kw - 1) - 1) / p.stride.1 + 1;
    let opg = o / p.groups;
    let mut out = ArrayD::zeros(IxDyn(&[n, o, oh, ow]));
    for b in 0..n {
        for oc in 0..o {
            let g = oc / opg;
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = 0.0;
                    for ci in 0..cg {
                        for u in 0..kh {
                            for v in 0..kw {
                                let r = (i * p.stride.0 + u * p.dilation.0) as isize
                                    - p.padding.0 as isize;
                                let s = (j * p.stride.1 + v * p.dilation.1) as isize
                                    - p.padding.1 as isize;
                                if r >= 0 && s >= 0 && (r as usize) < h && (s as usize) < wd {
                                    acc += x[[b, g * cg + ci, r as usize, s as usize]]
                                        * w[[oc, ci, u, v]];
                                }
                            }
                        }
                    }
                    out[[b, oc, i, j]] = acc;
                }
            }
        }
    }
    let _ = c;
    out
}

#[test]
fn conv2d_and_conv1d_match_f64() {
    let p = Conv2dParams {
        stride: (2, 1),
        padding: (1, 2),
        dilation: (1, 2),
        groups: 2,
    };
    let x = data(&[2, 4, 7, 6], 3.0, 6);
    let w = data(&[6, 2, 3, 2], 3.0, 7);
    let expected = conv2d_f64(&x, &w, &p);
    // conv1d as the 2-d case with height 1.
    let p1 = Conv1dParams {
        stride: 2,
        padding: 1,
        dilation: 1,
        groups: 1,
    };
    let x1 = data(&[1, 3, 9], 3.0, 8);
    let w1 = data(&[2, 3, 3], 3.0, 9);
    let p1as2 = Conv2dParams {
        stride: (1, 2),
        padding: (0, 1),
        dilation: (1, 1),
        groups: 1,
    };
    let expected1 = conv2d_f64(
        &x1.clone()
            .into_shape_with_order(IxDyn(&[1, 3, 1, 9]))
            .unwrap(),
        &w1.clone()
            .into_shape_with_order(IxDyn(&[2, 3, 1, 3]))
            .unwrap(),
        &p1as2,
    )
    .into_shape_with_order(IxDyn(&[1, 2, 5]))
    .unwrap();
    for provider in PROVIDERS {
        for parties in [2, 3, 4] {
            let out = run(parties, provider, |sess| {
                let a = CrypTensor::from_array(&sess, &x, 1)?;
                let k = CrypTensor::from_array(&sess, &w, 0)?;
                let a1 = CrypTensor::from_array(&sess, &x1, 0)?;
                let k1 = CrypTensor::from_array(&sess, &w1, 1)?;
                Ok((
                    a.conv2d(&k, &p)?.get_plain_text()?,
                    a1.conv1d(&k1, &p1)?.get_plain_text()?,
                    a.conv2d_plain(&w, &p)?.get_plain_text()?,
                ))
            })
            .unwrap();
            assert!(
                max_abs_diff(&out[0].0, &expected) < 2e-3,
                "conv2d {parties} {provider:?}"
            );
            assert!(
                max_abs_diff(&out[0].1, &expected1) < 2e-3,
                "conv1d {parties} {provider:?}"
            );
            assert!(
                max_abs_diff(&out[0].2, &expected) < 2e-3,
                "conv2d plain {parties} {provider:?}"
            );
        }
    }
}

#[test]
fn bad_inputs_are_rejected_with_clear_errors() {
    let out = run(2, ProviderKind::InsecureTrustedFirstParty, |sess| {
        let mut errors = Vec::new();
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -(2f64.powi(46)),
        ] {
            let x = ArrayD::from_elem(IxDyn(&[2]), bad);
            // Only the source encodes, so only the source sees the error; use src = own rank.
            let err = CrypTensor::from_array(&sess, &x, sess.rank()).unwrap_err();
            errors.push(err.to_string());
        }
        Ok(errors)
    })
    .unwrap();
    for messages in out {
        assert_eq!(messages.len(), 5);
        assert!(messages[0].contains("NaN"), "{}", messages[0]);
        for m in &messages {
            assert!(m.contains("cannot encode"), "{m}");
        }
    }
}

#[test]
fn shape_mismatch_is_an_error_before_any_traffic() {
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let a = CrypTensor::from_array(&sess, &data(&[2, 3], 1.0, 1), 0)?;
        let b = CrypTensor::from_array(&sess, &data(&[4, 5], 1.0, 2), 1)?;
        let before = sess.stats();
        let err = a.matmul(&b).is_err() && a.mul(&b).is_err();
        Ok((err, sess.stats().since(&before).bytes_sent))
    })
    .unwrap();
    assert!(out.iter().all(|&(err, bytes)| err && bytes == 0));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// `reveal(share(x)) == x` exactly in the ring, for any values, shapes, sources and
        /// party counts.
        #[test]
        fn reveal_inverts_share(
            values in proptest::collection::vec(any::<u64>(), 1..40),
            parties in 2usize..6,
            src_pick in any::<usize>(),
        ) {
            let n = values.len();
            let plain = crypten_core::RingTensor::new(&[n], values).unwrap();
            let src = src_pick % parties;
            let out = run(parties, ProviderKind::InsecureTrustedFirstParty, |sess| {
                let mine = (sess.rank() == src).then_some(&plain);
                let x = crypten_mpc::protocol::share::share(&sess, src, mine, &[n])?;
                crypten_mpc::protocol::share::reveal(&sess, &x)
            }).unwrap();
            for got in out {
                prop_assert_eq!(&got, &plain);
            }
        }

        /// The ring product through Beaver triples equals the wrapping product, for any
        /// values (no fixed point involved), with the dealer as a separate thread.
        #[test]
        fn beaver_product_is_the_wrapping_product(
            pairs in proptest::collection::vec((any::<u64>(), any::<u64>()), 1..30),
            parties in 2usize..5,
        ) {
            let n = pairs.len();
            let x = crypten_core::RingTensor::new(&[n], pairs.iter().map(|p| p.0).collect()).unwrap();
            let y = crypten_core::RingTensor::new(&[n], pairs.iter().map(|p| p.1).collect()).unwrap();
            let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
                let xs = crypten_mpc::protocol::share::share(&sess, 0, (sess.rank() == 0).then_some(&x), &[n])?;
                let ys = crypten_mpc::protocol::share::share(&sess, 1, (sess.rank() == 1).then_some(&y), &[n])?;
                let z = crypten_mpc::protocol::beaver::bilinear(&sess, &crypten_mpc::Bilinear::Mul, &xs, &ys)?;
                crypten_mpc::protocol::share::reveal(&sess, &z)
            }).unwrap();
            prop_assert_eq!(&out[0], &x.mul(&y).unwrap());
        }
    }
}

/// A public factor whose 16-bit encoding is coarse (1/N for a mean over thousands of elements,
/// 1e-3) keeps its precision: the value is shifted down first, the factor scaled up.
#[test]
fn small_public_factors_keep_their_precision() {
    let n = 12_544; // a 112x112 average
    let data: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 100.0 - 3.0)
        .collect();
    let x = ArrayD::from_shape_vec(IxDyn(&[1, n]), data.clone()).unwrap();
    let want_mean = data.iter().sum::<f64>() / n as f64;
    for parties in [2, 3] {
        let got = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let t = CrypTensor::from_array(&sess, &x, 0)?;
            let mean = t.mean(&[1], false)?.get_plain_text()?;
            let scaled = t.mul_scalar(1e-3)?.get_plain_text()?;
            let plain = t
                .mul_plain(&ArrayD::from_elem(IxDyn(&[1, n]), 1.0 / 768.0))?
                .get_plain_text()?;
            Ok((mean[[0]], scaled, plain))
        })
        .unwrap();
        let (mean, scaled, plain) = &got[0];
        assert!(
            (mean - want_mean).abs() < 1e-4,
            "{parties} parties: mean {mean} vs {want_mean}"
        );
        for (i, &v) in data.iter().enumerate() {
            assert!(
                (scaled[[0, i]] - v * 1e-3).abs() < 1e-4,
                "{parties}: {v} * 1e-3"
            );
            assert!(
                (plain[[0, i]] - v / 768.0).abs() < 1e-4,
                "{parties}: {v} / 768"
            );
        }
    }
}

/// One party: the protocol on unshared data (the paper's one-party baseline), both providers,
/// exact truncation, and the rounds of two parties truncating locally.
#[test]
fn one_party_runs_the_protocol_on_unshared_data() {
    let x = data(&[8, 16], 3.0, 41);
    let w = data(&[16, 4], 1.0, 42);
    for provider in PROVIDERS {
        let got = run(1, provider, |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            let b = CrypTensor::from_array(&sess, &w, 0)?;
            let y = a.matmul(&b)?.relu()?.mul(&a.narrow(1, 0, 4)?)?;
            let before = sess.stats();
            let s = a.softmax(1)?;
            let rounds = sess.stats().since(&before).rounds;
            Ok((y.get_plain_text()?, s.get_plain_text()?, rounds))
        })
        .unwrap();
        let (y, s, rounds) = &got[0];
        let mut want = ndarray::Array2::<f64>::zeros((8, 4));
        for i in 0..8 {
            for j in 0..4 {
                let dot: f64 = (0..16).map(|k| x[[i, k]] * w[[k, j]]).sum();
                want[[i, j]] = dot.max(0.0) * x[[i, j]];
            }
        }
        assert!(max_abs_diff(y, &want.into_dyn()) < 1e-2, "{provider:?}");
        for i in 0..8 {
            let m = (0..16).map(|k| x[[i, k]]).fold(f64::MIN, f64::max);
            let z: f64 = (0..16).map(|k| (x[[i, k]] - m).exp()).sum();
            for k in 0..16 {
                assert!((s[[i, k]] - (x[[i, k]] - m).exp() / z).abs() < 1e-3);
            }
        }
        // One party's truncations are exact shifts of its share, free like the local
        // truncation of two parties (whose exact truncation costs a round where it cannot
        // be deferred): the openings are those of two parties.
        let local = Config {
            provider,
            truncation: Truncation::Local,
            ..Config::default()
        };
        let two = run_with(2, local, |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            let before = sess.stats();
            a.softmax(1)?;
            Ok(sess.stats().since(&before).rounds)
        })
        .unwrap();
        assert_eq!(
            *rounds, two[0],
            "{provider:?}: one party costs other rounds than two"
        );
    }
}
