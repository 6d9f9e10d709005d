//! Deferred truncation (3+ parties): products stay at twice the scale until their next
//! opening. Checked against plaintext f64 for chains of products, squares, broadcasting,
//! mixing with settled values, comparisons and matmuls, with 3, 4 and 5 parties and both
//! providers, and the round counts asserted from the stats.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::Prg;
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind, Result, Session};
use ndarray::{ArrayD, IxDyn};

const PROVIDERS: [ProviderKind; 2] = [
    ProviderKind::TrustedThirdParty,
    ProviderKind::InsecureTrustedFirstParty,
];

/// One unit in the last place of the default 16-bit encoding.
const ULP: f64 = 1.0 / 65536.0;

/// Values uniform in `[-scale, scale)` on the fixed-point grid (so products of them are exact
/// in f64), with exact zeros and the smallest negative mixed in.
fn values(shape: &[usize], seed: u8, scale: f64) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|i| match i % 11 {
            0 => 0.0,
            1 => -ULP,
            _ => ((prg.uniform_f64() * 2.0 - 1.0) * scale / ULP).round() * ULP,
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Runs `program` with 3, 4 and 5 parties and both providers; returns party 0's outputs with
/// a label.
fn each_setting<T: Send>(
    program: impl Fn(&Session) -> Result<T> + Send + Sync,
) -> Vec<(String, T)> {
    let mut out = Vec::new();
    for provider in PROVIDERS {
        for parties in [3, 4, 5] {
            let mut results = run(parties, provider, |sess| program(&sess)).unwrap();
            out.push((
                format!("{parties} parties, {provider:?}"),
                results.swap_remove(0),
            ));
        }
    }
    out
}

#[test]
fn chains_of_products_match_f64() {
    let (x, y, z) = (
        values(&[6, 7], 1, 4.0),
        values(&[6, 7], 2, 4.0),
        values(&[6, 7], 3, 4.0),
    );
    let row = values(&[6, 1], 4, 3.0);
    for (label, got) in each_setting(|sess| {
        let a = CrypTensor::from_array(sess, &x, 0)?;
        let b = CrypTensor::from_array(sess, &y, 1)?;
        let c = CrypTensor::from_array(sess, &z, 2)?;
        let r = CrypTensor::from_array(sess, &row, 1)?;
        let ab = a.mul(&b)?;
        assert!(ab.is_deferred());
        let results = [
            ab.clone(),
            ab.mul(&c)?,              // deferred x settled
            c.mul(&ab)?,              // settled x deferred
            ab.mul(&a.mul(&c)?)?,     // deferred x deferred
            ab.square()?,             // square of a deferred value
            ab.mul(&r)?,              // broadcasting [6, 7] x [6, 1]
            r.mul(&r)?.mul(&ab)?,     // broadcasting the other way
            ab.mul(&c)?.mul(&b)?,     // three products deep
            ab.add(&a.mul(&c)?)?,     // deferred + deferred
            ab.add(&c)?,              // deferred + settled (settles)
            ab.sum(&[1], false)?,     // a reduction of a deferred value
            ab.mul_scalar(-0.75)?,    // public factor
            ab.add_scalar(2.5)?,      // public offset
            ab.neg().reshape(&[42])?, // local maps
        ];
        results
            .iter()
            .map(CrypTensor::get_plain_text)
            .collect::<Result<Vec<_>>>()
    }) {
        let ab = &x * &y;
        let expected = [
            ab.clone(),
            &ab * &z,
            &z * &ab,
            &ab * &(&x * &z),
            &ab * &ab,
            &ab * &row,
            &(&row * &row) * &ab,
            &(&ab * &z) * &y,
            &ab + &(&x * &z),
            &ab + &z,
            ab.sum_axis(ndarray::Axis(1)),
            ab.mapv(|v| -0.75 * v),
            ab.mapv(|v| v + 2.5),
            ab.mapv(|v| -v).into_shape_with_order(IxDyn(&[42])).unwrap(),
        ];
        // Each truncation is off by at most one unit, magnified by the other factor (|.| <= 64
        // here); the encoding of the inputs adds half a unit each.
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            let tol = 200.0 * ULP;
            let d = max_diff(g, e);
            assert!(d <= tol, "#{i} {label}: max |diff| {d}");
        }
    }
}

#[test]
fn matmuls_and_convolutions_settle_deferred_operands() {
    let (x, w1, w2) = (
        values(&[5, 8], 5, 2.0),
        values(&[8, 6], 6, 1.0),
        values(&[6, 3], 7, 1.0),
    );
    for (label, (got, rounds)) in each_setting(|sess| {
        let a = CrypTensor::from_array(sess, &x, 0)?;
        let b = CrypTensor::from_array(sess, &w1, 1)?;
        let c = CrypTensor::from_array(sess, &w2, 2)?;
        let before = sess.stats();
        let h = a.matmul(&b)?; // 1 round, deferred
        let out = h.matmul(&c)?; // 1 to settle h, 1 for the product
        let again = h.matmul(&c)?; // h already settled: 1
        let rounds = sess.stats().since(&before).rounds;
        let got = [out.get_plain_text()?, again.get_plain_text()?];
        Ok((got, rounds))
    }) {
        let expected = x.dot_2d(&w1).dot_2d(&w2);
        for g in &got {
            let d = max_diff(g, &expected);
            assert!(d <= 100.0 * ULP, "{label}: max |diff| {d}");
        }
        assert_eq!(rounds, 4, "{label}");
    }
}

#[test]
fn comparisons_read_deferred_values_without_settling() {
    let (x, y) = (values(&[64], 8, 3.0), values(&[64], 9, 3.0));
    for (label, (relu, ltz, mask, relu_rounds)) in each_setting(|sess| {
        let a = CrypTensor::from_array(sess, &x, 0)?;
        let b = CrypTensor::from_array(sess, &y, 1)?;
        let ab = a.mul(&b)?;
        let before = sess.stats();
        let relu = ab.relu()?;
        // The relu's bit product truncated the deferred input: no round to settle it.
        assert!(!relu.is_deferred());
        relu.reshape(&[64, 1])?.matmul(&b.reshape(&[1, 64])?)?;
        let relu_rounds = sess.stats().since(&before).rounds;
        let ltz = ab.ltz()?;
        let (_, mask) = ab.relu_with_mask()?;
        Ok((
            relu.get_plain_text()?,
            ltz.get_plain_text()?,
            mask.get_plain_text()?,
            relu_rounds,
        ))
    }) {
        let ab = &x * &y;
        // The truncation is off by at most one unit.
        assert!(max_diff(&relu, &ab.mapv(|v| v.max(0.0))) <= ULP, "{label}");
        // The sign of the untruncated product is the sign of its truncation.
        let neg = ab.mapv(|v| f64::from(u8::from(v < 0.0)));
        assert_eq!(ltz, neg, "{label}");
        assert_eq!(mask, neg.mapv(|v| 1.0 - v), "{label}");
        assert_eq!(
            relu_rounds, 5,
            "{label}: relu of a deferred value, then a matmul"
        );
    }
}

#[test]
fn settled_values_keep_their_full_range_next_to_deferred_ones() {
    // 2^40 is far beyond a product's range (2^30) but inside the encoder's (2^46): adding it
    // to a deferred product must settle the product, not scale the large value up.
    let big = ArrayD::from_elem(IxDyn(&[4]), (1u64 << 40) as f64);
    let small = values(&[4], 10, 2.0);
    for (label, (sum, cat)) in each_setting(|sess| {
        let a = CrypTensor::from_array(sess, &small, 0)?;
        let b = CrypTensor::from_array(sess, &big, 1)?;
        let sq = a.mul(&a)?;
        let sum = sq.add(&b)?.get_plain_text()?;
        let cat = CrypTensor::cat(&[&sq, &b], 0)?.get_plain_text()?;
        Ok((sum, cat))
    }) {
        let sq = &small * &small;
        assert!(max_diff(&sum, &(&sq + &big)) <= 2.0 * ULP, "{label}");
        let expected = ndarray::concatenate(ndarray::Axis(0), &[sq.view(), big.view()]).unwrap();
        assert!(max_diff(&cat, &expected) <= 2.0 * ULP, "{label}");
    }
}

#[test]
fn product_chains_cost_one_round_per_product() {
    for (label, rounds) in each_setting(|sess| {
        let x = CrypTensor::from_array(sess, &values(&[100], 11, 1.0), 0)?;
        let y = CrypTensor::from_array(sess, &values(&[100], 12, 1.0), 1)?;
        let before = sess.stats();
        let p = x.mul(&y)?.mul(&x)?.square()?.mul(&y)?;
        let products = sess.stats().since(&before).rounds;
        p.get_plain_text()?;
        let with_reveal = sess.stats().since(&before).rounds;
        Ok((products, with_reveal))
    }) {
        assert_eq!(rounds, (4, 5), "{label}");
    }
}

/// `ndarray`'s 2-d product for dynamic-dimensional arrays.
trait Dot2d {
    fn dot_2d(&self, other: &ArrayD<f64>) -> ArrayD<f64>;
}

impl Dot2d for ArrayD<f64> {
    fn dot_2d(&self, other: &ArrayD<f64>) -> ArrayD<f64> {
        let a = self.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let b = other.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        a.dot(&b).into_dyn()
    }
}
