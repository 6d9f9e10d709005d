//! Round and byte counts of the arithmetic protocols, asserted from the communicator's stats,
//! with 2, 3 and 4 parties and both providers (the trusted third party included).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::RingTensor;
use crypten_mpc::protocol::{beaver, share, truncate};
use crypten_mpc::simulator::run;
use crypten_mpc::{Bilinear, CrypTensor, ProviderKind};
use ndarray::{ArrayD, IxDyn};

const PROVIDERS: [ProviderKind; 2] = [
    ProviderKind::TrustedThirdParty,
    ProviderKind::InsecureTrustedFirstParty,
];

type BinaryOp = fn(&CrypTensor, &CrypTensor) -> crypten_mpc::Result<()>;

/// Rounds and bytes (sent to other parties and the dealer) of `op` at every party.
fn costs<F>(parties: usize, provider: ProviderKind, op: F) -> Vec<(u64, u64)>
where
    F: Fn(&CrypTensor, &CrypTensor) -> crypten_mpc::Result<()> + Send + Sync,
{
    run(parties, provider, |sess| {
        let x = CrypTensor::from_array(&sess, &ArrayD::from_elem(IxDyn(&[10, 10]), 1.5), 0)?;
        let y = CrypTensor::from_array(&sess, &ArrayD::from_elem(IxDyn(&[10, 10]), -2.0), 1)?;
        let before = sess.stats();
        op(&x, &y)?;
        let d = sess.stats().since(&before);
        Ok((d.rounds, d.bytes_sent))
    })
    .unwrap()
}

#[test]
fn ring_products_cost_one_round_for_any_number_of_parties() {
    for provider in PROVIDERS {
        for parties in [2, 3, 4] {
            for op in [Bilinear::Mul, Bilinear::Matmul] {
                let per_party = costs(parties, provider, |x, y| {
                    beaver::bilinear(x.session(), &op, x.share()?, y.share()?).map(|_| ())
                });
                for (rank, &(rounds, bytes)) in per_party.iter().enumerate() {
                    assert_eq!(
                        rounds, 1,
                        "{op:?} {parties} parties {provider:?} rank {rank}"
                    );
                    // e and f: 200 words to each of the N-1 others, plus headers (and party 0's
                    // small request to a dealer).
                    let payload = 8 * 200 * (parties as u64 - 1);
                    assert!(
                        bytes >= payload && bytes < payload + 400,
                        "bytes {bytes} vs {payload}"
                    );
                }
            }
        }
    }
}

#[test]
fn fixed_point_products_cost_one_round_for_any_number_of_parties() {
    for provider in PROVIDERS {
        let ops: [(&str, BinaryOp); 4] = [
            ("mul", |x, y| x.mul(y).map(|_| ())),
            ("matmul", |x, y| x.matmul(y).map(|_| ())),
            ("square", |x, _| x.square().map(|_| ())),
            ("conv2d", |x, y| {
                let input = x.reshape(&[1, 1, 10, 10])?;
                let weight = y.narrow(0, 0, 3)?.narrow(1, 0, 3)?.reshape(&[1, 1, 3, 3])?;
                let p = crypten_core::Conv2dParams {
                    padding: (1, 1),
                    ..Default::default()
                };
                input.conv2d(&weight, &p).map(|_| ())
            }),
        ];
        // With 3+ parties the truncation is deferred to the result's next opening.
        for (name, op) in ops {
            for parties in [2, 3, 4] {
                for (rank, (rounds, _)) in costs(parties, provider, op).into_iter().enumerate() {
                    assert_eq!(
                        rounds, 1,
                        "{name} {parties} parties {provider:?} rank {rank}"
                    );
                }
            }
        }
    }
}

#[test]
fn linear_operations_and_sharing_are_free() {
    for parties in [2, 3] {
        let per_party = costs(parties, ProviderKind::TrustedThirdParty, |x, y| {
            let sess = x.session();
            let z = x.add(y)?.sub(y)?.neg().mul_int(3).sum(&[0], false)?;
            let _ = z.reshape(&[2, 5])?.transpose(0, 1)?;
            let _ = CrypTensor::from_array(sess, &ArrayD::zeros(IxDyn(&[4])), 1)?;
            Ok(())
        });
        assert!(per_party.iter().all(|&c| c == (0, 0)), "{per_party:?}");
    }
}

#[test]
fn reveal_costs_one_round() {
    for parties in [2, 3, 4] {
        let per_party = costs(parties, ProviderKind::InsecureTrustedFirstParty, |x, _| {
            share::reveal(x.session(), x.share()?).map(|_| ())
        });
        for (rounds, bytes) in per_party {
            assert_eq!(rounds, 1);
            assert!(bytes >= 800 * (parties as u64 - 1));
        }
    }
}

#[test]
fn truncation_is_exact_within_one_unit_for_many_parties() {
    // Values across the whole safe range of a product, including signs and zero.
    let values: Vec<u64> = [
        0i64,
        1,
        -1,
        65535,
        -65536,
        1 << 40,
        -(1 << 40),
        (1 << 61) - 1,
        -(1 << 61),
    ]
    .into_iter()
    .chain((0..200).map(|i| (i as i64 - 100) * 0x0123_4567_89ab))
    .map(|v| v as u64)
    .collect();
    for parties in [2, 3, 4, 5] {
        // Local 2-party truncation fails with probability about |x| / 2^64 per element, so it
        // is checked on |x| <= 2^40 (failure below 2^-24 per element); 3+ parties are exact.
        let values: Vec<u64> = values
            .iter()
            .copied()
            .filter(|&v| parties > 2 || (v as i64).unsigned_abs() <= 1 << 40)
            .collect();
        let n = values.len();
        let plain = RingTensor::new(&[n], values.clone()).unwrap();
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let mine = (sess.rank() == 0).then_some(&plain);
            let x = share::share(&sess, 0, mine, &[n])?;
            let t = truncate::truncate(&sess, &x, 16)?;
            share::reveal(&sess, &t)
        })
        .unwrap();
        for (i, &v) in values.iter().enumerate() {
            let expected = (v as i64) >> 16;
            let got = out[0].data()[i] as i64;
            assert!(
                got == expected || got == expected + 1,
                "{parties} parties: {v:#x} -> {got} vs {expected}"
            );
        }
    }
}
