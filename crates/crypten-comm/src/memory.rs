//! The in-memory communicator: endpoints in one process, linked by channels.
//!
//! It is the trivially correct [`Communicator`] used by tests and single-process simulation.
//! Frames are moved, never serialised, but they carry the same sequence numbers and op names
//! as on TCP and are checked and counted with the same rules, so a protocol behaves (and
//! reports statistics) exactly as it would over the network.

use crate::communicator::check_peer;
use crate::frame::{Frame, FrameError, check_expected, check_op_name, wire_bytes};
use crate::{CommConfig, Communicator, Error, Result, Stats};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The sending half of the channel to one peer, with the next sequence number.
struct Outbox {
    next_seq: u64,
    tx: Sender<Frame>,
}

/// The receiving half of the channel from one peer, with the sequence number expected next.
struct Inbox {
    next_seq: u64,
    rx: Receiver<Frame>,
}

/// One endpoint of an in-process world; see [`MemoryComm::create`].
///
/// Dropping an endpoint closes its channels: peers see `Error::PeerClosed` naming it once they
/// have received what it sent before.
pub struct MemoryComm {
    rank: usize,
    world_size: usize,
    config: CommConfig,
    /// Indexed by peer rank; `None` at this endpoint's own rank.
    outboxes: Vec<Option<Mutex<Outbox>>>,
    inboxes: Vec<Option<Mutex<Inbox>>>,
    stats: Stats,
}

impl std::fmt::Debug for MemoryComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryComm")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .finish_non_exhaustive()
    }
}

impl MemoryComm {
    /// Creates the `world_size` endpoints of a fully connected world, in rank order, ready to
    /// be moved into one thread each.
    ///
    /// # Example
    /// ```
    /// use crypten_comm::{CommConfig, Communicator, MemoryComm};
    ///
    /// let mut comms = MemoryComm::create(2, CommConfig::default());
    /// let c1 = comms.pop().unwrap();
    /// let c0 = comms.pop().unwrap();
    /// let t = std::thread::spawn(move || c1.exchange_u64("hi", &[(0, &[1][..])], &[(0, 1)]));
    /// let got = c0.exchange_u64("hi", &[(1, &[2][..])], &[(1, 1)]).unwrap();
    /// assert_eq!(got, vec![vec![1]]);
    /// assert_eq!(t.join().unwrap().unwrap(), vec![vec![2]]);
    /// ```
    pub fn create(world_size: usize, config: CommConfig) -> Vec<MemoryComm> {
        // senders[i][j] / receivers[j][i]: the channel carrying frames from i to j.
        let mut senders: Vec<Vec<Option<Mutex<Outbox>>>> = Vec::with_capacity(world_size);
        let mut receivers: Vec<Vec<Option<Mutex<Inbox>>>> = (0..world_size)
            .map(|_| (0..world_size).map(|_| None).collect())
            .collect();
        for from in 0..world_size {
            let mut row = Vec::with_capacity(world_size);
            for (to, inboxes) in receivers.iter_mut().enumerate() {
                if from == to {
                    row.push(None);
                    continue;
                }
                let (tx, rx) = mpsc::channel();
                row.push(Some(Mutex::new(Outbox { next_seq: 0, tx })));
                inboxes[from] = Some(Mutex::new(Inbox { next_seq: 0, rx }));
            }
            senders.push(row);
        }
        senders
            .into_iter()
            .zip(receivers)
            .enumerate()
            .map(|(rank, (outboxes, inboxes))| MemoryComm {
                rank,
                world_size,
                config: config.clone(),
                outboxes,
                inboxes,
                stats: Stats::new(),
            })
            .collect()
    }

    /// The configuration this endpoint runs with.
    pub fn config(&self) -> &CommConfig {
        &self.config
    }
}

/// Locks a per-peer state. Nothing panics while holding these locks, so poisoning cannot
/// leave them inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Communicator for MemoryComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn send(&self, peer: usize, op: &str, payload: Vec<u8>) -> Result<()> {
        check_peer(peer, self.rank, self.world_size)?;
        check_op_name(op)?;
        let Some(Some(outbox)) = self.outboxes.get(peer) else {
            return Err(self.invalid(peer));
        };
        let bytes = wire_bytes(op, payload.len());
        let mut outbox = lock(outbox);
        let frame = Frame {
            channel: self.config.channel,
            // As on the wire: the count modulo 2^32.
            seq: outbox.next_seq as u32,
            op: op.to_owned(),
            payload,
        };
        outbox.tx.send(frame).map_err(|_| Error::PeerClosed {
            peer,
            op: op.to_owned(),
        })?;
        outbox.next_seq += 1;
        drop(outbox);
        self.stats.record_send(op, bytes);
        Ok(())
    }

    fn recv(&self, peer: usize, op: &str) -> Result<Vec<u8>> {
        check_peer(peer, self.rank, self.world_size)?;
        let Some(Some(inbox)) = self.inboxes.get(peer) else {
            return Err(self.invalid(peer));
        };
        let mut inbox = lock(inbox);
        let started = std::time::Instant::now();
        let received = inbox.rx.recv_timeout(self.config.recv_timeout);
        self.stats.record_wait(started.elapsed());
        let frame = received.map_err(|e| match e {
            RecvTimeoutError::Timeout => Error::Timeout {
                peer,
                op: op.to_owned(),
                after: self.config.recv_timeout,
            },
            RecvTimeoutError::Disconnected => Error::PeerClosed {
                peer,
                op: op.to_owned(),
            },
        })?;
        // TCP rejects such a frame while decoding it; reject it here too so both behave alike.
        let len = frame.payload.len() as u64;
        if len > self.config.max_frame_bytes {
            let max = self.config.max_frame_bytes;
            return Err(FrameError::Oversize { len, max }.into_error(peer, op));
        }
        check_expected(peer, op, self.config.channel, inbox.next_seq, &frame)?;
        inbox.next_seq += 1;
        drop(inbox);
        self.stats
            .record_recv(op, wire_bytes(op, frame.payload.len()));
        Ok(frame.payload)
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl MemoryComm {
    fn invalid(&self, peer: usize) -> Error {
        Error::InvalidPeer {
            peer,
            rank: self.rank,
            world_size: self.world_size,
        }
    }
}
