//! TLS 1.3 with mutual authentication between endpoints: large payloads both ways on every
//! link, and each refusal with a clear error at both ends and no hang: a stranger without a
//! certificate (the real party then proceeds), a certificate from another CA, one endpoint's
//! certificate presented for another's rank, an expired certificate, a plain-TCP client at a
//! TLS port, and a TLS client dialling the wrong address.

use crypten_comm::devcerts::{DevCa, Issued};
use crypten_comm::{CommConfig, Communicator, Error, NetComm, OffsetDateTime, TlsConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const NAMES: [&str; 3] = ["alice", "bob", "carol"];

fn names(n: usize) -> Vec<String> {
    NAMES[..n].iter().map(|s| s.to_string()).collect()
}

struct Pki {
    ca: DevCa,
    certs: Vec<Issued>,
}

fn pki(n: usize) -> Pki {
    let ca = DevCa::generate("test CA").expect("CA");
    let certs = NAMES[..n]
        .iter()
        .map(|name| ca.issue(name, 30).expect("cert"))
        .collect();
    Pki { ca, certs }
}

fn tls(pki_ca: &DevCa, issued: &Issued, n: usize, rank: usize) -> Arc<TlsConfig> {
    Arc::new(
        TlsConfig::from_pem(
            pki_ca.cert_pem().as_bytes(),
            issued.cert_pem.as_bytes(),
            issued.key_pem.as_bytes(),
            names(n),
            rank,
        )
        .expect("tls config"),
    )
}

fn config(tls: Option<Arc<TlsConfig>>) -> CommConfig {
    CommConfig {
        recv_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        tls,
        ..CommConfig::default()
    }
}

fn listeners(n: usize) -> (Vec<TcpListener>, Vec<SocketAddr>) {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect();
    (listeners, addrs)
}

/// Runs one endpoint per (listener, table, config) on its own thread.
fn meet(
    endpoints: Vec<(usize, TcpListener, Vec<SocketAddr>, CommConfig)>,
) -> Vec<Result<NetComm, Error>> {
    let handles: Vec<_> = endpoints
        .into_iter()
        .map(|(rank, listener, addrs, cfg)| {
            thread::spawn(move || NetComm::from_listener(rank, listener, &addrs, cfg))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("endpoint thread"))
        .collect()
}

fn message<T>(r: &Result<T, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn three_endpoints_exchange_large_payloads_over_mutual_tls() {
    let pki = pki(3);
    let (listeners, addrs) = listeners(3);
    let endpoints = listeners
        .into_iter()
        .enumerate()
        .map(|(r, l)| {
            (
                r,
                l,
                addrs.clone(),
                config(Some(tls(&pki.ca, &pki.certs[r], 3, r))),
            )
        })
        .collect();
    let comms: Vec<NetComm> = meet(endpoints)
        .into_iter()
        .map(|r| r.expect("rendezvous"))
        .collect();
    let payload = |from: usize, to: usize| -> Vec<u8> {
        (0..(3 << 20) + from * 7 + to)
            .map(|i| (i * 31 + from * 5 + to) as u8)
            .collect()
    };
    let handles: Vec<_> = comms
        .into_iter()
        .map(|comm| {
            thread::spawn(move || {
                let me = comm.rank();
                // Everyone sends before anyone receives: both directions of every link at once.
                for peer in (0..3).filter(|&p| p != me) {
                    comm.send(peer, "big", payload(me, peer)).expect("send");
                }
                for peer in (0..3).filter(|&p| p != me) {
                    let got = comm.recv(peer, "big").expect("recv");
                    assert!(got == payload(peer, me), "payload from {peer} to {me}");
                }
                for round in 0..50u64 {
                    for peer in (0..3).filter(|&p| p != me) {
                        comm.send_u64(peer, "small", &[round, me as u64])
                            .expect("send");
                    }
                    for peer in (0..3).filter(|&p| p != me) {
                        assert_eq!(
                            comm.recv_u64(peer, "small", 2).expect("recv"),
                            [round, peer as u64]
                        );
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("endpoint");
    }
}

#[test]
fn a_certificate_must_be_issued_for_the_endpoint_that_uses_it() {
    let pki = pki(2);
    let err = TlsConfig::from_pem(
        pki.ca.cert_pem().as_bytes(),
        pki.certs[0].cert_pem.as_bytes(),
        pki.certs[0].key_pem.as_bytes(),
        names(2),
        1,
    )
    .expect_err("alice's certificate for bob");
    assert!(err.to_string().contains("not issued for `bob`"), "{err}");
    let err = TlsConfig::from_pem(b"", b"", b"", names(2), 0).expect_err("empty PEM");
    assert!(
        err.to_string().contains("CA file holds no certificate"),
        "{err}"
    );
}

/// Alice (rank 0, real) and a second endpoint configured by `bob`: returns both results and
/// how long alice took.
fn alice_and(
    bob: Option<Arc<TlsConfig>>,
    pki: &Pki,
) -> (Result<NetComm, Error>, Result<NetComm, Error>) {
    let (mut listeners, addrs) = listeners(2);
    let l1 = listeners.pop().expect("listener");
    let l0 = listeners.pop().expect("listener");
    let alice = config(Some(tls(&pki.ca, &pki.certs[0], 2, 0)));
    let mut results = meet(vec![
        (0, l0, addrs.clone(), alice),
        (1, l1, addrs, config(bob)),
    ]);
    let b = results.pop().expect("bob");
    let a = results.pop().expect("alice");
    (a, b)
}

#[test]
fn a_certificate_from_another_ca_is_refused_at_both_ends() {
    let pki = pki(2);
    let other = DevCa::generate("another CA").expect("CA");
    let forged = other.issue("bob", 30).expect("cert");
    // Bob trusts the real CA (the cluster's) but holds a certificate from another one.
    let bob = Arc::new(
        TlsConfig::from_pem(
            pki.ca.cert_pem().as_bytes(),
            forged.cert_pem.as_bytes(),
            forged.key_pem.as_bytes(),
            names(2),
            1,
        )
        .expect("config"),
    );
    let (a, b) = alice_and(Some(bob), &pki);
    let (a, b) = (message(&a), message(&b));
    assert!(
        a.contains("timed out waiting for parties [1]") && a.contains("TLS with"),
        "{a}"
    );
    assert!(b.contains("party 0"), "{b}");
    assert_ne!(b, "ok");
}

#[test]
fn one_endpoints_certificate_cannot_join_as_another() {
    let pki = pki(2);
    // A valid certificate for alice, presented by an endpoint that claims bob's rank.
    let impostor = tls(&pki.ca, &pki.certs[0], 2, 0);
    let (a, b) = alice_and(Some(impostor), &pki);
    let (a, b) = (message(&a), message(&b));
    assert!(
        a.contains("claims rank 1 (bob)") && a.contains("not issued for `bob`"),
        "{a}"
    );
    assert_ne!(b, "ok");
}

#[test]
fn an_expired_certificate_is_refused() {
    let pki = pki(2);
    let now = OffsetDateTime::now_utc();
    let expired = pki
        .ca
        .issue_between(
            "bob",
            now - Duration::from_secs(10 * 86_400),
            now - Duration::from_secs(86_400),
        )
        .expect("cert");
    let bob = tls(&pki.ca, &expired, 2, 1);
    let (a, b) = alice_and(Some(bob), &pki);
    let (a, b) = (message(&a), message(&b));
    assert!(a.contains("Expired") || a.contains("expired"), "{a}");
    assert_ne!(b, "ok");
}

#[test]
fn a_plain_tcp_client_at_a_tls_port_is_refused() {
    let pki = pki(2);
    let started = Instant::now();
    let (a, b) = alice_and(None, &pki);
    let (a, b) = (message(&a), message(&b));
    assert!(a.contains("TLS with"), "{a}");
    assert_ne!(b, "ok");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_tls_client_at_the_wrong_address_is_refused() {
    let pki = pki(3);
    // At the address bob's table gives for alice, another endpoint of the same CA answers
    // (carol, with a valid certificate for her own name).
    let carol = pki.certs[2].clone();
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            rustls::pki_types::pem::PemObject::pem_slice_iter(carol.cert_pem.as_bytes())
                .map(|c| c.expect("cert"))
                .collect(),
            rustls::pki_types::pem::PemObject::from_pem_slice(carol.key_pem.as_bytes())
                .expect("key"),
        )
        .expect("server config");
    let impostor = TcpListener::bind("127.0.0.1:0").expect("bind");
    let wrong = impostor.local_addr().expect("addr");
    let serve = thread::spawn(move || {
        let (mut sock, _) = impostor.accept().expect("accept");
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut conn = rustls::ServerConnection::new(Arc::new(server)).expect("server");
        let mut buf = [0u8; 64];
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        // The client aborts the handshake: nothing readable arrives.
        !matches!(tls.read(&mut buf), Ok(n) if n > 0)
    });
    let bob_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let table = vec![wrong, bob_listener.local_addr().expect("addr")];
    let result = NetComm::from_listener(1, bob_listener, &table, wrong_table_config(&pki));
    let bob = message(&result);
    assert!(
        bob.contains("party 0 (alice)") && bob.contains("not valid for name \"alice\""),
        "{bob}"
    );
    assert!(serve.join().expect("server"), "the impostor got data");
}

#[test]
fn a_stranger_without_a_certificate_is_refused_and_the_real_party_proceeds() {
    let pki = pki(2);
    let (mut listeners, addrs) = listeners(2);
    let l1 = listeners.pop().expect("listener");
    let l0 = listeners.pop().expect("listener");
    // The silent stranger holds alice's listener for its handshake timeout (5 s): her
    // connect timeout must outlast it.
    let alice_cfg = CommConfig {
        connect_timeout: Duration::from_secs(15),
        ..config(Some(tls(&pki.ca, &pki.certs[0], 2, 0)))
    };
    let table = addrs.clone();
    let alice = thread::spawn(move || NetComm::from_listener(0, l0, &table, alice_cfg));
    // Strangers first: one speaks TLS without a client certificate, one sends garbage, one
    // connects and says nothing, one connects and closes.
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pki.ca.cert_pem().as_bytes()) {
        roots.add(cert.expect("ca")).expect("root");
    }
    let client = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let name = rustls::pki_types::ServerName::try_from("alice").expect("name");
    let mut conn = rustls::ClientConnection::new(client, name).expect("client");
    let mut sock = TcpStream::connect(addrs[0]).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let _ = tls.write_all(b"hello");
    let mut buf = [0u8; 16];
    assert!(
        !matches!(tls.read(&mut buf), Ok(n) if n > 0),
        "the stranger got data back"
    );
    let mut garbage = TcpStream::connect(addrs[0]).expect("connect");
    let _ = garbage.write_all(&[0x55; 64]);
    let _silent = TcpStream::connect(addrs[0]).expect("connect");
    drop(TcpStream::connect(addrs[0]).expect("connect"));
    let bob_cfg = CommConfig {
        connect_timeout: Duration::from_secs(15),
        ..config(Some(tls_for(&pki, 1)))
    };
    let bob = thread::spawn(move || NetComm::from_listener(1, l1, &addrs, bob_cfg));
    let alice = alice.join().expect("alice");
    let bob = bob.join().expect("bob");
    match (alice, bob) {
        (Ok(a), Ok(b)) => {
            a.send(1, "x", b"after strangers".to_vec()).expect("send");
            assert_eq!(b.recv(0, "x").expect("recv"), b"after strangers");
        }
        (a, b) => panic!("alice: {}, bob: {}", message(&a), message(&b)),
    }
}

fn tls_for(pki: &Pki, rank: usize) -> Arc<TlsConfig> {
    tls(&pki.ca, &pki.certs[rank], 2, rank)
}

/// Bob's configuration in a three-name cluster whose table the test falsifies.
fn wrong_table_config(pki: &Pki) -> CommConfig {
    // Bob's names cover the two endpoints of the table: alice and bob.
    config(Some(Arc::new(
        TlsConfig::from_pem(
            pki.ca.cert_pem().as_bytes(),
            pki.certs[1].cert_pem.as_bytes(),
            pki.certs[1].key_pem.as_bytes(),
            names(2),
            1,
        )
        .expect("config"),
    )))
}
