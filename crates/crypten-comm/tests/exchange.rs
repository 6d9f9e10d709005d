//! Exchanges over both communicators with 2, 3 and 5 endpoints, and large simultaneous
//! exchanges that must not deadlock.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

mod common;

use common::{KINDS, Kind, config, endpoints, payload, run};
use std::time::Instant;

#[test]
fn all_to_all_exchanges_deliver_every_payload() {
    for kind in KINDS {
        for n in [2, 3, 5] {
            run(endpoints(kind, n, config()), |comm| {
                let me = comm.rank();
                let peers: Vec<usize> = (0..n).filter(|&p| p != me).collect();
                for round in 0..4 {
                    let op = format!("round{round}");
                    let sends = peers
                        .iter()
                        .map(|&p| (p, payload(me, p, round, 10 * round + p)))
                        .collect();
                    let got = comm.exchange(&op, sends, &peers).unwrap();
                    for (&p, bytes) in peers.iter().zip(&got) {
                        assert_eq!(*bytes, payload(p, me, round, 10 * round + me), "{kind:?}");
                    }
                }
                assert_eq!(comm.stats().snapshot().rounds, 4);
            });
        }
    }
}

#[test]
fn point_to_point_ring_and_u64_helpers() {
    for kind in KINDS {
        for n in [2, 3, 5] {
            run(endpoints(kind, n, config()), |comm| {
                let me = comm.rank();
                let next = (me + 1) % n;
                let prev = (me + n - 1) % n;
                let words: Vec<u64> = (0..100).map(|i| (me as u64) << 32 | i).collect();
                comm.send_u64(next, "ring", &words).unwrap();
                let got = comm.recv_u64(prev, "ring", 100).unwrap();
                assert_eq!(got[99], (prev as u64) << 32 | 99);

                // Everyone opens a value to everyone in one round.
                let sends: Vec<(usize, &[u64])> = (0..n)
                    .filter(|&p| p != me)
                    .map(|p| (p, &words[..p + 1]))
                    .collect();
                let recv_from: Vec<(usize, usize)> =
                    (0..n).filter(|&p| p != me).map(|p| (p, me + 1)).collect();
                let got = comm.exchange_u64("open", &sends, &recv_from).unwrap();
                for (&(p, _), values) in recv_from.iter().zip(&got) {
                    let expected: Vec<u64> =
                        (0..=me as u64).map(|i| (p as u64) << 32 | i).collect();
                    assert_eq!(*values, expected);
                }
                assert_eq!(comm.stats().snapshot().per_op["open"].rounds, 1);
            });
        }
    }
}

#[test]
fn wrong_u64_length_is_malformed() {
    for kind in KINDS {
        run(endpoints(kind, 2, config()), |comm| {
            let peer = 1 - comm.rank();
            comm.send_u64(peer, "w", &[1, 2, 3]).unwrap();
            match comm.recv_u64(peer, "w", 4) {
                Err(crypten_comm::Error::Malformed { peer: p, op, .. }) => {
                    assert_eq!((p, op.as_str()), (peer, "w"));
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        });
    }
}

#[test]
fn fifty_megabytes_both_ways_at_once() {
    const LEN: usize = 50 << 20;
    for kind in KINDS {
        let seconds = run(endpoints(kind, 2, config()), |comm| {
            let me = comm.rank();
            let peer = 1 - me;
            let data = vec![me as u8 + 1; LEN];
            let started = Instant::now();
            let got = comm.exchange("big", vec![(peer, data)], &[peer]).unwrap();
            let elapsed = started.elapsed().as_secs_f64();
            assert_eq!(got[0].len(), LEN);
            assert!(got[0].iter().all(|&b| b == peer as u8 + 1));
            elapsed
        });
        let worst = seconds.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "{kind:?}: 50 MB each way in {:.1} ms ({:.0} MB/s per direction)",
            worst * 1e3,
            50.0 / worst
        );
        if kind == Kind::Tcp {
            assert!(worst < 20.0, "50 MB exchange took {worst} s");
        }
    }
}
