//! Accuracy of the non-linear functions against f64 on dense grids over their documented
//! domains, with 2 and 3 parties (the trusted third party at least once per function), and
//! their documented behaviour outside the domain.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::FixedPointEncoder;
use crypten_mpc::simulator::run_with;
use crypten_mpc::{Config, CrypTensor, NormOrd, ProviderKind, SigmoidMethod};
use ndarray::{ArrayD, IxDyn};

const ULP: f64 = 1.0 / 65536.0;
const TTP: ProviderKind = ProviderKind::TrustedThirdParty;
const TFP: ProviderKind = ProviderKind::InsecureTrustedFirstParty;

fn config(provider: ProviderKind) -> Config {
    Config {
        provider,
        ..Config::default()
    }
}

/// The value the parties actually compute on: `x` rounded to the fixed-point grid.
fn quantize(x: f64) -> f64 {
    let enc = FixedPointEncoder::default();
    enc.decode_scalar(enc.encode_scalar(x).unwrap())
}

fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

fn logspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    linspace(lo.ln(), hi.ln(), n)
        .into_iter()
        .map(f64::exp)
        .collect()
}

/// Runs `f` on `xs` (shared by party 0) with `parties` parties and returns the revealed
/// outputs.
fn eval<F>(parties: usize, cfg: Config, xs: &[f64], f: F) -> Vec<f64>
where
    F: Fn(&CrypTensor) -> crypten_mpc::Result<CrypTensor> + Send + Sync,
{
    let input = ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs.to_vec()).unwrap();
    let out = run_with(parties, cfg, |sess| {
        let x = CrypTensor::from_array(&sess, &input, 0)?;
        f(&x)?.get_plain_text()
    })
    .unwrap();
    out[0].iter().copied().collect()
}

/// Asserts `|got - f(x)| <= rel * |f(x)| + abs` at every grid point (with `x` quantized) and
/// returns the largest absolute and relative errors seen.
fn check(name: &str, xs: &[f64], got: &[f64], f: impl Fn(f64) -> f64, rel: f64, abs: f64) {
    let (mut worst_abs, mut worst_rel) = (0.0f64, 0.0f64);
    for (&x, &y) in xs.iter().zip(got) {
        let want = f(quantize(x));
        let err = (y - want).abs();
        assert!(
            err <= rel * want.abs() + abs,
            "{name}({x}) = {y}, want {want}: error {err:e} over {rel:e} * |f| + {abs:e}"
        );
        worst_abs = worst_abs.max(err);
        if want.abs() > 0.0 {
            worst_rel = worst_rel.max(err / want.abs());
        }
    }
    eprintln!("{name}: max abs error {worst_abs:.3e}, max rel error {worst_rel:.3e}");
}

/// Runs `f` with 2 parties (TTP) and 3 parties (TFP) and checks both.
fn check_both<F, R>(name: &str, xs: &[f64], f: F, reference: R, rel: f64, abs: f64)
where
    F: Fn(&CrypTensor) -> crypten_mpc::Result<CrypTensor> + Send + Sync + Copy,
    R: Fn(f64) -> f64 + Copy,
{
    let got = eval(2, config(TTP), xs, f);
    check(
        &format!("{name} (2 parties)"),
        xs,
        &got,
        reference,
        rel,
        abs,
    );
    let got = eval(3, config(TFP), xs, f);
    check(
        &format!("{name} (3 parties)"),
        xs,
        &got,
        reference,
        rel,
        abs,
    );
}

#[test]
fn exp_is_accurate_on_its_domain() {
    let xs = linspace(-10.0, 10.0, 4001);
    check_both("exp", &xs, |x| x.exp(), f64::exp, 1e-3, 3.0 * ULP);
    // Below -10 the result is within a few units of 0, down to -56.
    let xs = linspace(-56.0, -10.0, 2001);
    check_both("exp (low)", &xs, |x| x.exp(), f64::exp, 1.0, 4.0 * ULP);
}

#[test]
fn reciprocal_is_accurate_from_1e_minus_4_to_65536() {
    let mut xs = logspace(1e-4, 65000.0, 3001);
    xs.extend(logspace(1e-4, 65000.0, 1001).iter().map(|x| -x));
    check_both(
        "reciprocal",
        &xs,
        |x| x.reciprocal(),
        |x| 1.0 / x,
        4e-4,
        3.0 * ULP,
    );
    let xs = logspace(1e-4, 65000.0, 3001);
    check_both(
        "reciprocal_positive",
        &xs,
        |x| x.reciprocal_positive(),
        |x| 1.0 / x,
        4e-4,
        3.0 * ULP,
    );
}

#[test]
fn reciprocal_is_within_one_percent_on_the_issue_range_where_representable() {
    // 1% relative on [1e-3, 1e4] holds wherever 1/x is at least 300 units of the last place
    // (x <= 218); beyond, 1/x itself has fewer than 7 significant bits at 16 fractional bits
    // and the bound is 3 units of the last place.
    let xs = logspace(1e-3, 218.0, 2001);
    let got = eval(2, config(TFP), &xs, |x| x.reciprocal());
    check("reciprocal (1%)", &xs, &got, |x| 1.0 / x, 1e-2, 0.0);
}

#[test]
fn reciprocal_is_within_one_percent_on_the_whole_issue_range_with_24_fractional_bits() {
    // At 24 fractional bits 1/1e4 has 1678 units of the last place, so 1% relative holds on
    // all of [1e-3, 1e4]. Three parties: their truncation is exact, where 2-party local
    // truncation would fail too often on products this large.
    let xs = logspace(1e-3, 1e4, 2001);
    let cfg = Config {
        frac_bits: 24,
        ..config(TFP)
    };
    let got = eval(3, cfg, &xs, |x| x.reciprocal());
    let enc = FixedPointEncoder::new(24).unwrap();
    let q = |x: f64| enc.decode_scalar(enc.encode_scalar(x).unwrap());
    let worst = xs
        .iter()
        .zip(&got)
        .map(|(&x, &y)| {
            let want = 1.0 / q(x);
            let rel = (y - want).abs() / want;
            assert!(rel <= 1e-2, "1/{x} = {y}, want {want}");
            rel
        })
        .fold(0.0, f64::max);
    eprintln!("reciprocal at 24 bits on [1e-3, 1e4]: max rel error {worst:.3e}");
}

#[test]
fn sqrt_and_inv_sqrt_are_accurate_on_their_domain() {
    let xs = logspace(2f64.powi(-16), 1e6, 3001);
    check_both("sqrt", &xs, |x| x.sqrt(), f64::sqrt, 2e-4, 3.0 * ULP);
    check_both(
        "inv_sqrt",
        &xs,
        |x| x.inv_sqrt(),
        |x| 1.0 / x.sqrt(),
        2e-4,
        2.0 * ULP,
    );
    // 1% relative on [1e-3, 1e4] with no absolute allowance.
    let xs = logspace(1e-3, 1e4, 2001);
    let got = eval(2, config(TFP), &xs, |x| x.sqrt());
    check("sqrt (1%)", &xs, &got, f64::sqrt, 1e-2, 0.0);
}

#[test]
fn log_is_accurate_from_1e_minus_4_to_1e6() {
    let xs = logspace(1e-4, 1e6, 4001);
    check_both("log", &xs, |x| x.log(), f64::ln, 0.0, 3e-4);
}

#[test]
fn out_of_domain_inputs_saturate_as_documented() {
    let xs = [0.0, -1.0, -1000.0, 2f64.powi(21), 1e7];
    let f = |x: &CrypTensor| {
        let r = x.reciprocal_positive()?;
        let s = x.sqrt()?;
        let i = x.inv_sqrt()?;
        let l = x.log()?;
        CrypTensor::stack(&[&r, &s, &i, &l], 0)
    };
    for parties in [2, 3] {
        let got = eval(parties, config(TFP), &xs, f);
        let n = xs.len();
        let (r, s, i, l) = (&got[..n], &got[n..2 * n], &got[2 * n..3 * n], &got[3 * n..]);
        // x <= 0: reciprocal_positive 2^16, sqrt 0, inv_sqrt 2^8, log -16 ln 2.
        for k in 0..3 {
            assert!(
                (r[k] / 65536.0 - 1.0).abs() <= 4e-4,
                "reciprocal_positive({}) = {}",
                xs[k],
                r[k]
            );
            assert_eq!(s[k], 0.0, "sqrt({})", xs[k]);
            assert!(
                (i[k] / 256.0 - 1.0).abs() < 2e-4,
                "inv_sqrt({}) = {}",
                xs[k],
                i[k]
            );
            assert!(
                (l[k] + 16.0 * std::f64::consts::LN_2).abs() < 1e-3,
                "log({})",
                xs[k]
            );
        }
        // Above 2^20: reciprocal 0, sqrt 2^10, inv_sqrt 2^-10, log 20 ln 2.
        for k in 3..5 {
            assert_eq!(r[k], 0.0);
            assert!(
                (s[k] / 1024.0 - 1.0).abs() < 2e-4,
                "sqrt({}) = {}",
                xs[k],
                s[k]
            );
            assert!((i[k] - 1.0 / 1024.0).abs() < 2.0 * ULP);
            assert!((l[k] - 20.0 * std::f64::consts::LN_2).abs() < 1e-3);
        }
    }
    // reciprocal(0) = 2^16; division by 0 multiplies by 2^16.
    let got = eval(2, config(TFP), &[0.0], |x| x.reciprocal());
    assert!((got[0] / 65536.0 - 1.0).abs() <= 4e-4, "{got:?}");
}

#[test]
fn division_of_two_secrets() {
    let ys = linspace(-1000.0, 1000.0, 801)
        .into_iter()
        .filter(|y| y.abs() > 0.01)
        .collect::<Vec<_>>();
    let xs: Vec<f64> = ys
        .iter()
        .enumerate()
        .map(|(i, _)| (i as f64 - 400.0) * 2.5)
        .collect();
    let input_x = ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs.clone()).unwrap();
    let input_y = ArrayD::from_shape_vec(IxDyn(&[ys.len()]), ys.clone()).unwrap();
    for (parties, provider) in [(2, TTP), (3, TFP)] {
        let out = run_with(parties, config(provider), |sess| {
            let x = CrypTensor::from_array(&sess, &input_x, 0)?;
            let y = CrypTensor::from_array(&sess, &input_y, 1)?;
            x.div(&y)?.get_plain_text()
        })
        .unwrap();
        let mut worst = 0.0f64;
        for ((x, y), got) in xs.iter().zip(&ys).zip(out[0].iter()) {
            let want = quantize(*x) / quantize(*y);
            let err = (got - want).abs();
            assert!(
                err <= 4e-4 * want.abs() + 4.0 * ULP,
                "{x}/{y} = {got}, want {want}"
            );
            worst = worst.max(err);
        }
        eprintln!("div ({parties} parties): max abs error {worst:.3e}");
    }
}

#[test]
fn division_broadcasts() {
    let x =
        ArrayD::from_shape_vec(IxDyn(&[3, 4]), (0..12).map(|i| i as f64 - 5.5).collect()).unwrap();
    let y = ArrayD::from_shape_vec(IxDyn(&[4]), vec![0.5, -2.0, 3.0, 100.0]).unwrap();
    let out = run_with(2, config(TFP), |sess| {
        let a = CrypTensor::from_array(&sess, &x, 0)?;
        let b = CrypTensor::from_array(&sess, &y, 1)?;
        a.div(&b)?.get_plain_text()
    })
    .unwrap();
    assert_eq!(out[0].shape(), &[3, 4]);
    for ((i, j), got) in out[0].indexed_iter().map(|(ix, v)| ((ix[0], ix[1]), v)) {
        let want = x[[i, j]] / y[j];
        assert!(
            (got - want).abs() <= 4e-4 * want.abs() + 4.0 * ULP,
            "{got} vs {want}"
        );
    }
}

#[test]
fn sigmoid_and_tanh_are_accurate_everywhere() {
    let mut xs = linspace(-20.0, 20.0, 4001);
    xs.extend([-1000.0, -100.0, 100.0, 1000.0, 30000.0]);
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    check_both("sigmoid", &xs, |x| x.sigmoid(), sig, 0.0, 5.0 * ULP);
    check_both("tanh", &xs, |x| x.tanh(), f64::tanh, 0.0, 8.0 * ULP);
    let cfg = Config {
        provider: TFP,
        functions: crypten_mpc::FunctionConfig {
            sigmoid_method: SigmoidMethod::Reciprocal,
            ..Default::default()
        },
        ..Config::default()
    };
    for parties in [2, 3] {
        let got = eval(parties, cfg.clone(), &xs, |x| x.sigmoid());
        check(
            "sigmoid (reciprocal method)",
            &xs,
            &got,
            sig,
            0.0,
            12.0 * ULP,
        );
        let got = eval(parties, cfg.clone(), &xs, |x| x.tanh());
        check(
            "tanh (reciprocal method)",
            &xs,
            &got,
            f64::tanh,
            0.0,
            24.0 * ULP,
        );
    }
}

/// erf by Simpson's rule on `2/sqrt(pi) exp(-t^2)`: independent of the library's series.
fn erf_reference(x: f64) -> f64 {
    let n = 2000;
    let h = x / n as f64;
    let g = |t: f64| (-t * t).exp();
    let mut s = g(0.0) + g(x);
    for i in 1..n {
        s += g(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
}

#[test]
fn erf_and_gelu_are_accurate_everywhere() {
    let mut xs = linspace(-8.0, 8.0, 3201);
    xs.extend([-500.0, 500.0]);
    check_both("erf", &xs, |x| x.erf(), erf_reference, 0.0, 6.0 * ULP);
    let got = eval(2, config(TFP), &[2.0], |x| x.erf());
    assert!(
        (got[0] - 0.995_322_265).abs() < 5.0 * ULP,
        "erf(2) = {}",
        got[0]
    );
    let gelu = |x: f64| x * 0.5 * (1.0 + erf_reference(x / std::f64::consts::SQRT_2));
    let xs = linspace(-12.0, 12.0, 2401);
    check_both("gelu", &xs, |x| x.gelu(), gelu, 0.0, 6.0 * ULP);
    let gelu_tanh = |x: f64| {
        let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
        0.5 * x * (1.0 + inner.tanh())
    };
    check_both(
        "gelu_tanh",
        &xs,
        |x| x.gelu_tanh(),
        gelu_tanh,
        0.0,
        6.0 * ULP,
    );
}

#[test]
fn sin_and_cos_are_accurate() {
    let mut xs = linspace(-20.0, 20.0, 4001);
    xs.extend(linspace(-1000.0, 1000.0, 501));
    check_both("sin", &xs, |x| x.sin(), f64::sin, 0.0, 3e-4);
    check_both("cos", &xs, |x| x.cos(), f64::cos, 0.0, 3e-4);
}

#[test]
fn integer_powers_are_exact_and_fractional_powers_accurate() {
    let xs = linspace(-3.0, 3.0, 601);
    for p in [0u32, 1, 2, 3, 5, 7, 9] {
        let got = eval(2, config(TFP), &xs, |x| x.pow_int(p));
        check(
            &format!("x^{p}"),
            &xs,
            &got,
            |x| x.powi(p as i32),
            2e-4,
            4.0 * ULP,
        );
    }
    // x^5 is x^5 (CrypTen returns x^6).
    let got = eval(3, config(TTP), &[2.0, -1.5], |x| x.pow(5.0));
    assert!(
        (got[0] - 32.0).abs() < 1e-2 && (got[1] + 7.59375).abs() < 1e-2,
        "{got:?}"
    );
    let xs = linspace(0.9, 1.1, 101);
    let got = eval(2, config(TFP), &xs, |x| x.pow_int(100));
    check("x^100", &xs, &got, |x| x.powi(100), 2e-2, 8.0 * ULP);
    let xs = logspace(0.01, 100.0, 501);
    check_both(
        "x^1.5",
        &xs,
        |x| x.pow(1.5),
        |x| x.powf(1.5),
        2e-3,
        4.0 * ULP,
    );
    check_both("x^-1", &xs, |x| x.pow(-1.0), |x| 1.0 / x, 4e-4, 3.0 * ULP);
}

#[test]
fn polynomials_and_chebyshev_series() {
    let xs = linspace(-2.0, 2.0, 401);
    let coeffs = [0.5, -1.0, 0.25, 2.0, -0.125, 0.0, 0.03125];
    let poly = |x: f64| {
        coeffs
            .iter()
            .enumerate()
            .map(|(k, c)| c * x.powi(k as i32))
            .sum::<f64>()
    };
    check_both(
        "polynomial",
        &xs,
        |x| x.polynomial(&coeffs),
        poly,
        1e-4,
        8.0 * ULP,
    );
    check_both(
        "approximate(atan)",
        &xs,
        |x| x.approximate(f64::atan, 24, -2.0, 2.0),
        f64::atan,
        0.0,
        12.0 * ULP,
    );
}

#[test]
fn softmax_and_log_softmax_match_f64() {
    // Rows with small and very large spreads (beyond the clamp), 2 and 3 parties.
    // 300 columns: beyond the comparison-free reciprocal's range (the general one is used).
    for (rows, cols) in [(40, 10), (4, 100), (2, 300)] {
        let xs: Vec<f64> = (0..rows * cols)
            .map(|i| {
                let spread = [1.0, 5.0, 30.0, 300.0][i / cols % 4];
                ((i * 7919 % 1000) as f64 / 500.0 - 1.0) * spread
            })
            .collect();
        let input = ArrayD::from_shape_vec(IxDyn(&[rows, cols]), xs.clone()).unwrap();
        for (parties, provider) in [(2, TTP), (3, TFP)] {
            let out = run_with(parties, config(provider), |sess| {
                let x = CrypTensor::from_array(&sess, &input, 0)?;
                Ok((
                    x.softmax(1)?.get_plain_text()?,
                    x.log_softmax(1)?.get_plain_text()?,
                ))
            })
            .unwrap();
            let (soft, logsoft) = &out[0];
            let (mut worst, mut worst_log) = (0.0f64, 0.0f64);
            for r in 0..rows {
                let row: Vec<f64> = (0..cols).map(|c| quantize(xs[r * cols + c])).collect();
                let m = row.iter().copied().fold(f64::MIN, f64::max);
                let z: f64 = row.iter().map(|v| (v - m).exp()).sum();
                for c in 0..cols {
                    let want = (row[c] - m).exp() / z;
                    let err = (soft[[r, c]] - want).abs();
                    assert!(
                        err <= 16.0 * ULP,
                        "softmax[{r},{c}] = {} want {want} ({parties} parties)",
                        soft[[r, c]]
                    );
                    worst = worst.max(err);
                    let want_log = row[c] - m - z.ln();
                    let err = (logsoft[[r, c]] - want_log).abs();
                    assert!(
                        err <= 3e-3,
                        "log_softmax[{r},{c}] = {} want {want_log}",
                        logsoft[[r, c]]
                    );
                    worst_log = worst_log.max(err);
                }
            }
            eprintln!(
                "softmax {rows}x{cols} ({parties} parties): max abs error {worst:.3e}; log_softmax {worst_log:.3e}"
            );
        }
    }
}

#[test]
fn norms_variance_and_layer_norm() {
    let (rows, cols) = (6, 50);
    let xs: Vec<f64> = (0..rows * cols)
        .map(|i| ((i * 37 % 101) as f64 / 50.0 - 1.0) * (1.0 + (i / cols) as f64 * 3.0))
        .collect();
    let input = ArrayD::from_shape_vec(IxDyn(&[rows, cols]), xs.clone()).unwrap();
    let gamma: Vec<f64> = (0..cols).map(|c| 0.5 + c as f64 / 50.0).collect();
    let beta: Vec<f64> = (0..cols).map(|c| c as f64 / 100.0 - 0.25).collect();
    let gamma_arr = ArrayD::from_shape_vec(IxDyn(&[cols]), gamma.clone()).unwrap();
    let beta_arr = ArrayD::from_shape_vec(IxDyn(&[cols]), beta.clone()).unwrap();
    for (parties, provider) in [(2, TTP), (3, TFP)] {
        let out = run_with(parties, config(provider), |sess| {
            let x = CrypTensor::from_array(&sess, &input, 0)?;
            let g = CrypTensor::from_array(&sess, &gamma_arr, 1)?;
            let b = CrypTensor::from_array(&sess, &beta_arr, 1)?;
            Ok((
                x.var(&[1], false, true)?.get_plain_text()?,
                x.std(&[1], false, false)?.get_plain_text()?,
                x.norm(NormOrd::L2, &[1], false)?.get_plain_text()?,
                x.norm(NormOrd::L1, &[1], false)?.get_plain_text()?,
                x.layer_norm(1, Some(&g), Some(&b), 1e-5)?
                    .get_plain_text()?,
            ))
        })
        .unwrap();
        let (var, std, l2, l1, ln) = &out[0];
        for r in 0..rows {
            let row: Vec<f64> = (0..cols).map(|c| quantize(xs[r * cols + c])).collect();
            let mean = row.iter().sum::<f64>() / cols as f64;
            let ss: f64 = row.iter().map(|v| (v - mean).powi(2)).sum();
            let close = |got: f64, want: f64, what: &str| {
                assert!(
                    (got - want).abs() <= 1e-3 * want.abs() + 1e-3,
                    "{what} row {r}: {got} vs {want} ({parties} parties)"
                );
            };
            close(var[r], ss / (cols - 1) as f64, "var");
            close(std[r], (ss / cols as f64).sqrt(), "std");
            close(l2[r], row.iter().map(|v| v * v).sum::<f64>().sqrt(), "l2");
            close(l1[r], row.iter().map(|v| v.abs()).sum::<f64>(), "l1");
            let inv = 1.0 / (ss / cols as f64 + 1e-5).sqrt();
            for c in 0..cols {
                let want = (row[c] - mean) * inv * gamma[c] + beta[c];
                assert!(
                    (ln[[r, c]] - want).abs() <= 2e-3,
                    "layer_norm[{r},{c}] {} vs {want}",
                    ln[[r, c]]
                );
            }
        }
    }
}

#[test]
fn function_config_is_validated() {
    let mut cfg = Config::default();
    cfg.functions.exp_squarings = 0;
    assert!(cfg.validate().is_err());
    let mut cfg = Config::default();
    cfg.functions.softmax_clamp = f64::NAN;
    assert!(cfg.validate().is_err());
    assert!(Config::default().validate().is_ok());
}
