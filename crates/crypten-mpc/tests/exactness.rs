//! Products that never fail: millions of fixed-point products, a large matmul, a chain and an
//! MLP with values far from zero, with 2, 3 and 4 parties and both providers, every result
//! within 1e-2 relative (or 1e-3 absolute) of f64. With the opt-in local truncation of two
//! parties the same products do fail, at the rate its documentation states.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod common;

use common::uniform;
use crypten_mpc::simulator::run_with;
use crypten_mpc::{Config, CrypTensor, ProviderKind, Truncation};
use ndarray::{ArrayD, Ix2};

const CASES: [(usize, ProviderKind); 6] = [
    (2, ProviderKind::TrustedThirdParty),
    (2, ProviderKind::InsecureTrustedFirstParty),
    (3, ProviderKind::TrustedThirdParty),
    (3, ProviderKind::InsecureTrustedFirstParty),
    (4, ProviderKind::TrustedThirdParty),
    (4, ProviderKind::InsecureTrustedFirstParty),
];

fn config(provider: ProviderKind, truncation: Truncation) -> Config {
    Config {
        provider,
        truncation,
        ..Config::default()
    }
}

/// The inputs as the encoder rounds them, so that f64 sees the same operands.
fn on_grid(a: &ArrayD<f64>) -> ArrayD<f64> {
    a.mapv(|v| (v * 65536.0).round() / 65536.0)
}

/// The elements off by more than 1e-2 relative and 1e-3 absolute, and the worst of them.
fn misses(got: &ArrayD<f64>, want: &ArrayD<f64>) -> (usize, String) {
    assert_eq!(got.shape(), want.shape());
    let mut count = 0;
    let mut worst = (0.0f64, String::new());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        if err > 1e-3 && err > 1e-2 * w.abs() {
            count += 1;
            if err > worst.0 {
                worst = (err, format!("element {i}: {g} against {w}"));
            }
        }
    }
    (count, worst.1)
}

#[test]
fn four_million_products_never_fail() {
    let n = 4_000_000;
    let x = on_grid(&uniform(&[n], 300.0, 1));
    let y = on_grid(&uniform(&[n], 300.0, 2));
    let want = &x * &y;
    for (parties, provider) in CASES {
        let got = run_with(parties, config(provider, Truncation::Exact), |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            let b = CrypTensor::from_array(&sess, &y, 1 % parties)?;
            a.mul(&b)?.get_plain_text()
        })
        .unwrap();
        let (count, worst) = misses(&got[0], &want);
        assert_eq!(count, 0, "{parties} parties, {provider:?}: worst {worst}");
    }
}

#[test]
fn local_truncation_fails_as_documented() {
    // The opt-in local truncation of two parties: each product v fails with probability
    // about |v| 2^(2f) / 2^63, here on average 150^2 2^32 / 2^63 over 4 million products:
    // about 40 failures expected (none at all has probability below e^-20).
    let n = 4_000_000;
    let x = on_grid(&uniform(&[n], 300.0, 3));
    let y = on_grid(&uniform(&[n], 300.0, 4));
    let want = &x * &y;
    let config = config(ProviderKind::InsecureTrustedFirstParty, Truncation::Local);
    let got = run_with(2, config, |sess| {
        let a = CrypTensor::from_array(&sess, &x, 0)?;
        let b = CrypTensor::from_array(&sess, &y, 1)?;
        a.mul(&b)?.get_plain_text()
    })
    .unwrap();
    let (count, worst) = misses(&got[0], &want);
    let expected: f64 = want
        .iter()
        .map(|v| v.abs() * 2f64.powi(32) / 2f64.powi(63))
        .sum();
    eprintln!("local truncation: {count} failures in {n} products, {expected:.1} expected");
    assert!(
        count >= 1 && (count as f64) < 4.0 * expected + 10.0,
        "{count} failures, {expected:.1} expected; worst {worst}"
    );
}

#[test]
fn a_large_matmul_never_fails() {
    // 2000 x 2000 by 2000 x 2000 with values in [-30, 30]: sums of 2000 products up to 900.
    let x = on_grid(&uniform(&[2000, 2000], 30.0, 5));
    let y = on_grid(&uniform(&[2000, 2000], 30.0, 6));
    let want = x
        .view()
        .into_dimensionality::<Ix2>()
        .unwrap()
        .dot(&y.view().into_dimensionality::<Ix2>().unwrap())
        .into_dyn();
    for (parties, provider) in CASES {
        let got = run_with(parties, config(provider, Truncation::Exact), |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            let b = CrypTensor::from_array(&sess, &y, 1 % parties)?;
            a.matmul(&b)?.get_plain_text()
        })
        .unwrap();
        let (count, worst) = misses(&got[0], &want);
        assert_eq!(count, 0, "{parties} parties, {provider:?}: worst {worst}");
    }
}

#[test]
fn chains_and_an_mlp_with_large_activations_never_fail() {
    // x * x * y on a million values, and a 3-layer MLP with ReLU whose hidden activations
    // reach about 10^3 (a million of them per layer).
    let n = 1_000_000;
    let x = on_grid(&uniform(&[n], 30.0, 7));
    let y = on_grid(&uniform(&[n], 1.0, 8));
    let chain_want = &(&x * &x) * &y;
    let input = on_grid(&uniform(&[1000, 64], 30.0, 9));
    let w1 = on_grid(&uniform(&[64, 1000], 3.0, 10));
    let w2 = on_grid(&uniform(&[1000, 1000], 0.1, 11));
    let w3 = on_grid(&uniform(&[1000, 10], 0.1, 12));
    let dot = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
        a.view()
            .into_dimensionality::<Ix2>()
            .unwrap()
            .dot(&b.view().into_dimensionality::<Ix2>().unwrap())
            .into_dyn()
    };
    let h1 = dot(&input, &w1).mapv(|v| v.max(0.0));
    let h2 = dot(&h1, &w2).mapv(|v| v.max(0.0));
    let mlp_want = dot(&h2, &w3);
    let largest = h1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(largest > 800.0, "activations reach {largest}");
    for (parties, provider) in CASES {
        let got = run_with(parties, config(provider, Truncation::Exact), |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            let b = CrypTensor::from_array(&sess, &y, 1 % parties)?;
            let chain = a.mul(&a)?.mul(&b)?.get_plain_text()?;
            let owner = 1 % parties;
            let xin = CrypTensor::from_array(&sess, &input, 0)?;
            let l1 = CrypTensor::from_array(&sess, &w1, owner)?;
            let l2 = CrypTensor::from_array(&sess, &w2, owner)?;
            let l3 = CrypTensor::from_array(&sess, &w3, owner)?;
            let h = xin.matmul(&l1)?.relu()?;
            let h = h.matmul(&l2)?.relu()?;
            let out = h.matmul(&l3)?.get_plain_text()?;
            Ok((chain, out))
        })
        .unwrap();
        let (chain, out) = &got[0];
        let (count, worst) = misses(chain, &chain_want);
        assert_eq!(
            count, 0,
            "chain, {parties} parties, {provider:?}: worst {worst}"
        );
        let (count, worst) = misses(out, &mlp_want);
        assert_eq!(
            count, 0,
            "MLP, {parties} parties, {provider:?}: worst {worst}"
        );
    }
}
