//! A shaping relay for measuring wide-area links on one machine: latency and bandwidth per
//! connection, in user space (no `netem`). When `CommConfig::link` is set, every connection an
//! endpoint opens goes through a relay in its own process: both directions of the link are
//! delayed by half the round-trip time and paced to the bandwidth, as if the peers were that
//! far apart. The relay copies bytes; it never looks at them (TLS runs through it unchanged).

use crate::{Error, Result};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A link's shape: round-trip time and bandwidth (each direction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkShape {
    /// Round-trip time: each direction is delayed by half of it.
    pub rtt: Duration,
    /// Bits per second in each direction.
    pub bits_per_second: f64,
}

impl LinkShape {
    /// Parses `RTT,BANDWIDTH`, e.g. `25ms,100mbit` (RTT in `us`, `ms` or `s`; bandwidth in
    /// `kbit`, `mbit` or `gbit`).
    ///
    /// # Errors
    /// `Environment`-style message for anything else.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{text}` is not RTT,BANDWIDTH such as 25ms,100mbit");
        let (rtt, bw) = text.split_once(',').ok_or_else(bad)?;
        let number = |s: &str, units: &[(&str, f64)]| -> Option<f64> {
            let s = s.trim().to_ascii_lowercase();
            units.iter().find_map(|(unit, scale)| {
                let v: f64 = s.strip_suffix(unit)?.trim().parse().ok()?;
                (v.is_finite() && v >= 0.0).then_some(v * scale)
            })
        };
        let rtt = number(rtt, &[("ms", 1e-3), ("us", 1e-6), ("s", 1.0)]).ok_or_else(bad)?;
        let bits = number(bw, &[("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9)]).ok_or_else(bad)?;
        if rtt > 10.0 || bits < 1e3 {
            return Err(format!(
                "`{text}`: the round-trip time must be at most 10 s and the bandwidth at least 1kbit"
            ));
        }
        Ok(Self {
            rtt: Duration::from_secs_f64(rtt),
            bits_per_second: bits,
        })
    }

    /// How long `bytes` occupy the link.
    fn serialization(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 * 8.0 / self.bits_per_second)
    }
}

/// The most bytes one chunk carries through the relay: small enough that pacing is smooth.
const CHUNK: usize = 16 << 10;

/// Opens a relay to `target` in this process and returns the address to connect to instead.
/// The relay connects to `target` (retrying until `deadline`, as a direct connection would),
/// then accepts one connection and serves it until either side closes.
///
/// # Errors
/// `Rendezvous` when the relay cannot listen.
pub(crate) fn relay_to(
    target: SocketAddr,
    shape: LinkShape,
    deadline: Instant,
) -> Result<SocketAddr> {
    let listener = TcpListener::bind((target.ip(), 0))
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| Error::Rendezvous(format!("cannot open a shaping relay: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Rendezvous(format!("shaping relay: {e}")))?;
    thread::Builder::new()
        .name("comm-relay".into())
        .spawn(move || {
            let Ok(server) = crate::rendezvous::connect_retrying(target, deadline) else {
                return;
            };
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let forth = thread::spawn(move || pump(client, server, shape));
            pump(s2, c2, shape);
            let _ = forth.join();
        })
        .map_err(|e| Error::Rendezvous(format!("shaping relay: {e}")))?;
    Ok(addr)
}

/// Copies `from` to `to`, each chunk released half an RTT after it arrived and no sooner than
/// the bandwidth allows; then half-closes `to`.
fn pump(mut from: TcpStream, mut to: TcpStream, shape: LinkShape) {
    // Bounded: a slow link pushes back on the sender through TCP, as a real one would.
    let (tx, rx) = mpsc::sync_channel::<(Instant, Vec<u8>)>(64);
    let delay = shape.rtt / 2;
    let sender = thread::spawn(move || {
        let mut free_at = Instant::now();
        for (arrived, chunk) in rx {
            let start = (arrived + delay).max(free_at);
            let done = start + shape.serialization(chunk.len());
            let now = Instant::now();
            if done > now {
                thread::sleep(done - now);
            }
            free_at = done;
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = sender.join();
    let _ = from.shutdown(Shutdown::Read);
}

/// Reads `CRYPTEN_LINK` (`RTT,BANDWIDTH`), if set.
///
/// # Errors
/// `Environment` for a malformed value.
pub(crate) fn from_env() -> Result<Option<LinkShape>> {
    match std::env::var("CRYPTEN_LINK") {
        Ok(v) if !v.trim().is_empty() => {
            LinkShape::parse(&v)
                .map(Some)
                .map_err(|reason| Error::Environment {
                    var: "CRYPTEN_LINK",
                    reason,
                })
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::LinkShape;
    use std::time::Duration;

    #[test]
    fn shapes_parse_and_bad_ones_are_refused() {
        let s = LinkShape::parse("25ms,100mbit").expect("valid");
        assert_eq!(s.rtt, Duration::from_millis(25));
        assert!((s.bits_per_second - 1e8).abs() < 1.0);
        assert!(LinkShape::parse("1s,1gbit").is_ok());
        for bad in [
            "25ms",
            "x,100mbit",
            "25ms,100",
            "inf ms,1mbit",
            "-1ms,1mbit",
            "20s,1mbit",
        ] {
            assert!(LinkShape::parse(bad).is_err(), "{bad}");
        }
    }
}
