//! Comparisons and the functions built on them against plaintext, for 2, 3, 4 and 5 parties
//! on threads with both providers, including edge values: zeros (and -0.0), the smallest
//! fixed-point step, magnitudes near the encoder's limit, and values equal to the thresholds.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::{FixedPointEncoder, Prg};
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind, Result};
use ndarray::{ArrayD, IxDyn};

const PROVIDERS: [ProviderKind; 2] = [
    ProviderKind::TrustedThirdParty,
    ProviderKind::InsecureTrustedFirstParty,
];

const STEP: f64 = 1.0 / 65536.0;

/// Edge values, then uniform values in [-8, 8) (so thresholds such as 0, 1 and 6 are hit from
/// both sides), `n` in all.
fn values(n: usize, seed: u8) -> Vec<f64> {
    let big = (1u64 << 46) as f64 - 1.0;
    let mut v = vec![
        0.0,
        -0.0,
        STEP,
        -STEP,
        1.0,
        -1.0,
        6.0,
        6.0 + STEP,
        6.0 - STEP,
        big,
        -big,
        big - 1.0,
        -(big - 1.0),
        (1u64 << 45) as f64,
        -((1u64 << 45) as f64),
        2.5,
    ];
    let mut prg = Prg::from_seed([seed; 16]);
    while v.len() < n {
        v.push((prg.uniform_f64() * 16.0 - 8.0) * if v.len() % 7 == 0 { 1e3 } else { 1.0 });
    }
    v.truncate(n);
    v
}

fn array(v: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap()
}

/// The encoded values as signed integers (what the protocols compare).
fn encoded(v: &[f64]) -> Vec<i64> {
    let e = FixedPointEncoder::default();
    v.iter()
        .map(|&x| e.encode_scalar(x).unwrap() as i64)
        .collect()
}

fn decode(v: i64) -> f64 {
    v as f64 * STEP
}

fn as_bits(a: &ArrayD<f64>) -> Vec<bool> {
    a.iter()
        .map(|&x| {
            assert!(x == 0.0 || x == 1.0, "not a 0/1 result: {x}");
            x == 1.0
        })
        .collect()
}

type Outputs = Vec<ArrayD<f64>>;

/// Runs every comparison-based function on x (party 0) and y (the last party).
fn compute(parties: usize, provider: ProviderKind, x: &[f64], y: &[f64]) -> Outputs {
    let (xa, ya) = (array(x), array(y));
    let out = run(parties, provider, |sess| -> Result<Outputs> {
        let a = CrypTensor::from_array(&sess, &xa, 0)?;
        let b = CrypTensor::from_array(&sess, &ya, parties - 1)?;
        let results = [
            a.ltz()?,
            a.lt(&b)?,
            a.le(&b)?,
            a.gt(&b)?,
            a.ge(&b)?,
            a.eq(&b)?,
            a.ne(&b)?,
            a.lt_scalar(1.0)?,
            a.le_scalar(1.0)?,
            a.gt_scalar(-1.0)?,
            a.ge_scalar(-1.0)?,
            a.eq_scalar(6.0)?,
            a.ne_scalar(0.0)?,
            a.sign()?,
            a.abs()?,
            a.relu()?,
            a.relu6()?,
            a.hardtanh(-1.0, 1.0)?,
            a.clamp(-2.5, 6.0 - STEP)?,
            a.where_(&a.gt(&b)?, &b)?,
        ];
        results.iter().map(CrypTensor::get_plain_text).collect()
    })
    .unwrap();
    out.into_iter().next().unwrap()
}

fn check(parties: usize, provider: ProviderKind, n: usize) {
    let x = values(n, 1);
    // y: x itself at some positions (equality), close values elsewhere.
    let mut y = values(n, 2);
    for i in (0..n).step_by(3) {
        y[i] = x[i];
    }
    y[1] = x[1] + STEP;
    y[2] = x[2] - STEP;
    let out = compute(parties, provider, &x, &y);
    let (ex, ey) = (encoded(&x), encoded(&y));
    let label = format!("{parties} parties, {provider:?}");
    let pred = |f: &dyn Fn(i64, i64) -> bool| -> Vec<bool> {
        ex.iter().zip(&ey).map(|(&a, &b)| f(a, b)).collect()
    };
    let one = 65536;
    let expected_bits: [Vec<bool>; 13] = [
        pred(&|a, _| a < 0),
        pred(&|a, b| a < b),
        pred(&|a, b| a <= b),
        pred(&|a, b| a > b),
        pred(&|a, b| a >= b),
        pred(&|a, b| a == b),
        pred(&|a, b| a != b),
        pred(&|a, _| a < one),
        pred(&|a, _| a <= one),
        pred(&|a, _| a > -one),
        pred(&|a, _| a >= -one),
        pred(&|a, _| a == 6 * one),
        pred(&|a, _| a != 0),
    ];
    for (i, expected) in expected_bits.iter().enumerate() {
        assert_eq!(&as_bits(&out[i]), expected, "comparison #{i}, {label}");
    }
    let exact: [(usize, &dyn Fn(i64) -> i64); 6] = [
        (13, &|a| if a < 0 { -one } else { one }),
        (14, &|a| a.abs()),
        (15, &|a| a.max(0)),
        (16, &|a| a.clamp(0, 6 * one)),
        (17, &|a| a.clamp(-one, one)),
        (18, &|a| a.clamp(-5 * one / 2, 6 * one - 1)),
    ];
    for (i, f) in exact {
        let expected: Vec<f64> = ex.iter().map(|&a| decode(f(a))).collect();
        assert_eq!(
            out[i].as_slice().unwrap(),
            &expected[..],
            "function #{i}, {label}"
        );
    }
    // where: one fixed-point product, within a unit of the last place. Checked where
    // |x - y| < 100, so the product stays far inside the range where 2-party truncation
    // fails (probability below 2^-24 per element here).
    for (k, (&a, &b)) in ex.iter().zip(&ey).enumerate() {
        if (a - b).abs() < 100 * one {
            let expected = decode(a.max(b));
            let got = out[19][k];
            assert!(
                (got - expected).abs() <= 2.0 * STEP,
                "where at {k}: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn comparisons_match_plaintext_for_two_to_five_parties() {
    for provider in PROVIDERS {
        for parties in [2, 3, 4, 5] {
            check(parties, provider, 80);
        }
    }
}

#[test]
fn comparisons_broadcast_and_keep_shapes() {
    let x = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, -2.0, 3.0, 0.0, 5.0, -6.0]).unwrap();
    let y = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.5, -2.0, 4.0]).unwrap();
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let a = CrypTensor::from_array(&sess, &x, 0)?;
        let b = CrypTensor::from_array(&sess, &y, 1)?;
        Ok((a.lt(&b)?.get_plain_text()?, a.relu()?.get_plain_text()?))
    })
    .unwrap();
    let (lt, relu) = &out[0];
    assert_eq!(lt.shape(), &[2, 3]);
    assert_eq!(lt.as_slice().unwrap(), &[0.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
    assert_eq!(relu.as_slice().unwrap(), &[1.0, 0.0, 3.0, 0.0, 5.0, 0.0]);
}

#[test]
fn bad_arguments_are_errors() {
    let out = run(2, ProviderKind::InsecureTrustedFirstParty, |sess| {
        let a = CrypTensor::from_array(&sess, &array(&[1.0, 2.0]), 0)?;
        let b = CrypTensor::from_array(&sess, &array(&[1.0, 2.0, 3.0]), 0)?;
        Ok((
            a.clamp(2.0, 1.0).is_err(),
            a.lt(&b).is_err(),
            a.lt_scalar(f64::NAN).is_err(),
            a.eq_scalar(1e30).is_err(),
        ))
    })
    .unwrap();
    assert_eq!(out[0], (true, true, true, true));
}

#[test]
fn empty_tensors_compare_to_empty_results() {
    for provider in PROVIDERS {
        let out = run(3, provider, |sess| {
            let e = CrypTensor::from_array(&sess, &ArrayD::zeros(IxDyn(&[0, 4])), 0)?;
            Ok((
                e.ltz()?.get_plain_text()?.shape().to_vec(),
                e.relu()?.get_plain_text()?.shape().to_vec(),
                e.eq(&e)?.get_plain_text()?.shape().to_vec(),
                e.max(1, false)?.get_plain_text()?.shape().to_vec(),
                e.argmax(1, false)?.get_plain_text()?.shape().to_vec(),
            ))
        })
        .unwrap();
        assert_eq!(
            out[0],
            (vec![0, 4], vec![0, 4], vec![0, 4], vec![0], vec![0, 4])
        );
    }
}
