//! Running a subcommand as one party: from the environment that `crypten launch` sets, or, when
//! there is none, by launching the parties of a local computation.

use crate::launch::{LaunchArgs, ProviderArg, TruncationArg, launch};
use crypten::{CommConfig, Config, Session};
use std::process::ExitCode;

/// Options shared by the party programs.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct PartyArgs {
    /// Number of parties when launching locally (ignored inside `crypten launch`).
    #[arg(short = 'n', long, default_value_t = 2)]
    pub parties: usize,
    /// Preprocessing provider when launching locally: ttp (a dealer process) or tfp (insecure).
    #[arg(long, value_enum, default_value = "ttp")]
    pub provider: ProviderArg,
    /// When launching locally: shape every link like a wide-area one, RTT,BANDWIDTH (e.g.
    /// 25ms,100mbit).
    #[arg(long, value_parser = crate::launch::parse_link)]
    pub link: Option<String>,
}

/// Joins the computation described by the environment.
pub(crate) fn join() -> anyhow::Result<Session> {
    let config = Config {
        comm: CommConfig::from_env()?,
        ..Config::default()
    };
    Ok(crypten::session_from_env(config)?)
}

/// Joins the computation described by the environment and runs `program` in it. On success
/// the session is closed; on failure every other party is told why before this one exits.
pub(crate) fn with_session<T>(
    program: impl FnOnce(&Session) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
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

/// Runs `program` as a party when `RANK` is set; otherwise launches `args.parties` local
/// parties running this same subcommand (`subcommand` holds its arguments).
pub(crate) fn party_or_launch(
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
        provider: args.provider,
        ttp: false,
        truncation: TruncationArg::default(),
        timeout: 120.0,
        link: args.link.clone(),
        command: subcommand,
    };
    launch(&launch_args)
}
