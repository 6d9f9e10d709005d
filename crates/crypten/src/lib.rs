//! crypten-rs: secure multi-party computation for machine learning, in Rust.
//!
//! Several parties run the same program; every value is secret-shared among them, so no party
//! learns another's inputs, and only what all parties agree to reveal is decrypted.
//!
//! ```
//! use crypten::prelude::*;
//! use ndarray::{ArrayD, IxDyn};
//!
//! // Two parties on threads (over TCP, each party is its own process: see `crypten launch`).
//! let revealed = crypten::simulator::run(2, ProviderKind::TrustedThirdParty, |sess| {
//!     crypten::set_session(sess.clone());
//!     // Party 0 holds the features, party 1 the weights; each passes an array of the agreed
//!     // shape, and only the source's values are read.
//!     let features = ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![1.5, -2.0]).unwrap();
//!     let weights = ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![0.5, 0.25]).unwrap();
//!     let x = crypten::cryptensor(&features, 0)?;
//!     let w = crypten::cryptensor(&weights, 1)?;
//!     x.matmul(&w)?.get_plain_text()
//! })?;
//! assert!((revealed[0][[0, 0]] - 0.25).abs() < 1e-3);
//! # Ok::<(), crypten::Error>(())
//! ```
#![deny(missing_docs)]

use crypten_comm::Endpoint;
use std::cell::RefCell;

pub use crypten_autograd::{Tensor, Variable};
pub use crypten_comm::{CommConfig, Credentials, StatsSnapshot};
pub use crypten_core::{Conv1dParams, Conv2dParams, Prg};
pub use crypten_mpc::{
    Config, CrypTensor, Error, FunctionConfig, NormOrd, ProviderKind, Result, Session,
    SigmoidMethod, Truncation, Validation, simulator,
};
pub use ndarray;

/// Reverse-mode automatic differentiation over plaintext and encrypted tensors.
pub use crypten_autograd as autograd;
/// Neural networks: modules, losses, optimizers, state dicts.
pub use crypten_nn as nn;
/// ONNX import: a PyTorch export becomes an `nn::Graph`.
pub use crypten_onnx as onnx;

/// The layers below the tensor API, for those who write protocols, providers, transports or
/// kernels: the ring (`core`), the communicators (`comm`), the party-dealer contract
/// (`dealer`), the protocols over shares, the providers and the non-linear functions' building
/// blocks. A program that computes on `CrypTensor`s needs none of it.
pub mod advanced {
    pub use crypten_comm as comm;
    pub use crypten_core as core;
    pub use crypten_dealer as dealer;
    pub use crypten_mpc::{Bilinear, ConvParams, functions, protocol, provider};
}

/// The names most programs need.
pub mod prelude {
    pub use crate::{Config, CrypTensor, ProviderKind, Session, cryptensor};
}

thread_local! {
    static CURRENT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Installs `sess` as this thread's current session (used by [`cryptensor`]).
pub fn set_session(sess: Session) {
    CURRENT.with(|c| *c.borrow_mut() = Some(sess));
}

/// This thread's current session.
///
/// # Errors
/// `NoSession` when none was installed.
pub fn session() -> Result<Session> {
    CURRENT.with(|c| c.borrow().clone()).ok_or(Error::NoSession)
}

/// Joins the computation described by the environment (`RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
/// `MASTER_PORT`, `CRYPTEN_PROVIDER`, `CRYPTEN_RECV_TIMEOUT`; `crypten launch` sets them; or
/// a cluster file: `CRYPTEN_CLUSTER`, `CRYPTEN_PARTY`, `CRYPTEN_CERT`, `CRYPTEN_KEY`, which
/// `crypten run --cluster` sets) with the default configuration, and installs the session.
///
/// # Errors
/// Missing or malformed variables, or failed rendezvous.
pub fn init_from_env() -> Result<Session> {
    let config = Config {
        comm: CommConfig::from_env()?,
        ..Config::default()
    };
    let sess = session_from_env(config)?;
    set_session(sess.clone());
    Ok(sess)
}

/// Joins the computation described by the environment over TCP, in the style of
/// torch.distributed: `RANK`, `WORLD_SIZE` (the number of computing parties), `MASTER_ADDR`,
/// `MASTER_PORT`, and optionally `CRYPTEN_PROVIDER` (`ttp` or `tfp`), which overrides
/// `config.provider`, `CRYPTEN_TRUNCATION` (`exact` or `local`), which overrides
/// `config.truncation`, and `CRYPTEN_VALIDATE=reveal-and-check`, which turns on the revealing
/// validation mode (`Config::validation`, for debugging only). With a trusted third party the dealer is one more endpoint (it runs
/// `crypten ttp` or `crypten-dealer`).
///
/// # Errors
/// Missing or malformed variables, a rank that is not a party's, or failed rendezvous.
pub fn session_from_env(config: Config) -> Result<Session> {
    session_at(&Endpoint::from_env()?, config)
}

/// Joins a computation as the party called `party` of a cluster file (see
/// [`advanced::comm::Cluster`]): TLS with mutual authentication when the file names a CA,
/// with this party's certificate and key from `credentials`. The environment's
/// `CRYPTEN_PROVIDER`, `CRYPTEN_TRUNCATION` and `CRYPTEN_VALIDATE` apply as in
/// [`session_from_env`], and `CRYPTEN_RECV_TIMEOUT` unless the file sets the timeout. Installs
/// the session.
///
/// # Errors
/// An unreadable or malformed file, a name it does not have (or the dealer's), unusable
/// certificates, or a failed rendezvous.
pub fn init_from_cluster(
    path: &std::path::Path,
    party: &str,
    credentials: Option<Credentials>,
) -> Result<Session> {
    let endpoint = Endpoint::from_cluster(path, party, credentials)?;
    let config = Config {
        comm: CommConfig::from_env()?,
        ..Config::default()
    };
    let sess = session_at(&endpoint, config)?;
    set_session(sess.clone());
    Ok(sess)
}

fn session_at(endpoint: &Endpoint, mut config: Config) -> Result<Session> {
    if let Ok(provider) = std::env::var("CRYPTEN_PROVIDER") {
        config.provider = ProviderKind::parse(provider.trim())?;
    }
    if let Ok(truncation) = std::env::var("CRYPTEN_TRUNCATION") {
        config.truncation = Truncation::parse(truncation.trim())?;
    }
    if std::env::var("CRYPTEN_VALIDATE").is_ok_and(|v| v.trim() == "reveal-and-check") {
        // Debugging only: every checked value is revealed to every party.
        config.validation = Validation::RevealAndCheck;
    }
    if endpoint.rank >= endpoint.parties {
        return Err(Error::Config(format!(
            "RANK {} is not a party of WORLD_SIZE {} (the dealer runs `crypten ttp`)",
            endpoint.rank, endpoint.parties
        )));
    }
    let endpoints = config.provider.endpoints(endpoint.parties);
    let comm = endpoint.connect(endpoints, config.comm.clone())?;
    Session::new(Box::new(comm), endpoint.parties, config)
}

/// Encrypts `array`, held by party `src`, in the current session. Every party calls it with
/// an array of the same shape; only `src`'s values are read.
///
/// # Errors
/// `NoSession`; NaN, infinite or out-of-range values at `src`.
pub fn cryptensor(array: &ndarray::ArrayD<f64>, src: usize) -> Result<CrypTensor> {
    CrypTensor::from_array(&session()?, array, src)
}
