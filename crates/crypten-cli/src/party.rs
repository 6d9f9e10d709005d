//! Running a subcommand as one party: from the environment that `crypten launch` sets, or, when
//! there is none, by launching the parties of a local computation.

use crate::launch::{LaunchArgs, launch};
use anyhow::Context;
use crypten::{CommConfig, Config, Session};
use std::process::ExitCode;
use std::time::Duration;

/// Options shared by the party programs.
#[derive(clap::Args, Clone, Debug)]
pub struct PartyArgs {
    /// Number of parties when launching locally (ignored inside `crypten launch`).
    #[arg(short = 'n', long, default_value_t = 2)]
    pub parties: usize,
    /// Preprocessing provider when launching locally: ttp (a dealer process) or tfp (insecure).
    #[arg(long, default_value = "ttp")]
    pub provider: String,
}

/// Communicator settings from the environment: `CRYPTEN_RECV_TIMEOUT` (seconds) overrides the
/// receive timeout.
pub fn comm_config() -> anyhow::Result<CommConfig> {
    let mut comm = CommConfig::default();
    if let Ok(secs) = std::env::var("CRYPTEN_RECV_TIMEOUT") {
        let secs: f64 = secs
            .trim()
            .parse()
            .context("CRYPTEN_RECV_TIMEOUT must be a number of seconds")?;
        comm.recv_timeout = Duration::from_secs_f64(secs);
    }
    Ok(comm)
}

/// Joins the computation described by the environment.
pub fn join() -> anyhow::Result<Session> {
    let config = Config {
        comm: comm_config()?,
        ..Config::default()
    };
    Ok(Session::from_env(config)?)
}

/// Joins the computation described by the environment and runs `program` in it. On success
/// the session is closed; on failure every other party is told why before this one exits.
pub fn with_session<T>(program: impl FnOnce(&Session) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let sess = join()?;
    match program(&sess) {
        Ok(value) => {
            sess.close()?;
            Ok(value)
        }
        Err(e) => {
            sess.abort(&format!("{e:#}"));
            Err(e)
        }
    }
}

/// Runs the dealer described by the environment.
pub fn serve_ttp() -> anyhow::Result<()> {
    Ok(crypten::run_ttp_from_env(comm_config()?)?)
}

/// Runs `program` as a party when `RANK` is set; otherwise launches `args.parties` local
/// parties running this same subcommand (`subcommand` holds its arguments).
pub fn party_or_launch(
    args: &PartyArgs,
    subcommand: Vec<String>,
    program: impl FnOnce(&Session) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    if std::env::var_os("RANK").is_some() {
        with_session(program)?;
        return Ok(ExitCode::SUCCESS);
    }
    let launch_args = LaunchArgs {
        parties: args.parties,
        provider: args.provider.clone(),
        ttp: false,
        timeout: 120.0,
        command: subcommand,
    };
    launch(&launch_args)
}
