//! Connection set-up for the TCP communicator.
//!
//! Pairwise set-up: every endpoint connects to the lower ranks and accepts the higher ones.
//! Connecting needs no `accept` call on the other side (the kernel queues the connection), and
//! the endpoint that answers first (rank 0) only accepts, so the set-up cannot deadlock
//! whatever order the endpoints start in. On every new connection the connecting side sends a
//! hello frame with its rank and world size, the accepting side checks it and answers with its
//! own, and the connecting side checks that answer.
//!
//! Master set-up, for when only one address is known (torch.distributed's `MASTER_ADDR` and
//! `MASTER_PORT`): rank 0 listens on it, every other rank connects, registers the address of
//! its own listener, and waits for the table of all addresses. The registration connections
//! become the links to rank 0; the other pairs connect as above.
//!
//! Control frames use the ordinary frame format with reserved operation names. They are read
//! straight from the socket, without a buffer, so no byte of the data frames that may follow
//! them is consumed here.
//!
//! With TLS (`CommConfig::tls`, address tables only), each connection is a TLS 1.3 session
//! with mutual authentication before its hello: the connecting side checks the certificate of
//! the rank it dials; the accepting side checks the chain, then that the certificate is the
//! claimed rank's.
//!
//! A listener keeps listening through bad connections: a connection that fails before it
//! presents a well-formed (and, with TLS, authenticated) hello is logged and dropped, each
//! handshake bounded by [`HANDSHAKE_TIMEOUT`], and the last such refusal is named if the
//! rendezvous then times out. A well-formed hello that contradicts this endpoint (another
//! world size, a rank out of range, a duplicate) fails the rendezvous at once.

use crate::frame::{ReadError, encode_frame, read_frame};
use crate::shape::LinkShape;
use crate::tls::{TlsConfig, TlsStream};
use crate::transport::Transport;
use crate::{CommConfig, Error, Result};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::thread;
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// A connection per peer rank, `None` where there is none (yet).
pub(crate) type Streams = Vec<Option<Link>>;

/// A connection during set-up: plain TCP, or an authenticated TLS session.
pub(crate) enum Link {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
}

impl Link {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Tcp(s) => s,
            Self::Tls(s) => s.tcp(),
        }
    }

    /// The established link as its transport.
    pub(crate) fn into_transport(self) -> Box<dyn Transport> {
        match self {
            Self::Tcp(s) => Box::new(s),
            Self::Tls(s) => Box::new(s.into_transport()),
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// How long one incoming connection may take to present its hello (TLS handshake included):
/// a silent or slow stranger holds the listener no longer than this.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an incoming connection was not taken: dropped (the listener goes on) or fatal.
enum Refusal {
    Drop(String),
    Fatal(Error),
}

const HELLO: &str = "crypten/hello";
const REGISTER: &str = "crypten/register";
const TABLE: &str = "crypten/table";

/// Control frames are small; this bounds what a stray client can make us allocate.
const CONTROL_MAX_BYTES: u64 = 1 << 20;

/// How often a listener is polled for new connections while waiting for peers.
const ACCEPT_POLL: Duration = Duration::from_millis(2);

/// First and largest pause between connection attempts to a peer not listening yet.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

fn fail(message: String) -> Error {
    Error::Rendezvous(message)
}

fn check_rank(rank: usize, world_size: usize) -> Result<()> {
    if rank >= world_size {
        return Err(fail(format!(
            "rank {rank} is out of range for {world_size} endpoints"
        )));
    }
    Ok(())
}

/// Pairwise set-up from a full address table; see the module docs.
pub(crate) fn connect_all(
    rank: usize,
    listener: &TcpListener,
    addrs: &[SocketAddr],
    config: &CommConfig,
) -> Result<Streams> {
    let world_size = addrs.len();
    check_rank(rank, world_size)?;
    let deadline = Instant::now() + config.connect_timeout;
    if let Some(tls) = &config.tls
        && tls.ranks() != world_size
    {
        return Err(fail(format!(
            "the TLS names cover {} endpoints, the address table {world_size}",
            tls.ranks()
        )));
    }
    let mut streams: Streams = (0..world_size).map(|_| None).collect();
    pairwise(
        rank,
        listener,
        addrs,
        &mut streams,
        deadline,
        config.channel,
        (config.tls.as_deref(), config.link),
    )?;
    Ok(streams)
}

/// Set-up through a master; see the module docs.
pub(crate) fn via_master(
    rank: usize,
    world_size: usize,
    master: SocketAddr,
    config: &CommConfig,
) -> Result<Streams> {
    check_rank(rank, world_size)?;
    if config.tls.is_some() {
        return Err(fail(
            "TLS needs every endpoint's address and name (a cluster file), not a master".into(),
        ));
    }
    let deadline = Instant::now() + config.connect_timeout;
    let mut streams: Streams = (0..world_size).map(|_| None).collect();
    if world_size == 1 {
        return Ok(streams);
    }
    if rank == 0 {
        serve_table(
            world_size,
            master,
            &mut streams,
            deadline,
            (config.channel, config.announce.as_deref()),
        )?;
        return Ok(streams);
    }

    let stream = dial(master, deadline, config.link).map_err(|e| {
        fail(format!(
            "party {rank} could not reach the master at {master}: {e}"
        ))
    })?;
    set_timeouts(&stream, deadline, master)?;
    let mut stream = Link::Tcp(stream);
    // Listen on the local address of the route to the master: the other parties reach this
    // machine the same way the master does, and nothing is exposed on other interfaces.
    let ip = stream
        .tcp()
        .local_addr()
        .map_err(|e| fail(format!("party {rank}: {e}")))?
        .ip();
    let listener = TcpListener::bind((ip, 0))
        .map_err(|e| fail(format!("party {rank} cannot listen on {ip}: {e}")))?;
    let own = listener
        .local_addr()
        .map_err(|e| fail(format!("party {rank}: {e}")))?;
    write_control(
        &mut stream,
        config.channel,
        REGISTER,
        &register_payload(rank, world_size, own),
        master,
    )?;
    let table = read_control(&mut stream, config.channel, TABLE, master)?;
    let table = parse_table(&table, world_size, master)?;
    debug!(rank, %own, "received the address table");
    streams[0] = Some(stream);
    pairwise(
        rank,
        &listener,
        &table,
        &mut streams,
        deadline,
        config.channel,
        (None, config.link),
    )?;
    Ok(streams)
}

/// Rank 0's side of the master set-up: collects every registration, then sends the table.
fn serve_table(
    world_size: usize,
    master: SocketAddr,
    streams: &mut Streams,
    deadline: Instant,
    (channel, announce): (u32, Option<&std::path::Path>),
) -> Result<()> {
    let listener = TcpListener::bind(master)
        .map_err(|e| fail(format!("the master cannot listen on {master}: {e}")))?;
    // Port 0 binds a free port: the table and the announcement carry the real one.
    let master = listener
        .local_addr()
        .map_err(|e| fail(format!("the master: {e}")))?;
    if let Some(path) = announce {
        announce_port(path, master.port())?;
    }
    let mut table = vec![master; world_size];
    accept_ranks(
        &listener,
        0,
        1..world_size,
        streams,
        deadline,
        None,
        |stream, from, streams| {
            let payload = read_control(stream, channel, REGISTER, from).map_err(dropped)?;
            let (rank, size, addr) = parse_register(&payload, from).map_err(dropped)?;
            let rank = check_claim(0, world_size, 1..world_size, streams, (rank, size), from)
                .map_err(Refusal::Fatal)?;
            table[rank] = addr;
            debug!(rank, %addr, "registered");
            Ok(rank)
        },
    )?;
    let payload = encode_table(&table);
    for (rank, stream) in streams.iter_mut().enumerate() {
        if let Some(stream) = stream {
            write_control(stream, channel, TABLE, &payload, table[rank])?;
        }
    }
    Ok(())
}

fn dropped(e: Error) -> Refusal {
    Refusal::Drop(match e {
        Error::Rendezvous(m) => m,
        other => other.to_string(),
    })
}

/// Writes the master's port to `path` (through a temporary file and a rename, so that a
/// reader never sees half of it), for a launcher that starts the other ranks once it knows it.
fn announce_port(path: &std::path::Path, port: u16) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, port.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            fail(format!(
                "cannot announce the master port in {}: {e}",
                path.display()
            ))
        })
}

/// Connects to every lower rank without a connection yet, then accepts the higher ones.
fn pairwise(
    rank: usize,
    listener: &TcpListener,
    addrs: &[SocketAddr],
    streams: &mut Streams,
    deadline: Instant,
    channel: u32,
    (tls, link): (Option<&TlsConfig>, Option<LinkShape>),
) -> Result<()> {
    let world_size = addrs.len();
    for (peer, &addr) in addrs.iter().enumerate().take(rank) {
        if streams[peer].is_none() {
            streams[peer] = Some(connect_peer(
                rank,
                world_size,
                peer,
                addr,
                deadline,
                channel,
                (tls, link),
            )?);
        }
    }
    accept_ranks(
        listener,
        rank,
        rank + 1..world_size,
        streams,
        deadline,
        tls,
        |stream, from, streams| {
            let payload = read_control(stream, channel, HELLO, from).map_err(dropped)?;
            let claim = parse_hello(&payload, from).map_err(dropped)?;
            // With TLS the claim must match the certificate before anything else is believed.
            if let (Some(tls), Link::Tls(session)) = (tls, &*stream) {
                let name = usize::try_from(claim.0)
                    .ok()
                    .filter(|&r| r < world_size)
                    .map_or("?", |r| tls.name(r));
                session.check_peer(name).map_err(|why| {
                    Refusal::Drop(format!(
                        "the connection from {from} claims rank {} ({name}), but {why}",
                        claim.0
                    ))
                })?;
            }
            let peer = check_claim(rank, world_size, rank + 1..world_size, streams, claim, from)
                .map_err(Refusal::Fatal)?;
            write_control(
                stream,
                channel,
                HELLO,
                &hello_payload(rank, world_size),
                from,
            )
            .map_err(dropped)?;
            debug!(rank, peer, %from, "accepted");
            Ok(peer)
        },
    )
}

/// Connects to `peer` at `addr` and exchanges hellos (after a TLS handshake that checks the
/// peer's certificate against its name, with TLS).
fn connect_peer(
    rank: usize,
    world_size: usize,
    peer: usize,
    addr: SocketAddr,
    deadline: Instant,
    channel: u32,
    (tls, link): (Option<&TlsConfig>, Option<LinkShape>),
) -> Result<Link> {
    let stream = dial(addr, deadline, link).map_err(|e| {
        fail(format!(
            "party {rank} could not connect to party {peer} at {addr}: {e}"
        ))
    })?;
    set_timeouts(&stream, deadline, addr)?;
    let mut stream = match tls {
        None => Link::Tcp(stream),
        Some(tls) => Link::Tls(Box::new(tls.connect(stream, peer).map_err(|e| {
            fail(format!(
                "party {rank} could not set up TLS with party {peer} ({}) at {addr}: {e}",
                tls.name(peer)
            ))
        })?)),
    };
    let who = match tls {
        Some(tls) => format!("party {peer} ({})", tls.name(peer)),
        None => format!("party {peer}"),
    };
    let named = |e: Error| match e {
        Error::Rendezvous(m) => fail(format!("party {rank}, greeting {who}: {m}")),
        other => other,
    };
    write_control(
        &mut stream,
        channel,
        HELLO,
        &hello_payload(rank, world_size),
        addr,
    )
    .map_err(named)?;
    let reply = read_control(&mut stream, channel, HELLO, addr).map_err(named)?;
    let (their_rank, their_size) = parse_hello(&reply, addr)?;
    if (their_rank, their_size) != (peer as u64, world_size as u64) {
        return Err(fail(format!(
            "party {rank} expected party {peer} of {world_size} at {addr}, but it answered as \
             party {their_rank} of {their_size}"
        )));
    }
    debug!(rank, peer, %addr, "connected");
    Ok(stream)
}

/// Connects to `addr`, through a shaping relay in this process when `link` is set.
fn dial(addr: SocketAddr, deadline: Instant, link: Option<LinkShape>) -> io::Result<TcpStream> {
    match link {
        None => connect_retrying(addr, deadline),
        Some(shape) => {
            let relay = crate::shape::relay_to(addr, shape, deadline)
                .map_err(|e| io::Error::other(e.to_string()))?;
            connect_retrying(relay, deadline)
        }
    }
}

/// Tries to connect until `deadline`, pausing longer after each refusal: peers start in any
/// order, so the one to connect to may not be listening yet.
pub(crate) fn connect_retrying(addr: SocketAddr, deadline: Instant) -> io::Result<TcpStream> {
    let mut backoff = FIRST_BACKOFF;
    let mut last_error = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(last_error.unwrap_or_else(|| io::ErrorKind::TimedOut.into()));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
        thread::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())));
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Accepts connections until every rank in `wanted` has one. `handshake` reads the claim of a
/// new connection and returns its validated rank. A connection refused with
/// [`Refusal::Drop`] is logged and closed, and the listener goes on.
fn accept_ranks(
    listener: &TcpListener,
    rank: usize,
    wanted: Range<usize>,
    streams: &mut Streams,
    deadline: Instant,
    tls: Option<&TlsConfig>,
    mut handshake: impl FnMut(&mut Link, SocketAddr, &Streams) -> std::result::Result<usize, Refusal>,
) -> Result<()> {
    let missing = |streams: &Streams| -> Vec<usize> {
        wanted
            .clone()
            .filter(|&peer| streams[peer].is_none())
            .collect()
    };
    if missing(streams).is_empty() {
        return Ok(());
    }
    // Non-blocking accepts let the deadline be enforced: std has no accept with a timeout.
    listener
        .set_nonblocking(true)
        .map_err(|e| fail(format!("party {rank}: {e}")))?;
    let mut refused: Option<String> = None;
    loop {
        match listener.accept() {
            Ok((stream, from)) => {
                // A connection reset before it is configured is a stranger's problem, not
                // the rendezvous's: drop it like any other bad connection.
                let limit = deadline.min(Instant::now() + HANDSHAKE_TIMEOUT);
                let configured = stream
                    .set_nonblocking(false)
                    .map_err(|e| fail(format!("connection from {from}: {e}")))
                    .and_then(|()| set_timeouts(&stream, limit, from));
                if let Err(e) = configured {
                    warn!(rank, %from, "refused a connection: {e}");
                    refused = Some(e.to_string());
                    continue;
                }
                // The whole handshake, TLS included, ends by `limit`: a peer that trickles a
                // byte at a time would otherwise reset every per-read timeout and hold the
                // listener for as long as it likes.
                let watchdog = Watchdog::arm(&stream, limit);
                let taken = match tls {
                    None => Ok(Link::Tcp(stream)),
                    Some(tls) => tls
                        .accept(stream)
                        .map(|s| Link::Tls(Box::new(s)))
                        .map_err(|e| Refusal::Drop(format!("TLS with {from} failed: {e}"))),
                }
                .and_then(|mut link| {
                    let peer = handshake(&mut link, from, streams)?;
                    Ok((peer, link))
                });
                drop(watchdog);
                match taken {
                    Ok((peer, link)) => {
                        set_timeouts(link.tcp(), deadline, from)?;
                        streams[peer] = Some(link);
                        if missing(streams).is_empty() {
                            return Ok(());
                        }
                    }
                    Err(Refusal::Fatal(e)) => return Err(e),
                    Err(Refusal::Drop(why)) => {
                        warn!(rank, %from, "refused a connection: {why}");
                        refused = Some(why);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let why = refused
                        .as_ref()
                        .map(|w| format!(" (the last connection refused: {w})"))
                        .unwrap_or_default();
                    return Err(fail(format!(
                        "party {rank} timed out waiting for parties {:?} to connect{why}",
                        missing(streams)
                    )));
                }
                thread::sleep(ACCEPT_POLL);
            }
            // A client that gave up before we accepted it: keep waiting for the others.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => return Err(fail(format!("party {rank} failed to accept: {e}"))),
        }
    }
}

/// Validates the `(rank, world size)` a connection from `from` claims against this endpoint's
/// view, and returns the rank.
fn check_claim(
    rank: usize,
    world_size: usize,
    wanted: Range<usize>,
    streams: &Streams,
    (their_rank, their_size): (u64, u64),
    from: SocketAddr,
) -> Result<usize> {
    if their_size != world_size as u64 {
        return Err(fail(format!(
            "world size mismatch: party {rank} runs with {world_size} endpoints, but the \
             connection from {from} (claiming rank {their_rank}) runs with {their_size}"
        )));
    }
    let claimed = usize::try_from(their_rank)
        .ok()
        .filter(|r| wanted.contains(r));
    let Some(claimed) = claimed else {
        return Err(fail(format!(
            "the connection from {from} claims rank {their_rank}, but party {rank} only \
             accepts ranks {wanted:?}"
        )));
    };
    if streams[claimed].is_some() {
        return Err(fail(format!(
            "duplicate rank: a second connection (from {from}) claims rank {claimed}"
        )));
    }
    Ok(claimed)
}

/// Shuts a connection down at a deadline unless dropped first: bounds a whole exchange (each
/// blocking read has its own timeout, which a peer that trickles bytes keeps resetting).
struct Watchdog {
    cancel: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Watches `stream` until `deadline`; `None` (no watch, the per-read timeouts remain) if
    /// the socket cannot be shared or no thread started.
    fn arm(stream: &TcpStream, deadline: Instant) -> Option<Self> {
        let socket = stream.try_clone().ok()?;
        let (cancel, cancelled) = std::sync::mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("handshake-watchdog".into())
            .spawn(move || {
                let left = deadline.saturating_duration_since(Instant::now());
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    cancelled.recv_timeout(left)
                {
                    let _ = socket.shutdown(std::net::Shutdown::Both);
                }
            })
            .ok()?;
        Some(Self {
            cancel: Some(cancel),
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Disconnecting the channel stands the watch down.
        drop(self.cancel.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Bounds the blocking reads and writes of the set-up by `deadline`.
fn set_timeouts(stream: &TcpStream, deadline: Instant, peer: SocketAddr) -> Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(fail(format!(
            "timed out setting up the connection with {peer}"
        )));
    }
    stream
        .set_read_timeout(Some(left))
        .and_then(|()| stream.set_write_timeout(Some(left)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| fail(format!("connection with {peer}: {e}")))
}

fn write_control(
    stream: &mut Link,
    channel: u32,
    op: &str,
    payload: &[u8],
    peer: SocketAddr,
) -> Result<()> {
    stream
        .write_all(&encode_frame(channel, 0, op, payload))
        .map_err(|e| fail(format!("sending `{op}` to {peer}: {e}")))
}

fn read_control(stream: &mut Link, channel: u32, op: &str, peer: SocketAddr) -> Result<Vec<u8>> {
    match read_frame(stream, CONTROL_MAX_BYTES) {
        Ok(Some(frame)) if frame.channel != channel => Err(fail(format!(
            "{peer} belongs to computation (channel) {}, this endpoint to {channel}",
            frame.channel
        ))),
        Ok(Some(frame)) if frame.op == op => Ok(frame.payload),
        Ok(Some(frame)) => Err(fail(format!(
            "expected a `{op}` frame from {peer}, got `{}`",
            frame.op
        ))),
        Ok(None) => Err(fail(format!(
            "{peer} closed the connection before sending `{op}` (it may have rejected us)"
        ))),
        Err(ReadError::Malformed(e)) => Err(fail(format!("bad `{op}` frame from {peer}: {e}"))),
        Err(ReadError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(fail(format!("timed out waiting for `{op}` from {peer}")))
        }
        Err(ReadError::Io(e)) => Err(fail(format!("reading `{op}` from {peer}: {e}"))),
    }
}

fn hello_payload(rank: usize, world_size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&(rank as u64).to_le_bytes());
    out.extend_from_slice(&(world_size as u64).to_le_bytes());
    out
}

/// Splits `(rank, world size)` off the front of a control payload.
fn split_claim(payload: &[u8]) -> Option<((u64, u64), &[u8])> {
    let (rank, rest) = payload.split_first_chunk::<8>()?;
    let (size, rest) = rest.split_first_chunk::<8>()?;
    Some(((u64::from_le_bytes(*rank), u64::from_le_bytes(*size)), rest))
}

fn parse_hello(payload: &[u8], from: SocketAddr) -> Result<(u64, u64)> {
    match split_claim(payload) {
        Some((claim, [])) => Ok(claim),
        _ => Err(fail(format!("malformed hello from {from}"))),
    }
}

fn register_payload(rank: usize, world_size: usize, addr: SocketAddr) -> Vec<u8> {
    let mut out = hello_payload(rank, world_size);
    out.extend_from_slice(addr.to_string().as_bytes());
    out
}

fn parse_register(payload: &[u8], from: SocketAddr) -> Result<(u64, u64, SocketAddr)> {
    let parsed = split_claim(payload).and_then(|(claim, rest)| {
        let addr = std::str::from_utf8(rest).ok()?.parse().ok()?;
        Some((claim.0, claim.1, addr))
    });
    parsed.ok_or_else(|| fail(format!("malformed registration from {from}")))
}

/// The address table as text, one address per line: small, and IPv6 needs no special case.
fn encode_table(table: &[SocketAddr]) -> Vec<u8> {
    table
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn parse_table(payload: &[u8], world_size: usize, master: SocketAddr) -> Result<Vec<SocketAddr>> {
    let bad = || {
        fail(format!(
            "malformed address table from the master at {master}"
        ))
    };
    let text = std::str::from_utf8(payload).map_err(|_| bad())?;
    let table = text
        .split('\n')
        .map(|line| line.parse().map_err(|_| bad()))
        .collect::<Result<Vec<SocketAddr>>>()?;
    if table.len() != world_size {
        return Err(fail(format!(
            "world size mismatch: the master at {master} runs with {} endpoints, this party \
             with {world_size}",
            table.len()
        )));
    }
    Ok(table)
}
