//! Shared helpers of the integration tests: build N endpoints of either communicator and run
//! one closure per endpoint on its own thread.
#![allow(dead_code)]

use crypten_comm::{CommConfig, Communicator, MemoryComm, NetComm};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

/// The two implementations under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Memory,
    Tcp,
}

pub(crate) const KINDS: [Kind; 2] = [Kind::Memory, Kind::Tcp];

/// Short timeouts: a broken test fails in seconds instead of hanging.
pub(crate) fn config() -> CommConfig {
    CommConfig {
        recv_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..CommConfig::default()
    }
}

/// `n` connected TCP endpoints over loopback. Every listener is bound (port 0) before any
/// endpoint starts, so there is no race for free ports.
pub(crate) fn tcp_endpoints(n: usize, cfg: CommConfig) -> Vec<NetComm> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    thread::scope(|s| {
        let handles: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(rank, listener)| {
                let (addrs, cfg) = (&addrs, cfg.clone());
                s.spawn(move || NetComm::from_listener(rank, listener, addrs, cfg).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `n` connected endpoints of the given kind.
pub(crate) fn endpoints(kind: Kind, n: usize, cfg: CommConfig) -> Vec<Box<dyn Communicator>> {
    match kind {
        Kind::Memory => MemoryComm::create(n, cfg)
            .into_iter()
            .map(|c| Box::new(c) as Box<dyn Communicator>)
            .collect(),
        Kind::Tcp => tcp_endpoints(n, cfg)
            .into_iter()
            .map(|c| Box::new(c) as Box<dyn Communicator>)
            .collect(),
    }
}

/// Runs `f` once per endpoint, each on its own thread and owning its endpoint; returns the
/// results in rank order.
pub(crate) fn run<T: Send>(
    comms: Vec<Box<dyn Communicator>>,
    f: impl Fn(Box<dyn Communicator>) -> T + Sync,
) -> Vec<T> {
    thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = comms
            .into_iter()
            .map(|comm| s.spawn(move || f(comm)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A deterministic payload that differs per sender, receiver and round.
pub(crate) fn payload(from: usize, to: usize, round: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 31 + from * 7 + to * 13 + round * 101) as u8)
        .collect()
}

/// A free loopback port for a master address (bound, then released).
pub(crate) fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
