//! One party's view of ltz does not depend on the secret: a deterministic statistical test.
//!
//! Two runs with fixed seeds (so the test never flakes) compute ltz of secrets whose every
//! sign differs: all +1.5 and all -1.5, held by party 0, with a trusted third party. Party 1's
//! communicator records everything it receives during ltz; with its output share that is its
//! whole view beyond its own seeds. The view must have the same shape in both runs (the same
//! frames, ops and lengths, so nothing branches on the secret), and its words must look
//! uniform in both: a chi-square test on each bit position and on the byte histogram, per run
//! and between the two runs.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_comm::{Communicator, MemoryComm, Stats};
use crypten_core::Seed;
use crypten_dealer::run_ttp_seeded;
use crypten_mpc::{Config, CrypTensor, ProviderKind, Session};
use ndarray::{ArrayD, IxDyn};
use std::sync::{Arc, Mutex};

/// A frame received: (peer, op, payload).
type Frame = (usize, String, Vec<u8>);

/// Frames received.
type Log = Arc<Mutex<Vec<Frame>>>;

/// A communicator that records every frame it receives.
struct Recorder {
    inner: MemoryComm,
    log: Log,
}

impl Communicator for Recorder {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn world_size(&self) -> usize {
        self.inner.world_size()
    }
    fn send(&self, peer: usize, op: &str, payload: Vec<u8>) -> crypten_comm::Result<()> {
        self.inner.send(peer, op, payload)
    }
    fn recv(&self, peer: usize, op: &str) -> crypten_comm::Result<Vec<u8>> {
        let payload = self.inner.recv(peer, op)?;
        self.log
            .lock()
            .unwrap()
            .push((peer, op.to_string(), payload.clone()));
        Ok(payload)
    }
    fn stats(&self) -> &Stats {
        self.inner.stats()
    }
}

/// Party 1's view of `ltz` on `n` copies of `secret`: the frames received and its output
/// share.
fn view_of_ltz(secret: f64, n: usize, seed: Seed) -> (Vec<Frame>, Vec<u64>) {
    let config = Config {
        provider: ProviderKind::TrustedThirdParty,
        seed: Some(seed),
        ..Config::default()
    };
    let mut comms = MemoryComm::create(3, config.comm.clone());
    let dealer = comms.pop().unwrap();
    let log: Log = Arc::default();
    let x = ArrayD::from_elem(IxDyn(&[n]), secret);
    std::thread::scope(|scope| {
        scope.spawn(|| run_ttp_seeded(&dealer, 2, Some(&seed)).unwrap());
        let mut handles = Vec::new();
        for comm in comms {
            let (config, log, x) = (config.clone(), log.clone(), &x);
            handles.push(scope.spawn(move || {
                let rank = comm.rank();
                let comm: Box<dyn Communicator> = if rank == 1 {
                    Box::new(Recorder { inner: comm, log })
                } else {
                    Box::new(comm)
                };
                let sess = Session::new(comm, 2, config).unwrap();
                let t = CrypTensor::from_array(&sess, x, 0).unwrap();
                let out = t.ltz().unwrap();
                sess.close().unwrap();
                out.share().unwrap().data().to_vec()
            }));
        }
        let shares: Vec<Vec<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let frames = log.lock().unwrap().clone();
        // Drop the set-up frames (seeds): everything before the first ltz frame.
        let first = frames
            .iter()
            .position(|(_, op, _)| op.starts_with("bittest"))
            .unwrap();
        (frames[first..].to_vec(), shares[1].clone())
    })
}

/// Words of all payloads of one op.
fn words(frames: &[Frame], op: &str) -> Vec<u64> {
    frames
        .iter()
        .filter(|(_, o, _)| o == op)
        .flat_map(|(_, _, p)| {
            p.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        })
        .collect()
}

/// Chi-square of the one-counts of bit positions `bits` against fair coins (one degree of
/// freedom each).
fn bit_chi2(words: &[u64], bits: std::ops::Range<u32>) -> f64 {
    let n = words.len() as f64;
    bits.map(|b| {
        let ones = words.iter().filter(|&&w| w >> b & 1 == 1).count() as f64;
        (2.0 * ones - n).powi(2) / n
    })
    .sum()
}

/// Chi-square of the byte histogram against uniform (255 degrees of freedom).
fn byte_chi2(words: &[u64]) -> f64 {
    let mut counts = [0f64; 256];
    for w in words {
        for b in w.to_le_bytes() {
            counts[b as usize] += 1.0;
        }
    }
    let expected = words.len() as f64 * 8.0 / 256.0;
    counts
        .iter()
        .map(|c| (c - expected).powi(2) / expected)
        .sum()
}

/// Two-sample chi-square of the bit positions' one-counts (64 degrees of freedom).
fn two_sample_chi2(a: &[u64], b: &[u64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    (0..64)
        .map(|bit| {
            let ones = |w: &[u64]| w.iter().filter(|&&x| x >> bit & 1 == 1).count() as f64;
            let (oa, ob) = (ones(a), ones(b));
            let p = (oa + ob) / (na + nb);
            let var = p * (1.0 - p) * (1.0 / na + 1.0 / nb);
            (oa / na - ob / nb).powi(2) / var
        })
        .sum()
}

#[test]
fn the_view_of_ltz_is_independent_of_the_secret() {
    let n = 8192;
    let (frames_a, share_a) = view_of_ltz(1.5, n, [11; 16]);
    let (frames_b, share_b) = view_of_ltz(-1.5, n, [22; 16]);
    // The same frames, ops and lengths: no data-dependent control flow.
    let shape = |f: &[Frame]| -> Vec<(usize, String, usize)> {
        f.iter().map(|(p, o, d)| (*p, o.clone(), d.len())).collect()
    };
    assert_eq!(shape(&frames_a), shape(&frames_b));
    assert!(
        frames_a.iter().all(|(peer, _, _)| *peer == 0),
        "only party 0 talks to 1"
    );
    // The ops of ltz: the masked opening (one word per value), the two tree levels and the
    // conversion's packed bits.
    let parts: Vec<(String, Vec<u64>, Vec<u64>)> = ["bittest.open", "bittest.tree", "b2a.bits"]
        .iter()
        .map(|op| (op.to_string(), words(&frames_a, op), words(&frames_b, op)))
        .collect();
    // The output share is a uniform word times the public scale 2^16: its top 48 bits, moved
    // down, must look uniform (the byte test then sees 6 random bytes and 2 zero bytes, so
    // it only runs on the messages).
    let scaled_down = |s: Vec<u64>| s.iter().map(|w| w >> 16).collect::<Vec<_>>();
    let (share_a, share_b) = (scaled_down(share_a), scaled_down(share_b));
    // Thresholds far in the tails (about 6 standard deviations): with fixed seeds the test is
    // deterministic, and a real leak (a constant bit, say) exceeds them by orders of magnitude.
    let limit = |dof: f64| dof + 6.0 * (2.0 * dof).sqrt();
    for (name, a, b) in &parts {
        assert!(a.len() >= 128, "{name}: {} words", a.len());
        for (run, w) in [("+1.5", a), ("-1.5", b)] {
            let bits = bit_chi2(w, 0..64);
            let bytes = byte_chi2(w);
            assert!(bits < limit(64.0), "{name} ({run}): bit chi2 {bits}");
            assert!(bytes < limit(255.0), "{name} ({run}): byte chi2 {bytes}");
        }
        let between = two_sample_chi2(a, b);
        assert!(between < limit(64.0), "{name}: two-sample chi2 {between}");
    }
    for (run, w) in [("+1.5", &share_a), ("-1.5", &share_b)] {
        let bits = bit_chi2(w, 0..48);
        assert!(bits < limit(48.0), "output share ({run}): bit chi2 {bits}");
    }
    // Sanity checks of the test itself: the secrets' own encodings fail it badly, and so
    // would a view that carried them in a single bit position.
    let plain: Vec<u64> = vec![(3u64 << 15).wrapping_neg(); n];
    assert!(bit_chi2(&plain, 0..64) > 1000.0);
    let leaky: Vec<u64> = parts[0].1.iter().map(|w| w & !1).collect();
    assert!(bit_chi2(&leaky, 0..64) > limit(64.0));
}
