//! Round counts of the non-linear functions at 2 parties with the trusted third party,
//! asserted from the communicator's stats: each equals its documented count and is at or
//! below CrypTen's (shared/ANCHORS.md: exp 8, log 32, reciprocal 38, sqrt 18, sigmoid 23,
//! softmax over 100 columns 116).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_mpc::simulator::{run, run_with};
use crypten_mpc::{Config, CrypTensor, FunctionConfig, ProviderKind, SigmoidMethod};
use ndarray::{ArrayD, IxDyn};

type Op = fn(&CrypTensor) -> crypten_mpc::Result<CrypTensor>;

/// (name, op, input range, shape, our documented rounds, CrypTen's rounds or 0 if none)
type Case = (&'static str, Op, (f64, f64), &'static [usize], u64, u64);

/// Rounds and bytes sent of `op` on a `shape` input of values in `[lo, hi]`, at each party.
fn cost(parties: usize, shape: &[usize], lo: f64, hi: f64, op: Op) -> Vec<(u64, u64)> {
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n.max(2) - 1) as f64)
        .collect();
    let input = ArrayD::from_shape_vec(IxDyn(shape), values).unwrap();
    run(parties, ProviderKind::TrustedThirdParty, |sess| {
        let x = CrypTensor::from_array(&sess, &input, 0)?;
        let before = sess.stats();
        op(&x)?;
        let d = sess.stats().since(&before);
        Ok((d.rounds, d.bytes_sent))
    })
    .unwrap()
}

#[test]
fn functions_cost_at_most_cryptens_rounds_with_two_parties() {
    let cases: [Case; 14] = [
        ("exp", |x| x.exp(), (-4.0, 4.0), &[1000], 7, 8),
        ("log", |x| x.log(), (0.1, 20.0), &[1000], 9, 32),
        (
            "reciprocal",
            |x| x.reciprocal(),
            (0.1, 10.0),
            &[1000],
            16,
            38,
        ),
        (
            "reciprocal_positive",
            |x| x.reciprocal_positive(),
            (0.1, 10.0),
            &[1000],
            12,
            38,
        ),
        (
            "div",
            |x| x.div(&x.add_scalar(1.0)?),
            (0.1, 10.0),
            &[1000],
            16,
            38,
        ),
        ("sqrt", |x| x.sqrt(), (0.1, 20.0), &[1000], 14, 18),
        ("inv_sqrt", |x| x.inv_sqrt(), (0.1, 20.0), &[1000], 13, 18),
        ("sigmoid", |x| x.sigmoid(), (-8.0, 8.0), &[1000], 9, 23),
        ("tanh", |x| x.tanh(), (-8.0, 8.0), &[1000], 9, 23),
        ("erf", |x| x.erf(), (-3.0, 3.0), &[1000], 9, 23),
        ("gelu", |x| x.gelu(), (-3.0, 3.0), &[1000], 8, 23),
        (
            "softmax 100",
            |x| x.softmax(1),
            (-4.0, 4.0),
            &[10, 100],
            45,
            116,
        ),
        (
            "softmax 10",
            |x| x.softmax(1),
            (-4.0, 4.0),
            &[100, 10],
            30,
            94,
        ),
        (
            "layer_norm",
            |x| x.layer_norm(1, None, None, 1e-5),
            (-4.0, 4.0),
            &[10, 100],
            15,
            0,
        ),
    ];
    let mut failures = Vec::new();
    for (name, op, (lo, hi), shape, ours, crypten) in cases {
        let per_party = cost(2, shape, lo, hi, op);
        let rounds = per_party.iter().map(|c| c.0).max().unwrap();
        let bytes = per_party.iter().map(|c| c.1).max().unwrap();
        let n: usize = shape.iter().product();
        eprintln!(
            "{name}: {rounds} rounds (CrypTen {crypten}), {:.0} bytes/element/party",
            bytes as f64 / n as f64
        );
        if rounds != ours || (crypten > 0 && rounds > crypten) {
            failures.push(format!(
                "{name}: {rounds} rounds, documented {ours}, CrypTen {crypten}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn trigonometric_and_polynomial_costs() {
    // sin/cos: the range reduction is free with 2 parties; a degree-16 series is 4 rounds.
    for op in [
        (|x| x.sin()) as Op,
        |x| x.cos(),
        |x| x.polynomial(&[1.0, 2.0, 3.0, 4.0, 5.0]),
    ] {
        let rounds = cost(2, &[100], -3.0, 3.0, op)[0].0;
        assert!(rounds <= 4, "{rounds}");
    }
    // x^5 with 3 rounds, x^100 with 7.
    assert_eq!(cost(2, &[10], 0.5, 1.0, |x| x.pow_int(5))[0].0, 3);
    assert_eq!(cost(2, &[10], 0.9, 1.0, |x| x.pow_int(100))[0].0, 7);
}

#[test]
fn the_reciprocal_sigmoid_method_also_stays_below_cryptens_rounds() {
    let cfg = Config {
        provider: ProviderKind::TrustedThirdParty,
        functions: FunctionConfig {
            sigmoid_method: SigmoidMethod::Reciprocal,
            ..FunctionConfig::default()
        },
        ..Config::default()
    };
    let input = ArrayD::from_elem(IxDyn(&[100]), 0.5);
    let rounds = run_with(2, cfg, |sess| {
        let x = CrypTensor::from_array(&sess, &input, 0)?;
        let before = sess.stats();
        x.sigmoid()?;
        Ok(sess.stats().since(&before).rounds)
    })
    .unwrap();
    assert_eq!(rounds[0], 15);
    assert!(rounds[0] <= 23);
}
