//! The shaping relay: a link configured as 40 ms / 80 Mbit/s takes at least the round-trip
//! time per exchange and at least the serialization time for a large payload, and delivers
//! every byte unchanged.
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

mod common;

use common::config;
use crypten_comm::{CommConfig, Communicator, LinkShape};
use std::time::{Duration, Instant};

#[test]
fn a_shaped_link_costs_its_latency_and_bandwidth() {
    let cfg = CommConfig {
        link: Some(LinkShape::parse("40ms,80mbit").unwrap()),
        ..config()
    };
    let comms = common::tcp_endpoints(2, cfg);
    std::thread::scope(|s| {
        for comm in &comms {
            s.spawn(move || {
                let peer = 1 - comm.rank();
                // One exchange: at least one RTT... and well under ten.
                let started = Instant::now();
                let got = comm
                    .exchange("ping", vec![(peer, vec![comm.rank() as u8; 10])], &[peer])
                    .unwrap();
                let rtt = started.elapsed();
                assert_eq!(got, vec![vec![peer as u8; 10]]);
                assert!(rtt >= Duration::from_millis(20), "one-way delay: {rtt:?}");
                assert!(rtt < Duration::from_millis(400), "{rtt:?}");
                // 1 MB at 80 Mbit/s: 100 ms on the wire.
                let payload: Vec<u8> = (0..1_000_000).map(|i| (i % 251) as u8).collect();
                let started = Instant::now();
                let got = comm
                    .exchange("bulk", vec![(peer, payload.clone())], &[peer])
                    .unwrap();
                let took = started.elapsed();
                assert_eq!(got[0], payload);
                assert!(took >= Duration::from_millis(100), "bandwidth: {took:?}");
            });
        }
    });
}
