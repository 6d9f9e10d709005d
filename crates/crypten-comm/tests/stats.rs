//! Statistics are exact (header + op name + payload per frame, rounds counted by `exchange`)
//! and identical between the in-memory and the TCP communicator.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

mod common;

use common::{KINDS, config, endpoints, run};
use crypten_comm::{FRAME_HEADER_BYTES, OpStats, StatsSnapshot};
use std::collections::BTreeMap;

const N: usize = 3;

fn frame_bytes(op: &str, payload: usize) -> u64 {
    (FRAME_HEADER_BYTES + op.len() + payload) as u64
}

/// Payload length of a frame from `from` to `to` in the `open` exchange.
fn open_len(from: usize, to: usize) -> usize {
    100 * from + to + 1
}

/// The fixed traffic: one all-to-all `open` round, then party 0 sends two `share` frames to
/// party 1 without a round. Returns each party's statistics before and after.
fn traffic(kind: common::Kind) -> Vec<(StatsSnapshot, StatsSnapshot)> {
    run(endpoints(kind, N, config()), |comm| {
        let me = comm.rank();
        let before = comm.stats().snapshot();
        let peers: Vec<usize> = (0..N).filter(|&p| p != me).collect();
        let sends = peers
            .iter()
            .map(|&p| (p, vec![0; open_len(me, p)]))
            .collect();
        comm.exchange("open", sends, &peers).unwrap();
        if me == 0 {
            comm.send(1, "share", vec![1; 1000]).unwrap();
            comm.send_u64(1, "share", &[7; 5]).unwrap();
        }
        if me == 1 {
            comm.recv(0, "share").unwrap();
            comm.recv_u64(0, "share", 5).unwrap();
        }
        (before, comm.stats().snapshot())
    })
}

fn expected(me: usize) -> StatsSnapshot {
    let peers = (0..N).filter(|&p| p != me);
    let mut open = OpStats {
        rounds: 1,
        ..OpStats::default()
    };
    for p in peers {
        open.bytes_sent += frame_bytes("open", open_len(me, p));
        open.bytes_received += frame_bytes("open", open_len(p, me));
        open.messages_sent += 1;
    }
    let mut per_op = BTreeMap::from([("open".to_owned(), open)]);
    let share_bytes = frame_bytes("share", 1000) + frame_bytes("share", 40);
    match me {
        0 => {
            per_op.insert(
                "share".into(),
                OpStats {
                    bytes_sent: share_bytes,
                    messages_sent: 2,
                    ..OpStats::default()
                },
            );
        }
        1 => {
            per_op.insert(
                "share".into(),
                OpStats {
                    bytes_received: share_bytes,
                    ..OpStats::default()
                },
            );
        }
        _ => {}
    }
    StatsSnapshot {
        bytes_sent: per_op.values().map(|s| s.bytes_sent).sum(),
        bytes_received: per_op.values().map(|s| s.bytes_received).sum(),
        messages_sent: per_op.values().map(|s| s.messages_sent).sum(),
        rounds: per_op.values().map(|s| s.rounds).sum(),
        per_op,
    }
}

#[test]
fn stats_are_exact_and_identical_across_communicators() {
    let results: Vec<_> = KINDS.iter().map(|&kind| traffic(kind)).collect();
    for (kind, parties) in KINDS.iter().zip(&results) {
        for (me, (before, after)) in parties.iter().enumerate() {
            assert_eq!(*before, StatsSnapshot::default(), "{kind:?} party {me}");
            assert_eq!(*after, expected(me), "{kind:?} party {me}");
            assert_eq!(after.since(before), *after);
        }
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn since_isolates_one_phase() {
    for kind in KINDS {
        run(endpoints(kind, 2, config()), |comm| {
            let peer = 1 - comm.rank();
            comm.exchange("warmup", vec![(peer, vec![0; 10])], &[peer])
                .unwrap();
            let mark = comm.stats().snapshot();
            comm.exchange("mul", vec![(peer, vec![0; 64])], &[peer])
                .unwrap();
            comm.exchange("mul", vec![(peer, vec![0; 64])], &[peer])
                .unwrap();
            let phase = comm.stats().snapshot().since(&mark);
            let mul = OpStats {
                bytes_sent: 2 * frame_bytes("mul", 64),
                bytes_received: 2 * frame_bytes("mul", 64),
                messages_sent: 2,
                rounds: 2,
            };
            assert_eq!(phase.per_op, BTreeMap::from([("mul".to_owned(), mul)]));
            assert_eq!(phase.rounds, 2);
            assert_eq!(phase.bytes_sent, mul.bytes_sent);
        });
    }
}
