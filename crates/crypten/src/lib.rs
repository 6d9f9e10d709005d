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
//! let revealed = crypten::testing::run(2, ProviderKind::TrustedThirdParty, |sess| {
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

use std::cell::RefCell;

pub use crypten_comm::{CommConfig, Communicator, MemoryComm, StatsSnapshot, TcpComm};
pub use crypten_core::{Conv1dParams, Conv2dParams, FixedPointEncoder, Prg, RingTensor};
pub use crypten_mpc::{
    Bilinear, Config, CrypTensor, EnvSettings, Error, ProviderKind, Result, Session, beaver,
    binary, provider, share, testing, truncate,
};
pub use crypten_mpc::{FunctionConfig, NormOrd, SigmoidMethod, functions};
pub use ndarray;

/// Reverse-mode automatic differentiation over plaintext and encrypted tensors.
pub use crypten_autograd as autograd;
pub use crypten_autograd::{Tensor, Variable};
/// Neural networks: modules, losses, optimizers, state dicts.
pub use crypten_nn as nn;

/// The communication layer (communicators, statistics, their errors).
pub use crypten_comm as comm;
/// The local layer (ring tensors, encoder, PRG, their errors).
pub use crypten_core as core;

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
/// `MASTER_PORT`, `CRYPTEN_PROVIDER`; `crypten launch` sets them) and installs the session.
///
/// # Errors
/// Missing variables or failed rendezvous.
pub fn init_from_env() -> Result<Session> {
    let sess = Session::from_env(Config::default())?;
    set_session(sess.clone());
    Ok(sess)
}

/// Encrypts `array`, held by party `src`, in the current session. Every party calls it with
/// an array of the same shape; only `src`'s values are read.
///
/// # Errors
/// `NoSession`; NaN, infinite or out-of-range values at `src`.
pub fn cryptensor(array: &ndarray::ArrayD<f64>, src: usize) -> Result<CrypTensor> {
    CrypTensor::from_array(&session()?, array, src)
}

/// Runs the trusted third party described by the environment (`RANK` = `WORLD_SIZE`, the
/// dealer's rank) until party 0 ends the session.
///
/// # Errors
/// Missing variables, failed rendezvous, or a failing or misbehaving party.
pub fn run_ttp_from_env(comm: CommConfig) -> Result<()> {
    let env = EnvSettings::read()?;
    if env.rank != env.parties {
        return Err(Error::Config(format!(
            "the dealer must have RANK = WORLD_SIZE = {}, got RANK {}",
            env.parties, env.rank
        )));
    }
    let tcp = TcpComm::rendezvous(env.rank, env.parties + 1, env.master, comm)?;
    Ok(crypten_dealer::run_ttp(&tcp, env.parties)?)
}
