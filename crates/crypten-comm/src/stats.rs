//! Exact traffic statistics: bytes, messages and rounds, in total and per operation.
//!
//! Counting is always on. Bytes are those of whole frames (header, op name and payload), which
//! is what the TCP communicator writes; the in-memory communicator counts the same formula so
//! the two report identical figures for identical traffic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Traffic of one operation (or of everything, in [`StatsSnapshot`]'s totals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Bytes of frames sent, headers included.
    pub bytes_sent: u64,
    /// Bytes of frames received, headers included.
    pub bytes_received: u64,
    /// Frames sent.
    pub messages_sent: u64,
    /// Communication rounds.
    pub rounds: u64,
}

impl OpStats {
    fn since(&self, earlier: &OpStats) -> OpStats {
        OpStats {
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
            messages_sent: self.messages_sent.saturating_sub(earlier.messages_sent),
            rounds: self.rounds.saturating_sub(earlier.rounds),
        }
    }

    fn add(&mut self, delta: &OpStats) {
        self.bytes_sent += delta.bytes_sent;
        self.bytes_received += delta.bytes_received;
        self.messages_sent += delta.messages_sent;
        self.rounds += delta.rounds;
    }

    fn is_zero(&self) -> bool {
        *self == OpStats::default()
    }
}

/// A consistent copy of an endpoint's [`Stats`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Bytes of frames sent, headers included.
    pub bytes_sent: u64,
    /// Bytes of frames received, headers included.
    pub bytes_received: u64,
    /// Frames sent.
    pub messages_sent: u64,
    /// Communication rounds.
    pub rounds: u64,
    /// The same figures broken down by operation name.
    pub per_op: BTreeMap<String, OpStats>,
}

impl StatsSnapshot {
    /// The traffic between `earlier` and `self`: every counter's difference, per operation too.
    /// Operations with no traffic in between are left out of `per_op`.
    #[must_use]
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let zero = OpStats::default();
        let per_op = self
            .per_op
            .iter()
            .map(|(op, now)| (op, now.since(earlier.per_op.get(op).unwrap_or(&zero))))
            .filter(|(_, diff)| !diff.is_zero())
            .map(|(op, diff)| (op.clone(), diff))
            .collect();
        StatsSnapshot {
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
            messages_sent: self.messages_sent.saturating_sub(earlier.messages_sent),
            rounds: self.rounds.saturating_sub(earlier.rounds),
            per_op,
        }
    }
}

/// Live, thread-safe traffic counters of one endpoint.
///
/// Totals are atomics so they can be read without locking; every update also takes the
/// per-operation lock, which makes a [`Stats::snapshot`] consistent (its totals always equal
/// the sum of its per-operation figures).
#[derive(Debug, Default)]
pub struct Stats {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    messages_sent: AtomicU64,
    rounds: AtomicU64,
    waiting_nanos: AtomicU64,
    per_op: Mutex<BTreeMap<String, OpStats>>,
}

impl Stats {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one frame of `bytes` bytes (header included) sent for `op`.
    pub fn record_send(&self, op: &str, bytes: u64) {
        self.record(
            op,
            OpStats {
                bytes_sent: bytes,
                messages_sent: 1,
                ..OpStats::default()
            },
        );
    }

    /// Counts one frame of `bytes` bytes (header included) received for `op`.
    pub fn record_recv(&self, op: &str, bytes: u64) {
        self.record(
            op,
            OpStats {
                bytes_received: bytes,
                ..OpStats::default()
            },
        );
    }

    /// Counts one communication round of `op`.
    pub fn record_round(&self, op: &str) {
        self.record(
            op,
            OpStats {
                rounds: 1,
                ..OpStats::default()
            },
        );
    }

    /// Adds time spent blocked waiting for a peer's message (not part of the snapshots, which
    /// count traffic exactly; timings differ from run to run).
    pub fn record_wait(&self, waited: std::time::Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.waiting_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Total time spent blocked waiting for peers' messages so far: with the elapsed time, the
    /// split between computing and waiting on the network.
    pub fn waiting(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.waiting_nanos.load(Ordering::Relaxed))
    }

    /// Total bytes sent so far, without taking the per-operation lock.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::Relaxed)
    }

    /// Total rounds so far, without taking the per-operation lock.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    /// A consistent copy of all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let per_op = self.lock();
        // Totals change only while the lock is held (see `record_*`), so reading them under it
        // gives figures that agree with `per_op`.
        StatsSnapshot {
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            messages_sent: self.messages_sent.load(Ordering::Relaxed),
            rounds: self.rounds.load(Ordering::Relaxed),
            per_op: per_op.clone(),
        }
    }

    /// Adds `delta` to the entry of `op` and to the totals, all under the per-operation lock.
    fn record(&self, op: &str, delta: OpStats) {
        let mut per_op = self.lock();
        // Look up by `&str` first so the name is allocated only the first time it is seen.
        let entry = match per_op.get_mut(op) {
            Some(entry) => entry,
            None => per_op.entry(op.to_owned()).or_default(),
        };
        entry.add(&delta);
        self.bytes_sent
            .fetch_add(delta.bytes_sent, Ordering::Relaxed);
        self.bytes_received
            .fetch_add(delta.bytes_received, Ordering::Relaxed);
        self.messages_sent
            .fetch_add(delta.messages_sent, Ordering::Relaxed);
        self.rounds.fetch_add(delta.rounds, Ordering::Relaxed);
        drop(per_op);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OpStats>> {
        // A panic while holding this lock cannot leave the map inconsistent (each update is a
        // few additions), so a poisoned lock is still usable.
        self.per_op.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.
mod tests {
    use super::*;

    #[test]
    fn totals_match_per_op_and_since_subtracts() {
        let stats = Stats::new();
        stats.record_send("mul", 100);
        stats.record_recv("mul", 90);
        stats.record_round("mul");
        let before = stats.snapshot();
        stats.record_send("mul", 10);
        stats.record_send("open", 5);
        stats.record_round("open");
        let now = stats.snapshot();

        assert_eq!(now.bytes_sent, 115);
        assert_eq!(now.bytes_received, 90);
        assert_eq!(now.messages_sent, 3);
        assert_eq!(now.rounds, 2);
        assert_eq!(now.per_op["mul"].bytes_sent, 110);
        assert_eq!(stats.bytes_sent(), 115);
        assert_eq!(stats.rounds(), 2);

        let diff = now.since(&before);
        assert_eq!(
            (
                diff.bytes_sent,
                diff.bytes_received,
                diff.messages_sent,
                diff.rounds
            ),
            (15, 0, 2, 1)
        );
        let mul = OpStats {
            bytes_sent: 10,
            messages_sent: 1,
            ..OpStats::default()
        };
        let open = OpStats {
            bytes_sent: 5,
            messages_sent: 1,
            rounds: 1,
            ..OpStats::default()
        };
        assert_eq!(
            diff.per_op,
            BTreeMap::from([("mul".into(), mul), ("open".into(), open)])
        );
        // Operations without new traffic drop out of the difference.
        assert!(now.since(&now).per_op.is_empty());
    }
}
