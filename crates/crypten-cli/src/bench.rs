//! `crypten bench`: the benchmark suites, each party running them and party 0 reporting.

use crate::launch::{LaunchArgs, launch};
use crate::party::{PartyArgs, with_session};
use crypten_bench::models::run_models;
use crypten_bench::ops::{OpsConfig, run_suite};
use crypten_bench::{print_table, write_json};
use std::process::ExitCode;

/// Options every suite takes.
#[derive(clap::Args)]
pub(crate) struct SuiteArgs {
    #[command(flatten)]
    party: PartyArgs,
    /// Write the records to this JSON file (party 0).
    #[arg(long)]
    json: Option<String>,
    /// Comma-separated names (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Measured repetitions per benchmark.
    #[arg(long, default_value_t = 7)]
    reps: usize,
}

/// The suites.
#[derive(clap::Subcommand)]
pub(crate) enum Suite {
    /// Per-op costs: time, bytes per party and rounds.
    Ops(SuiteArgs),
    /// End to end: MLP inference and training step, LeNet inference (model at party 0, data
    /// at party 1).
    Models(SuiteArgs),
}

pub(crate) fn bench(suite: Suite) -> anyhow::Result<ExitCode> {
    let (name, args) = match suite {
        Suite::Ops(args) => ("ops", args),
        Suite::Models(args) => ("models", args),
    };
    if std::env::var_os("RANK").is_none() {
        let mut command = vec![
            "bench".to_string(),
            name.into(),
            "--reps".into(),
            args.reps.to_string(),
        ];
        if let Some(path) = &args.json {
            command.extend(["--json".into(), path.clone()]);
        }
        if !args.only.is_empty() {
            command.extend(["--only".into(), args.only.join(",")]);
        }
        let launch_args = LaunchArgs {
            parties: args.party.parties,
            provider: args.party.provider,
            ttp: false,
            timeout: 300.0,
            command,
        };
        return launch(&launch_args);
    }
    with_session(|sess| {
        let records = if name == "ops" {
            let config = OpsConfig {
                only: args.only,
                reps: args.reps,
            };
            run_suite(sess, &config)?
        } else {
            run_models(sess, &args.only, args.reps)?
        };
        if sess.rank() == 0 {
            print_table(&records);
            for r in &records {
                println!("{}: {}", r.op, r.note);
            }
            if let Some(path) = args.json {
                write_json(&path, &records)?;
                println!("wrote {} records to {path}", records.len());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
