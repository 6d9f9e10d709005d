//! A raw socket in place of a peer: hand-made hellos and frames, including garbage, must give
//! clean errors, never a panic or a hang.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

use super::*;
use crate::frame::{FRAME_HEADER_BYTES, encode_frame};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

fn config() -> CommConfig {
    CommConfig {
        recv_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_frame_bytes: 1 << 20,
        ..CommConfig::default()
    }
}

fn hello(rank: u64, world_size: u64) -> Vec<u8> {
    let payload = [rank.to_le_bytes(), world_size.to_le_bytes()].concat();
    encode_frame(0, 0, "crypten/hello", &payload)
}

/// Starts rank 0 of a world of two on a thread and connects a raw socket to it.
fn rank0_with_raw_socket(cfg: CommConfig) -> (thread::JoinHandle<Result<NetComm>>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Rank 0 only accepts, so the second address is never dialled.
    let addrs = [addr, addr];
    let rank0 = thread::spawn(move || NetComm::from_listener(0, listener, &addrs, cfg));
    let raw = TcpStream::connect(addr).unwrap();
    (rank0, raw)
}

/// A raw socket that completed a valid handshake as rank 1.
fn connected_raw_peer() -> (NetComm, TcpStream) {
    let (rank0, mut raw) = rank0_with_raw_socket(config());
    raw.write_all(&hello(1, 2)).unwrap();
    let mut reply = vec![0u8; hello(0, 2).len()];
    raw.read_exact(&mut reply).unwrap();
    assert_eq!(reply, hello(0, 2));
    (rank0.join().unwrap().unwrap(), raw)
}

fn header(seq: u64, op_len: u8, payload_len: u64) -> Vec<u8> {
    let mut bytes = encode_frame(0, seq, "", &[]);
    bytes[12] = op_len;
    bytes[13..FRAME_HEADER_BYTES].copy_from_slice(&payload_len.to_le_bytes());
    bytes
}

#[test]
fn valid_frames_from_a_raw_peer_are_checked_in_sequence() {
    let (comm, mut raw) = connected_raw_peer();
    raw.write_all(&encode_frame(0, 0, "open", b"abc")).unwrap();
    raw.write_all(&encode_frame(0, 5, "open", b"def")).unwrap();
    assert_eq!(comm.recv(1, "open").unwrap(), b"abc");
    match comm.recv(1, "open") {
        Err(Error::Diverged {
            peer: 1,
            expected,
            got,
        }) => {
            assert_eq!(expected, "op `open` #1");
            assert_eq!(got, "op `open` #5");
        }
        other => panic!("{other:?}"),
    }
    // What this endpoint sends reaches the raw socket in the documented format.
    comm.send(1, "open", vec![9; 3]).unwrap();
    let mut frame = vec![0u8; encode_frame(0, 0, "open", &[9; 3]).len()];
    raw.read_exact(&mut frame).unwrap();
    assert_eq!(frame, encode_frame(0, 0, "open", &[9; 3]));
}

#[test]
fn bad_magic_is_malformed() {
    let (comm, mut raw) = connected_raw_peer();
    raw.write_all(&[0xab; 64]).unwrap();
    match comm.recv(1, "mul") {
        Err(Error::Malformed {
            peer: 1,
            op,
            reason,
        }) => {
            assert_eq!(op, "mul");
            assert!(reason.contains("magic"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The stream cannot be trusted any more: later receives fail too, without waiting.
    let started = Instant::now();
    assert!(matches!(
        comm.recv(1, "mul"),
        Err(Error::PeerClosed { peer: 1, .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn huge_length_is_malformed_without_allocating() {
    let (comm, mut raw) = connected_raw_peer();
    raw.write_all(&header(0, 0, u64::MAX)).unwrap();
    match comm.recv(1, "mul") {
        Err(Error::Malformed {
            peer: 1, reason, ..
        }) => {
            assert!(reason.contains("exceeds"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversize_op_name_and_bad_utf8_are_malformed() {
    let (comm, mut raw) = connected_raw_peer();
    raw.write_all(&header(0, 200, 0)).unwrap();
    assert!(matches!(
        comm.recv(1, "x"),
        Err(Error::Malformed { peer: 1, .. })
    ));

    let (comm, mut raw) = connected_raw_peer();
    let mut bytes = header(0, 2, 0);
    bytes.extend_from_slice(&[0xff, 0xfe]);
    raw.write_all(&bytes).unwrap();
    match comm.recv(1, "x") {
        Err(Error::Malformed { reason, .. }) => assert!(reason.contains("UTF-8"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_frame_is_peer_closed() {
    let (comm, mut raw) = connected_raw_peer();
    raw.write_all(&header(0, 0, 1000)).unwrap();
    raw.write_all(&[0; 10]).unwrap();
    drop(raw);
    let started = Instant::now();
    assert!(matches!(
        comm.recv(1, "mul"),
        Err(Error::PeerClosed { peer: 1, .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn rendezvous_error(handshake: &[u8]) -> String {
    let cfg = CommConfig {
        connect_timeout: Duration::from_secs(1),
        ..config()
    };
    let (rank0, mut raw) = rank0_with_raw_socket(cfg);
    raw.write_all(handshake).unwrap();
    match rank0.join().unwrap() {
        Err(Error::Rendezvous(message)) => message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_hellos_fail_the_rendezvous() {
    let message = rendezvous_error(&hello(1, 3));
    assert!(message.contains("world size mismatch"), "{message}");
    let message = rendezvous_error(&hello(0, 2));
    assert!(message.contains("claims rank 0"), "{message}");
    let message = rendezvous_error(&hello(7, 2));
    assert!(message.contains("claims rank 7"), "{message}");
    let message = rendezvous_error(&encode_frame(0, 0, "crypten/table", &[]));
    assert!(message.contains("expected a `crypten/hello`"), "{message}");
    let message = rendezvous_error(&[0x55; 40]);
    assert!(message.contains("bad `crypten/hello`"), "{message}");
    let message = rendezvous_error(&encode_frame(0, 0, "crypten/hello", &[1, 2, 3]));
    assert!(message.contains("malformed hello"), "{message}");
    // Silence: the deadline applies to the handshake too.
    let message = rendezvous_error(&[]);
    assert!(message.contains("timed out"), "{message}");
}

#[test]
fn a_frame_of_another_channel_diverges() {
    let (comm, mut raw) = connected_raw_peer();
    raw.write_all(&encode_frame(3, 0, "open", b"abc")).unwrap();
    match comm.recv(1, "open") {
        Err(Error::Diverged { peer: 1, got, .. }) => {
            assert_eq!(got, "op `open` of channel 3");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hello_of_another_channel_fails_the_rendezvous() {
    let payload = [1u64.to_le_bytes(), 2u64.to_le_bytes()].concat();
    let message = rendezvous_error(&encode_frame(5, 0, "crypten/hello", &payload));
    assert!(message.contains("channel) 5"), "{message}");
}
