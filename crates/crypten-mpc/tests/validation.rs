//! Validation mode (`Config::validation`): each operation checked against plaintext, naming
//! the first one that goes wrong (an overflow, a failed local truncation, an input outside a
//! function's domain); off by default, and then silent.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

mod common;

use common::uniform;
use crypten_mpc::simulator::run_with;
use crypten_mpc::{Config, CrypTensor, Error, ProviderKind, Result, Truncation, Validation};
use ndarray::{ArrayD, IxDyn};

fn config(provider: ProviderKind, validation: Validation, truncation: Truncation) -> Config {
    Config {
        provider,
        validation,
        truncation,
        ..Config::default()
    }
}

/// The validation error every party returns, as (op, message).
fn failure<T: std::fmt::Debug>(out: Result<Vec<T>>) -> (&'static str, String) {
    match out {
        Err(e @ Error::Validation { op, .. }) => (op, e.to_string()),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_correct_program_passes_with_the_same_results_and_more_rounds() {
    let x = uniform(&[8, 16], 2.0, 1);
    let w = uniform(&[16, 10], 0.5, 2);
    let program = |sess: crypten_mpc::Session| {
        let a = CrypTensor::from_array(&sess, &x, 0)?;
        let b = CrypTensor::from_array(&sess, &w, 1)?;
        let before = sess.stats();
        let h = a.matmul(&b)?.relu()?;
        let y = h.mul(&h)?.add(&h)?.mul_scalar(0.5)?.softmax(1)?;
        let z = a.exp()?.sigmoid()?.log()?;
        let rounds = sess.stats().since(&before).rounds;
        Ok((y.get_plain_text()?, z.get_plain_text()?, rounds))
    };
    for provider in [
        ProviderKind::TrustedThirdParty,
        ProviderKind::InsecureTrustedFirstParty,
    ] {
        for parties in [2, 3] {
            let on = run_with(
                parties,
                config(provider, Validation::RevealAndCheck, Truncation::Exact),
                program,
            )
            .unwrap();
            let off = run_with(
                parties,
                config(provider, Validation::Off, Truncation::Exact),
                program,
            )
            .unwrap();
            let diff = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
                a.iter()
                    .zip(b)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0, f64::max)
            };
            assert!(diff(&on[0].0, &off[0].0) < 1e-3 && diff(&on[0].1, &off[0].1) < 1e-3);
            assert!(on[0].2 > off[0].2, "checks cost rounds of their own");
        }
    }
}

#[test]
fn an_overflowing_product_is_named() {
    // 3e5 * 3e5 = 9e10 is beyond the product range 2^30 (16 fractional bits).
    let x = ArrayD::from_elem(IxDyn(&[4]), 3e5);
    let program = |sess: crypten_mpc::Session| {
        let a = CrypTensor::from_array(&sess, &x, 0)?;
        let b = a.add_scalar(1.0)?; // fine
        let c = b.mul(&a)?; // overflows
        c.exp() // never reached
    };
    let (op, message) = failure(run_with(
        2,
        config(
            ProviderKind::TrustedThirdParty,
            Validation::RevealAndCheck,
            Truncation::Exact,
        ),
        program,
    ));
    assert_eq!(op, "mul", "{message}");
    assert!(message.contains("range"), "{message}");
    // Off (the default), the same program returns garbage without a word.
    let garbage = run_with(
        2,
        config(
            ProviderKind::TrustedThirdParty,
            Validation::Off,
            Truncation::Exact,
        ),
        |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            a.add_scalar(1.0)?.mul(&a)?.get_plain_text()
        },
    )
    .unwrap();
    assert!(garbage[0].iter().all(|v| (v - 9e10).abs() > 1e9));
}

#[test]
fn a_failed_local_truncation_is_named() {
    // The opt-in local truncation of 2 parties fails for about |v| 2^-31 of the products v:
    // here about 1e-4 of a million products near 2.5e5.
    let x = uniform(&[1_000_000], 1000.0, 3);
    let y = uniform(&[1_000_000], 1000.0, 4);
    let (op, message) = failure(run_with(
        2,
        config(
            ProviderKind::InsecureTrustedFirstParty,
            Validation::RevealAndCheck,
            Truncation::Local,
        ),
        |sess| {
            let a = CrypTensor::from_array(&sess, &x, 0)?;
            let b = CrypTensor::from_array(&sess, &y, 1)?;
            a.mul(&b)
        },
    ));
    assert_eq!(op, "mul", "{message}");
    assert!(message.contains("plaintext"), "{message}");
}

#[test]
fn an_input_outside_a_functions_domain_is_named() {
    let x = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0, -2.0, 3.0]).unwrap();
    let (op, message) = failure(run_with(
        3,
        config(
            ProviderKind::TrustedThirdParty,
            Validation::RevealAndCheck,
            Truncation::Exact,
        ),
        |sess| CrypTensor::from_array(&sess, &x, 0)?.log(),
    ));
    assert_eq!(op, "log", "{message}");
    assert!(message.contains("element 1"), "{message}");
}
