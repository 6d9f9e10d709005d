//! Synthetic classification data and the training loop the examples share.

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
    /// Noisy blobs around one random centre per class.
    pub(super) fn blobs(samples: usize, features: usize, classes: usize, seed: u8) -> Self {
        let mut prg = Prg::from_seed([seed; 16]);
        let centres: Vec<Vec<f64>> = (0..classes)
            .map(|_| {
                (0..features)
                    .map(|_| prg.uniform_f64() * 4.0 - 2.0)
                    .collect()
            })
            .collect();
        let labels: Vec<usize> = (0..samples).map(|i| (i * 7 + 3) % classes).collect();
        let x = ArrayD::from_shape_fn(IxDyn(&[samples, features]), |ix| {
            let noise: f64 = (0..3).map(|_| prg.uniform_f64() - 0.5).sum();
            centres[labels[ix[0]]][ix[1]] + 2.5 * noise
        });
        Self { x, labels, classes }
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
        .push(Linear::new(features, 16, true, &mut prg)?)
        .push(ReLU)
        .push(Linear::new(16, classes, true, &mut prg)?))
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
        lr: 0.2,
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
