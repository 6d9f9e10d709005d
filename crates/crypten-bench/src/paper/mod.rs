//! The paper's benchmarks (`crypten bench paper`): private inference of the four models of
//! the CrypTen paper (the zoo in `crypten::nn::zoo`), one cell per model, party count and
//! batch size, each cell its own processes over loopback. The model belongs to party 0, the
//! data to party 1 (party 0 with one party, which runs the protocol on unshared data).
//!
//! A cell records, per sample: the median time of the measured batches (after a warm-up
//! batch), the bytes each party sent and received, the rounds, each party's peak resident
//! memory and its split between computing and waiting on the network; and the same model's
//! plaintext time and the NMSE of the revealed output against it. [`report`] draws the
//! tables and the plots.

mod report;

pub use report::write_report;

use crate::Result;
use crypten::autograd::no_grad;
use crypten::ndarray::{ArrayD, IxDyn};
use crypten::nn::graph::NodeCost;
use crypten::nn::zoo::{
    ResNetConfig, TextConfig, VitConfig, Wav2LetterConfig, resnet18, text, vit, wav2letter,
};
use crypten::nn::{Graph, Module};
use crypten::{Prg, Session, Tensor, Variable};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The models, by the names the command takes.
pub const PAPER_MODELS: &[&str] = &["text", "wav2letter", "resnet18", "vit_b16"];

/// What one cell measures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellRecord {
    /// The model.
    pub model: String,
    /// Computing parties.
    pub parties: usize,
    /// Samples per batch.
    pub batch: usize,
    /// Preprocessing provider.
    pub provider: String,
    /// Whether the small test configuration ran instead of the paper's model.
    pub small: bool,
    /// Measured batches (after one warm-up batch).
    pub reps: usize,
    /// Median seconds per sample.
    pub seconds_per_sample: f64,
    /// Bytes sent per sample, per party.
    pub bytes_sent_per_sample: Vec<f64>,
    /// Bytes received per sample, per party.
    pub bytes_received_per_sample: Vec<f64>,
    /// Communication rounds per sample.
    pub rounds_per_sample: f64,
    /// Peak resident memory of each party's process, in bytes.
    pub peak_rss_bytes: Vec<u64>,
    /// Seconds per sample each party spent blocked on its peers.
    pub waiting_per_sample: Vec<f64>,
    /// Seconds per sample of the same model in plaintext (f64, this process).
    pub plaintext_seconds_per_sample: f64,
    /// Normalized MSE of the revealed output against the plaintext model's.
    pub nmse: f64,
    /// The command that measured the cell (set by `crypten bench paper`).
    #[serde(default)]
    pub command: String,
    /// The truncation of products (`exact` or `local`; set by `crypten bench paper`).
    #[serde(default = "exact")]
    pub truncation: String,
    /// Where party 0's time went in the last measured batch, per operation type, most
    /// expensive first.
    #[serde(default)]
    pub profile: Vec<OpCost>,
}

fn exact() -> String {
    "exact".to_string()
}

/// One operation type's share of a forward pass, per sample (party 0).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpCost {
    /// The operation, by its ONNX name.
    pub op: String,
    /// Nodes of that type.
    pub nodes: usize,
    /// Seconds per sample.
    pub seconds: f64,
    /// Rounds per sample.
    pub rounds: f64,
    /// Bytes party 0 sent, per sample.
    pub bytes_sent: f64,
}

/// Adds up node costs per operation type, most expensive first.
fn by_op(costs: &[NodeCost], batch: usize) -> Vec<OpCost> {
    let mut ops: Vec<OpCost> = Vec::new();
    let b = batch as f64;
    for c in costs {
        let entry = match ops.iter_mut().position(|o| o.op == c.op) {
            Some(i) => &mut ops[i],
            None => {
                ops.push(OpCost {
                    op: c.op.to_string(),
                    nodes: 0,
                    seconds: 0.0,
                    rounds: 0.0,
                    bytes_sent: 0.0,
                });
                let last = ops.len() - 1;
                &mut ops[last]
            }
        };
        entry.nodes += 1;
        entry.seconds += c.seconds / b;
        entry.rounds += c.rounds as f64 / b;
        entry.bytes_sent += c.bytes_sent as f64 / b;
    }
    ops.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    ops
}

/// One cell's parameters.
#[derive(Clone, Debug)]
pub struct CellConfig {
    /// The model's name (see [`PAPER_MODELS`]).
    pub model: String,
    /// Samples per batch.
    pub batch: usize,
    /// Measured batches.
    pub reps: usize,
    /// Small versions of the models (tests).
    pub small: bool,
}

const SEED: u64 = 2021;

/// The model of a cell with its seeded weights, and a seeded input batch.
///
/// # Errors
/// An unknown model name.
pub fn model_and_input(cfg: &CellConfig) -> Result<(Graph, ArrayD<f64>)> {
    let b = cfg.batch;
    let mut prg = Prg::from_seed([7; 16]);
    let mut uniform = |shape: &[usize]| {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || prg.uniform_f64() * 2.0 - 1.0)
    };
    Ok(match cfg.model.as_str() {
        "text" => {
            let c = if cfg.small {
                TextConfig {
                    vocabulary: 1_000,
                    dim: 8,
                    classes: 2,
                    batch: b,
                }
            } else {
                TextConfig {
                    batch: b,
                    ..TextConfig::default()
                }
            };
            // A review of about 100 words: counts of random words.
            let mut counts = ArrayD::zeros(IxDyn(&[b, c.vocabulary]));
            let mut prg = Prg::from_seed([8; 16]);
            for row in 0..b {
                for _ in 0..100 {
                    let w = (prg.uniform_f64() * c.vocabulary as f64) as usize;
                    counts[[row, w.min(c.vocabulary - 1)]] += 1.0;
                }
            }
            (text(&c, SEED)?, counts)
        }
        "wav2letter" => {
            let c = if cfg.small {
                Wav2LetterConfig {
                    samples: 1_600,
                    channels: 8,
                    wide: 16,
                    labels: 5,
                    batch: b,
                }
            } else {
                Wav2LetterConfig {
                    batch: b,
                    ..Wav2LetterConfig::default()
                }
            };
            let x = uniform(&[b, 1, c.samples]);
            (wav2letter(&c, SEED)?, x)
        }
        "resnet18" => {
            let c = if cfg.small {
                ResNetConfig {
                    width: 4,
                    image: 32,
                    classes: 10,
                    batch: b,
                }
            } else {
                ResNetConfig {
                    batch: b,
                    ..ResNetConfig::default()
                }
            };
            let x = uniform(&[b, 3, c.image, c.image]);
            (resnet18(&c, SEED)?, x)
        }
        "vit_b16" => {
            let c = if cfg.small {
                VitConfig {
                    image: 16,
                    patch: 4,
                    layers: 2,
                    heads: 2,
                    width: 16,
                    mlp: 32,
                    classes: 5,
                    batch: b,
                }
            } else {
                VitConfig {
                    batch: b,
                    ..VitConfig::default()
                }
            };
            let x = uniform(&[b, 3, c.image, c.image]);
            (vit(&c, SEED)?, x)
        }
        other => return Err(crate::Error::UnknownOp(other.to_string())),
    })
}

/// The peak resident memory of this process (Linux), in bytes; 0 where unknown.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// What every party measures, sent to party 0.
#[derive(Serialize, Deserialize)]
struct PartyFigures {
    seconds: Vec<f64>,
    bytes_sent: u64,
    bytes_received: u64,
    rounds: u64,
    waiting: f64,
    peak_rss: u64,
}

/// Runs one cell as a party of `sess`; party 0 returns the record.
///
/// # Errors
/// Model, protocol or communication failures.
pub fn run_cell(sess: &Session, cfg: &CellConfig) -> Result<Option<CellRecord>> {
    let data_owner = usize::from(sess.parties() > 1);
    let reps = cfg.reps.max(1);
    let own = (sess.rank() == 0)
        .then(|| model_and_input(cfg))
        .transpose()?;
    let (own_graph, own_input) = match own {
        Some((g, x)) => (Some(g), Some(x)),
        None => (None, None),
    };
    let graph = Graph::share_from(sess, 0, own_graph)?;
    let data = if sess.rank() == data_owner {
        Some(vec![match own_input {
            Some(x) => x,
            None => model_and_input(cfg)?.1,
        }])
    } else {
        None
    };
    let inputs = graph.share_inputs(sess, data_owner, data)?;
    let forward = || -> Result<(ArrayD<f64>, Vec<NodeCost>)> {
        let (y, costs) = no_grad(|| graph.forward_profiled(&inputs, sess))?;
        let first = y
            .first()
            .ok_or_else(|| crate::Error::UnknownOp("a model without outputs".into()))?;
        Ok((first.value().to_plain()?, costs))
    };
    forward()?; // warm-up
    let before = sess.stats();
    let waited = sess.waiting();
    let mut seconds = Vec::with_capacity(reps);
    let mut output = None;
    let mut costs = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        let (y, c) = forward()?;
        seconds.push(start.elapsed().as_secs_f64());
        (output, costs) = (Some(y), c);
    }
    let traffic = sess.stats().since(&before);
    let mine = PartyFigures {
        seconds,
        bytes_sent: traffic.bytes_sent,
        bytes_received: traffic.bytes_received,
        rounds: traffic.rounds,
        waiting: (sess.waiting() - waited).as_secs_f64(),
        peak_rss: peak_rss(),
    };
    if sess.rank() != 0 {
        let bytes =
            serde_json::to_vec(&mine).map_err(|e| crate::Error::UnknownOp(e.to_string()))?;
        sess.comm().send(0, "paper.figures", bytes)?;
        return Ok(None);
    }
    let mut all = vec![mine];
    for peer in sess.peers() {
        let bytes = sess.comm().recv(peer, "paper.figures")?;
        all.push(
            serde_json::from_slice(&bytes)
                .map_err(|e| crate::Error::UnknownOp(format!("figures of party {peer}: {e}")))?,
        );
    }
    // The plaintext model, from the same seed, on the same input.
    let (plain, x) = model_and_input(cfg)?;
    let start = Instant::now();
    let want = plain
        .forward(&Variable::constant(Tensor::Plain(x)))?
        .value()
        .to_plain()?;
    let plaintext = start.elapsed().as_secs_f64();
    let got = output.unwrap_or_else(|| ArrayD::zeros(want.raw_dim()));
    let err: f64 = got.iter().zip(&want).map(|(a, b)| (a - b).powi(2)).sum();
    let power: f64 = want.iter().map(|b| b * b).sum();
    let per = |v: f64| v / (reps * cfg.batch) as f64;
    // Every party's time is the same computation; the slowest party's median is the figure.
    let seconds = all
        .iter()
        .map(|f| median(f.seconds.clone()))
        .fold(0.0, f64::max);
    Ok(Some(CellRecord {
        model: cfg.model.clone(),
        parties: sess.parties(),
        batch: cfg.batch,
        provider: sess.config().provider.name().to_string(),
        small: cfg.small,
        reps,
        seconds_per_sample: seconds / cfg.batch as f64,
        bytes_sent_per_sample: all.iter().map(|f| per(f.bytes_sent as f64)).collect(),
        bytes_received_per_sample: all.iter().map(|f| per(f.bytes_received as f64)).collect(),
        rounds_per_sample: per(all[0].rounds as f64),
        peak_rss_bytes: all.iter().map(|f| f.peak_rss).collect(),
        waiting_per_sample: all.iter().map(|f| per(f.waiting)).collect(),
        plaintext_seconds_per_sample: plaintext / cfg.batch as f64,
        nmse: err / power.max(1e-300),
        command: String::new(),
        truncation: sess.config().truncation.name().to_string(),
        profile: by_op(&costs, cfg.batch),
    }))
}
