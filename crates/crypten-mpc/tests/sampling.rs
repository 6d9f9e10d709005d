//! Statistical tests of random sampling with fixed seeds (`Config::seed`), for 2 and 3
//! parties: sample mean and variance within four standard errors of the distribution's, and a
//! goodness-of-fit statistic (Kolmogorov-Smirnov or chi-squared) below its 0.1% critical
//! value.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_mpc::simulator::run_with;
use crypten_mpc::{Config, CrypTensor, ProviderKind, Session};
use ndarray::{ArrayD, IxDyn};

const N: usize = 20_000;

fn seeded(provider: ProviderKind, seed: u8) -> Config {
    Config {
        provider,
        seed: Some([seed; 16]),
        ..Config::default()
    }
}

/// Draws with `sample` at every party and returns the revealed values; all parties must see
/// the same ones.
fn draw<F>(parties: usize, cfg: Config, sample: F) -> Vec<f64>
where
    F: Fn(&Session) -> crypten_mpc::Result<CrypTensor> + Send + Sync,
{
    let out = run_with(parties, cfg, |sess| sample(&sess)?.get_plain_text()).unwrap();
    assert!(out.windows(2).all(|w| w[0] == w[1]));
    out[0].iter().copied().collect()
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// The Kolmogorov-Smirnov statistic of `xs` against the CDF `cdf`.
fn ks(xs: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// The 0.1% critical value of the KS statistic for `n` samples.
fn ks_critical(n: usize) -> f64 {
    1.95 / (n as f64).sqrt()
}

fn erf(x: f64) -> f64 {
    crypten_mpc::functions::erf_f64(x)
}

#[test]
fn uniform_samples_are_uniform_and_on_the_grid() {
    for (parties, provider) in [
        (2, ProviderKind::TrustedThirdParty),
        (3, ProviderKind::InsecureTrustedFirstParty),
    ] {
        let xs = draw(parties, seeded(provider, 1), |s| CrypTensor::rand(s, &[N]));
        assert!(
            xs.iter()
                .all(|&x| (0.0..1.0).contains(&x) && (x * 65536.0).fract() == 0.0)
        );
        let (mean, var) = mean_var(&xs);
        let se = (1.0 / 12.0 / N as f64).sqrt();
        assert!((mean - 0.5).abs() < 4.0 * se, "mean {mean}");
        assert!(
            (var - 1.0 / 12.0).abs() < 4.0 * (1.0 / 180.0 / N as f64).sqrt(),
            "var {var}"
        );
        // Chi-squared over 20 bins, 19 degrees of freedom: 0.1% critical value 43.82.
        let mut counts = [0usize; 20];
        for x in &xs {
            counts[(x * 20.0) as usize] += 1;
        }
        let expected = N as f64 / 20.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 43.82, "chi2 {chi2}");
        let d = ks(&xs, |x| x.clamp(0.0, 1.0));
        assert!(d < ks_critical(N), "KS {d}");
        eprintln!(
            "rand ({parties} parties): mean {mean:.4}, var {var:.5}, chi2 {chi2:.1}, KS {d:.4}"
        );
    }
}

#[test]
fn samples_depend_on_every_partys_randomness() {
    // Changing the shared test seed changes every party's stream, so compare runs whose only
    // difference is the seed: the samples must differ, and a repeated seed must repeat them.
    let a = draw(2, seeded(ProviderKind::InsecureTrustedFirstParty, 5), |s| {
        CrypTensor::rand(s, &[64])
    });
    let b = draw(2, seeded(ProviderKind::InsecureTrustedFirstParty, 6), |s| {
        CrypTensor::rand(s, &[64])
    });
    let c = draw(2, seeded(ProviderKind::InsecureTrustedFirstParty, 5), |s| {
        CrypTensor::rand(s, &[64])
    });
    assert_ne!(a, b);
    assert_eq!(a, c);
    // Without a seed, runs differ.
    let cfg = Config {
        provider: ProviderKind::InsecureTrustedFirstParty,
        ..Config::default()
    };
    let d = draw(2, cfg.clone(), |s| CrypTensor::rand(s, &[64]));
    let e = draw(2, cfg, |s| CrypTensor::rand(s, &[64]));
    assert_ne!(d, e);
}

#[test]
fn normal_samples_are_standard_normal() {
    for (parties, provider) in [
        (2, ProviderKind::TrustedThirdParty),
        (3, ProviderKind::InsecureTrustedFirstParty),
    ] {
        let xs = draw(parties, seeded(provider, 2), |s| CrypTensor::randn(s, &[N]));
        let (mean, var) = mean_var(&xs);
        assert!(mean.abs() < 4.0 / (N as f64).sqrt(), "mean {mean}");
        assert!(
            (var - 1.0).abs() < 4.0 * (2.0 / N as f64).sqrt(),
            "var {var}"
        );
        let d = ks(&xs, |x| 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2)));
        assert!(d < ks_critical(N), "KS {d}");
        assert!(xs.iter().all(|x| x.abs() < 4.8));
        eprintln!("randn ({parties} parties): mean {mean:.4}, var {var:.4}, KS {d:.4}");
    }
}

#[test]
fn laplace_samples_match_the_distribution() {
    let (loc, b) = (1.5, 0.5);
    for (parties, provider) in [
        (2, ProviderKind::TrustedThirdParty),
        (3, ProviderKind::InsecureTrustedFirstParty),
    ] {
        let xs = draw(parties, seeded(provider, 3), |s| {
            CrypTensor::laplace(s, &[N], loc, b)
        });
        let (mean, var) = mean_var(&xs);
        let sd = (2.0f64).sqrt() * b;
        assert!(
            (mean - loc).abs() < 4.0 * sd / (N as f64).sqrt(),
            "mean {mean}"
        );
        // The variance of the sample variance of a Laplace is (mu4 - sigma^4)/n = 5 sigma^4/n.
        assert!(
            (var - sd * sd).abs() < 4.0 * (5.0f64).sqrt() * sd * sd / (N as f64).sqrt(),
            "var {var}"
        );
        let cdf = |x: f64| {
            if x < loc {
                0.5 * ((x - loc) / b).exp()
            } else {
                1.0 - 0.5 * (-(x - loc) / b).exp()
            }
        };
        let d = ks(&xs, cdf);
        assert!(d < ks_critical(N), "KS {d}");
        eprintln!("laplace ({parties} parties): mean {mean:.4}, var {var:.4}, KS {d:.4}");
    }
}

#[test]
fn bernoulli_samples_have_the_right_rates() {
    // Half the elements with p = 0.3, half with p = 0.85; probabilities secret (party 1's).
    let p: Vec<f64> = (0..N)
        .map(|i| if i % 2 == 0 { 0.3 } else { 0.85 })
        .collect();
    let probs = ArrayD::from_shape_vec(IxDyn(&[N]), p).unwrap();
    for (parties, provider) in [
        (2, ProviderKind::TrustedThirdParty),
        (3, ProviderKind::InsecureTrustedFirstParty),
    ] {
        let xs = draw(parties, seeded(provider, 4), |s| {
            CrypTensor::from_array(s, &probs, 1)?.bernoulli()
        });
        assert!(xs.iter().all(|&x| x == 0.0 || x == 1.0));
        for (offset, rate) in [(0, 0.3), (1, 0.85)] {
            let hits = xs.iter().skip(offset).step_by(2).sum::<f64>();
            let n = (N / 2) as f64;
            let se = (rate * (1.0 - rate) / n).sqrt();
            assert!(
                (hits / n - rate).abs() < 4.0 * se,
                "rate {} vs {rate}",
                hits / n
            );
        }
    }
}

#[test]
fn weighted_index_samples_follow_the_weights() {
    let weights = [1.0, 0.0, 2.0, 3.0, 4.0];
    let rows = 10_000;
    let w: Vec<f64> = (0..rows).flat_map(|_| weights).collect();
    let w = ArrayD::from_shape_vec(IxDyn(&[rows, weights.len()]), w).unwrap();
    for (parties, provider) in [
        (2, ProviderKind::TrustedThirdParty),
        (3, ProviderKind::InsecureTrustedFirstParty),
    ] {
        let xs = draw(parties, seeded(provider, 8), |s| {
            CrypTensor::from_array(s, &w, 0)?.sample_index()
        });
        let mut counts = [0.0; 5];
        for row in xs.chunks(weights.len()) {
            assert_eq!(row.iter().sum::<f64>(), 1.0, "one-hot {row:?}");
            for (c, &v) in counts.iter_mut().zip(row) {
                *c += v;
            }
        }
        assert_eq!(counts[1], 0.0, "a zero weight was drawn");
        // Chi-squared over the 4 drawable categories, 3 degrees of freedom: 0.1% at 16.27.
        let total: f64 = weights.iter().sum();
        let chi2: f64 = [0, 2, 3, 4]
            .iter()
            .map(|&j| {
                let e = rows as f64 * weights[j] / total;
                (counts[j] - e).powi(2) / e
            })
            .sum();
        assert!(chi2 < 16.27, "chi2 {chi2}, counts {counts:?}");
        eprintln!("sample_index ({parties} parties): counts {counts:?}, chi2 {chi2:.2}");
    }
}
