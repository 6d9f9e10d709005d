//! `crypten bench train`: the cost of private training on the digits MLP (the data set and
//! model shipped in `data/digits`, embedded): each party count runs `crypten train` as its own
//! processes over loopback (features at party 0, labels at the last party, model at party 0),
//! next to the same loop in plaintext f64 in this process. Prints a table and writes JSON.

use super::model_facts;
use crate::launch::ProviderArg;
use anyhow::{Context, ensure};
use crypten::Tensor;
use crypten::nn::train::{Dataset, TrainConfig, fit};
use crypten::onnx::Model;
use ndarray::IxDyn;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const TRAIN_CSV: &str = include_str!("../../../../data/digits/digits_train.csv");
const MLP: &[u8] = include_bytes!("../../../../data/digits/mlp.onnx");

/// Arguments of `crypten bench train`.
#[derive(clap::Args)]
pub(crate) struct TrainBenchArgs {
    /// Party counts.
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    parties: Vec<usize>,
    /// Epochs per run (the table reports the median epoch).
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Rows per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Preprocessing provider: ttp or tfp.
    #[arg(long, value_enum, default_value = "ttp")]
    provider: ProviderArg,
    /// Write the records to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn config(args: &TrainBenchArgs) -> TrainConfig {
    TrainConfig {
        lr: 0.1,
        epochs: args.epochs,
        batch_size: args.batch_size,
        shuffle_seed: Some(1),
        ..TrainConfig::default()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The plaintext f64 run: seconds per epoch (median) and the last loss.
fn plaintext(args: &TrainBenchArgs, dir: &Path) -> anyhow::Result<(f64, f64)> {
    let model = Model::from_bytes(MLP)?;
    let facts = model_facts(&model)?;
    let (header, table) = crate::files::read_csv(&dir.join("train.csv"))?;
    let label = header
        .iter()
        .position(|h| h == "label")
        .context("the digits have a label column")?;
    let rows = table.nrows();
    let features: Vec<usize> = (0..header.len()).filter(|&c| c != label).collect();
    let x = table.select(ndarray::Axis(1), &features);
    let ids: Vec<usize> = table.column(label).iter().map(|&l| l as usize).collect();
    let y = crypten::nn::one_hot(&ids, facts.outputs)?;
    let graph = model.into_graph()?;
    let data = Dataset {
        x: Tensor::Plain(
            x.as_standard_layout()
                .into_owned()
                .into_dyn()
                .into_shape_with_order(IxDyn(&[rows, facts.features()]))?,
        ),
        y: Tensor::Plain(y),
    };
    let history = fit(&graph, &config(args), &data, None, None, &mut |_| {})?;
    Ok((
        median(history.iter().map(|r| r.seconds).collect()),
        history.last().map_or(f64::NAN, |r| r.loss),
    ))
}

fn private(args: &TrainBenchArgs, dir: &Path, parties: usize) -> anyhow::Result<serde_json::Value> {
    let data = dir.join("train.csv");
    let history = dir.join(format!("history-{parties}.json"));
    let c = config(args);
    let status = Command::new(std::env::current_exe()?)
        .args(["train", "--model"])
        .arg(dir.join("mlp.onnx"))
        .args(["-n", &parties.to_string(), "--data"])
        .arg(format!("0:{}", data.display()))
        .arg("--labels")
        .arg(format!("{}:{}", parties - 1, data.display()))
        .args(["--lr", &c.lr.to_string(), "--epochs", &c.epochs.to_string()])
        .args([
            "--batch-size",
            &c.batch_size.to_string(),
            "--shuffle-seed",
            "1",
        ])
        .args(["--provider", args.provider.0.name(), "--output"])
        .arg(dir.join(format!("trained-{parties}.onnx")))
        .arg("--history")
        .arg(&history)
        .status()?;
    ensure!(
        status.success(),
        "crypten train with {parties} parties failed"
    );
    let h: serde_json::Value = serde_json::from_slice(&std::fs::read(&history)?)?;
    let epochs = h["epochs"].as_array().context("history without epochs")?;
    let steps = epochs
        .first()
        .and_then(|e| e["steps"].as_u64())
        .context("history without steps")? as f64;
    let per_party = |key: &str| -> Vec<f64> {
        (0..parties)
            .map(|p| median(epochs.iter().filter_map(|e| e[key][p].as_f64()).collect()) / steps)
            .collect()
    };
    Ok(json!({
        "parties": parties,
        "seconds_per_epoch": median(epochs.iter().filter_map(|e| e["seconds"].as_f64()).collect()),
        "steps_per_epoch": steps,
        "rounds_per_step": median(epochs.iter().filter_map(|e| e["rounds_per_step"].as_f64()).collect()),
        "bytes_sent_per_step_per_party": per_party("bytes_sent_per_party"),
        "bytes_received_per_step_per_party": per_party("bytes_received_per_party"),
        "final_loss": epochs.last().and_then(|e| e["loss"].as_f64()),
    }))
}

/// Runs the benchmark.
pub(crate) fn bench_train(args: &TrainBenchArgs) -> anyhow::Result<()> {
    ensure!(
        args.parties.iter().all(|&n| (2..=16).contains(&n)),
        "--parties takes counts from 2 to 16"
    );
    let dir = std::env::temp_dir().join(format!("crypten-bench-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("train.csv"), TRAIN_CSV)?;
    std::fs::write(dir.join("mlp.onnx"), MLP)?;
    let (plain_seconds, plain_loss) = plaintext(args, &dir)?;
    let mut records = Vec::new();
    for &n in &args.parties {
        let mut r = private(args, &dir, n)?;
        r["plaintext_seconds_per_epoch"] = json!(plain_seconds);
        r["plaintext_final_loss"] = json!(plain_loss);
        r["model"] = json!("digits MLP 64-32-10 (data/digits/mlp.onnx), 1,437 rows");
        r["batch_size"] = json!(args.batch_size);
        r["provider"] = json!(args.provider.0.name());
        records.push(r);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{:>3} {:>10} {:>10} {:>8} {:>14} {:>12} {:>10}",
        "N", "s/epoch", "plain s", "rounds/step", "KB sent/step", "final loss", "plain loss"
    );
    for r in &records {
        let sent = r["bytes_sent_per_step_per_party"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0);
        println!(
            "{:>3} {:>10.3} {:>10.4} {:>8.1} {:>14.1} {:>12.4} {:>10.4}",
            r["parties"],
            r["seconds_per_epoch"].as_f64().unwrap_or(f64::NAN),
            plain_seconds,
            r["rounds_per_step"].as_f64().unwrap_or(f64::NAN),
            sent / 1e3,
            r["final_loss"].as_f64().unwrap_or(f64::NAN),
            plain_loss
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&records)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
