//! TLS 1.3 with mutual authentication on every link of a [`NetComm`](crate::NetComm).
//!
//! Every endpoint holds a certificate from a CA all endpoints agree on, issued for its name in
//! the cluster file (a DNS subject alternative name). When endpoint `a` connects to endpoint
//! `b`, `a` checks that `b`'s certificate is valid for `b`'s name, and `b` checks `a`'s chain
//! against the CA and, once `a` has said which rank it is, that the certificate is valid for
//! that rank's name. A valid certificate for `alice` therefore cannot join as `bob`, and nothing
//! (seeds included) moves before both sides are authenticated.
//!
//! The crypto provider is `ring` (pure Rust and assembly shipped in the crate: no system
//! library or prebuilt binary), and only TLS 1.3 is offered.
//!
//! After the handshake a link is driven by two threads (see [`Transport`]): the session sits
//! behind a lock that neither thread holds while it blocks on the socket. The reader reads
//! raw bytes without the lock and feeds them to the session under it; the writer encrypts
//! under the lock and writes the records while holding only the socket's write lock, which it
//! takes before it lets go of the session's, so records reach the socket in the order the
//! session made them.

use crate::transport::{Closer, Halves, Transport};
use crate::{Error, Result};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig};
use rustls::{ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

fn tls_error(message: String) -> Error {
    Error::Tls(message)
}

/// What an endpoint needs for TLS: the CA, its own certificate chain and key, and the name
/// of every rank (the names certificates are checked against).
#[derive(Clone)]
pub struct TlsConfig {
    names: Vec<String>,
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// The `ring` provider: it builds from the crate alone on any machine with a C compiler,
/// which is what the project asks of a TLS stack. rustls marks it deprecated because it has no
/// post-quantum key exchange (X25519MLKEM768 needs the aws-lc-rs provider, a larger native
/// build); key exchange here is X25519 or ECDHE on P-256/P-384.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    // AES-128-GCM first: with AES instructions it is the fastest suite, and links carry
    // hundreds of megabytes.
    provider
        .cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
}

/// `name` as a TLS server name (a DNS name).
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|_| {
        tls_error(format!(
            "`{name}` cannot be a certificate name (use letters, digits, `-` and `.`)"
        ))
    })
}

/// Whether `cert` is valid for `name` (its subject alternative names).
fn valid_for(cert: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(name) = server_name(name) else {
        return false;
    };
    webpki::EndEntityCert::try_from(cert)
        .and_then(|c| c.verify_is_valid_for_subject_name(&name))
        .is_ok()
}

impl TlsConfig {
    /// A configuration from PEM text: the CA certificate(s), this endpoint's certificate chain
    /// (its own first) and private key, the names of all ranks in rank order, and this
    /// endpoint's rank, whose name its certificate must carry.
    ///
    /// # Errors
    /// `Tls` for PEM that holds no certificate or key, a certificate not valid for this
    /// endpoint's name, or a key that does not fit it.
    pub fn from_pem(
        ca_pem: &[u8],
        cert_pem: &[u8],
        key_pem: &[u8],
        names: Vec<String>,
        rank: usize,
    ) -> Result<Self> {
        let own = names
            .get(rank)
            .ok_or_else(|| tls_error(format!("rank {rank} has no name")))?
            .clone();
        for name in &names {
            server_name(name)?;
        }
        let mut roots = RootCertStore::empty();
        let mut cas = 0;
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| tls_error(format!("the CA file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("the CA file: {e}")))?;
            cas += 1;
        }
        if cas == 0 {
            return Err(tls_error("the CA file holds no certificate".into()));
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| tls_error(format!("the certificate file: {e}")))?;
        let Some(leaf) = chain.first() else {
            return Err(tls_error(
                "the certificate file holds no certificate".into(),
            ));
        };
        if !valid_for(leaf, &own) {
            return Err(tls_error(format!(
                "the certificate is not issued for `{own}`, this endpoint's name in the cluster"
            )));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| tls_error(format!("the key file: {e}")))?;
        let roots = Arc::new(roots);
        let versions = [&rustls::version::TLS13];
        let client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&versions)
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(Arc::clone(&roots))
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(|e| tls_error(format!("the certificate and key: {e}")))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| tls_error(e.to_string()))?;
        let mut server = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&versions)
            .map_err(|e| tls_error(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| tls_error(format!("the certificate and key: {e}")))?;
        // Links are never resumed: no session tickets.
        server.send_tls13_tickets = 0;
        Ok(Self {
            names,
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// Reads the three PEM files.
    ///
    /// # Errors
    /// `Tls` naming a file that cannot be read; otherwise as [`TlsConfig::from_pem`].
    pub fn from_files(
        ca: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
        names: Vec<String>,
        rank: usize,
    ) -> Result<Self> {
        let read = |what: &str, p: &std::path::Path| {
            std::fs::read(p)
                .map_err(|e| tls_error(format!("cannot read the {what} {}: {e}", p.display())))
        };
        Self::from_pem(
            &read("CA certificate", ca)?,
            &read("certificate", cert)?,
            &read("key", key)?,
            names,
            rank,
        )
    }

    /// The name of `rank`.
    pub(crate) fn name(&self, rank: usize) -> &str {
        self.names.get(rank).map_or("?", String::as_str)
    }

    /// The number of ranks named.
    pub(crate) fn ranks(&self) -> usize {
        self.names.len()
    }

    /// The client side of a handshake with `peer` over `tcp` (socket timeouts bound it).
    pub(crate) fn connect(&self, tcp: TcpStream, peer: usize) -> io::Result<TlsStream> {
        let name = server_name(self.name(peer)).map_err(io::Error::other)?;
        let mut conn =
            ClientConnection::new(Arc::clone(&self.client), name).map_err(io::Error::other)?;
        let mut tcp = tcp;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(TlsStream::Client(StreamOwned::new(conn, tcp)))
    }

    /// The server side of a handshake over `tcp`: the client's chain is checked against the
    /// CA here; its name, once it claims a rank, by [`TlsStream::check_peer`].
    pub(crate) fn accept(&self, tcp: TcpStream) -> io::Result<TlsStream> {
        let mut conn = ServerConnection::new(Arc::clone(&self.server)).map_err(io::Error::other)?;
        let mut tcp = tcp;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(TlsStream::Server(StreamOwned::new(conn, tcp)))
    }
}

/// An authenticated connection during set-up, before it becomes a link's transport.
pub(crate) enum TlsStream {
    Client(StreamOwned<ClientConnection, TcpStream>),
    Server(StreamOwned<ServerConnection, TcpStream>),
}

impl TlsStream {
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Client(s) => &s.sock,
            Self::Server(s) => &s.sock,
        }
    }

    /// Checks that the peer's certificate is valid for `name`.
    pub(crate) fn check_peer(&self, name: &str) -> std::result::Result<(), String> {
        let certs = match self {
            Self::Client(s) => s.conn.peer_certificates(),
            Self::Server(s) => s.conn.peer_certificates(),
        };
        match certs.and_then(<[CertificateDer<'_>]>::first) {
            Some(cert) if valid_for(cert, name) => Ok(()),
            Some(_) => Err(format!(
                "its certificate is valid, but not issued for `{name}`"
            )),
            None => Err("it presented no certificate".into()),
        }
    }

    pub(crate) fn into_transport(self) -> TlsTransport {
        let (conn, sock) = match self {
            Self::Client(s) => (Connection::from(s.conn), s.sock),
            Self::Server(s) => (Connection::from(s.conn), s.sock),
        };
        TlsTransport { conn, sock }
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Client(s) => s.read(buf),
            Self::Server(s) => s.read(buf),
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Client(s) => s.write(buf),
            Self::Server(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Client(s) => s.flush(),
            Self::Server(s) => s.flush(),
        }
    }
}

/// An established TLS link, ready to split for its reader and writer threads.
pub(crate) struct TlsTransport {
    conn: Connection,
    sock: TcpStream,
}

/// The state the halves share.
struct Shared {
    session: Mutex<Connection>,
    /// The socket's writing side: held while records are written, so that they keep the
    /// order in which the session made them.
    out: Mutex<TcpStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a thread panicked mid-operation; the link is failing anyway, and
    // the next socket operation reports it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Takes the records the session wants to send and writes them, holding the socket's
    /// lock (taken before the session's is released) so that no later records overtake them.
    /// With `wait` false (the reader's side), a socket busy with the writer's records leaves
    /// them queued in the session for the writer's next flush: a reader never waits for the
    /// socket while it holds the session, so it always goes back to reading, and two parties
    /// writing to each other cannot deadlock.
    fn flush_records(
        &self,
        mut session: MutexGuard<'_, Connection>,
        records: &mut Vec<u8>,
        wait: bool,
    ) -> io::Result<()> {
        if !session.wants_write() {
            return Ok(());
        }
        let mut out = if wait {
            lock(&self.out)
        } else {
            match self.out.try_lock() {
                Ok(out) => out,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
            }
        };
        records.clear();
        while session.wants_write() {
            session.write_tls(records)?;
        }
        drop(session);
        out.write_all(records)
    }
}

/// The reading half: raw bytes come from its own clone of the socket without any lock.
struct TlsReader {
    shared: Arc<Shared>,
    sock: TcpStream,
    /// Records this side must send (rare after the handshake: alerts, key updates).
    records: Vec<u8>,
    raw: Vec<u8>,
    start: usize,
    end: usize,
}

/// Raw bytes read from the socket at a time.
const RAW_CHUNK: usize = 256 << 10;

impl Read for TlsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut session = lock(&self.shared.session);
            match session.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.start < self.end {
                let mut pending = &self.raw[self.start..self.end];
                let before = pending.len();
                session.read_tls(&mut pending)?;
                self.start += before - pending.len();
                session
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.shared
                    .flush_records(session, &mut self.records, false)?;
                continue;
            }
            drop(session);
            let n = self.sock.read(&mut self.raw)?;
            if n == 0 {
                // End of stream: the session says whether it was clean (close_notify first).
                let mut session = lock(&self.shared.session);
                session.read_tls(&mut io::empty())?;
                session
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                return match session.reader().read(buf) {
                    Ok(n) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                    Err(e) => Err(e),
                };
            }
            self.start = 0;
            self.end = n;
        }
    }
}

/// The writing half: encrypts under the session's lock, writes under the socket's.
struct TlsWriter {
    shared: Arc<Shared>,
    /// The encrypted records of one write, reused.
    records: Vec<u8>,
}

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut session = lock(&self.shared.session);
        let n = session.writer().write(buf)?;
        self.shared
            .flush_records(session, &mut self.records, true)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct TlsCloser {
    shared: Arc<Shared>,
    sock: TcpStream,
}

impl Closer for TlsCloser {
    fn close_write(&self) {
        let mut session = lock(&self.shared.session);
        session.send_close_notify();
        // Errors here only mean the connection is already gone.
        let _ = self.shared.flush_records(session, &mut Vec::new(), true);
        let _ = self.sock.shutdown(Shutdown::Write);
    }

    fn close(&self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}

impl Transport for TlsTransport {
    fn split(self: Box<Self>) -> io::Result<Halves> {
        let Self { conn, sock } = *self;
        sock.set_read_timeout(None)?;
        sock.set_write_timeout(None)?;
        sock.set_nodelay(true)?;
        let shared = Arc::new(Shared {
            session: Mutex::new(conn),
            out: Mutex::new(sock.try_clone()?),
        });
        Ok(Halves {
            reader: Box::new(TlsReader {
                shared: Arc::clone(&shared),
                sock: sock.try_clone()?,
                records: Vec::new(),
                raw: vec![0; RAW_CHUNK],
                start: 0,
                end: 0,
            }),
            writer: Box::new(TlsWriter {
                shared: Arc::clone(&shared),
                records: Vec::new(),
            }),
            closer: Box::new(TlsCloser { shared, sock }),
        })
    }
}
