//! The `Communicator` trait and its configuration.

use crate::{Error, Result, Stats};
use std::time::Duration;

/// Limits and timeouts shared by every communicator.
#[derive(Clone, Debug)]
pub struct CommConfig {
    /// How long a peer may stay silent before a blocking receive fails with
    /// `Error::Timeout`. Over TCP every idle link carries keepalives, so this catches a peer
    /// that stopped, hangs or is cut off, while a peer busy computing is waited for; in
    /// memory it bounds the wait itself.
    pub recv_timeout: Duration,
    /// The longest one blocking receive over TCP waits for its frame while the peer is alive
    /// (two live parties waiting for each other, a program bug, fail after this). Default
    /// 30 minutes.
    pub idle_timeout: Duration,
    /// How long connection set-up may take in total.
    pub connect_timeout: Duration,
    /// The largest payload accepted from a peer; larger frames are `Error::Malformed`.
    pub max_frame_bytes: u64,
    /// Over TCP, the most bytes received from one peer and not yet read that are kept; beyond
    /// it the peer's writes wait (TCP flow control). Default 2 GiB.
    pub max_queued_bytes: u64,
    /// The computation this endpoint's frames belong to. Every endpoint of a computation uses
    /// the same; a frame of another channel is refused (`Error::Diverged`, or a failed
    /// rendezvous), so one process can later carry several computations apart. Default 0.
    pub channel: u32,
    /// TLS with mutual authentication on every link (only with an address table, as a
    /// cluster file gives); `None` is plain TCP.
    pub tls: Option<std::sync::Arc<crate::TlsConfig>>,
    /// Benchmarks only: every connection this endpoint opens goes through a relay in this
    /// process that delays and paces it like a wide-area link (`CRYPTEN_LINK=25ms,100mbit`).
    pub link: Option<crate::LinkShape>,
    /// Rank 0 of a master rendezvous writes the port it listens on to this file (from
    /// `CRYPTEN_MASTER_PORT_FILE` when `Endpoint::connect` leaves it unset): with
    /// `MASTER_PORT=0` it binds a free port itself, and a launcher starts the other ranks once
    /// the file appears, with no window for another process to take the port.
    pub announce: Option<std::path::PathBuf>,
}

impl Default for CommConfig {
    fn default() -> Self {
        Self {
            recv_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
            connect_timeout: Duration::from_secs(30),
            max_frame_bytes: 8 << 30,
            max_queued_bytes: 2 << 30,
            channel: 0,
            tls: None,
            link: None,
            announce: None,
        }
    }
}

/// Point-to-point framed messaging between a fixed set of endpoints, with exact statistics.
///
/// # Design
/// - Endpoints are numbered `0..world_size()`; this endpoint is `rank()`.
/// - `send` never blocks on the peer (a writer thread or queue per peer), so two parties may
///   send large payloads to each other at the same time without deadlock.
/// - `recv` returns the next frame from `peer`, and fails (never hangs, never panics) when the
///   peer closed the connection (`PeerClosed`), nothing arrived within `recv_timeout`
///   (`Timeout`), the frame belongs to another operation or is out of sequence (`Diverged`), or
///   it is malformed (`Malformed`). Every error names the peer and the operation.
/// - Every frame sent is counted in `stats()` under its operation: payload plus header bytes.
///   Rounds are counted by [`Communicator::exchange`] (and [`Communicator::exchange_u64`]),
///   the one-round primitive collective protocols use.
/// - Operation names are at most [`MAX_OP_NAME`](crate::MAX_OP_NAME) bytes; longer ones fail
///   with `InvalidOp` before anything is sent.
pub trait Communicator: Send + Sync {
    /// This endpoint's rank.
    fn rank(&self) -> usize;

    /// Number of endpoints, including a trusted third party if one takes part.
    fn world_size(&self) -> usize;

    /// Queues `payload` for `peer`, tagged with the operation `op`.
    ///
    /// # Errors
    /// `InvalidPeer` for a bad rank; `PeerClosed`/`Io` when the connection is gone.
    fn send(&self, peer: usize, op: &str, payload: Vec<u8>) -> Result<()>;

    /// Receives the next frame from `peer`, which must be tagged `op`.
    ///
    /// # Errors
    /// See the trait's design notes.
    fn recv(&self, peer: usize, op: &str) -> Result<Vec<u8>>;

    /// Traffic statistics of this endpoint.
    fn stats(&self) -> &Stats;

    /// The computation is over at this endpoint: returns once every frame queued so far is on
    /// the wire (or the receive timeout passed), so that a process may exit at once without
    /// losing its last frames (a session's farewell to the dealer, say), even while values
    /// that share this endpoint live on. Later sends fail; receiving still works. Does
    /// nothing where frames are delivered at once (the in-memory communicator).
    fn finish(&self) {}

    /// Tells every peer that this endpoint gives up, and why, before it goes away: a peer's
    /// next `recv` from it fails with `Aborted` carrying `reason`, so a failure far away (a
    /// party that died) reaches everyone with its cause. Best effort: send errors are ignored.
    /// `reason` must not hold secrets (error messages name parties and operations only).
    ///
    /// [`NetComm`](crate::NetComm) does more: the abort fails a peer's pending `recv` from
    /// *any* party at once, and the endpoint closes, returning once the frames are on the
    /// wire (later sends fail with `SelfAborted`).
    fn abort(&self, reason: &str) {
        for peer in (0..self.world_size()).filter(|&p| p != self.rank()) {
            let _ = self.send(peer, crate::frame::ABORT_OP, reason.as_bytes().to_vec());
        }
    }

    /// One communication round: sends every `(peer, payload)` in `sends`, then receives one
    /// frame from each peer in `recv_from` (results in the same order), and counts one round
    /// for `op`.
    ///
    /// # Errors
    /// Any error of `send` or `recv`.
    fn exchange(
        &self,
        op: &str,
        sends: Vec<(usize, Vec<u8>)>,
        recv_from: &[usize],
    ) -> Result<Vec<Vec<u8>>> {
        for (peer, payload) in sends {
            self.send(peer, op, payload)?;
        }
        let received = recv_from
            .iter()
            .map(|&peer| self.recv(peer, op))
            .collect::<Result<Vec<_>>>()?;
        self.stats().record_round(op);
        Ok(received)
    }

    /// Queues `words` for `peer` as little-endian `u64` words, tagged `op`. Takes the words
    /// by value so that an implementation can put them on the wire without copying them.
    ///
    /// # Errors
    /// Any error of [`Communicator::send`].
    fn send_words(&self, peer: usize, op: &str, words: Vec<u64>) -> Result<()> {
        self.send(peer, op, u64s_to_bytes(&words))
    }

    /// Receives exactly `expected_len` little-endian `u64` words from `peer`, tagged `op`,
    /// without copying them out of the frame (see [`Words`]).
    ///
    /// # Errors
    /// Any error of [`Communicator::recv`]; `Malformed` when the payload is not
    /// `8 * expected_len` bytes long.
    fn recv_words(&self, peer: usize, op: &str, expected_len: usize) -> Result<Words> {
        Words::from_payload(peer, op, self.recv(peer, op)?, expected_len)
    }

    /// One communication round of words: sends every `(peer, words)` in `sends` (see
    /// [`Communicator::send_words`]), then receives from each `(peer, len)` in `recv_from`
    /// exactly `len` words (results in the same order), and counts one round for `op`.
    ///
    /// # Errors
    /// Any error of `send` or `recv`; `Malformed` when a payload has the wrong length.
    fn exchange_words(
        &self,
        op: &str,
        sends: Vec<(usize, Vec<u64>)>,
        recv_from: &[(usize, usize)],
    ) -> Result<Vec<Words>> {
        for (peer, words) in sends {
            self.send_words(peer, op, words)?;
        }
        let received = recv_from
            .iter()
            .map(|&(peer, len)| self.recv_words(peer, op, len))
            .collect::<Result<Vec<_>>>()?;
        self.stats().record_round(op);
        Ok(received)
    }

    /// Sends `data` to `peer` as little-endian `u64` words, tagged `op`.
    ///
    /// # Errors
    /// Any error of [`Communicator::send`].
    fn send_u64(&self, peer: usize, op: &str, data: &[u64]) -> Result<()> {
        self.send_words(peer, op, data.to_vec())
    }

    /// Receives exactly `expected_len` little-endian `u64` words from `peer`, tagged `op`.
    ///
    /// # Errors
    /// Any error of [`Communicator::recv`]; `Malformed` when the payload is not
    /// `8 * expected_len` bytes long.
    fn recv_u64(&self, peer: usize, op: &str, expected_len: usize) -> Result<Vec<u64>> {
        Ok(self.recv_words(peer, op, expected_len)?.to_vec())
    }

    /// [`Communicator::exchange`] for `u64` words: sends every `(peer, words)` in `sends`,
    /// then receives from each `(peer, len)` in `recv_from` exactly `len` words (results in
    /// the same order), and counts one round for `op`.
    ///
    /// # Errors
    /// Any error of `send` or `recv`; `Malformed` when a payload has the wrong length.
    fn exchange_u64(
        &self,
        op: &str,
        sends: &[(usize, &[u64])],
        recv_from: &[(usize, usize)],
    ) -> Result<Vec<Vec<u64>>> {
        let sends = sends
            .iter()
            .map(|&(peer, data)| (peer, data.to_vec()))
            .collect();
        let received = self.exchange_words(op, sends, recv_from)?;
        Ok(received.iter().map(Words::to_vec).collect())
    }
}

/// Little-endian `u64` words received from a peer, decoded where they lie: a frame's payload
/// is only byte-aligned, so rather than copying it into a `Vec<u64>`, loops read each word
/// from its 8 bytes with `u64::from_le_bytes` (an unaligned load on little-endian machines).
/// `Debug` prints the length only.
pub struct Words {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Words").field("len", &self.len()).finish()
    }
}

impl Words {
    /// Checks that a payload of `peer` for `op` holds exactly `expected_len` words.
    fn from_payload(peer: usize, op: &str, bytes: Vec<u8>, expected_len: usize) -> Result<Words> {
        if Some(bytes.len()) != expected_len.checked_mul(8) {
            return Err(Error::Malformed {
                peer,
                op: op.to_owned(),
                reason: format!(
                    "payload of {} bytes, expected {expected_len} u64 words ({} bytes)",
                    bytes.len(),
                    expected_len.saturating_mul(8)
                ),
            });
        }
        Ok(Words { bytes })
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Each word's 8 little-endian bytes; decode one with `u64::from_le_bytes`.
    pub fn le_bytes(&self) -> &[[u8; 8]] {
        self.bytes.as_chunks::<8>().0
    }

    /// The words, decoded.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.le_bytes().iter().map(|&w| u64::from_le_bytes(w))
    }

    /// The words, decoded into a vector.
    pub fn to_vec(&self) -> Vec<u64> {
        if cfg!(target_endian = "little") {
            bytemuck::pod_collect_to_vec::<u8, u64>(&self.bytes)
        } else {
            self.iter().collect()
        }
    }
}

/// Fails with `InvalidPeer` unless `peer` is another endpoint of this world.
pub(crate) fn check_peer(peer: usize, rank: usize, world_size: usize) -> Result<()> {
    if peer >= world_size || peer == rank {
        return Err(Error::InvalidPeer {
            peer,
            rank,
            world_size,
        });
    }
    Ok(())
}

/// Little-endian bytes of `words`.
pub(crate) fn u64s_to_bytes(words: &[u64]) -> Vec<u8> {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice::<u64, u8>(words).to_vec()
    } else {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.
mod tests {
    use super::*;

    #[test]
    fn u64_codec_round_trips_and_checks_length() {
        let words = [0, 1, u64::MAX, 0x0102_0304_0506_0708];
        let bytes = u64s_to_bytes(&words);
        assert_eq!(&bytes[24..32], &[8, 7, 6, 5, 4, 3, 2, 1]);
        let received = Words::from_payload(1, "op", bytes.clone(), 4).unwrap();
        assert_eq!(received.to_vec(), words);
        assert_eq!(received.iter().collect::<Vec<_>>(), words);
        assert_eq!(received.len(), 4);
        assert!(matches!(
            Words::from_payload(1, "op", bytes.clone(), 3),
            Err(Error::Malformed { peer: 1, .. })
        ));
        assert!(Words::from_payload(1, "op", bytes, usize::MAX).is_err());
    }
}
