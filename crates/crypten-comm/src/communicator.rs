//! The `Communicator` trait and its configuration.

use crate::{Error, Result, Stats};
use std::time::Duration;

/// Limits and timeouts shared by every communicator.
#[derive(Clone, Debug)]
pub struct CommConfig {
    /// How long a blocking receive waits before failing with `Error::Timeout`.
    pub recv_timeout: Duration,
    /// How long connection set-up may take in total.
    pub connect_timeout: Duration,
    /// The largest payload accepted from a peer; larger frames are `Error::Malformed`.
    pub max_frame_bytes: u64,
}

impl Default for CommConfig {
    fn default() -> Self {
        Self {
            recv_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(30),
            max_frame_bytes: 8 << 30,
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

    /// Sends `data` to `peer` as little-endian `u64` words, tagged `op`.
    ///
    /// # Errors
    /// Any error of [`Communicator::send`].
    fn send_u64(&self, peer: usize, op: &str, data: &[u64]) -> Result<()> {
        self.send(peer, op, u64s_to_bytes(data))
    }

    /// Receives exactly `expected_len` little-endian `u64` words from `peer`, tagged `op`.
    ///
    /// # Errors
    /// Any error of [`Communicator::recv`]; `Malformed` when the payload is not
    /// `8 * expected_len` bytes long.
    fn recv_u64(&self, peer: usize, op: &str, expected_len: usize) -> Result<Vec<u64>> {
        let bytes = self.recv(peer, op)?;
        bytes_to_u64s(peer, op, &bytes, expected_len)
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
            .map(|&(peer, data)| (peer, u64s_to_bytes(data)))
            .collect();
        let peers: Vec<usize> = recv_from.iter().map(|&(peer, _)| peer).collect();
        let received = self.exchange(op, sends, &peers)?;
        received
            .iter()
            .zip(recv_from)
            .map(|(bytes, &(peer, len))| bytes_to_u64s(peer, op, bytes, len))
            .collect()
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
fn u64s_to_bytes(words: &[u64]) -> Vec<u8> {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice::<u64, u8>(words).to_vec()
    } else {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// Decodes little-endian words from a payload of `peer` for `op`, which must hold exactly
/// `expected_len` of them.
fn bytes_to_u64s(peer: usize, op: &str, bytes: &[u8], expected_len: usize) -> Result<Vec<u64>> {
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
    if cfg!(target_endian = "little") {
        // The received buffer is only byte-aligned, so copy rather than cast in place.
        Ok(bytemuck::pod_collect_to_vec::<u8, u64>(bytes))
    } else {
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect())
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
        // An unaligned view of the same bytes decodes the same.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        assert_eq!(bytes_to_u64s(1, "op", &shifted[1..], 4).unwrap(), words);
        assert!(matches!(
            bytes_to_u64s(1, "op", &bytes, 3),
            Err(Error::Malformed { peer: 1, .. })
        ));
        assert!(bytes_to_u64s(1, "op", &bytes, usize::MAX).is_err());
    }
}
