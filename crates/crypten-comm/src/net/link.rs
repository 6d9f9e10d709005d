//! One link of a [`NetComm`](super::NetComm): the state the endpoint keeps for a peer, and the
//! reader and writer threads that drive the peer's [`Transport`](crate::Transport).

use crate::frame::{
    ABORT_OP, Frame, FrameError, KEEPALIVE_OP, MAX_HEAD_BYTES, ReadError, abort_reason,
    encode_head, read_frame,
};
use crate::transport::Closer;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tracing::debug;

/// Socket buffers of the reader and writer threads: they gather small frames into few system
/// calls. Payloads larger than this bypass them and go straight between the socket and the
/// payload's own buffer (a buffer larger than the payloads would copy each of them once more).
pub(super) const IO_BUFFER_BYTES: usize = 64 << 10;

/// How long `drop` waits for reader threads after shutting their sockets down (they wake at
/// once on Linux; the grace only matters on platforms where they might not).
pub(super) const READER_EXIT_GRACE: Duration = Duration::from_secs(1);

/// How long `drop` keeps reading after its last frame left, for the peers to close first.
pub(super) const DRAIN_GRACE: Duration = Duration::from_millis(250);

/// A frame queued for a writer thread: its encoded head and its payload, written one after the
/// other so the payload is never copied.
pub(super) struct Outgoing {
    pub(super) head: [u8; MAX_HEAD_BYTES],
    pub(super) head_len: usize,
    pub(super) payload: Payload,
}

/// A payload as the sender handed it over.
pub(super) enum Payload {
    Bytes(Vec<u8>),
    /// Words on a little-endian machine, whose memory already holds their wire encoding.
    Words(Vec<u64>),
}

impl Payload {
    pub(super) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Bytes(bytes) => bytes,
            Self::Words(words) => bytemuck::cast_slice(words),
        }
    }
}

/// What a reader thread hands to `recv`. Decoding failures carry no peer or operation: the
/// reader knows neither the operation `recv` expects nor when it will be asked.
pub(super) enum Incoming {
    Frame(Frame),
    Malformed(FrameError),
    Failed(io::Error),
    /// Party `peer` gave up, for `reason`. Put in the inbox of every peer, so that whatever
    /// this endpoint waits for, it learns at once that the computation is over, and why.
    Aborted {
        peer: usize,
        reason: String,
    },
    /// The reader thread has stopped; its link's [`Ending`] says why. Always its last event.
    Ended,
}

/// How a connection ended, as its reader thread saw it.
#[derive(Clone, Debug)]
pub(super) enum Ending {
    /// The peer sent an abort frame: it failed because of something else, named in `reason`.
    Aborted(String),
    /// Anything else: the stream ended or broke without an abort (the peer exited, crashed or
    /// was killed), or it sent something undecodable.
    Closed,
}

/// A connection's [`Ending`], set once by its reader thread, which others may wait for.
#[derive(Default)]
pub(super) struct EndSignal {
    pub(super) ending: Mutex<Option<Ending>>,
    pub(super) ended: Condvar,
}

impl EndSignal {
    pub(super) fn set(&self, ending: Ending) {
        let mut slot = lock(&self.ending);
        slot.get_or_insert(ending);
        self.ended.notify_all();
    }

    pub(super) fn is_set(&self) -> bool {
        lock(&self.ending).is_some()
    }

    /// The ending, waiting for it at most `timeout`; `Closed` if it is still unknown then.
    pub(super) fn wait(&self, timeout: Duration) -> Ending {
        let slot = lock(&self.ending);
        let (slot, _) = self
            .ended
            .wait_timeout_while(slot, timeout, |s| s.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        slot.clone().unwrap_or(Ending::Closed)
    }
}

pub(super) struct Outbox {
    pub(super) next_seq: u64,
    /// `None` once `drop` has closed the queue.
    pub(super) tx: Option<Sender<Outgoing>>,
}

pub(super) struct Inbox {
    pub(super) next_seq: u64,
    pub(super) rx: Receiver<Incoming>,
}

/// When a link last heard from its peer (any frame, keepalives included).
pub(super) struct Activity {
    last: Mutex<Instant>,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            last: Mutex::new(Instant::now()),
        }
    }

    fn touch(&self) {
        *lock(&self.last) = Instant::now();
    }

    /// How long the peer has been silent.
    pub(super) fn silent_for(&self) -> Duration {
        lock(&self.last).elapsed()
    }
}

/// How often an idle writer proves its process alive: a quarter of its own receive timeout,
/// and at least every 2.5 s whatever that is, so that a peer configured with a shorter timeout
/// (down to about 3 s) still hears from it in time.
pub(super) fn keepalive_interval(recv_timeout: Duration) -> Duration {
    (recv_timeout / 4).clamp(Duration::from_millis(50), Duration::from_millis(2500))
}

/// A transport's reading half that marks the link's activity whenever bytes arrive.
struct Counted {
    inner: Box<dyn Read + Send>,
    activity: Arc<Activity>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.activity.touch();
        }
        Ok(n)
    }
}

/// The bytes a reader has delivered that `recv` has not taken yet, bounded: a reader waits
/// for room before delivering more (the peer's writes then block on TCP's flow control), so a
/// peer that floods a link this endpoint does not read costs at most `limit` bytes, plus the
/// one frame being read (at most the frame limit). A frame larger than `limit` is admitted
/// alone, when nothing else is queued.
pub(super) struct Backlog {
    queued: Mutex<u64>,
    drained: Condvar,
    limit: u64,
    closed: std::sync::atomic::AtomicBool,
}

impl Backlog {
    pub(super) fn new(limit: u64) -> Self {
        Self {
            queued: Mutex::new(0),
            drained: Condvar::new(),
            limit,
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Waits for room for `len` bytes and counts them; `false` once the endpoint is closing.
    fn admit(&self, len: u64) -> bool {
        let mut queued = lock(&self.queued);
        while *queued > 0 && queued.saturating_add(len) > self.limit {
            if self.closed.load(std::sync::atomic::Ordering::Relaxed) {
                return false;
            }
            queued = self
                .drained
                .wait_timeout(queued, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *queued += len;
        true
    }

    /// `len` bytes were taken by `recv`.
    pub(super) fn release(&self, len: u64) {
        let mut queued = lock(&self.queued);
        *queued = queued.saturating_sub(len);
        self.drained.notify_all();
    }

    /// Bytes delivered and not yet taken.
    pub(super) fn queued(&self) -> u64 {
        *lock(&self.queued)
    }

    /// Wakes a waiting reader for good: the endpoint is closing.
    pub(super) fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.drained.notify_all();
    }
}

/// Everything this endpoint holds for one peer.
pub(super) struct Link {
    pub(super) outbox: Mutex<Outbox>,
    pub(super) inbox: Mutex<Inbox>,
    /// How the connection ended, once it has.
    pub(super) end: Arc<EndSignal>,
    /// Shuts the connection down (in `drop`).
    pub(super) closer: Arc<dyn Closer>,
    /// When the peer was last heard from.
    pub(super) activity: Arc<Activity>,
    /// What its reader delivered and `recv` has not taken.
    pub(super) backlog: Arc<Backlog>,
}

/// Writes queued frames until every sender is gone, then half-closes the connection so the
/// peer reads a clean end of stream after the last frame. A link idle for `keepalive` gets a
/// keepalive frame.
pub(super) fn write_loop(
    peer: usize,
    writer: Box<dyn Write + Send>,
    closer: &dyn Closer,
    rx: &Receiver<Outgoing>,
    (channel, keepalive): (u32, Duration),
) {
    let mut out = BufWriter::with_capacity(IO_BUFFER_BYTES, writer);
    let (alive, alive_len) = encode_head(channel, u64::MAX, KEEPALIVE_OP, 0);
    let result = (|| -> io::Result<()> {
        loop {
            let frame = match rx.recv_timeout(keepalive) {
                Ok(frame) => frame,
                Err(RecvTimeoutError::Timeout) => {
                    out.write_all(&alive[..alive_len])?;
                    out.flush()?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            write_frame(&mut out, &frame)?;
            // Frames already queued go out in the same flush: a burst of small frames then
            // costs one system call instead of one each.
            while let Ok(frame) = rx.try_recv() {
                write_frame(&mut out, &frame)?;
            }
            out.flush()?;
        }
        out.flush()
    })();
    match result {
        Ok(()) => debug!(peer, "writer finished"),
        Err(e) => debug!(peer, error = %e, "writer failed"),
    }
    closer.close_write();
}

pub(super) fn write_frame(out: &mut impl Write, frame: &Outgoing) -> io::Result<()> {
    out.write_all(&frame.head[..frame.head_len])?;
    out.write_all(frame.payload.as_bytes())
}

/// Marks a reader thread's end when dropped: its `Ending` (`Closed` unless already set) and
/// the `Ended` event, even when the thread unwinds.
pub(super) struct ReaderExit {
    pub(super) end: Arc<EndSignal>,
    pub(super) inbox: Sender<Incoming>,
}

impl Drop for ReaderExit {
    fn drop(&mut self) {
        self.end.set(Ending::Closed);
        let _ = self.inbox.send(Incoming::Ended);
    }
}

/// A reader thread's state: the peer it reads from and where it delivers.
pub(super) struct Reader {
    pub(super) peer: usize,
    /// Every peer's inbox (indexed by rank; this peer's own among them).
    pub(super) inboxes: Vec<Sender<Incoming>>,
    pub(super) end: Arc<EndSignal>,
    pub(super) max_payload: u64,
    pub(super) activity: Arc<Activity>,
    pub(super) backlog: Arc<Backlog>,
}

impl Reader {
    /// Decodes frames until the connection ends, fails or brings an abort, or `recv`'s side is
    /// gone; returns how it ended.
    pub(super) fn run(&self, stream: Box<dyn Read + Send>) -> Ending {
        let own = &self.inboxes[self.peer];
        let peer = self.peer;
        // Every byte that arrives proves the peer alive, not only whole frames: a large frame
        // on a slow link may take longer than the receive timeout.
        let counted = Counted {
            inner: stream,
            activity: Arc::clone(&self.activity),
        };
        let mut input = BufReader::with_capacity(IO_BUFFER_BYTES, counted);
        loop {
            let read = read_frame(&mut input, self.max_payload);
            if matches!(read, Ok(Some(_))) {
                self.activity.touch();
            }
            let event = match read {
                Ok(Some(frame)) if frame.op == KEEPALIVE_OP && frame.payload.is_empty() => {
                    continue;
                }
                Ok(Some(frame)) if frame.op == ABORT_OP => {
                    let reason = abort_reason(&frame.payload);
                    debug!(peer, "peer aborted");
                    // Whatever this endpoint waits for, the computation is over: tell every
                    // pending `recv`, and every later one, who gave up and why.
                    for inbox in &self.inboxes {
                        let _ = inbox.send(Incoming::Aborted {
                            peer,
                            reason: reason.clone(),
                        });
                    }
                    return Ending::Aborted(reason);
                }
                Ok(Some(frame)) => {
                    if !self.backlog.admit(frame.payload.len() as u64) {
                        return Ending::Closed;
                    }
                    // Waiting for room is not the peer's silence.
                    self.activity.touch();
                    Incoming::Frame(frame)
                }
                Ok(None) => {
                    debug!(peer, "peer closed its side of the connection");
                    return Ending::Closed;
                }
                // After a bad frame the stream cannot be resynchronised: report it and stop.
                Err(ReadError::Malformed(e)) => {
                    debug!(peer, reason = %e, "malformed frame");
                    Incoming::Malformed(e)
                }
                Err(ReadError::Io(e)) => {
                    debug!(peer, error = %e, "reader failed");
                    Incoming::Failed(e)
                }
            };
            let last = !matches!(event, Incoming::Frame(_));
            if own.send(event).is_err() || last {
                return Ending::Closed;
            }
        }
    }
}

/// Locks a per-peer state. Nothing panics while holding these locks, so poisoning cannot
/// leave them inconsistent.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
