//! Binary shares and conversions against plaintext, for 2, 3, 4 and 5 parties with both
//! providers: XOR sharing, local operations, batched AND, the adder, A2B (whose carry-save tree
//! changes shape with the number of parties), B2A of bits and words, bit products, bit tests;
//! and their round counts.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::{Prg, RingTensor};
use crypten_mpc::protocol::binary::{self, BitTest, SharedBits, a2b, b2a};
use crypten_mpc::protocol::share;
use crypten_mpc::simulator::run;
use crypten_mpc::{ProviderKind, Result, Session};

const PROVIDERS: [ProviderKind; 2] = [
    ProviderKind::TrustedThirdParty,
    ProviderKind::InsecureTrustedFirstParty,
];

/// Random words with edge cases first: 0, all ones, the sign bit alone, its neighbours.
fn words(n: usize, seed: u8) -> Vec<u64> {
    let mut v = vec![
        0,
        u64::MAX,
        1 << 63,
        (1 << 63) - 1,
        1,
        u64::MAX - 1,
        1 << 62,
        0xdead_beef,
    ];
    let mut prg = Prg::from_seed([seed; 16]);
    while v.len() < n {
        v.push(prg.next_u64());
    }
    v.truncate(n);
    v
}

fn tensor(v: &[u64]) -> RingTensor {
    RingTensor::new(&[v.len()], v.to_vec()).unwrap()
}

/// Shares `v` arithmetically from the last party.
fn arith(sess: &Session, v: &RingTensor) -> Result<RingTensor> {
    let src = sess.parties() - 1;
    share::share(sess, src, (sess.rank() == src).then_some(v), v.shape())
}

/// Shares `v` in XOR form from party 0.
fn xor_shared(sess: &Session, v: &RingTensor) -> Result<RingTensor> {
    binary::share(sess, 0, (sess.rank() == 0).then_some(v), v.shape())
}

#[test]
fn xor_sharing_local_ops_and_batched_and() {
    let (x, y) = (words(100, 1), words(100, 2));
    for provider in PROVIDERS {
        for parties in [2, 3, 4, 5] {
            let (xt, yt) = (tensor(&x), tensor(&y));
            let out = run(parties, provider, |sess| {
                let a = xor_shared(&sess, &xt)?;
                let b = binary::share(
                    &sess,
                    parties - 1,
                    (sess.rank() == parties - 1).then_some(&yt),
                    &[100],
                )?;
                let local = binary::xor(&binary::not(&sess, &a), &binary::and_public(&b, 0xff00))?;
                let local = binary::xor_public(&sess, &local.shl(3), &tensor(&[7; 100]))?;
                let before = sess.stats();
                let ands = binary::and_many(&sess, "test.and", &[(&a, &b), (&b, &local)])?;
                let rounds = sess.stats().since(&before).rounds;
                Ok((
                    binary::open(&sess, "test.open", &[&local, &ands[0], &ands[1]])?,
                    rounds,
                    a == xt,
                ))
            })
            .unwrap();
            let label = format!("{parties} parties, {provider:?}");
            for (opened, rounds, share_is_secret) in out {
                let local: Vec<u64> = x
                    .iter()
                    .zip(&y)
                    .map(|(a, b)| ((!a ^ (b & 0xff00)) << 3) ^ 7)
                    .collect();
                assert_eq!(opened[0].data(), &local[..], "local ops, {label}");
                let and: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a & b).collect();
                assert_eq!(opened[1].data(), &and[..], "and, {label}");
                let and2: Vec<u64> = y.iter().zip(&local).map(|(a, b)| a & b).collect();
                assert_eq!(opened[2].data(), &and2[..], "and, {label}");
                assert_eq!(rounds, 1, "{label}");
                assert!(!share_is_secret, "a share must not equal the secret");
            }
        }
    }
}

#[test]
fn adder_a2b_and_b2a_are_exact_and_cost_what_they_document() {
    let (x, y) = (words(130, 3), words(130, 4));
    for provider in PROVIDERS {
        for parties in [2, 3, 4, 5] {
            let (xt, yt) = (tensor(&x), tensor(&y));
            let out = run(parties, provider, |sess| {
                let (ax, bx) = (arith(&sess, &xt)?, xor_shared(&sess, &xt)?);
                let by = xor_shared(&sess, &yt)?;
                let mut rounds = Vec::new();
                let mut timed = |f: &dyn Fn() -> Result<RingTensor>| -> Result<RingTensor> {
                    let before = sess.stats();
                    let r = f()?;
                    rounds.push(sess.stats().since(&before).rounds);
                    Ok(r)
                };
                let sum = timed(&|| a2b::add(&sess, &bx, &by, true))?;
                let converted = timed(&|| a2b::a2b(&sess, &ax))?;
                let back = timed(&|| b2a::b2a(&sess, &by))?;
                Ok((
                    binary::open(&sess, "test.open", &[&sum, &converted])?,
                    share::reveal(&sess, &back)?,
                    rounds,
                ))
            })
            .unwrap();
            let label = format!("{parties} parties, {provider:?}");
            let (opened, back, rounds) = &out[0];
            let sum: Vec<u64> = x
                .iter()
                .zip(&y)
                .map(|(a, b)| a.wrapping_add(*b).wrapping_add(1))
                .collect();
            assert_eq!(opened[0].data(), &sum[..], "adder, {label}");
            assert_eq!(opened[1].data(), &x[..], "a2b, {label}");
            assert_eq!(back.data(), &y[..], "b2a, {label}");
            let csa = a2b::carry_save_levels(parties) as u64;
            assert_eq!(csa, [0, 1, 2, 3][parties - 2]);
            assert_eq!(rounds, &vec![7, csa + 7, 8], "{label}");
        }
    }
}

#[test]
fn bit_conversions_products_and_tests_are_exact() {
    let v = words(150, 5);
    let bits: Vec<u64> = v.iter().map(|w| w >> 7 & 1).collect();
    for provider in PROVIDERS {
        for parties in [2, 3, 5] {
            let (vt, bt) = (tensor(&v), tensor(&bits));
            let out = run(parties, provider, |sess| {
                // Pack the 0/1 bits into a shared bit vector (via a word sharing and the
                // packing every party applies locally to its share).
                let shared = xor_shared(&sess, &bt)?;
                let mut packed = vec![0u64; 150usize.div_ceil(64)];
                for (i, w) in shared.data().iter().enumerate() {
                    packed[i / 64] ^= (w & 1) << (i % 64);
                }
                let b = SharedBits::from_words(150, packed)?;
                let x = arith(&sess, &vt)?;
                let before = sess.stats();
                let as_arith = b2a::bits_to_arith(&sess, &b)?;
                let product = b2a::mul_bits(&sess, &b.not(&sess), &x)?;
                let rounds = sess.stats().since(&before).rounds;
                let sign = binary::bit_test(&sess, &x, BitTest::Sign)?;
                let zero = binary::bit_test(&sess, &x.sub(&x.narrow(0, 0, 1)?)?, BitTest::Zero)?;
                let picked = SharedBits::concat(&[&sign.gather(&[0, 2, 149])?, &zero]);
                Ok((
                    share::reveal(&sess, &as_arith)?,
                    share::reveal(&sess, &product)?,
                    picked.reveal(&sess)?,
                    rounds,
                ))
            })
            .unwrap();
            let label = format!("{parties} parties, {provider:?}");
            let (as_arith, product, picked, rounds) = &out[0];
            assert_eq!(as_arith.data(), &bits[..], "bits to arith, {label}");
            let expected: Vec<u64> = v.iter().zip(&bits).map(|(x, b)| x * (1 - b)).collect();
            assert_eq!(product.data(), &expected[..], "bit product, {label}");
            let sign = |w: u64| w >> 63;
            let mut expected = vec![sign(v[0]), sign(v[2]), sign(v[149])];
            expected.extend(v.iter().map(|&w| u64::from(w == v[0])));
            assert_eq!(picked.data(), &expected[..], "bit tests, {label}");
            assert_eq!(*rounds, 2, "{label}");
        }
    }
}
