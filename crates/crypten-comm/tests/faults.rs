//! Failures surface as errors naming the peer and the operation, quickly, on both
//! communicators: a peer that left, a peer that is silent, a peer running another program,
//! and misuse of the API.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

mod common;

use common::{KINDS, Kind, config, endpoints, run, tcp_endpoints};
use crypten_comm::{CommConfig, Communicator, Error, MAX_OP_NAME};
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[test]
fn dropped_peer_is_peer_closed_quickly() {
    for kind in KINDS {
        run(endpoints(kind, 3, config()), |comm| {
            let me = comm.rank();
            let peers: Vec<usize> = (0..3).filter(|&p| p != me).collect();
            let sends = peers.iter().map(|&p| (p, vec![me as u8; 8])).collect();
            comm.exchange("setup", sends, &peers).unwrap();
            if me == 2 {
                // Leaves mid-protocol, after one last frame to party 0.
                comm.send(0, "last", vec![42]).unwrap();
                drop(comm);
                return;
            }
            if me == 0 {
                assert_eq!(comm.recv(2, "last").unwrap(), [42]);
            }
            let started = Instant::now();
            match comm.recv(2, "mul") {
                Err(Error::PeerClosed { peer: 2, op }) => assert_eq!(op, "mul"),
                other => panic!("{kind:?}: {other:?}"),
            }
            assert!(started.elapsed() < Duration::from_secs(2), "{kind:?}");
            // The two remaining parties still talk to each other.
            let peer = 1 - me;
            let got = comm
                .exchange("after", vec![(peer, vec![me as u8])], &[peer])
                .unwrap();
            assert_eq!(got, [[peer as u8]]);
        });
    }
}

#[test]
fn silent_peer_is_timeout() {
    // Party 1 is alive (over TCP its keepalives flow) but never sends: the idle limit, here
    // the same as the receive timeout, ends the wait.
    let cfg = CommConfig {
        recv_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(200),
        ..config()
    };
    for kind in KINDS {
        let barrier = Barrier::new(2);
        run(endpoints(kind, 2, cfg.clone()), |comm| {
            if comm.rank() == 0 {
                let started = Instant::now();
                match comm.recv(1, "relu") {
                    Err(Error::Timeout { peer: 1, op, after }) => {
                        assert_eq!((op.as_str(), after), ("relu", Duration::from_millis(200)));
                    }
                    other => panic!("{kind:?}: {other:?}"),
                }
                let elapsed = started.elapsed();
                assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2));
            }
            // Party 1 stays connected (and silent) until party 0 has timed out.
            barrier.wait();
        });
    }
}

#[test]
fn different_programs_diverge() {
    for kind in KINDS {
        run(endpoints(kind, 2, config()), |comm| {
            let me = comm.rank();
            let peer = 1 - me;
            comm.exchange("agree", vec![(peer, vec![])], &[peer])
                .unwrap();
            let op = if me == 0 { "mul" } else { "relu" };
            match comm.exchange(op, vec![(peer, vec![1, 2])], &[peer]) {
                Err(Error::Diverged {
                    peer: p,
                    expected,
                    got,
                }) => {
                    let other = if me == 0 { "relu" } else { "mul" };
                    assert_eq!(p, peer);
                    assert_eq!(expected, format!("op `{op}` #1"));
                    assert_eq!(got, format!("op `{other}` #1"));
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        });
    }
}

#[test]
fn misuse_is_rejected_before_sending() {
    for kind in KINDS {
        run(endpoints(kind, 2, config()), |comm| {
            let me = comm.rank();
            for bad in [me, 2, usize::MAX] {
                assert!(matches!(
                    comm.send(bad, "x", vec![]),
                    Err(Error::InvalidPeer { peer, rank, world_size: 2 }) if peer == bad && rank == me
                ));
                assert!(matches!(
                    comm.recv(bad, "x"),
                    Err(Error::InvalidPeer { .. })
                ));
            }
            let long = "o".repeat(MAX_OP_NAME + 1);
            assert!(matches!(
                comm.send(1 - me, &long, vec![]),
                Err(Error::InvalidOp { len, max: MAX_OP_NAME, .. }) if len == MAX_OP_NAME + 1
            ));
            assert_eq!(comm.stats().snapshot().messages_sent, 0);
        });
    }
}

#[test]
fn sending_to_a_dropped_memory_peer_fails() {
    let mut comms = endpoints(Kind::Memory, 2, config());
    drop(comms.pop());
    assert!(matches!(
        comms[0].send(1, "x", vec![1]),
        Err(Error::PeerClosed { peer: 1, .. })
    ));
}

#[test]
fn tcp_drop_does_not_hang_when_the_peer_is_dead() {
    let mut comms = tcp_endpoints(2, config());
    let survivor = comms.remove(0);
    drop(comms);
    // Queue far more than the socket buffers hold, for a peer that is gone.
    for _ in 0..4 {
        let _ = survivor.send(1, "big", vec![0; 8 << 20]);
    }
    let started = Instant::now();
    drop(survivor);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn tcp_drop_delivers_what_was_queued() {
    let mut comms = tcp_endpoints(2, config());
    let receiver = comms.pop().unwrap();
    let sender = comms.pop().unwrap();
    sender.send(1, "bye", vec![5; 20 << 20]).unwrap();
    drop(sender);
    assert_eq!(receiver.recv(0, "bye").unwrap().len(), 20 << 20);
    assert!(matches!(
        receiver.recv(0, "more"),
        Err(Error::PeerClosed { peer: 0, .. })
    ));
}

#[test]
fn an_aborting_peer_tells_everyone_why() {
    for kind in KINDS {
        run(endpoints(kind, 3, config()), |comm| {
            if comm.rank() == 1 {
                // Control characters in a reason (terminal escapes) must not reach a log.
                comm.abort("party 2 closed the connection during `mul`\u{1b}[2J");
                drop(comm);
                return;
            }
            match comm.recv(1, "relu") {
                Err(Error::Aborted {
                    peer: 1,
                    op,
                    reason,
                }) => {
                    assert_eq!(op, "relu");
                    assert_eq!(reason, "party 2 closed the connection during `mul`?[2J");
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        });
    }
}

#[test]
fn tcp_an_abort_reaches_a_party_waiting_on_someone_else() {
    // Party 0 waits on party 2, which is alive and silent; party 1 gives up. Party 0 must
    // learn it at once, from party 1, rather than time out blaming party 2.
    let barrier = Barrier::new(2);
    run(endpoints(Kind::Tcp, 3, config()), |comm| {
        match comm.rank() {
            0 => {
                let started = Instant::now();
                match comm.recv(2, "mul") {
                    Err(Error::Aborted {
                        peer: 1,
                        op,
                        reason,
                    }) => {
                        assert_eq!(op, "mul");
                        assert_eq!(reason, "party 3 closed the connection during `ttp`");
                    }
                    other => panic!("{other:?}"),
                }
                assert!(started.elapsed() < Duration::from_secs(2));
                barrier.wait();
            }
            1 => comm.abort("party 3 closed the connection during `ttp`"),
            _ => {
                barrier.wait();
            }
        }
    });
}

#[test]
fn tcp_a_closed_peer_is_blamed_only_for_itself() {
    // Party 2 aborts after party 1 died. Party 0, waiting on party 1, names party 1 however
    // its threads see the two connections end: directly, or through party 2's reason.
    run(endpoints(Kind::Tcp, 3, config()), |comm| {
        match comm.rank() {
            0 => {
                match comm.recv(1, "mul") {
                    Err(
                        e @ (Error::PeerClosed { peer: 1, .. } | Error::Aborted { peer: 2, .. }),
                    ) => {
                        assert!(
                            e.to_string().contains("party 1 closed the connection"),
                            "{e}"
                        );
                    }
                    other => panic!("{other:?}"),
                }
                match comm.recv(2, "mul") {
                    Err(Error::Aborted {
                        peer: 2, reason, ..
                    }) => {
                        assert_eq!(reason, "party 1 closed the connection during `mul`");
                    }
                    other => panic!("{other:?}"),
                }
            }
            1 => drop(comm),
            _ => {
                match comm.recv(1, "mul") {
                    Err(e @ Error::PeerClosed { peer: 1, .. }) => comm.abort(&e.to_string()),
                    other => panic!("{other:?}"),
                }
                // Sending after an abort is refused here, not blamed on a peer.
                assert!(matches!(
                    comm.send(0, "mul", vec![1]),
                    Err(Error::SelfAborted { .. })
                ));
            }
        }
    });
}

#[test]
fn tcp_a_last_frame_before_a_close_is_always_delivered() {
    // The peer sends its last frame and leaves at once, as a party does after its final
    // share: the frame must arrive whether `recv` is already waiting or comes after the
    // reader thread has seen the end of the stream.
    for round in 0..60 {
        run(endpoints(Kind::Tcp, 2, config()), |comm| {
            if comm.rank() == 1 {
                comm.send(0, "last", vec![round as u8]).unwrap();
                return;
            }
            if round % 2 == 1 {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(
                comm.recv(1, "last").unwrap(),
                [round as u8],
                "round {round}"
            );
            assert!(matches!(
                comm.recv(1, "after"),
                Err(Error::PeerClosed { peer: 1, .. })
            ));
        });
    }
}

#[test]
fn tcp_a_flood_on_a_link_nobody_reads_is_held_to_the_queue_bound() {
    let limit = 4 << 20;
    let cfg = CommConfig {
        max_queued_bytes: limit,
        ..config()
    };
    let frame = 1 << 20;
    let frames = 48;
    let comms = common::tcp_endpoints(2, cfg);
    std::thread::scope(|s| {
        for comm in &comms {
            s.spawn(move || {
                if comm.rank() == 1 {
                    for i in 0..frames {
                        comm.send(0, "flood", vec![i as u8; frame]).unwrap();
                    }
                } else {
                    // Not reading yet: the backlog stops at the bound; the rest waits in TCP
                    // and at the sender.
                    std::thread::sleep(Duration::from_millis(500));
                    let queued = comm.queued_bytes(1);
                    assert!(queued <= limit, "{queued} bytes queued, bound {limit}");
                    assert!(queued > 0, "the reader delivered nothing");
                    for i in 0..frames {
                        assert_eq!(comm.recv(1, "flood").unwrap(), vec![i as u8; frame]);
                    }
                }
            });
        }
    });
}

#[test]
fn the_keepalive_name_is_reserved() {
    for kind in KINDS {
        run(endpoints(kind, 2, config()), |comm| {
            let peer = 1 - comm.rank();
            assert!(
                matches!(
                    comm.send(peer, "!keepalive", vec![]),
                    Err(Error::ReservedOp { .. })
                ),
                "{kind:?}"
            );
        });
    }
}
