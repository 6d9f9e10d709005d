//! `crypten train`: private training of an ONNX model on data split across parties, with
//! the trained model back as ONNX at its owner only.
//!
//! Each party reads only its own files. Before anything is shared, the model owner announces
//! the model's input and output sizes, every party checks its files against them and
//! announces its shapes, and every party checks the same agreement: a mismatch is one error,
//! the same at every party. Training is the library's loop ([`crypten::nn::train::fit`]); it
//! reveals the batch order, the row counts and the mean loss once per epoch (with a
//! validation set, its mean loss and accuracy), nothing per sample.

pub(crate) mod bench;
mod data;
mod progress;

use crate::files::{check_writable, write_atomically};
use crate::launch::{LaunchArgs, ProviderArg, TruncationArg, launch};
use crate::party::with_session;
use anyhow::{Context, ensure};
use crypten::nn::Module;
use crypten::nn::graph::{Encoding, Graph};
use crypten::nn::train::{Dataset, EpochRecord, Loss, Optimizer, TrainConfig, fit};
use crypten::onnx::Model;
use crypten::{CrypTensor, Session, Tensor, Variable};
use data::{FileSpec, Join, Layout, ModelFacts, Own, Summary, agree, read_own};
use ndarray::{Array2, ArrayD, IxDyn};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The loss, by the names `--loss` takes.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum LossArg {
    /// Cross-entropy of logits against class indices (or one-hot rows).
    CrossEntropy,
    /// Mean squared error.
    Mse,
    /// Binary cross-entropy of probabilities (a model ending in a sigmoid).
    Bce,
    /// Binary cross-entropy of logits.
    BceLogits,
}

impl LossArg {
    pub(crate) fn loss(self) -> Loss {
        match self {
            Self::CrossEntropy => Loss::CrossEntropy,
            Self::Mse => Loss::Mse,
            Self::Bce => Loss::Bce,
            Self::BceLogits => Loss::BceLogits,
        }
    }
}

/// The optimizer, by the names `--optimizer` takes.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum OptimizerArg {
    /// Stochastic gradient descent (with `--momentum`).
    Sgd,
    /// Adam (PyTorch's default betas and epsilon).
    Adam,
}

/// Arguments of `crypten train`.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct TrainArgs {
    /// The ONNX model to train (read by the model owner only).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Number of computing parties.
    #[arg(short = 'n', long, default_value_t = 2)]
    pub parties: usize,
    /// The rank that owns the model: it shares the initial weights and alone receives the
    /// trained ones.
    #[arg(long, default_value_t = 0)]
    pub model_owner: usize,
    /// A feature file and the party that holds it, RANK:PATH (.npy, or .csv with a header);
    /// repeat for each part, in the order the parts join.
    #[arg(long = "data", required = true)]
    pub data: Vec<FileSpec>,
    /// How the parts join: columns (same rows, different features) or rows (same features,
    /// different samples).
    #[arg(long, value_enum, default_value = "columns")]
    pub join: Join,
    /// The labels and the party that holds them, RANK:PATH: class indices (.npy int64, or a
    /// CSV column) for cross-entropy, targets of the output's width for the other losses.
    /// Repeat it for labels split by rows (each party its samples' labels), in row order.
    #[arg(long = "labels", required = true)]
    pub labels: Vec<FileSpec>,
    /// The CSV column that holds the labels; a feature CSV drops it.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// The loss.
    #[arg(long, value_enum, default_value = "cross-entropy")]
    pub loss: LossArg,
    /// The optimizer.
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerArg,
    /// Learning rate.
    #[arg(long)]
    pub lr: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f64,
    /// L2 penalty.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Passes over the training rows.
    #[arg(long)]
    pub epochs: usize,
    /// Rows per step.
    #[arg(long)]
    pub batch_size: usize,
    /// Seed of the public batch order, known to every party; without it the parties draw
    /// one together, and the rows are still shuffled.
    #[arg(long)]
    pub shuffle_seed: Option<u64>,
    /// Keep the rows in file order (no shuffling).
    #[arg(long, conflicts_with = "shuffle_seed")]
    pub no_shuffle: bool,
    /// Validation features, RANK:PATH (all columns at one party); a CSV holds its labels too.
    #[arg(long)]
    pub validation: Option<FileSpec>,
    /// Validation labels, RANK:PATH, for an .npy validation set.
    #[arg(long, requires = "validation")]
    pub validation_labels: Option<FileSpec>,
    /// Where the model owner writes the trained model (ONNX); no other party writes it.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Each epoch's loss, validation figures, time, bytes and rounds, as JSON (written by the
    /// model owner).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Leave each party its share of the trained weights in DIR (party-RANK.safetensors)
    /// instead of, or besides, revealing them to the owner.
    #[arg(long)]
    pub keep_shared: Option<PathBuf>,
    /// Start from the shares a previous `--keep-shared DIR` run left.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Preprocessing provider: ttp (a dealer process) or tfp (insecure, tests only).
    #[arg(long, value_enum, default_value = "ttp")]
    pub provider: ProviderArg,
}

impl TrainArgs {
    fn config(&self, shuffle_seed: Option<u64>) -> TrainConfig {
        TrainConfig {
            loss: self.loss.loss(),
            optimizer: match self.optimizer {
                OptimizerArg::Sgd => Optimizer::Sgd,
                OptimizerArg::Adam => Optimizer::Adam,
            },
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            epochs: self.epochs,
            batch_size: self.batch_size,
            shuffle_seed,
        }
    }

    /// Checks that need no file: ranks, counts, what is written.
    fn check(&self, parties: usize) -> anyhow::Result<()> {
        let mut ranks = vec![("--model-owner", self.model_owner)];
        ranks.extend(self.data.iter().map(|d| ("--data", d.owner)));
        ranks.extend(self.labels.iter().map(|d| ("--labels", d.owner)));
        ranks.extend(self.validation.iter().map(|d| ("--validation", d.owner)));
        ranks.extend(
            self.validation_labels
                .iter()
                .map(|d| ("--validation-labels", d.owner)),
        );
        for (what, r) in ranks {
            ensure!(
                r < parties,
                "{what}: {r} is not a rank of {parties} parties (0..{parties})"
            );
        }
        ensure!(
            self.epochs > 0 && self.batch_size > 0,
            "--epochs and --batch-size must be positive"
        );
        ensure!(
            self.lr.is_finite() && self.lr > 0.0,
            "--lr must be positive"
        );
        ensure!(
            self.output.is_some() || self.keep_shared.is_some(),
            "give --output (the trained model, to the model owner) or --keep-shared DIR"
        );
        if let Some(out) = &self.output {
            ensure!(
                out.extension().is_some_and(|e| e == "onnx"),
                "--output {}: the trained model is written as .onnx",
                out.display()
            );
        }
        Ok(())
    }

    fn shuffle(&self) -> Shuffle {
        match (self.no_shuffle, self.shuffle_seed) {
            (true, _) => Shuffle::InOrder,
            (false, Some(seed)) => Shuffle::Seed(seed),
            (false, None) => Shuffle::Joint,
        }
    }
}

enum Shuffle {
    InOrder,
    Seed(u64),
    Joint,
}

/// `crypten train`: one party of a job (inside `crypten launch`/`crypten run`), or, alone,
/// the launcher of all of them on this machine after checking every file.
pub(crate) fn train(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    if std::env::var_os("RANK").is_some() {
        with_session(|sess| party(args, sess))?;
        return Ok(ExitCode::SUCCESS);
    }
    ensure!(
        (1..=64).contains(&args.parties),
        "--parties must be between 1 and 64, got {}",
        args.parties
    );
    args.check(args.parties)?;
    // Everything a party would find wrong is found here, before any process starts.
    let (_, model, facts) = load_model(args)?;
    let max_abs = crypten::Config::default().validate()?.max_abs();
    let summaries = (0..args.parties)
        .map(|rank| read_own(args, rank, &facts, max_abs).map(|own| own.summary()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    agree(args, &facts, &summaries)?;
    drop(model);
    check_outputs(args)?;
    if args.parties == 1 {
        let config = crypten::Config {
            provider: args.provider.0,
            ..crypten::Config::default()
        };
        crypten::simulator::run_with(1, config, |sess| {
            party(args, &sess).map_err(|e| crypten::Error::InvalidArgument {
                op: "train",
                reason: format!("{e:#}"),
            })
        })?;
        return Ok(ExitCode::SUCCESS);
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

fn check_outputs(args: &TrainArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.output {
        check_writable(out)?;
    }
    if let Some(h) = &args.history {
        check_writable(h)?;
    }
    if let Some(dir) = &args.keep_shared {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--keep-shared: cannot create {}", dir.display()))?;
        check_writable(&dir.join("party-0.safetensors"))?;
    }
    Ok(())
}

/// The model owner's model: its file's bytes, the import, and the public facts.
fn load_model(args: &TrainArgs) -> anyhow::Result<(Vec<u8>, Model, ModelFacts)> {
    let path = args.model.as_deref().context("--model is required")?;
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the model {}", path.display()))?;
    let model = Model::from_bytes(&bytes).with_context(|| format!("model {}", path.display()))?;
    if args.output.is_some() {
        model
            .check_exportable()
            .with_context(|| format!("model {}", path.display()))?;
    }
    let facts = model_facts(&model).with_context(|| format!("model {}", path.display()))?;
    Ok((bytes, model, facts))
}

/// The input of one sample and the output's width, from a plaintext run of the graph on one
/// sample of zeros (the weights' values do not matter).
fn model_facts(model: &Model) -> anyhow::Result<ModelFacts> {
    let spec = model.spec();
    ensure!(
        spec.inputs.len() == 1 && spec.outputs.len() == 1,
        "training takes a model with one input and one output, this one has {} and {}",
        spec.inputs.len(),
        spec.outputs.len()
    );
    let input = &spec.inputs[0];
    ensure!(
        input.encoding == Encoding::Values,
        "input {} holds ids for an embedding; training takes real-valued inputs",
        input.name
    );
    let sample_shape: Vec<usize> = input
        .shape
        .iter()
        .skip(1)
        .map(|d| {
            d.with_context(|| {
                format!(
                    "input {} has shape {:?}: every dimension but the batch must be fixed",
                    input.name, input.shape
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    ensure!(
        !input.shape.is_empty(),
        "input {} has no batch dimension",
        input.name
    );
    let graph = Graph::from_spec(spec.clone())?;
    let mut shape = vec![1];
    shape.extend(&sample_shape);
    let out = crypten::autograd::no_grad(|| {
        graph.forward(&Variable::constant(Tensor::Plain(ArrayD::zeros(IxDyn(
            &shape,
        )))))
    })?;
    let out_shape = out.shape().to_vec();
    ensure!(
        out_shape.first() == Some(&1) && matches!(out_shape.len(), 1 | 2),
        "training takes a model whose output is [batch, outputs] or [batch], this one gives \
         {out_shape:?} for one sample"
    );
    Ok(ModelFacts {
        sample_shape,
        outputs: out_shape.get(1).copied().unwrap_or(1),
        squeezed: out_shape.len() == 1,
    })
}

/// Sends `value` to every other party and receives theirs: one message each way per pair.
fn exchange<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    sess: &Session,
    tag: &str,
    value: &T,
) -> anyhow::Result<Vec<T>> {
    let bytes = serde_json::to_vec(value)?;
    for peer in sess.peers() {
        sess.comm().send(peer, tag, bytes.clone())?;
    }
    let mut all = Vec::with_capacity(sess.parties());
    for rank in 0..sess.parties() {
        if rank == sess.rank() {
            all.push(value.clone());
        } else {
            let got = sess.comm().recv(rank, tag)?;
            all.push(
                serde_json::from_slice(&got)
                    .with_context(|| format!("malformed {tag} from party {rank}"))?,
            );
        }
    }
    Ok(all)
}

/// The model owner's facts, announced to every party; checked for sanity where received.
fn announce_facts(
    sess: &Session,
    owner: usize,
    facts: Option<&ModelFacts>,
) -> anyhow::Result<ModelFacts> {
    if let Some(f) = facts {
        let bytes = serde_json::to_vec(f)?;
        for peer in sess.peers() {
            sess.comm().send(peer, "train.model", bytes.clone())?;
        }
        return Ok(f.clone());
    }
    let bytes = sess.comm().recv(owner, "train.model")?;
    let f: ModelFacts = serde_json::from_slice(&bytes)
        .with_context(|| format!("malformed model sizes from party {owner}"))?;
    let features = f
        .sample_shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    ensure!(
        features.is_some_and(|n| (1..=1 << 24).contains(&n)) && (1..=1 << 20).contains(&f.outputs),
        "party {owner} announced implausible model sizes ({:?} in, {} out)",
        f.sample_shape,
        f.outputs
    );
    Ok(f)
}

/// `value` at `owner`, zeros of `shape` elsewhere, shared from `owner`.
fn share(
    sess: &Session,
    owner: usize,
    value: Option<&Array2<f64>>,
    shape: (usize, usize),
) -> anyhow::Result<CrypTensor> {
    let zeros;
    let array = match value {
        Some(v) if sess.rank() == owner => v,
        _ => {
            zeros = Array2::zeros(shape);
            &zeros
        }
    };
    Ok(CrypTensor::from_array(
        sess,
        &array.clone().into_dyn(),
        owner,
    )?)
}

/// The joint features, `[rows, sample shape...]`, and the targets `[rows, width]`.
fn share_training_set(
    args: &TrainArgs,
    sess: &Session,
    own: &Own,
    layout: &Layout,
    facts: &ModelFacts,
) -> anyhow::Result<Dataset> {
    let parts = layout
        .parts
        .iter()
        .enumerate()
        .map(|(i, &(owner, rows, cols))| {
            let mine = own.features.iter().find(|(j, _)| *j == i).map(|(_, a)| a);
            share(sess, owner, mine, (rows, cols))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let axis = match args.join {
        Join::Columns => 1,
        Join::Rows => 0,
    };
    let x = CrypTensor::cat(&parts.iter().collect::<Vec<_>>(), axis)?;
    let labels = layout
        .labels
        .iter()
        .enumerate()
        .map(|(i, &(owner, rows))| {
            let mine = own.labels.iter().find(|(j, _)| *j == i).map(|(_, a)| a);
            share(sess, owner, mine, (rows, facts.outputs))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let y = CrypTensor::cat(&labels.iter().collect::<Vec<_>>(), 0)?;
    Ok(Dataset {
        x: Tensor::Encrypted(x.reshape(&sample_rows(layout.rows, facts))?),
        y: Tensor::Encrypted(y.reshape(&target_rows(layout.rows, facts))?),
    })
}

/// The targets' shape: the output's, `[rows, outputs]` or `[rows]`.
fn target_rows(rows: usize, facts: &ModelFacts) -> Vec<usize> {
    if facts.squeezed {
        vec![rows]
    } else {
        vec![rows, facts.outputs]
    }
}

fn sample_rows(rows: usize, facts: &ModelFacts) -> Vec<usize> {
    let mut shape = vec![rows];
    shape.extend(&facts.sample_shape);
    shape
}

fn share_validation_set(
    args: &TrainArgs,
    sess: &Session,
    own: &Own,
    layout: &Layout,
    facts: &ModelFacts,
) -> anyhow::Result<Option<Dataset>> {
    let (Some(v), Some(rows)) = (&args.validation, layout.validation_rows) else {
        return Ok(None);
    };
    let labels = data::validation_labels(args).context("no validation labels")?;
    let x = share(
        sess,
        v.owner,
        own.validation.as_ref(),
        (rows, facts.features()),
    )?;
    let y = share(
        sess,
        labels.owner,
        own.validation_labels.as_ref(),
        (rows, facts.outputs),
    )?;
    Ok(Some(Dataset {
        x: Tensor::Encrypted(x.reshape(&sample_rows(rows, facts))?),
        y: Tensor::Encrypted(y.reshape(&target_rows(rows, facts))?),
    }))
}

/// A seed no single party chooses: the XOR of one fresh random word from each party. Every
/// party learns it (the batch order is public either way).
fn joint_seed(sess: &Session) -> anyhow::Result<u64> {
    let seed = crypten::Prg::random_seed()?;
    let mine = u64::from_le_bytes(seed[..8].try_into().unwrap_or([0; 8]));
    Ok(exchange(sess, "train.seed", &mine)?
        .into_iter()
        .fold(0, |a, b| a ^ b))
}

fn party(args: &TrainArgs, sess: &Session) -> anyhow::Result<()> {
    let rank = sess.rank();
    let owner = args.model_owner;
    args.check(sess.parties())?;
    // 1. The model owner reads the model and announces its sizes.
    let mine = if rank == owner {
        Some(load_model(args)?)
    } else {
        None
    };
    let facts = announce_facts(sess, owner, mine.as_ref().map(|m| &m.2))?;
    // 2. Every party reads its own files and announces their shapes; all check the same.
    let own = read_own(args, rank, &facts, sess.encoder().max_abs())?;
    let summaries: Vec<Summary> = exchange(sess, "train.shapes", &own.summary())?;
    let layout = agree(args, &facts, &summaries)?;
    if rank == owner {
        check_outputs(args)?;
    } else if let Some(dir) = &args.keep_shared {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--keep-shared: cannot create {}", dir.display()))?;
    }
    // 3. The model's weights and the data are shared.
    let (original, graph) = match mine {
        Some((bytes, model, _)) => (Some(bytes), Some(model.into_graph()?)),
        None => (None, None),
    };
    let graph = Graph::share_from(sess, owner, graph)?;
    if let Some(dir) = &args.resume {
        crypten::nn::state::load_shares(&graph, sess, &share_file(dir, rank))
            .context("--resume")?;
    }
    let train_set = share_training_set(args, sess, &own, &layout, &facts)?;
    let validation = share_validation_set(args, sess, &own, &layout, &facts)?;
    drop(own);
    let seed = match args.shuffle() {
        Shuffle::InOrder => None,
        Shuffle::Seed(s) => Some(s),
        Shuffle::Joint => Some(joint_seed(sess)?),
    };
    // 4. Training: the loss is revealed once per epoch.
    let config = args.config(seed);
    let mut display = progress::Display::new(rank == 0, config.epochs);
    let history = fit(
        &graph,
        &config,
        &train_set,
        validation.as_ref(),
        Some(sess),
        &mut |p| display.update(&p),
    )?;
    display.finish();
    // 5. The trained weights: shares kept, and/or revealed to the owner only.
    if let Some(dir) = &args.keep_shared {
        crypten::nn::state::save_shares(&graph, sess, &share_file(dir, rank))?;
    }
    if let Some(out) = &args.output {
        let mut trained = Vec::new();
        for (name, p) in graph.named_parameters() {
            let value = match p.value() {
                Tensor::Encrypted(c) => c.reveal_to(owner)?,
                Tensor::Plain(a) => Some(a),
            };
            if let Some(v) = value {
                trained.push((name, v));
            }
        }
        if rank == owner {
            let original = original.context("the model owner lost its model")?;
            let bytes = crypten::onnx::with_weights(&original, &trained)?;
            write_atomically(out, &bytes)?;
        }
    }
    write_history(args, sess, &history)?;
    if rank == owner {
        let last = history.last();
        eprintln!(
            "crypten train: {} epochs on {} rows, {} party(ies); final loss {:.4}{}",
            history.len(),
            layout.rows,
            sess.parties(),
            last.map_or(f64::NAN, |r| r.loss),
            match &args.output {
                Some(p) => format!("; trained model written to {}", p.display()),
                None => String::new(),
            }
        );
    }
    Ok(())
}

fn share_file(dir: &Path, rank: usize) -> PathBuf {
    dir.join(format!("party-{rank}.safetensors"))
}

/// The history, at the model owner: the revealed figures per epoch and every party's costs
/// (public counts, gathered in one message per party).
fn write_history(args: &TrainArgs, sess: &Session, history: &[EpochRecord]) -> anyhow::Result<()> {
    let Some(path) = &args.history else {
        return Ok(());
    };
    let owner = args.model_owner;
    if sess.rank() != owner {
        sess.comm()
            .send(owner, "train.history", serde_json::to_vec(history)?)?;
        return Ok(());
    }
    let mut all: Vec<Vec<EpochRecord>> = vec![Vec::new(); sess.parties()];
    all[owner] = history.to_vec();
    for peer in sess.peers() {
        let bytes = sess.comm().recv(peer, "train.history")?;
        all[peer] = serde_json::from_slice(&bytes)
            .with_context(|| format!("malformed history from party {peer}"))?;
        ensure!(
            all[peer].len() == history.len(),
            "party {peer} reports {} epochs, this party {}",
            all[peer].len(),
            history.len()
        );
    }
    let epochs: Vec<serde_json::Value> = history
        .iter()
        .enumerate()
        .map(|(e, r)| {
            json!({
                "epoch": r.epoch,
                "loss": r.loss,
                "validation_loss": r.validation_loss,
                "validation_accuracy": r.validation_accuracy,
                "seconds": r.seconds,
                "steps": r.steps,
                "rounds": r.rounds,
                "rounds_per_step": r.rounds as f64 / r.steps.max(1) as f64,
                "bytes_sent_per_party": all.iter().map(|h| h[e].bytes_sent).collect::<Vec<_>>(),
                "bytes_received_per_party": all.iter().map(|h| h[e].bytes_received).collect::<Vec<_>>(),
            })
        })
        .collect();
    let report = json!({
        "model": args.model.as_ref().map(|p| p.display().to_string()),
        "parties": sess.parties(),
        "provider": args.provider.0.name(),
        "loss": args.loss.loss().name(),
        "optimizer": format!("{:?}", args.optimizer).to_lowercase(),
        "lr": args.lr,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "batch_size": args.batch_size,
        "join": format!("{:?}", args.join).to_lowercase(),
        "revealed": "the batch order, the row counts, and per epoch the mean training loss \
                     (and the validation loss and accuracy)",
        "epochs": epochs,
    });
    write_atomically(path, &serde_json::to_vec_pretty(&report)?)
}

#[cfg(test)]
mod tests {
    use super::data::FileSpec;

    #[test]
    fn file_specs_parse_rank_and_path() {
        let spec: FileSpec = "2:dir/x:y.csv".parse().expect("valid");
        assert_eq!(spec.owner, 2);
        assert_eq!(spec.path, std::path::PathBuf::from("dir/x:y.csv"));
        assert!("x.csv".parse::<FileSpec>().is_err());
        assert!("a:x.csv".parse::<FileSpec>().is_err());
        assert!("1:".parse::<FileSpec>().is_err());
        let spec: FileSpec = "1:data.csv:target".parse().expect("a CSV column");
        assert_eq!(spec.path, std::path::PathBuf::from("data.csv"));
        assert_eq!(spec.column.as_deref(), Some("target"));
        let spec: FileSpec = "1:c:/x.npy".parse().expect("a colon in the path");
        assert_eq!(spec.path, std::path::PathBuf::from("c:/x.npy"));
        assert_eq!(spec.column, None);
    }
}
