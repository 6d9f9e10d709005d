//! `crypten infer`: private inference of an ONNX model on a private input. The model owner
//! alone reads the model, the data owner alone reads the input; the output is revealed to
//! every party or to one (`--output-to`) and written as `.npy` by the party that receives it.

use crate::files::{NpyKind, check_writable, read_npy};
use crate::launch::{LaunchArgs, ProviderArg, TruncationArg, launch};
use crate::party::with_session;
use anyhow::{Context, bail, ensure};
use crypten::Session;
use crypten::Tensor;
use crypten::nn::graph::{Encoding, Graph, GraphSpec, NodeCost};
use crypten::onnx::Model;
use ndarray::ArrayD;
use ndarray_npy::WriteNpyExt;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `crypten infer`.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct InferArgs {
    /// The ONNX model (read by the model owner only).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// An input as .npy, one per graph input in order (read by the data owner only).
    #[arg(long = "input")]
    pub inputs: Vec<PathBuf>,
    /// Where the party that receives the output writes it (.npy, float32). Further outputs
    /// of the model go to `NAME.<output>.npy` beside it.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Number of computing parties.
    #[arg(short = 'n', long, default_value_t = 2)]
    pub parties: usize,
    /// The rank that owns the model [default: 0].
    #[arg(long)]
    pub model_owner: Option<usize>,
    /// The rank that owns the input [default: 1, or 0 with one party].
    #[arg(long)]
    pub data_owner: Option<usize>,
    /// Reveal the output to this rank only [default: every party; the data owner writes it].
    #[arg(long)]
    pub output_to: Option<usize>,
    /// Preprocessing provider: ttp (a dealer process) or tfp (insecure, tests only).
    #[arg(long, value_enum, default_value = "ttp")]
    pub provider: ProviderArg,
    /// Write time, bytes per party and rounds, per layer and in total, as JSON (by the party
    /// that writes the output).
    #[arg(long)]
    pub stats: Option<PathBuf>,
}

/// The ranks of a job.
#[derive(Clone, Copy, Debug)]
struct Roles {
    model_owner: usize,
    data_owner: usize,
    /// Receives the output (or writes it, when every party receives it).
    writer: usize,
    reveal_to_one: bool,
}

impl InferArgs {
    fn roles(&self, parties: usize) -> anyhow::Result<Roles> {
        let model_owner = self.model_owner.unwrap_or(0);
        let data_owner = self.data_owner.unwrap_or(if parties == 1 { 0 } else { 1 });
        for (what, rank) in [
            ("--model-owner", Some(model_owner)),
            ("--data-owner", Some(data_owner)),
            ("--output-to", self.output_to),
        ] {
            if let Some(r) = rank {
                ensure!(
                    r < parties,
                    "{what} {r} is not a rank of {parties} parties (0..{parties})"
                );
            }
        }
        Ok(Roles {
            model_owner,
            data_owner,
            writer: self.output_to.unwrap_or(data_owner),
            reveal_to_one: self.output_to.is_some(),
        })
    }
}

/// `crypten infer`: one party of a job (inside `crypten launch`/`crypten run`), or, alone, the
/// launcher of all of them on this machine after checking the files.
pub(crate) fn infer(args: &InferArgs) -> anyhow::Result<ExitCode> {
    if std::env::var_os("RANK").is_some() {
        with_session(|sess| party(args, sess))?;
        return Ok(ExitCode::SUCCESS);
    }
    ensure!(
        (1..=64).contains(&args.parties),
        "--parties must be between 1 and 64, got {}",
        args.parties
    );
    args.roles(args.parties)?;
    // Everything a party would find wrong is found here, before any process starts.
    let model_path = args.model.as_deref().context("--model is required")?;
    let model =
        Model::load(model_path).with_context(|| format!("model {}", model_path.display()))?;
    let data = read_inputs(&args.inputs, model.spec())?;
    let encoded = model
        .spec()
        .encode_inputs(data)
        .context("the input does not fit the model")?;
    let encoder = crypten::Config::default().validate()?;
    model.spec().check_values(&encoded, encoder.max_abs())?;
    let output = args.output.as_deref().context("--output is required")?;
    check_writable(output)?;
    if args.parties == 1 {
        return single_party(args);
    }
    let command: Vec<String> = std::env::args().skip(1).collect();
    launch(&LaunchArgs {
        parties: args.parties,
        provider: args.provider,
        ttp: false,
        truncation: TruncationArg::default(),
        timeout: 30.0,
        link: None,
        command,
    })
}

/// One party: the protocol on unshared data, in this process (the dealer on a thread).
fn single_party(args: &InferArgs) -> anyhow::Result<ExitCode> {
    let config = crypten::Config {
        provider: args.provider.0,
        ..crypten::Config::default()
    };
    crypten::simulator::run_with(1, config, |sess| {
        party(args, &sess).map_err(|e| crypten::Error::InvalidArgument {
            op: "infer",
            reason: format!("{e:#}"),
        })
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the data owner's inputs and checks their element types against the graph.
fn read_inputs(paths: &[PathBuf], spec: &GraphSpec) -> anyhow::Result<Vec<ArrayD<f64>>> {
    ensure!(
        paths.len() == spec.inputs.len(),
        "the model takes {} input(s) ({}): give one --input each, got {}",
        spec.inputs.len(),
        spec.inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        paths.len()
    );
    paths
        .iter()
        .zip(&spec.inputs)
        .map(|(path, input)| {
            let (array, kind) = read_npy(path)?;
            let want = match input.encoding {
                Encoding::Values => NpyKind::Float,
                Encoding::OneHot { .. } => NpyKind::Int,
            };
            ensure!(
                kind == want,
                "{}: input {} takes {} data, the file holds {}",
                path.display(),
                input.name,
                if want == NpyKind::Float {
                    "float32/float64"
                } else {
                    "integer ids (int64/int32)"
                },
                if kind == NpyKind::Float {
                    "floats"
                } else {
                    "integers"
                }
            );
            Ok(array)
        })
        .collect()
}

/// What one party sends the writer for `--stats`.
fn party_stats(
    sess: &Session,
    costs: &[NodeCost],
    total: &crypten::StatsSnapshot,
    seconds: f64,
    phases: serde_json::Value,
) -> serde_json::Value {
    json!({
        "rank": sess.rank(),
        "seconds": seconds,
        "phases": phases,
        "bytes_sent": total.bytes_sent,
        "bytes_received": total.bytes_received,
        "rounds": total.rounds,
        "layers": costs,
    })
}

fn party(args: &InferArgs, sess: &Session) -> anyhow::Result<()> {
    let roles = args.roles(sess.parties())?;
    let rank = sess.rank();
    if rank == roles.writer && args.output.is_none() {
        bail!("party {rank} receives the output: give it --output");
    }
    let start = Instant::now();
    let before = sess.stats();
    let own_model = if rank == roles.model_owner {
        let path = args
            .model
            .as_deref()
            .context("the model owner needs --model")?;
        Some(
            Model::load(path)
                .with_context(|| format!("model {}", path.display()))?
                .into_graph()?,
        )
    } else {
        None
    };
    let loaded = start.elapsed().as_secs_f64();
    let graph = Graph::share_from(sess, roles.model_owner, own_model)?;
    let model_shared = start.elapsed().as_secs_f64();
    let data = if rank == roles.data_owner {
        Some(read_inputs(&args.inputs, graph.spec())?)
    } else {
        None
    };
    let inputs = graph.share_inputs(sess, roles.data_owner, data)?;
    let inputs_shared = start.elapsed().as_secs_f64();
    // Inference: no gradients, so operations keep nothing for a backward pass.
    let (outputs, costs) = crypten::autograd::no_grad(|| graph.forward_profiled(&inputs, sess))?;
    let computed = start.elapsed().as_secs_f64();
    let revealed: Vec<Option<ArrayD<f64>>> = outputs
        .iter()
        .map(|v| reveal(v.value(), roles))
        .collect::<anyhow::Result<_>>()?;
    let seconds = start.elapsed().as_secs_f64();
    let total = sess.stats().since(&before);
    let phases = json!({
        "load_model": loaded,
        "share_model": model_shared - loaded,
        "share_inputs": inputs_shared - model_shared,
        "forward": computed - inputs_shared,
        "reveal": seconds - computed,
    });
    let mine = party_stats(sess, &costs, &total, seconds, phases);
    // Every party's figures go to the writer (public counts, no data).
    let all_stats = if rank == roles.writer {
        let mut all = vec![serde_json::Value::Null; sess.parties()];
        all[rank] = mine;
        for peer in sess.peers() {
            let bytes = sess.comm().recv(peer, "infer.stats")?;
            all[peer] = serde_json::from_slice(&bytes)
                .with_context(|| format!("malformed figures from party {peer}"))?;
        }
        Some(all)
    } else {
        sess.comm()
            .send(roles.writer, "infer.stats", serde_json::to_vec(&mine)?)?;
        None
    };
    if rank != roles.writer {
        return Ok(());
    }
    let output = args.output.as_deref().context("--output is required")?;
    for (i, (value, name)) in revealed.iter().zip(&graph.spec().outputs).enumerate() {
        let value = value
            .as_ref()
            .context("the output was not revealed to this party")?;
        let path = output_path(output, i, name);
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        value
            .mapv(|v| v as f32)
            .write_npy(std::io::BufWriter::new(file))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let (Some(path), Some(all)) = (&args.stats, all_stats) {
        let report = stats_report(args, sess.parties(), &all, seconds);
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "crypten infer: {} party(ies), {:.3} s, {} rounds, output written by party {rank}",
        sess.parties(),
        seconds,
        total.rounds
    );
    Ok(())
}

fn reveal(value: &Tensor, roles: Roles) -> anyhow::Result<Option<ArrayD<f64>>> {
    Ok(match value {
        Tensor::Plain(a) => Some(a.clone()),
        Tensor::Encrypted(c) if roles.reveal_to_one => c.reveal_to(roles.writer)?,
        Tensor::Encrypted(c) => Some(c.get_plain_text()?),
    })
}

/// `Y.npy` for the first output, `Y.<name>.npy` for the others.
fn output_path(output: &Path, index: usize, name: &str) -> PathBuf {
    if index == 0 {
        return output.to_path_buf();
    }
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = output
        .file_stem()
        .map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
    output.with_file_name(format!("{stem}.{clean}.npy"))
}

/// The `--stats` report: totals and per-layer figures, bytes per party.
fn stats_report(
    args: &InferArgs,
    parties: usize,
    all: &[serde_json::Value],
    seconds: f64,
) -> serde_json::Value {
    let per_party =
        |key: &str| -> Vec<serde_json::Value> { all.iter().map(|p| p[key].clone()).collect() };
    let layers: Vec<serde_json::Value> = all
        .first()
        .and_then(|p| p["layers"].as_array())
        .map(|first| {
            first
                .iter()
                .enumerate()
                .map(|(i, layer)| {
                    json!({
                        "node": layer["node"],
                        "op": layer["op"],
                        "seconds": layer["seconds"],
                        "rounds": layer["rounds"],
                        "bytes_sent_per_party": all.iter().map(|p| p["layers"][i]["bytes_sent"].clone()).collect::<Vec<_>>(),
                        "bytes_received_per_party": all.iter().map(|p| p["layers"][i]["bytes_received"].clone()).collect::<Vec<_>>(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "model": args.model.as_ref().map(|p| p.display().to_string()),
        "parties": parties,
        "provider": args.provider.0.name(),
        "seconds": seconds,
        "rounds": all.first().map(|p| p["rounds"].clone()),
        "bytes_sent_per_party": per_party("bytes_sent"),
        "bytes_received_per_party": per_party("bytes_received"),
        "seconds_per_party": per_party("seconds"),
        "phases_per_party": per_party("phases"),
        "layers": layers,
    })
}
