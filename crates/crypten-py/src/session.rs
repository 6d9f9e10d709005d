//! The process's session: joining and leaving a computation, the dealer, cost statistics, and
//! the small public announcements the Python API needs (a shape from its owner).

use crate::convert::{err, nogil};
use crypten::advanced::comm::{CommConfig, MemoryComm};
use crypten::{Config, Credentials, ProviderKind, Session, StatsSnapshot};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::Mutex;

/// The session of this process (Python's API is global, like CrypTen's), and the statistics
/// at the last `reset_stats`.
struct Current {
    sess: Session,
    baseline: StatsSnapshot,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

/// Dimensions and elements a shape announced by a peer may have (no more elements than one
/// dealer request may cover: a larger tensor could not take part in a product anyway).
const MAX_ANNOUNCED_DIMS: usize = 16;
const MAX_ANNOUNCED_ELEMENTS: usize = crypten::advanced::dealer::MAX_REQUEST_ELEMENTS;

fn current() -> std::sync::MutexGuard<'static, Option<Current>> {
    // A panic while holding the lock cannot leave the slot half-written: recover it.
    CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn not_initialized() -> PyErr {
    err("crypten_rs is not initialized: call crypten_rs.init() first")
}

/// The current session.
///
/// # Errors
/// `CryptenError` when `init()` was not called.
pub(crate) fn session() -> PyResult<Session> {
    current()
        .as_ref()
        .map(|c| c.sess.clone())
        .ok_or_else(not_initialized)
}

fn install(sess: Session) {
    let baseline = sess.stats();
    *current() = Some(Current { sess, baseline });
}

/// Joins the computation the environment describes (`RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
/// `MASTER_PORT`, `CRYPTEN_PROVIDER`, ... or `CRYPTEN_CLUSTER`, `CRYPTEN_PARTY`, ...).
#[pyfunction]
fn init_env(py: Python<'_>) -> PyResult<()> {
    let sess = nogil(py, crypten::init_from_env).map_err(err)?;
    install(sess);
    Ok(())
}

/// Joins a computation as the party `party` of the cluster file `path`.
#[pyfunction]
#[pyo3(signature = (path, party, cert=None, key=None))]
fn init_cluster(
    py: Python<'_>,
    path: PathBuf,
    party: String,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> PyResult<()> {
    let credentials = match (cert, key) {
        (Some(cert), Some(key)) => Some(Credentials { cert, key }),
        (None, None) => None,
        _ => return Err(err("give both `cert` and `key`, or neither")),
    };
    let sess = nogil(py, || {
        crypten::init_from_cluster(&path, &party, credentials)
    })
    .map_err(err)?;
    install(sess);
    Ok(())
}

/// A computation of one party in this process: what `init()` gives a program started without
/// a launcher (CrypTen does the same), so that it can try the API before running it for real.
///
/// `run_multiprocess` forks this process afterwards; a child inherits rayon's pool but none of
/// its threads, so this process's pool is made of this thread alone (it computes in place, in
/// the parent and in every child alike). This fails harmlessly when the pool already exists.
#[pyfunction]
fn init_local() -> PyResult<()> {
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build_global();
    let config = Config {
        provider: ProviderKind::InsecureTrustedFirstParty,
        ..Config::default()
    };
    let comm = MemoryComm::create(1, CommConfig::default())
        .pop()
        .ok_or_else(|| err("no in-memory communicator"))?;
    let sess = Session::new(Box::new(comm), 1, config).map_err(err)?;
    install(sess);
    Ok(())
}

/// Leaves the computation: tells the dealer this party is done and closes the links.
#[pyfunction]
fn uninit(py: Python<'_>) -> PyResult<()> {
    let Some(current) = current().take() else {
        return Ok(());
    };
    nogil(py, || current.sess.close()).map_err(err)
}

/// Drops the session inherited by a forked child without touching its links, which belong to
/// the parent.
#[pyfunction]
fn forget_inherited() {
    if let Some(current) = current().take() {
        std::mem::forget(current);
    }
}

#[pyfunction]
fn is_initialized() -> bool {
    current().is_some()
}

#[pyfunction]
fn rank() -> PyResult<usize> {
    Ok(session()?.rank())
}

#[pyfunction]
fn world_size() -> PyResult<usize> {
    Ok(session()?.parties())
}

/// Serves as the trusted third party of the computation the environment describes
/// (`RANK` = `WORLD_SIZE`), until every party has finished.
#[pyfunction]
fn serve_dealer(py: Python<'_>) -> PyResult<()> {
    nogil(py, crypten::advanced::dealer::run_from_env).map_err(err)
}

fn snapshot_dict<'py>(py: Python<'py>, s: &StatsSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("rounds", s.rounds)?;
    d.set_item("bytes_sent", s.bytes_sent)?;
    d.set_item("bytes_received", s.bytes_received)?;
    d.set_item("messages_sent", s.messages_sent)?;
    let per_op = PyDict::new(py);
    for (op, o) in &s.per_op {
        let e = PyDict::new(py);
        e.set_item("rounds", o.rounds)?;
        e.set_item("bytes_sent", o.bytes_sent)?;
        e.set_item("bytes_received", o.bytes_received)?;
        e.set_item("messages_sent", o.messages_sent)?;
        per_op.set_item(op, e)?;
    }
    d.set_item("per_op", per_op)?;
    Ok(d)
}

/// This party's traffic since `init` or the last `reset_stats`: rounds, bytes and frames,
/// in total and per operation.
#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let guard = current();
    let c = guard.as_ref().ok_or_else(not_initialized)?;
    snapshot_dict(py, &c.sess.stats().since(&c.baseline))
}

#[pyfunction]
fn reset_stats() -> PyResult<()> {
    let mut guard = current();
    let c = guard.as_mut().ok_or_else(not_initialized)?;
    c.baseline = c.sess.stats();
    Ok(())
}

/// The shape held by party `src`, announced to every party (`shape` is read at `src` only).
/// A peer's announcement is checked for plausibility.
#[pyfunction]
#[pyo3(signature = (shape, src))]
fn broadcast_shape(py: Python<'_>, shape: Option<Vec<usize>>, src: usize) -> PyResult<Vec<usize>> {
    let sess = session()?;
    if src >= sess.parties() {
        return Err(err(format!(
            "src {src} is not a party (there are {})",
            sess.parties()
        )));
    }
    nogil(py, || {
        if sess.rank() == src {
            let shape =
                shape.ok_or_else(|| format!("party {src} is the source and gave no tensor"))?;
            let bytes = serde_json::to_vec(&shape).map_err(|e| e.to_string())?;
            for peer in sess.peers() {
                sess.comm()
                    .send(peer, "py.shape", bytes.clone())
                    .map_err(|e| e.to_string())?;
            }
            return Ok(shape);
        }
        let bytes = sess
            .comm()
            .recv(src, "py.shape")
            .map_err(|e| e.to_string())?;
        let shape: Vec<usize> = serde_json::from_slice(&bytes)
            .map_err(|_| format!("party {src} announced a malformed shape"))?;
        let elements = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if shape.len() > MAX_ANNOUNCED_DIMS || elements.is_none_or(|n| n > MAX_ANNOUNCED_ELEMENTS) {
            return Err(format!(
                "party {src} announced an implausible shape {shape:?}"
            ));
        }
        Ok(shape)
    })
    .map_err(err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(init_env, m)?)?;
    m.add_function(wrap_pyfunction!(init_cluster, m)?)?;
    m.add_function(wrap_pyfunction!(init_local, m)?)?;
    m.add_function(wrap_pyfunction!(uninit, m)?)?;
    m.add_function(wrap_pyfunction!(forget_inherited, m)?)?;
    m.add_function(wrap_pyfunction!(is_initialized, m)?)?;
    m.add_function(wrap_pyfunction!(rank, m)?)?;
    m.add_function(wrap_pyfunction!(world_size, m)?)?;
    m.add_function(wrap_pyfunction!(serve_dealer, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(reset_stats, m)?)?;
    m.add_function(wrap_pyfunction!(broadcast_shape, m)?)?;
    Ok(())
}
