//! `crypten bench`: the benchmark suites, each party running them and party 0 reporting.

use crate::launch::{LaunchArgs, ProviderArg, TruncationArg, launch};
use crate::party::{PartyArgs, with_session};
use anyhow::{Context, bail, ensure};
use crypten_bench::models::run_models;
use crypten_bench::ops::{OpsConfig, run_suite};
use crypten_bench::paper::{CellConfig, CellRecord, PAPER_MODELS, run_cell, write_report};
use crypten_bench::{print_table, write_json};
use std::path::{Path, PathBuf};
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
    /// Measured repetitions per benchmark (1 to 10,000).
    #[arg(long, default_value_t = 7, value_parser = parse_reps)]
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
    /// The CrypTen paper's benchmarks: text, Wav2Letter, ResNet-18 and ViT-B/16 inference per
    /// party count and batch size, each cell its own processes; JSON and a report with plots.
    Paper(PaperArgs),
    /// Private training of the digits MLP per party count: time per epoch next to plaintext,
    /// rounds and bytes per step per party.
    Train(crate::train::bench::TrainBenchArgs),
    /// One cell of `bench paper`, as a party.
    #[command(hide = true)]
    PaperCell(CellArgs),
}

/// Arguments of `crypten bench paper`.
#[derive(clap::Args)]
pub(crate) struct PaperArgs {
    /// Models: text, wav2letter, resnet18, vit_b16.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "text,wav2letter,resnet18,vit_b16"
    )]
    models: Vec<String>,
    /// Party counts (1 runs the protocol on unshared data, in this process).
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    parties: Vec<usize>,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// Preprocessing provider: ttp or tfp.
    #[arg(long, value_enum, default_value = "ttp")]
    provider: ProviderArg,
    /// Measured batches per cell, after a warm-up batch (1 to 10,000).
    #[arg(long, default_value_t = 1, value_parser = parse_reps)]
    reps: usize,
    /// Truncation of products with 2 parties: exact (default) or local (the probabilistic
    /// opt-in, CrypTen's kind).
    #[arg(long, value_enum, default_value = "exact")]
    truncation: TruncationArg,
    /// Write the records to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the records already in the JSON file (a cell measured again replaces its record).
    #[arg(long)]
    append: bool,
    /// Write DIR/report.md and the plots from all the records.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Small versions of the models (for tests).
    #[arg(long)]
    small: bool,
}

/// Arguments of one cell.
#[derive(clap::Args)]
pub(crate) struct CellArgs {
    #[arg(long)]
    model: String,
    #[arg(long)]
    batch: usize,
    #[arg(long, value_parser = parse_reps)]
    reps: usize,
    #[arg(long)]
    small: bool,
    /// Where party 0 writes the record.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn bench(suite: Suite) -> anyhow::Result<ExitCode> {
    let (name, args) = match suite {
        Suite::Ops(args) => ("ops", args),
        Suite::Models(args) => ("models", args),
        Suite::Paper(args) => return paper(&args),
        Suite::Train(args) => {
            return crate::train::bench::bench_train(&args).map(|()| ExitCode::SUCCESS);
        }
        Suite::PaperCell(args) => return paper_cell(&args),
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
            truncation: TruncationArg::default(),
            timeout: 300.0,
            link: args.party.link.clone(),
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

fn cell_config(model: &str, batch: usize, reps: usize, small: bool) -> CellConfig {
    CellConfig {
        model: model.to_string(),
        batch,
        reps,
        small,
    }
}

/// One cell as a party of the computation `crypten launch` set up; party 0 writes the record.
fn paper_cell(args: &CellArgs) -> anyhow::Result<ExitCode> {
    let cfg = cell_config(&args.model, args.batch, args.reps, args.small);
    let record = with_session(|sess| Ok(run_cell(sess, &cfg)?))?;
    if let Some(record) = record {
        std::fs::write(&args.out, serde_json::to_vec(&record)?)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// This machine, for the report.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{memory}")
}

fn read_records(path: &Path) -> anyhow::Result<Vec<CellRecord>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} holds no paper records", path.display()))
}

/// `crypten bench paper`: every cell, its own processes, then the JSON and the report.
fn paper(args: &PaperArgs) -> anyhow::Result<ExitCode> {
    for m in &args.models {
        ensure!(
            PAPER_MODELS.contains(&m.as_str()),
            "unknown model {m}: one of {}",
            PAPER_MODELS.join(", ")
        );
    }
    ensure!(
        args.parties.iter().all(|&n| (1..=64).contains(&n)),
        "--parties must be between 1 and 64"
    );
    ensure!(
        args.batch.iter().all(|&b| (1..=1024).contains(&b)),
        "--batch must be between 1 and 1024"
    );
    ensure!(
        (1..=1000).contains(&args.reps),
        "--reps must be between 1 and 1000"
    );
    let mut records = match (&args.json, args.append) {
        (Some(path), true) if path.exists() => read_records(path)?,
        _ => Vec::new(),
    };
    let cells: Vec<(&String, usize, usize)> = args
        .models
        .iter()
        .flat_map(|m| {
            args.batch
                .iter()
                .flat_map(move |&b| args.parties.iter().map(move |&n| (m, n, b)))
        })
        .collect();
    let invocation = std::env::args().collect::<Vec<_>>().join(" ");
    let scratch = std::env::temp_dir().join(format!("crypten-paper-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    for (i, &(model, parties, batch)) in cells.iter().enumerate() {
        let head = format!(
            "[{}/{}] {model}, {parties} {}, batch {batch}",
            i + 1,
            cells.len(),
            if parties == 1 { "party" } else { "parties" },
        );
        eprintln!(
            "{head}, {}, {} truncation ...",
            args.provider.0.name(),
            args.truncation.0.name()
        );
        let cfg = cell_config(model, batch, args.reps, args.small);
        let mut record = if parties == 1 {
            let config = crypten::Config {
                provider: args.provider.0,
                ..crypten::Config::default()
            };
            crypten::simulator::run_with(1, config, |sess| {
                run_cell(&sess, &cfg).map_err(|e| crypten::Error::Config(e.to_string()))
            })?
            .into_iter()
            .flatten()
            .next()
            .context("the cell returned no record")?
        } else {
            let out = scratch.join(format!("cell{i}.json"));
            let mut command = vec![
                "bench".to_string(),
                "paper-cell".into(),
                "--model".into(),
                model.clone(),
                "--batch".into(),
                batch.to_string(),
                "--reps".into(),
                args.reps.to_string(),
                "--out".into(),
                out.display().to_string(),
            ];
            if args.small {
                command.push("--small".into());
            }
            let code = launch(&LaunchArgs {
                parties,
                provider: args.provider,
                ttp: false,
                truncation: args.truncation,
                timeout: 60.0,
                link: None,
                command,
            })?;
            if code != ExitCode::SUCCESS {
                bail!("the cell {model}, {parties} parties, batch {batch} failed");
            }
            let bytes =
                std::fs::read(&out).with_context(|| format!("no record from {}", out.display()))?;
            serde_json::from_slice::<CellRecord>(&bytes)?
        };
        eprintln!(
            "{head}: {:.4} s/sample, {:.2} MB sent/sample (party 0), {:.1} rounds/sample, NMSE {:.1e}",
            record.seconds_per_sample,
            record.bytes_sent_per_sample.first().copied().unwrap_or(0.0) / 1e6,
            record.rounds_per_sample,
            record.nmse
        );
        record.command.clone_from(&invocation);
        record.truncation = args.truncation.0.name().to_string();
        records.retain(|r| {
            !(r.model == record.model
                && r.parties == record.parties
                && r.batch == record.batch
                && r.provider == record.provider
                && r.truncation == record.truncation
                && r.small == record.small)
        });
        records.push(record);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&records)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {} records to {}", records.len(), path.display());
    }
    if let Some(dir) = &args.report {
        write_report(dir, &records, &machine())?;
        eprintln!("wrote {}", dir.join("report.md").display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A repetition count from 1 to 10,000: larger ones would only exhaust memory and time.
fn parse_reps(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a count from 1 to 10000")),
    }
}
