//! Connection set-up over loopback: through a master (torch.distributed style) and from an
//! address table, including endpoints that disagree about the world.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

mod common;

use common::{config, free_addr, payload};
use crypten_comm::{CommConfig, Communicator, Error, NetComm};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::{Duration, Instant};

/// A connection to `addr`, retried until something listens there.
fn connect_when_listening(addr: SocketAddr) -> std::net::TcpStream {
    loop {
        if let Ok(c) = std::net::TcpStream::connect(addr) {
            return c;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn short() -> CommConfig {
    CommConfig {
        connect_timeout: Duration::from_secs(3),
        ..config()
    }
}

#[test]
fn three_endpoints_meet_through_a_master() {
    let master = free_addr();
    thread::scope(|s| {
        // Started in reverse order, and rank 0 late: the others must wait for the master.
        let handles: Vec<_> = (0..3)
            .rev()
            .map(|rank| {
                s.spawn(move || {
                    if rank == 0 {
                        thread::sleep(Duration::from_millis(100));
                    }
                    let comm = NetComm::rendezvous(rank, 3, master, config()).unwrap();
                    assert_eq!((comm.rank(), comm.world_size()), (rank, 3));
                    let peers: Vec<usize> = (0..3).filter(|&p| p != rank).collect();
                    let sends = peers
                        .iter()
                        .map(|&p| (p, payload(rank, p, 0, 1000)))
                        .collect();
                    let got = comm.exchange("hello", sends, &peers).unwrap();
                    for (&p, bytes) in peers.iter().zip(&got) {
                        assert_eq!(*bytes, payload(p, rank, 0, 1000));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn a_single_endpoint_needs_nobody() {
    let comm = NetComm::rendezvous(0, 1, free_addr(), config()).unwrap();
    assert_eq!(comm.world_size(), 1);
}

/// Runs `rendezvous` for each `(rank, world_size)` on its own thread; returns the results.
fn meet(claims: &[(usize, usize)], cfg: CommConfig) -> Vec<Result<NetComm, Error>> {
    let master = free_addr();
    thread::scope(|s| {
        let handles: Vec<_> = claims
            .iter()
            .map(|&(rank, size)| {
                let cfg = cfg.clone();
                s.spawn(move || NetComm::rendezvous(rank, size, master, cfg))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn message(result: &Result<NetComm, Error>) -> String {
    match result {
        Err(Error::Rendezvous(m)) => m.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn master_rejects_a_different_world_size() {
    let started = Instant::now();
    let results = meet(&[(0, 2), (1, 3)], short());
    assert!(message(&results[0]).contains("world size mismatch"));
    assert!(message(&results[1]).contains("closed the connection"));
    // Rejected at once, not when the connect timeout expires.
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[test]
fn master_rejects_a_duplicate_rank() {
    let results = meet(&[(0, 3), (1, 3), (1, 3)], short());
    assert!(
        message(&results[0]).contains("duplicate rank"),
        "{:?}",
        results[0]
    );
    assert!(
        results[1..]
            .iter()
            .any(|r| matches!(r, Err(Error::Rendezvous(_))))
    );
}

#[test]
fn master_times_out_waiting_for_a_missing_rank() {
    let cfg = CommConfig {
        connect_timeout: Duration::from_millis(500),
        ..config()
    };
    let results = meet(&[(0, 3), (1, 3)], cfg);
    assert!(message(&results[0]).contains("timed out waiting for parties [2]"));
    assert!(matches!(results[1], Err(Error::Rendezvous(_))));
}

#[test]
fn address_tables_of_different_lengths_are_rejected() {
    let l0 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let a0 = l0.local_addr().unwrap();
    let a1 = l1.local_addr().unwrap();
    let (r0, r1) = thread::scope(|s| {
        let h0 = s.spawn(move || NetComm::from_listener(0, l0, &[a0, a1], short()));
        let h1 = s.spawn(move || NetComm::from_listener(1, l1, &[a0, a1, a1], short()));
        (h0.join().unwrap(), h1.join().unwrap())
    });
    assert!(message(&r0).contains("world size mismatch"));
    assert!(matches!(r1, Err(Error::Rendezvous(_))));
}

#[test]
fn connect_binds_its_own_address() {
    let addrs: Vec<SocketAddr> = (0..2).map(|_| free_addr()).collect();
    thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|rank| {
                let addrs = &addrs;
                s.spawn(move || {
                    let comm = NetComm::connect(rank, addrs, config()).unwrap();
                    let peer = 1 - rank;
                    comm.send_u64(peer, "x", &[rank as u64]).unwrap();
                    assert_eq!(comm.recv_u64(peer, "x", 1).unwrap(), [peer as u64]);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn unreachable_peer_and_bad_rank_fail_cleanly() {
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [free_addr(), l1.local_addr().unwrap()];
    let cfg = CommConfig {
        connect_timeout: Duration::from_millis(300),
        ..config()
    };
    let started = Instant::now();
    let result = NetComm::from_listener(1, l1, &addrs, cfg.clone());
    assert!(message(&result).contains("could not connect to party 0"));
    assert!(started.elapsed() < Duration::from_secs(2));

    let result = NetComm::connect(2, &addrs, cfg.clone());
    assert!(message(&result).contains("out of range"));
    let result = NetComm::rendezvous(3, 3, addrs[0], cfg);
    assert!(message(&result).contains("out of range"));
}

#[test]
fn stray_connections_at_the_master_do_not_stop_the_rendezvous() {
    use std::io::Write;
    let master = free_addr();
    let cfg = CommConfig {
        connect_timeout: Duration::from_secs(15),
        ..config()
    };
    thread::scope(|s| {
        let rank0 = {
            let cfg = cfg.clone();
            s.spawn(move || NetComm::rendezvous(0, 3, master, cfg))
        };
        // Strangers reach the master first: one connects and closes, one speaks HTTP, one
        // sends garbage, one stays silent (it holds the listener for one handshake timeout).
        let connect = || connect_when_listening(master);
        drop(connect());
        let mut http = connect();
        let _ = http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut garbage = connect();
        let _ = garbage.write_all(&[0xff; 100]);
        let silent = connect();
        let others: Vec<_> = (1..3)
            .map(|rank| {
                let cfg = cfg.clone();
                s.spawn(move || NetComm::rendezvous(rank, 3, master, cfg))
            })
            .collect();
        let started = Instant::now();
        let comm0 = rank0.join().unwrap().expect("the master proceeds");
        let comms: Vec<NetComm> = others
            .into_iter()
            .map(|h| h.join().unwrap().expect("the parties proceed"))
            .collect();
        assert!(started.elapsed() < Duration::from_secs(12));
        comm0.send(1, "x", b"after strangers".to_vec()).unwrap();
        assert_eq!(comms[0].recv(0, "x").unwrap(), b"after strangers");
        drop((http, garbage, silent));
    });
}

#[test]
fn a_stranger_trickling_bytes_is_dropped_after_one_handshake_timeout() {
    use std::io::Write;
    let master = free_addr();
    // Longer than the handshake timeout (5 s), shorter than the trickle: a listener that only
    // bounded each read would wait for the stranger until this deadline and fail.
    let cfg = CommConfig {
        connect_timeout: Duration::from_secs(12),
        ..config()
    };
    thread::scope(|s| {
        let rank0 = {
            let cfg = cfg.clone();
            s.spawn(move || NetComm::rendezvous(0, 2, master, cfg))
        };
        let mut stranger = connect_when_listening(master);
        // A well-formed frame header announcing 1000 bytes of payload, then one byte every
        // 0.5 s for 15 s: never a whole hello, never 5 s of silence.
        let mut head = b"CRY\x02".to_vec();
        head.extend_from_slice(&cfg.channel.to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        head.push(5);
        head.extend_from_slice(&1000u64.to_le_bytes());
        head.extend_from_slice(b"hello");
        assert_eq!(head.len(), crypten_comm::FRAME_HEADER_BYTES + 5);
        stranger.write_all(&head).unwrap();
        let trickle = s.spawn(move || {
            for _ in 0..30 {
                if stranger.write_all(&[0x01]).is_err() {
                    return true;
                }
                thread::sleep(Duration::from_millis(500));
            }
            false
        });
        thread::sleep(Duration::from_millis(200));
        let rank1 = {
            let cfg = cfg.clone();
            s.spawn(move || NetComm::rendezvous(1, 2, master, cfg))
        };
        let comm0 = rank0.join().unwrap().expect("the master proceeds");
        let comm1 = rank1.join().unwrap().expect("the party proceeds");
        comm0.send(1, "x", b"after the trickle".to_vec()).unwrap();
        assert_eq!(comm1.recv(0, "x").unwrap(), b"after the trickle");
        assert!(
            trickle.join().unwrap(),
            "the stranger's connection was shut down"
        );
    });
}
