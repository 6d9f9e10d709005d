//! Round counts of the non-linear functions with the trusted third party, asserted from the
//! communicator's stats: with exact truncation (the default) each is the same for 2, 3 and 4
//! parties, equals its documented count and is at or below CrypTen's 2-party figure
//! (shared/ANCHORS.md: exp 8, log 32, reciprocal 38, sqrt 18, sigmoid 23, softmax over 100
//! columns 116), whose truncation is the probabilistic local one; with the opt-in local
//! truncation of 2 parties (`Truncation::Local`) each equals its documented local count.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_mpc::simulator::run_with;
use crypten_mpc::{Config, CrypTensor, FunctionConfig, ProviderKind, SigmoidMethod, Truncation};
use ndarray::{ArrayD, IxDyn};

type Op = fn(&CrypTensor) -> crypten_mpc::Result<CrypTensor>;

/// (name, op, input range, shape, our documented rounds exact, local (2 parties), CrypTen's
/// rounds or 0 if none)
type Case = (
    &'static str,
    Op,
    (f64, f64),
    &'static [usize],
    u64,
    u64,
    u64,
);

fn config(truncation: Truncation) -> Config {
    Config {
        provider: ProviderKind::TrustedThirdParty,
        truncation,
        ..Config::default()
    }
}

/// Rounds and bytes sent of `op` on a `shape` input of values in `[lo, hi]`, at each party.
fn cost_with(
    parties: usize,
    cfg: Config,
    shape: &[usize],
    lo: f64,
    hi: f64,
    op: Op,
) -> Vec<(u64, u64)> {
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n.max(2) - 1) as f64)
        .collect();
    let input = ArrayD::from_shape_vec(IxDyn(shape), values).unwrap();
    run_with(parties, cfg, |sess| {
        let x = CrypTensor::from_array(&sess, &input, 0)?;
        let before = sess.stats();
        op(&x)?;
        let d = sess.stats().since(&before);
        Ok((d.rounds, d.bytes_sent))
    })
    .unwrap()
}

/// The largest rounds over the parties, with exact truncation.
fn rounds(parties: usize, shape: &[usize], lo: f64, hi: f64, op: Op) -> u64 {
    let per_party = cost_with(parties, config(Truncation::Exact), shape, lo, hi, op);
    per_party.iter().map(|c| c.0).max().unwrap()
}

#[test]
fn functions_cost_the_same_for_any_number_of_parties_and_at_most_cryptens() {
    let cases: [Case; 15] = [
        ("exp", |x| x.exp(), (-4.0, 4.0), &[1000], 7, 7, 8),
        ("log", |x| x.log(), (0.1, 20.0), &[1000], 10, 9, 32),
        (
            "reciprocal",
            |x| x.reciprocal(),
            (0.1, 10.0),
            &[1000],
            17,
            16,
            38,
        ),
        (
            "reciprocal_positive",
            |x| x.reciprocal_positive(),
            (0.1, 10.0),
            &[1000],
            13,
            12,
            38,
        ),
        (
            "div",
            |x| x.div(&x.add_scalar(1.0)?),
            (0.1, 10.0),
            &[1000],
            17,
            16,
            38,
        ),
        ("sqrt", |x| x.sqrt(), (0.1, 20.0), &[1000], 16, 14, 18),
        (
            "inv_sqrt",
            |x| x.inv_sqrt(),
            (0.1, 20.0),
            &[1000],
            15,
            13,
            18,
        ),
        ("sigmoid", |x| x.sigmoid(), (-8.0, 8.0), &[1000], 9, 9, 23),
        ("tanh", |x| x.tanh(), (-8.0, 8.0), &[1000], 9, 9, 23),
        ("erf", |x| x.erf(), (-3.0, 3.0), &[1000], 9, 9, 23),
        ("gelu", |x| x.gelu(), (-3.0, 3.0), &[1000], 9, 8, 23),
        (
            "softmax 100",
            |x| x.softmax(1),
            (-4.0, 4.0),
            &[10, 100],
            46,
            45,
            116,
        ),
        (
            "softmax 10",
            |x| x.softmax(1),
            (-4.0, 4.0),
            &[100, 10],
            31,
            30,
            94,
        ),
        (
            "log_softmax 10",
            |x| x.log_softmax(1),
            (-4.0, 4.0),
            &[100, 10],
            36,
            33,
            94,
        ),
        (
            "layer_norm",
            |x| x.layer_norm(1, None, None, 1e-5),
            (-4.0, 4.0),
            &[10, 100],
            20,
            15,
            0,
        ),
    ];
    let mut failures = Vec::new();
    for (name, op, (lo, hi), shape, exact, local, crypten) in cases {
        let n: usize = shape.iter().product();
        for parties in [2, 3, 4] {
            let per_party = cost_with(parties, config(Truncation::Exact), shape, lo, hi, op);
            let r = per_party.iter().map(|c| c.0).max().unwrap();
            let bytes = per_party.iter().map(|c| c.1).max().unwrap();
            eprintln!(
                "{name}, {parties} parties: {r} rounds (CrypTen {crypten}), {:.0} bytes/element/party",
                bytes as f64 / n as f64
            );
            if r != exact || (crypten > 0 && r > crypten) {
                failures.push(format!(
                    "{name}, {parties} parties: {r} rounds, documented {exact}, CrypTen {crypten}"
                ));
            }
        }
        let per_party = cost_with(2, config(Truncation::Local), shape, lo, hi, op);
        let r = per_party.iter().map(|c| c.0).max().unwrap();
        eprintln!("{name}, 2 parties, local truncation: {r} rounds");
        if r != local {
            failures.push(format!(
                "{name}, 2 parties, local truncation: {r} rounds, documented {local}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn trigonometric_and_polynomial_costs() {
    // sin/cos: the range reduction's truncations in one round, then a degree-16 series in 4;
    // a monomial polynomial of unknown range: its 2 levels, then its deferred terms settled
    // and the sum truncated (one round each).
    for (op, want) in [
        ((|x| x.sin()) as Op, 5),
        (|x| x.cos(), 5),
        (|x| x.polynomial(&[1.0, 2.0, 3.0, 4.0, 5.0]), 4),
    ] {
        for parties in [2, 3] {
            assert_eq!(rounds(parties, &[100], -3.0, 3.0, op), want);
        }
    }
    // x^5 with 3 rounds, x^100 with 7.
    for parties in [2, 3] {
        assert_eq!(rounds(parties, &[10], 0.5, 1.0, |x| x.pow_int(5)), 3);
        assert_eq!(rounds(parties, &[10], 0.9, 1.0, |x| x.pow_int(100)), 7);
    }
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
    for parties in [2, 3] {
        let r = run_with(parties, cfg.clone(), |sess| {
            let x = CrypTensor::from_array(&sess, &input, 0)?;
            let before = sess.stats();
            x.sigmoid()?;
            Ok(sess.stats().since(&before).rounds)
        })
        .unwrap();
        assert_eq!(r[0], 15);
        assert!(r[0] <= 23);
    }
}
