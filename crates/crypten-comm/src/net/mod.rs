//! The network communicator: one link per pair of endpoints, each a [`Transport`] (TCP now,
//! TLS next) served by a writer thread and a reader thread (`link.rs`).
//!
//! `send` only queues a frame for the peer's writer thread, so it never blocks, and two
//! parties sending each other large payloads at the same time cannot deadlock on full socket
//! buffers. The reader thread decodes frames as they arrive and queues them, so `recv` is a
//! channel receive with a timeout, and a connection that ends is noticed at once rather than
//! when the timeout expires. Connection set-up lives in `rendezvous.rs`.
//!
//! # Blame
//! When a party dies, its peers fail too, and every survivor must name the party that failed
//! first, not whichever connection its threads happened to see end first. The order in which
//! reader threads wake is not the order of events, so blame follows causality instead: a
//! party that fails tells every peer why in an abort frame before its connections close
//! ([`Communicator::abort`]), and a reader thread that reads one hands it to *every* pending
//! `recv` of its endpoint at once. So a connection that ends without an abort frame belongs
//! to a party that died by itself (or was killed); one that ends after an abort frame belongs
//! to a party reacting to someone else, and its reason names the cause.

mod link;

use crate::communicator::{check_peer, u64s_to_bytes};
use crate::frame::{ABORT_OP, check_expected, check_op_name, encode_head, wire_bytes};
use crate::transport::Transport;
use crate::{CommConfig, Communicator, Error, Result, Stats, rendezvous};
use link::{
    Activity, Backlog, DRAIN_GRACE, EndSignal, Ending, Inbox, Incoming, Link, Outbox, Outgoing,
    Payload, READER_EXIT_GRACE, Reader, ReaderExit, keepalive_interval, lock, write_loop,
};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tracing::debug;

/// A [`Communicator`] over network links, for parties in separate processes or machines: one
/// [`Transport`] per peer (TCP from [`NetComm::connect`] and [`NetComm::rendezvous`], or any
/// transport through [`NetComm::from_transports`]).
///
/// Dropping it lets the writer threads send what is still queued (for at most
/// `config.recv_timeout`; a dead peer fails the write at once), then closes every connection
/// and lets the threads exit; peers see `Error::PeerClosed` naming this endpoint.
pub struct NetComm {
    rank: usize,
    world_size: usize,
    config: CommConfig,
    /// Indexed by peer rank; `None` at this endpoint's own rank.
    links: Vec<Option<Link>>,
    writers: Vec<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    /// Disconnected once every writer (reader) thread has exited: each thread owns a clone of
    /// the matching sender and drops it on the way out, even when unwinding.
    writers_exited: Mutex<Receiver<()>>,
    readers_exited: Mutex<Receiver<()>>,
    stats: Stats,
}

impl std::fmt::Debug for NetComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetComm")
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .finish_non_exhaustive()
    }
}

impl NetComm {
    /// Connects endpoint `rank` of `addrs.len()` endpoints, where endpoint `i` listens on
    /// `addrs[i]`. Every endpoint calls this at about the same time; each connects to the
    /// lower ranks (retrying until `config.connect_timeout`) and accepts the higher ones, and
    /// both sides of every connection check each other's rank and world size.
    ///
    /// # Errors
    /// `Rendezvous` when `rank` is out of range, `addrs[rank]` cannot be bound, a peer cannot
    /// be reached in time, or a peer announces a wrong or duplicate rank or another world
    /// size.
    pub fn connect(rank: usize, addrs: &[SocketAddr], config: CommConfig) -> Result<NetComm> {
        let Some(&own) = addrs.get(rank) else {
            return Err(Error::Rendezvous(format!(
                "rank {rank} is out of range for {} endpoints",
                addrs.len()
            )));
        };
        let listener = TcpListener::bind(own)
            .map_err(|e| Error::Rendezvous(format!("party {rank} cannot listen on {own}: {e}")))?;
        Self::from_listener(rank, listener, addrs, config)
    }

    /// Like [`NetComm::connect`], with this endpoint's listener already bound (to
    /// `addrs[rank]`, or to the port other endpoints know it by). Binding every listener
    /// before any endpoint starts, for instance to port 0, avoids racing for free ports.
    ///
    /// # Errors
    /// As [`NetComm::connect`].
    pub fn from_listener(
        rank: usize,
        listener: TcpListener,
        addrs: &[SocketAddr],
        config: CommConfig,
    ) -> Result<NetComm> {
        let streams = rendezvous::connect_all(rank, &listener, addrs, &config)?;
        drop(listener);
        Self::from_streams(rank, addrs.len(), streams, config)
    }

    /// Connects endpoint `rank` of `world_size` endpoints through a master, in the style of
    /// torch.distributed's `MASTER_ADDR`/`MASTER_PORT`: rank 0 listens on `master` and
    /// collects the listener address of every other rank (each listens on the local address
    /// it uses to reach the master, port chosen by the system), then sends everyone the full
    /// table; the other pairs connect as in [`NetComm::connect`]. All of it must finish within
    /// `config.connect_timeout`.
    ///
    /// # Errors
    /// `Rendezvous` when `rank` is out of range, the master address cannot be bound (rank 0)
    /// or reached in time, or an endpoint announces a wrong or duplicate rank or another world
    /// size (the master then fails, and the others fail on the closed connection).
    pub fn rendezvous(
        rank: usize,
        world_size: usize,
        master: SocketAddr,
        config: CommConfig,
    ) -> Result<NetComm> {
        let streams = rendezvous::via_master(rank, world_size, master, &config)?;
        Self::from_streams(rank, world_size, streams, config)
    }

    /// The configuration this endpoint runs with.
    pub fn config(&self) -> &CommConfig {
        &self.config
    }

    /// Bytes received from `peer` and not yet taken by `recv` (at most
    /// `CommConfig::max_queued_bytes`, or one larger frame); 0 for an invalid peer.
    pub fn queued_bytes(&self, peer: usize) -> u64 {
        self.link(peer).map_or(0, |l| l.backlog.queued())
    }

    fn from_streams(
        rank: usize,
        world_size: usize,
        streams: rendezvous::Streams,
        config: CommConfig,
    ) -> Result<NetComm> {
        let transports = streams
            .into_iter()
            .map(|s| s.map(rendezvous::Link::into_transport))
            .collect();
        Self::from_transports(rank, world_size, transports, config)
    }

    /// Starts the reader and writer threads of established connections (`transports[peer]`
    /// for every peer, `None` at `rank`): the seam where other transports (TLS) come in.
    ///
    /// # Errors
    /// `Rendezvous` when the transports do not fit `rank` and `world_size` (one per other
    /// endpoint, none at `rank`), a transport cannot be split or a thread cannot start.
    pub fn from_transports(
        rank: usize,
        world_size: usize,
        transports: Vec<Option<Box<dyn Transport>>>,
        config: CommConfig,
    ) -> Result<NetComm> {
        let fits = rank < world_size
            && transports.len() == world_size
            && transports
                .iter()
                .enumerate()
                .all(|(peer, t)| t.is_some() == (peer != rank));
        if !fits {
            return Err(Error::Rendezvous(format!(
                "endpoint {rank} of {world_size} needs a transport to every other endpoint and \
                 none to itself; got {} slots",
                transports.len()
            )));
        }
        let (writers_tx, writers_rx) = mpsc::channel();
        let (readers_tx, readers_rx) = mpsc::channel();
        // Every inbox's sending side, for the reader threads to spread a peer's abort.
        let (inbox_txs, inbox_rxs): (Vec<_>, Vec<_>) =
            (0..world_size).map(|_| mpsc::channel::<Incoming>()).unzip();
        // Built first and filled link by link, so that a failure half-way is cleaned up by
        // `drop` like any other endpoint.
        let mut comm = NetComm {
            rank,
            world_size,
            links: Vec::with_capacity(world_size),
            writers: Vec::new(),
            readers: Vec::new(),
            writers_exited: Mutex::new(writers_rx),
            readers_exited: Mutex::new(readers_rx),
            stats: Stats::new(),
            config,
        };
        let mut started = Ok(());
        for ((peer, transport), inbox) in transports.into_iter().enumerate().zip(inbox_rxs) {
            let link = match transport {
                Some(transport) => {
                    match comm.start_link(
                        peer,
                        transport,
                        inbox,
                        &inbox_txs,
                        &writers_tx,
                        &readers_tx,
                    ) {
                        Ok(link) => Some(link),
                        Err(e) => {
                            started = Err(e);
                            break;
                        }
                    }
                }
                None => None,
            };
            comm.links.push(link);
        }
        // Only the threads may hold these senders, or `drop` could not tell when they exit
        // (and `recv` when a reader has).
        drop((writers_tx, readers_tx, inbox_txs));
        started?;
        debug!(rank, world_size, "tcp communicator ready");
        Ok(comm)
    }

    fn start_link(
        &mut self,
        peer: usize,
        transport: Box<dyn Transport>,
        in_rx: Receiver<Incoming>,
        inbox_txs: &[Sender<Incoming>],
        writers_tx: &Sender<()>,
        readers_tx: &Sender<()>,
    ) -> Result<Link> {
        let rank = self.rank;
        let setup_error = |e: io::Error| {
            Error::Rendezvous(format!(
                "party {rank} could not start its connection to party {peer}: {e}"
            ))
        };
        let halves = transport.split().map_err(setup_error)?;
        let closer: Arc<dyn crate::transport::Closer> = Arc::from(halves.closer);
        let (reader_half, writer_half) = (halves.reader, halves.writer);
        let writer_closer = Arc::clone(&closer);

        let (out_tx, out_rx) = mpsc::channel();
        let exited = writers_tx.clone();
        let channel = self.config.channel;
        let keepalive = keepalive_interval(self.config.recv_timeout);
        let activity = Arc::new(Activity::new());
        let backlog = Arc::new(Backlog::new(self.config.max_queued_bytes));
        let writer = thread::Builder::new()
            .name(format!("comm-w{rank}-{peer}"))
            .spawn(move || {
                write_loop(
                    peer,
                    writer_half,
                    writer_closer.as_ref(),
                    &out_rx,
                    (channel, keepalive),
                );
                drop(exited);
            })
            .map_err(setup_error)?;
        self.writers.push(writer);
        let exited = readers_tx.clone();
        let max_payload = self.config.max_frame_bytes;
        let end = Arc::new(EndSignal::default());
        let reader = Reader {
            peer,
            inboxes: inbox_txs.to_vec(),
            end: Arc::clone(&end),
            max_payload,
            activity: Arc::clone(&activity),
            backlog: Arc::clone(&backlog),
        };
        let reader = thread::Builder::new()
            .name(format!("comm-r{rank}-{peer}"))
            .spawn(move || {
                // Marks the end even if `run` panics, so that `recv` never waits for nothing.
                let exit = ReaderExit {
                    end: Arc::clone(&reader.end),
                    inbox: reader.inboxes[peer].clone(),
                };
                exit.end.set(reader.run(reader_half));
                drop(exit);
                drop(exited);
            })
            .map_err(setup_error)?;
        self.readers.push(reader);
        Ok(Link {
            outbox: Mutex::new(Outbox {
                next_seq: 0,
                tx: Some(out_tx),
            }),
            inbox: Mutex::new(Inbox {
                next_seq: 0,
                rx: in_rx,
            }),
            end,
            closer,
            activity,
            backlog,
        })
    }

    /// The error for `peer`'s ended connection during `op`: its abort, if it sent one,
    /// otherwise a closed connection naming it. Waits (briefly) for the reader thread to have
    /// read to the end, where an abort frame would be.
    fn ended(&self, link: &Link, peer: usize, op: &str) -> Error {
        match link.end.wait(READER_EXIT_GRACE) {
            Ending::Aborted(reason) => Error::Aborted {
                peer,
                op: op.to_owned(),
                reason,
            },
            Ending::Closed => Error::PeerClosed {
                peer,
                op: op.to_owned(),
            },
        }
    }

    fn link(&self, peer: usize) -> Result<&Link> {
        check_peer(peer, self.rank, self.world_size)?;
        match self.links.get(peer) {
            Some(Some(link)) => Ok(link),
            _ => Err(Error::InvalidPeer {
                peer,
                rank: self.rank,
                world_size: self.world_size,
            }),
        }
    }

    /// Closes every writer's queue: each sends what is left, then half-closes its connection.
    /// Later sends fail.
    fn close_outboxes(&self) {
        for link in self.links.iter().flatten() {
            lock(&link.outbox).tx = None;
        }
    }

    /// Queues a frame for `peer`'s writer thread and counts it.
    fn enqueue(&self, peer: usize, op: &str, payload: Payload) -> Result<()> {
        let link = self.link(peer)?;
        check_op_name(op)?;
        if self.queue(link, op, payload)? {
            Ok(())
        } else {
            Err(self.ended(link, peer, op))
        }
    }

    /// Queues a frame on `link` and counts it; `Ok(false)` when the writer thread has stopped
    /// (the connection broke).
    fn queue(&self, link: &Link, op: &str, payload: Payload) -> Result<bool> {
        let len = payload.as_bytes().len();
        let mut outbox = lock(&link.outbox);
        let (head, head_len) = encode_head(self.config.channel, outbox.next_seq, op, len as u64);
        let Some(tx) = outbox.tx.as_ref() else {
            return Err(Error::SelfAborted { op: op.to_owned() });
        };
        // Fails only when the writer thread has stopped, i.e. the connection broke.
        if tx
            .send(Outgoing {
                head,
                head_len,
                payload,
            })
            .is_err()
        {
            return Ok(false);
        }
        outbox.next_seq += 1;
        drop(outbox);
        self.stats.record_send(op, wire_bytes(op, len));
        Ok(true)
    }
}

/// The crate error for a failed connection: a peer that went away is `PeerClosed`, anything
/// else is `Io`.
fn connection_error(peer: usize, op: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::PeerClosed {
            peer,
            op: op.to_owned(),
        },
        _ => Error::Io {
            peer,
            op: op.to_owned(),
            source: e,
        },
    }
}

impl Communicator for NetComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world_size
    }

    fn send(&self, peer: usize, op: &str, payload: Vec<u8>) -> Result<()> {
        self.enqueue(peer, op, Payload::Bytes(payload))
    }

    fn send_words(&self, peer: usize, op: &str, words: Vec<u64>) -> Result<()> {
        if cfg!(target_endian = "little") {
            self.enqueue(peer, op, Payload::Words(words))
        } else {
            self.send(peer, op, u64s_to_bytes(&words))
        }
    }

    fn recv(&self, peer: usize, op: &str) -> Result<Vec<u8>> {
        let link = self.link(peer)?;
        let mut inbox = lock(&link.inbox);
        // Read before the inbox: once the reader has ended, everything it delivered is queued,
        // so an empty inbox then means the peer is gone (read after, it could race a last
        // frame in).
        let ended = link.end.is_set();
        let event = match inbox.rx.try_recv() {
            Ok(event) => event,
            Err(_) if ended => return Err(self.ended(link, peer, op)),
            Err(_) => {
                let started = std::time::Instant::now();
                // The timeout counts the peer's silence, not the wait: a peer busy computing
                // still sends keepalives, and only one that stopped or hangs goes silent.
                let (silence, idle) = (self.config.recv_timeout, self.config.idle_timeout);
                let slice = (silence / 8).clamp(Duration::from_millis(10), Duration::from_secs(1));
                let mut expired = silence;
                let received = loop {
                    match inbox.rx.recv_timeout(slice.min(idle)) {
                        Err(RecvTimeoutError::Timeout) => {
                            if link.activity.silent_for() >= silence {
                                break Err(RecvTimeoutError::Timeout);
                            }
                            if started.elapsed() >= idle {
                                expired = idle;
                                break Err(RecvTimeoutError::Timeout);
                            }
                        }
                        other => break other,
                    }
                };
                self.stats.record_wait(started.elapsed());
                received.map_err(|e| match e {
                    RecvTimeoutError::Timeout => Error::Timeout {
                        peer,
                        op: op.to_owned(),
                        after: expired,
                    },
                    RecvTimeoutError::Disconnected => self.ended(link, peer, op),
                })?
            }
        };
        let frame = match event {
            Incoming::Frame(frame) => frame,
            Incoming::Ended => return Err(self.ended(link, peer, op)),
            Incoming::Malformed(e) => return Err(e.into_error(peer, op)),
            Incoming::Failed(e) => return Err(connection_error(peer, op, e)),
            Incoming::Aborted { peer: from, reason } => {
                return Err(Error::Aborted {
                    peer: from,
                    op: op.to_owned(),
                    reason,
                });
            }
        };
        link.backlog.release(frame.payload.len() as u64);
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

    /// Queues the abort frame for every peer, then closes: the writer threads send what is
    /// queued, abort last, and half-close, and this waits for them (at most the receive
    /// timeout; a dead peer fails the write at once). So the abort is on the wire before this
    /// returns, even if the process exits right after without dropping the endpoint.
    fn finish(&self) {
        self.close_outboxes();
        if !wait_exited(&self.writers_exited, self.config.recv_timeout) {
            debug!(rank = self.rank, "a writer did not drain in time");
        }
    }

    fn abort(&self, reason: &str) {
        for link in self.links.iter().flatten() {
            // A dead peer's link refuses the frame at once: nothing to wait for.
            let _ = self.queue(link, ABORT_OP, Payload::Bytes(reason.as_bytes().to_vec()));
        }
        self.close_outboxes();
        if !wait_exited(&self.writers_exited, self.config.recv_timeout) {
            // A writer is stuck on a peer that stopped reading: unstick it, so that `drop`
            // does not wait the timeout a second time.
            for link in self.links.iter().flatten() {
                link.closer.close();
            }
        }
    }
}

/// Waits until every thread holding a sender of `exited` is gone; `false` on timeout.
fn wait_exited(exited: &Mutex<Receiver<()>>, timeout: Duration) -> bool {
    let rx = lock(exited);
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => return false,
            // Nothing is ever sent; only disconnection matters.
            Ok(()) => {}
        }
    }
}

impl Drop for NetComm {
    fn drop(&mut self) {
        self.close_outboxes();
        // Readers keep running meanwhile, so two endpoints dropped together still drain each
        // other's final frames.
        let writers_done = wait_exited(&self.writers_exited, self.config.recv_timeout);
        // Keep reading a moment, until the peers close too: a socket closed with unread data
        // resets the connection, which can discard what this endpoint sent last (an abort).
        let _ = wait_exited(&self.readers_exited, DRAIN_GRACE);
        // Shutting the sockets down wakes the readers (and any writer stuck on a peer that
        // stopped reading).
        for link in self.links.iter().flatten() {
            link.backlog.close();
            link.closer.close();
        }
        let readers_done = wait_exited(&self.readers_exited, READER_EXIT_GRACE);
        // Join threads known to have exited; leave any other detached rather than hang.
        for (done, handles) in [
            (writers_done, std::mem::take(&mut self.writers)),
            (readers_done, std::mem::take(&mut self.readers)),
        ] {
            if done {
                for handle in handles {
                    let _ = handle.join();
                }
            }
        }
        debug!(
            rank = self.rank,
            writers_done, readers_done, "tcp communicator closed"
        );
    }
}

#[cfg(test)]
mod tests;
