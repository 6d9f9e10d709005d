//! The examples' data (the digits data set, embedded) and the training loop they share.

/// Pixels per digit image.
const PIXELS: usize = 64;

use crypten::autograd::no_grad;
use crypten::ndarray::{ArrayD, Axis, IxDyn, Slice};
use crypten::nn::train::{Dataset as TrainSet, Loss, Optimizer, TrainConfig, fit};
use crypten::nn::{Linear, Module, ReLU, Sequential};
use crypten::{Prg, Tensor, Variable};

/// Features, class labels and the number of classes.
pub(super) struct Dataset {
    pub x: ArrayD<f64>,
    pub labels: Vec<usize>,
    pub classes: usize,
}

impl Dataset {
    /// The digits data set shipped in `data/digits` (8x8 images scaled to [0, 1], ten
    /// classes), embedded in the binary: the training split (1,437 rows) or the test split
    /// (360 rows).
    pub(super) fn digits(test: bool) -> anyhow::Result<Self> {
        let text = if test {
            include_str!("../../../../data/digits/digits_test.csv")
        } else {
            include_str!("../../../../data/digits/digits_train.csv")
        };
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (i, line) in text.lines().skip(1).enumerate() {
            let fields: Vec<f64> = line
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("embedded digits, line {}: {e}", i + 2))?;
            let (&label, pixels) = fields
                .split_last()
                .ok_or_else(|| anyhow::anyhow!("embedded digits, line {}: empty", i + 2))?;
            anyhow::ensure!(pixels.len() == PIXELS, "embedded digits, line {}", i + 2);
            values.extend_from_slice(pixels);
            labels.push(label as usize);
        }
        let x = ArrayD::from_shape_vec(IxDyn(&[labels.len(), PIXELS]), values)?;
        Ok(Self {
            x,
            labels,
            classes: 10,
        })
    }

    /// Rows `start..end`.
    pub(super) fn rows(&self, start: usize, end: usize) -> Self {
        Self {
            x: self
                .x
                .slice_axis(Axis(0), Slice::from(start..end))
                .to_owned(),
            labels: self.labels[start..end].to_vec(),
            classes: self.classes,
        }
    }

    /// Columns `start..end` of the features.
    pub(super) fn columns(&self, start: usize, end: usize) -> ArrayD<f64> {
        self.x
            .slice_axis(Axis(1), Slice::from(start..end))
            .to_owned()
    }

    /// One-hot labels.
    pub(super) fn onehot(&self) -> anyhow::Result<ArrayD<f64>> {
        Ok(crypten::nn::one_hot(&self.labels, self.classes)?)
    }
}

/// A small MLP classifier.
pub(super) fn classifier(features: usize, classes: usize) -> anyhow::Result<Sequential> {
    let mut prg = Prg::from_seed([42; 16]);
    Ok(Sequential::new()
        .push(Linear::new(features, 32, true, &mut prg)?)
        .push(ReLU)
        .push(Linear::new(32, classes, true, &mut prg)?))
}

/// Mini-batch SGD with cross-entropy, in order (the shared training loop); plaintext or
/// encrypted alike. Returns the last epoch's mean loss, the one figure revealed per epoch.
pub(super) fn train(
    model: &dyn Module,
    x: &Tensor,
    onehot: &Tensor,
    epochs: usize,
    batch: usize,
) -> anyhow::Result<f64> {
    let config = TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Optimizer::Sgd,
        lr: 0.1,
        momentum: 0.5,
        epochs,
        batch_size: batch,
        ..TrainConfig::default()
    };
    let data = TrainSet {
        x: x.clone(),
        y: onehot.clone(),
    };
    let history = fit(model, &config, &data, None, None, &mut |_| {})?;
    Ok(history.last().map_or(f64::NAN, |r| r.loss))
}

/// Predicted classes of `logits` rows.
pub(super) fn predictions(logits: &ArrayD<f64>) -> Vec<usize> {
    logits
        .lanes(Axis(1))
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
        })
        .collect()
}

/// The fraction of `predicted` equal to `labels`.
pub(super) fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len().max(1) as f64
}

/// Logits of `x` without recording gradients.
pub(super) fn infer(model: &dyn Module, x: &Tensor) -> anyhow::Result<Tensor> {
    Ok(no_grad(|| model.forward(&Variable::constant(x.clone())))?
        .value()
        .clone())
}
