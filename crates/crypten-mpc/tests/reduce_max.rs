//! max/min/argmax/argmin along a dimension against plaintext, for 2, 3, 4 and 5 parties with
//! both providers: odd and even lengths (the tournament's shape), every dimension of a 3-d
//! tensor, keepdim, ties (argmax must set exactly one index: the lowest), and edge values.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::{FixedPointEncoder, Prg};
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind, Result};
use ndarray::{ArrayD, Axis, IxDyn};

const PROVIDERS: [ProviderKind; 2] = [
    ProviderKind::TrustedThirdParty,
    ProviderKind::InsecureTrustedFirstParty,
];

/// Values on a coarse grid (many ties) with a few extremes.
fn data(shape: &[usize], seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n: usize = shape.iter().product();
    let big = (1u64 << 46) as f64 - 1.0;
    let v = (0..n)
        .map(|i| match i % 17 {
            3 => big,
            11 => -big,
            5 => 1.0 / 65536.0,
            _ => ((prg.uniform_f64() * 8.0).floor() - 4.0) * 0.5,
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// The exact decoded value of each element (what the protocol sees).
fn exact(a: &ArrayD<f64>) -> ArrayD<f64> {
    let e = FixedPointEncoder::default();
    e.decode(&e.encode(a).unwrap())
}

/// Plaintext max along `dim` and the one-hot of the first maximal index.
fn reference(a: &ArrayD<f64>, dim: usize, min: bool) -> (ArrayD<f64>, ArrayD<f64>) {
    let a = exact(a);
    let sign = if min { -1.0 } else { 1.0 };
    let values = a.map_axis(Axis(dim), |lane| {
        lane.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(sign * x)) * sign
    });
    let mut onehot = ArrayD::zeros(a.raw_dim());
    for (mut out, lane) in onehot
        .lanes_mut(Axis(dim))
        .into_iter()
        .zip(a.lanes(Axis(dim)))
    {
        let best = lane.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(sign * x));
        let first = lane.iter().position(|&x| sign * x == best).unwrap();
        out[first] = 1.0;
    }
    (values, onehot)
}

type Results = Vec<(ArrayD<f64>, ArrayD<f64>, ArrayD<f64>, ArrayD<f64>)>;

#[test]
fn max_and_argmax_match_plaintext_along_every_dimension() {
    let x = data(&[3, 5, 6], 1);
    for provider in PROVIDERS {
        for parties in [2, 3, 4, 5] {
            let out = run(parties, provider, |sess| -> Result<Results> {
                let t = CrypTensor::from_array(&sess, &x, 0)?;
                (0..3)
                    .map(|dim| {
                        Ok((
                            t.max(dim, false)?.get_plain_text()?,
                            t.argmax(dim, false)?.get_plain_text()?,
                            t.min(dim, dim == 1)?.get_plain_text()?,
                            t.argmin(dim, true)?.get_plain_text()?,
                        ))
                    })
                    .collect()
            })
            .unwrap();
            for (dim, (max, argmax, min, argmin)) in out[0].iter().enumerate() {
                let label = format!("dim {dim}, {parties} parties, {provider:?}");
                let (vmax, omax) = reference(&x, dim, false);
                let (vmin, omin) = reference(&x, dim, true);
                assert_eq!(max, &vmax, "max {label}");
                assert_eq!(argmax, &omax, "argmax {label}");
                let vmin = if dim == 1 {
                    vmin.insert_axis(Axis(1))
                } else {
                    vmin
                };
                assert_eq!(min, &vmin, "min {label}");
                assert_eq!(argmin, &omin, "argmin {label}");
            }
        }
    }
}

#[test]
fn all_equal_rows_pick_the_first_index() {
    for k in [1, 2, 3, 7, 8, 10] {
        let x = ArrayD::from_elem(IxDyn(&[2, k]), -0.0);
        let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
            let t = CrypTensor::from_array(&sess, &x, 1)?;
            Ok((
                t.argmax(1, false)?.get_plain_text()?,
                t.max(1, true)?.get_plain_text()?,
            ))
        })
        .unwrap();
        let (onehot, max) = &out[0];
        for row in onehot.rows() {
            assert_eq!(row[0], 1.0, "k = {k}");
            assert_eq!(row.sum(), 1.0, "k = {k}");
        }
        assert_eq!(max.shape(), &[2, 1]);
        assert!(max.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn bad_dimensions_are_errors() {
    let out = run(2, ProviderKind::InsecureTrustedFirstParty, |sess| {
        let t = CrypTensor::from_array(&sess, &ArrayD::zeros(IxDyn(&[2, 3])), 0)?;
        let empty = CrypTensor::from_array(&sess, &ArrayD::zeros(IxDyn(&[2, 0])), 0)?;
        Ok((t.max(2, false).is_err(), empty.argmax(1, false).is_err()))
    })
    .unwrap();
    assert_eq!(out[0], (true, true));
}
