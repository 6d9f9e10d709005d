//! The training loop: epochs of shuffled mini-batches, a loss, an optimizer, and one revealed
//! figure per epoch. `crypten train`, the built-in examples and library users share it, on
//! plaintext and on encrypted data alike.
//!
//! What the loop reveals: the batch order (a public permutation drawn from a seed every
//! party knows), the row counts, and, once per epoch, the mean training loss and, with a
//! validation set, its mean loss and the number of correct predictions. Nothing per sample
//! or per batch is revealed.

use crate::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use crate::{BceLoss, BceWithLogitsLoss, CrossEntropyLoss, Error, Module, MseLoss, Result, Target};
use crypten_autograd::{Tensor, Variable, no_grad};
use crypten_core::Prg;
use crypten_mpc::Session;
use std::time::Instant;

/// The loss a model is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Cross-entropy of logits `[N, C]` against one-hot labels `[N, C]`.
    CrossEntropy,
    /// Mean squared error against targets of the prediction's shape.
    Mse,
    /// Binary cross-entropy of probabilities (a model ending in a sigmoid) against 0/1 targets.
    Bce,
    /// Binary cross-entropy of logits against 0/1 targets.
    BceLogits,
}

impl Loss {
    /// The name `crypten train --loss` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::CrossEntropy => "cross-entropy",
            Self::Mse => "mse",
            Self::Bce => "bce",
            Self::BceLogits => "bce-logits",
        }
    }

    /// Whether the loss scores classes, so that an accuracy is defined.
    pub fn classifies(self) -> bool {
        !matches!(self, Self::Mse)
    }

    /// The mean loss of a batch.
    ///
    /// # Errors
    /// Shapes that do not fit the loss; protocol failures.
    pub fn forward(self, output: &Variable, target: &Tensor) -> Result<Variable> {
        let target_var = Variable::constant(target.clone());
        match self {
            Self::CrossEntropy => CrossEntropyLoss.forward(output, &Target::OneHot(target_var)),
            Self::Mse => MseLoss.forward(output, &target_var),
            Self::Bce => BceLoss.forward(output, &target_var),
            Self::BceLogits => BceWithLogitsLoss.forward(output, &target_var),
        }
    }

    /// The number of correct predictions in a batch (a 0-d tensor, encrypted when either
    /// operand is): the arg-max against one-hot labels for cross-entropy, the side of 0 (of
    /// 0.5 for probabilities) against 0/1 targets for the binary losses.
    fn correct(self, output: &Tensor, target: &Tensor) -> Result<Tensor> {
        let n = output.shape().iter().product::<usize>() as f64;
        let predicted = match (self, output) {
            (Self::Mse, _) => {
                return Err(Error::Config {
                    what: "training",
                    reason: "accuracy is not defined for the mse loss".into(),
                });
            }
            (Self::CrossEntropy, Tensor::Encrypted(c)) => Tensor::Encrypted(c.argmax(1, true)?),
            (Self::CrossEntropy, Tensor::Plain(a)) => Tensor::Plain(plain_argmax(a)),
            (Self::Bce | Self::BceLogits, out) => {
                let cut = if self == Self::Bce { 0.5 } else { 0.0 };
                match out {
                    Tensor::Encrypted(c) => Tensor::Encrypted(c.gt_scalar(cut)?),
                    Tensor::Plain(a) => Tensor::Plain(a.mapv(|v| f64::from(u8::from(v > cut)))),
                }
            }
        };
        let all: Vec<usize> = (0..output.shape().len()).collect();
        let hits = predicted.mul(target)?.sum(&all, false)?;
        if self == Self::CrossEntropy {
            return Ok(hits);
        }
        // Binary: right where both are 1 or both are 0: n - sum(p) - sum(y) + 2 sum(p y).
        let p_sum = predicted.sum(&all, false)?;
        let y_sum = target.sum(&all, false)?;
        Ok(hits
            .mul_scalar(2.0)?
            .sub(&p_sum)?
            .sub(&y_sum)?
            .add_scalar(n)?)
    }
}

/// One-hot arg-max of the rows of a plaintext `[N, C]` array (the lowest index among ties).
fn plain_argmax(a: &ndarray::ArrayD<f64>) -> ndarray::ArrayD<f64> {
    let mut out = ndarray::ArrayD::zeros(a.raw_dim());
    for (row, mut dst) in a
        .lanes(ndarray::Axis(1))
        .into_iter()
        .zip(out.lanes_mut(ndarray::Axis(1)))
    {
        let best = row
            .iter()
            .enumerate()
            .fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
        dst[best] = 1.0;
    }
    out
}

/// The optimizer a model is trained with (PyTorch's meaning of each factor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// Stochastic gradient descent with momentum.
    Sgd,
    /// Adam.
    Adam,
}

/// The settings of a training run.
#[derive(Clone, Copy, Debug)]
pub struct TrainConfig {
    /// The loss.
    pub loss: Loss,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Learning rate.
    pub lr: f64,
    /// Momentum (SGD only).
    pub momentum: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the public batch order; `None` keeps the rows in order.
    pub shuffle_seed: Option<u64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            loss: Loss::CrossEntropy,
            optimizer: Optimizer::Sgd,
            lr: 0.1,
            momentum: 0.0,
            weight_decay: 0.0,
            epochs: 1,
            batch_size: 32,
            shuffle_seed: None,
        }
    }
}

/// Inputs and targets, row-aligned: `x` is `[N, ...]` (as the model reads it), `y` is
/// `[N, C]` one-hot for cross-entropy, or the targets of the model's output shape.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The inputs.
    pub x: Tensor,
    /// The targets.
    pub y: Tensor,
}

impl Dataset {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.x.shape().first().copied().unwrap_or(0)
    }

    fn check(&self, what: &str) -> Result<()> {
        let (xr, yr) = (self.rows(), self.y.shape().first().copied().unwrap_or(0));
        if self.x.shape().is_empty() || xr == 0 || xr != yr {
            return Err(Error::Config {
                what: "training",
                reason: format!(
                    "{what}: inputs of shape {:?} and targets of shape {:?} must have the same \
                     positive number of rows",
                    self.x.shape(),
                    self.y.shape()
                ),
            });
        }
        Ok(())
    }

    fn batch(&self, order: &[usize], start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let rows = &order[start..start + len];
        Ok((self.x.index_select(0, rows)?, self.y.index_select(0, rows)?))
    }
}

/// The figures of one epoch (all public: the revealed aggregates and this party's costs).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The mean training loss over the epoch's rows.
    pub loss: f64,
    /// The mean loss on the validation rows.
    pub validation_loss: Option<f64>,
    /// The fraction of validation rows predicted right (classification losses).
    pub validation_accuracy: Option<f64>,
    /// Wall-clock seconds of the epoch, validation included.
    pub seconds: f64,
    /// Optimizer steps.
    pub steps: usize,
    /// Bytes this party sent during the epoch (0 without a session).
    pub bytes_sent: u64,
    /// Bytes this party received during the epoch.
    pub bytes_received: u64,
    /// Communication rounds of the epoch.
    pub rounds: u64,
}

/// Where a run is, for progress displays: after each step, and at the end of each epoch.
#[derive(Clone, Debug)]
pub enum Progress<'a> {
    /// A step of `epoch` is done.
    Step {
        /// 1-based epoch.
        epoch: usize,
        /// Steps done in this epoch.
        step: usize,
        /// Steps per epoch.
        steps: usize,
    },
    /// An epoch is done.
    Epoch(&'a EpochRecord),
}

enum Stepper {
    Sgd(Sgd),
    Adam(Adam),
}

impl Stepper {
    fn new(model: &dyn Module, config: &TrainConfig) -> Result<Self> {
        let params = model.parameters();
        Ok(match config.optimizer {
            Optimizer::Sgd => Self::Sgd(Sgd::new(
                params,
                SgdConfig {
                    lr: config.lr,
                    momentum: config.momentum,
                    weight_decay: config.weight_decay,
                    ..SgdConfig::default()
                },
            )?),
            Optimizer::Adam => {
                if config.momentum != 0.0 {
                    return Err(Error::Config {
                        what: "Adam",
                        reason: "momentum is an SGD setting; Adam uses its betas".into(),
                    });
                }
                Self::Adam(Adam::new(
                    params,
                    AdamConfig {
                        lr: config.lr,
                        weight_decay: config.weight_decay,
                        ..AdamConfig::default()
                    },
                )?)
            }
        })
    }

    fn zero_grad(&self) {
        match self {
            Self::Sgd(o) => o.zero_grad(),
            Self::Adam(o) => o.zero_grad(),
        }
    }

    fn step(&mut self) -> Result<()> {
        match self {
            Self::Sgd(o) => o.step(),
            Self::Adam(o) => o.step(),
        }
    }
}

/// The public order of the rows in `epoch` (1-based): a permutation drawn from `seed` and the
/// epoch, the same at every party; the identity without a seed.
pub fn batch_order(rows: usize, seed: Option<u64>, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    let Some(seed) = seed else {
        return order;
    };
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..].copy_from_slice(&(epoch as u64).to_le_bytes());
    let mut prg = Prg::from_seed(key);
    // Fisher-Yates with an unbiased draw below `i + 1` (rejection of the short last block).
    for i in (1..rows).rev() {
        let bound = (i + 1) as u64;
        let zone = u64::MAX - u64::MAX % bound;
        let j = loop {
            let r = prg.next_u64();
            if r < zone {
                break (r % bound) as usize;
            }
        };
        order.swap(i, j);
    }
    order
}

/// Trains `model` on `train` for `config.epochs` epochs and returns one record per epoch.
/// Every party calls it together with the same config and shapes; `sess` (when the data is
/// encrypted) supplies the cost figures. `progress` is called after every step and epoch.
///
/// # Errors
/// `Config` for settings or datasets that do not fit; the loss's shape errors; protocol
/// failures. A non-finite revealed loss is an error naming the epoch (the model diverged).
pub fn fit(
    model: &dyn Module,
    config: &TrainConfig,
    train: &Dataset,
    validation: Option<&Dataset>,
    sess: Option<&Session>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<EpochRecord>> {
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(Error::Config {
            what: "training",
            reason: "epochs and batch size must be positive".into(),
        });
    }
    train.check("training set")?;
    if let Some(v) = validation {
        v.check("validation set")?;
    }
    let mut optimizer = Stepper::new(model, config)?;
    let rows = train.rows();
    let steps = rows.div_ceil(config.batch_size);
    let mut history = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        let before = sess.map(Session::stats);
        let order = batch_order(rows, config.shuffle_seed, epoch);
        let mut total: Option<Tensor> = None;
        for step in 0..steps {
            let first = step * config.batch_size;
            let len = config.batch_size.min(rows - first);
            let (x, y) = train.batch(&order, first, len)?;
            optimizer.zero_grad();
            let output = model.forward(&Variable::constant(x))?;
            let loss = config.loss.forward(&output, &y)?;
            loss.backward()?;
            optimizer.step()?;
            // The batch's loss sum joins the epoch's, still encrypted.
            let sum = loss.value().mul_scalar(len as f64)?;
            total = Some(match total {
                None => sum,
                Some(t) => t.add(&sum)?,
            });
            progress(Progress::Step {
                epoch,
                step: step + 1,
                steps,
            });
        }
        let loss = reveal_mean(total, rows)?;
        if !loss.is_finite() {
            return Err(Error::Config {
                what: "training",
                reason: format!("the loss of epoch {epoch} is not finite: the model diverged"),
            });
        }
        let (validation_loss, validation_accuracy) = match validation {
            Some(v) => {
                let (l, a) = evaluate(model, config.loss, v, config.batch_size)?;
                (Some(l), a)
            }
            None => (None, None),
        };
        let cost = match (sess, before) {
            (Some(s), Some(b)) => s.stats().since(&b),
            _ => Default::default(),
        };
        let record = EpochRecord {
            epoch,
            loss,
            validation_loss,
            validation_accuracy,
            seconds: start.elapsed().as_secs_f64(),
            steps,
            bytes_sent: cost.bytes_sent,
            bytes_received: cost.bytes_received,
            rounds: cost.rounds,
        };
        progress(Progress::Epoch(&record));
        history.push(record);
    }
    Ok(history)
}

/// `total / rows`, revealed to every party.
fn reveal_mean(total: Option<Tensor>, rows: usize) -> Result<f64> {
    let total = total.ok_or_else(|| Error::Config {
        what: "training",
        reason: "no rows".into(),
    })?;
    Ok(total.to_plain()?.sum() / rows as f64)
}

/// The mean loss on `data` and, for the classification losses, the fraction of rows predicted
/// right; both revealed to every party (two values, nothing per row). No gradients are kept.
///
/// # Errors
/// As [`fit`].
pub fn evaluate(
    model: &dyn Module,
    loss: Loss,
    data: &Dataset,
    batch_size: usize,
) -> Result<(f64, Option<f64>)> {
    data.check("evaluation set")?;
    let rows = data.rows();
    let order: Vec<usize> = (0..rows).collect();
    no_grad(|| {
        let mut loss_total: Option<Tensor> = None;
        let mut correct: Option<Tensor> = None;
        for first in (0..rows).step_by(batch_size.max(1)) {
            let len = batch_size.max(1).min(rows - first);
            let (x, y) = data.batch(&order, first, len)?;
            let output = model.forward(&Variable::constant(x))?;
            let sum = loss.forward(&output, &y)?.value().mul_scalar(len as f64)?;
            loss_total = Some(match loss_total {
                None => sum,
                Some(t) => t.add(&sum)?,
            });
            if loss.classifies() {
                let hits = loss.correct(output.value(), &y)?;
                correct = Some(match correct {
                    None => hits,
                    Some(t) => t.add(&hits)?,
                });
            }
        }
        let mean = reveal_mean(loss_total, rows)?;
        let accuracy = match correct {
            Some(c) => Some(c.to_plain()?.sum().round() / rows as f64),
            None => None,
        };
        Ok((mean, accuracy))
    })
}

#[cfg(test)]
mod tests {
    use super::batch_order;

    #[test]
    fn batch_order_is_a_seeded_permutation() {
        let a = batch_order(1000, Some(7), 1);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, batch_order(1000, Some(7), 1), "same seed and epoch");
        assert_ne!(a, batch_order(1000, Some(7), 2), "a new order per epoch");
        assert_ne!(a, batch_order(1000, Some(8), 1), "a new order per seed");
        assert_eq!(batch_order(5, None, 3), vec![0, 1, 2, 3, 4]);
        // Every row lands in the first position for some epoch: the draw is not stuck.
        let firsts: std::collections::HashSet<usize> =
            (1..=200).map(|e| batch_order(4, Some(1), e)[0]).collect();
        assert_eq!(firsts.len(), 4);
    }
}
