//! `crypten bench`: the benchmark suites, each party running them and party 0 reporting.

use crate::launch::{LaunchArgs, launch};
use crate::party::{PartyArgs, join};
use crypten_bench::ops::{OpsConfig, run_suite};
use crypten_bench::{print_table, write_json};
use std::process::ExitCode;

/// The suites.
#[derive(clap::Subcommand)]
pub enum Suite {
    /// Per-op costs: time, bytes per party and rounds.
    Ops {
        #[command(flatten)]
        party: PartyArgs,
        /// Write the records to this JSON file (party 0).
        #[arg(long)]
        json: Option<String>,
        /// Comma-separated op names (default: all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Measured repetitions per op.
        #[arg(long, default_value_t = 7)]
        reps: usize,
    },
}

pub fn bench(suite: Suite) -> anyhow::Result<ExitCode> {
    let Suite::Ops {
        party,
        json,
        only,
        reps,
    } = suite;
    if std::env::var_os("RANK").is_none() {
        let mut command = vec![
            "bench".to_string(),
            "ops".into(),
            "--reps".into(),
            reps.to_string(),
        ];
        if let Some(path) = &json {
            // The parties run in this directory too; make the path absolute for clarity.
            command.extend(["--json".into(), path.clone()]);
        }
        if !only.is_empty() {
            command.extend(["--only".into(), only.join(",")]);
        }
        let args = LaunchArgs {
            parties: party.parties,
            provider: party.provider,
            timeout: 300.0,
            command,
        };
        return launch(&args);
    }
    let sess = join()?;
    let records = run_suite(&sess, &OpsConfig { only, reps })?;
    if sess.rank() == 0 {
        print_table(&records);
        if let Some(path) = json {
            write_json(&path, &records)?;
            println!("wrote {} records to {path}", records.len());
        }
    }
    sess.close()?;
    Ok(ExitCode::SUCCESS)
}
