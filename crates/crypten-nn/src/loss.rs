//! Loss functions. Each returns a 0-d variable (the mean over the batch) and differentiates
//! through autograd; the classification losses use custom backward rules that cost one
//! product instead of differentiating through the softmax.

use crate::{Error, Result};
use crypten_autograd::{Tensor, Variable};

fn same_shape(layer: &'static str, prediction: &Variable, target: &Variable) -> Result<()> {
    if prediction.shape() == target.shape() {
        Ok(())
    } else {
        Err(Error::InputShape {
            layer,
            expected: format!("target of shape {:?}", prediction.shape()),
            got: target.shape().to_vec(),
        })
    }
}

/// Mean squared error: `mean((prediction - target)^2)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MseLoss;

impl MseLoss {
    /// The loss.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn forward(&self, prediction: &Variable, target: &Variable) -> Result<Variable> {
        same_shape("MseLoss", prediction, target)?;
        Ok(prediction.sub(target)?.square()?.mean_all()?)
    }
}

/// Mean absolute error: `mean(|prediction - target|)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct L1Loss;

impl L1Loss {
    /// The loss.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn forward(&self, prediction: &Variable, target: &Variable) -> Result<Variable> {
        same_shape("L1Loss", prediction, target)?;
        Ok(prediction.sub(target)?.abs()?.mean_all()?)
    }
}

/// Binary cross-entropy on probabilities: `-mean(y log p + (1 - y) log(1 - p))`.
///
/// Probabilities must lie strictly inside (0, 1); encrypted ones are not checked (log of 0
/// saturates as documented for `log`).
#[derive(Clone, Copy, Debug, Default)]
pub struct BceLoss;

impl BceLoss {
    /// The loss.
    ///
    /// # Errors
    /// Shape mismatch; plaintext probabilities outside (0, 1); protocol failures.
    pub fn forward(&self, probability: &Variable, target: &Variable) -> Result<Variable> {
        same_shape("BceLoss", probability, target)?;
        let one_minus = |v: &Variable| v.neg().add_scalar(1.0);
        let positive = target.mul(&probability.log()?)?;
        let negative = one_minus(target)?.mul(&one_minus(probability)?.log()?)?;
        Ok(positive.add(&negative)?.mean_all()?.neg())
    }
}

/// Binary cross-entropy on logits: `mean(softplus(z) - y z)`, with gradient
/// `(sigmoid(z) - y) / n`; `softplus(z) = max(z, 0) + log(1 + e^-|z|)` stays in range for any z.
#[derive(Clone, Copy, Debug, Default)]
pub struct BceWithLogitsLoss;

impl BceWithLogitsLoss {
    /// The loss.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn forward(&self, logits: &Variable, target: &Variable) -> Result<Variable> {
        same_shape("BceWithLogitsLoss", logits, target)?;
        let (z, y) = (logits.value().clone(), target.value().clone());
        let n = z.shape().iter().product::<usize>().max(1) as f64;
        let (relu, _) = z.relu_with_mask()?;
        let (abs, _) = z.abs_with_sign()?;
        let softplus = relu.add(&abs.neg().exp()?.add_scalar(1.0)?.log()?)?;
        let per_element = softplus.sub(&z.mul(&y)?)?;
        let dims: Vec<usize> = (0..z.shape().len()).collect();
        let value = per_element.sum(&dims, false)?.mul_scalar(1.0 / n)?;
        let need_target = target.requires_grad();
        Ok(Variable::custom_op(
            value,
            "bce_with_logits",
            vec![logits.clone(), target.clone()],
            Box::new(move |g| {
                let g = scalar_grad(g)?;
                let dz = z.sigmoid()?.sub(&y)?.mul_scalar(g / n)?;
                let dy = if need_target {
                    Some(z.mul_scalar(-g / n)?)
                } else {
                    None
                };
                Ok(vec![Some(dz), dy])
            }),
        ))
    }
}

/// Classification targets: class indices (public to all parties) or one-hot rows (plaintext
/// or encrypted, e.g. labels held privately by one party).
#[derive(Clone, Debug)]
pub enum Target {
    /// One class index per sample.
    Indices(Vec<usize>),
    /// One-hot rows `[N, C]`.
    OneHot(Variable),
}

/// Cross-entropy of logits `[N, C]`: `-mean_n log_softmax(z)[n, target_n]`, with gradient
/// `(softmax(z) - onehot) / N` taken as `exp` of the log-softmax.
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossEntropyLoss;

impl CrossEntropyLoss {
    /// The loss.
    ///
    /// # Errors
    /// Logits that are not `[N, C]`; targets of the wrong size or an index out of range;
    /// protocol failures.
    pub fn forward(&self, logits: &Variable, target: &Target) -> Result<Variable> {
        let &[n, c] = logits.shape() else {
            return Err(Error::InputShape {
                layer: "CrossEntropyLoss",
                expected: "logits [N, C]".into(),
                got: logits.shape().to_vec(),
            });
        };
        let onehot = match target {
            Target::Indices(ids) => {
                if ids.len() != n {
                    return Err(Error::InputShape {
                        layer: "CrossEntropyLoss",
                        expected: format!("{n} class indices"),
                        got: vec![ids.len()],
                    });
                }
                Tensor::Plain(crate::one_hot(ids, c)?)
            }
            Target::OneHot(v) => {
                if v.shape() != [n, c] {
                    return Err(Error::InputShape {
                        layer: "CrossEntropyLoss",
                        expected: format!("one-hot [{n}, {c}]"),
                        got: v.shape().to_vec(),
                    });
                }
                v.value().clone()
            }
        };
        let log_probs = logits.value().log_softmax(1)?;
        let value = onehot
            .mul(&log_probs)?
            .sum(&[0, 1], false)?
            .mul_scalar(-1.0 / n as f64)?;
        Ok(Variable::custom_op(
            value,
            "cross_entropy",
            vec![logits.clone()],
            Box::new(move |g| {
                let g = scalar_grad(g)?;
                // Probabilities minus 0/1 labels: within [-1, 1], so the labels join the
                // deferred exponentials without a settling round.
                let dz = log_probs
                    .exp()?
                    .add_bias(&onehot.neg())?
                    .mul_scalar(g / n as f64)?;
                Ok(vec![Some(dz)])
            }),
        ))
    }
}

/// The upstream gradient of a scalar loss, which is public (the seed of `backward` or a
/// plaintext factor); an encrypted one is not supported by the custom rules.
fn scalar_grad(g: &Tensor) -> crypten_mpc::Result<f64> {
    match g {
        Tensor::Plain(a) if a.len() == 1 => Ok(a.iter().copied().next().unwrap_or(1.0)),
        _ => Err(crypten_mpc::Error::InvalidArgument {
            op: "loss backward",
            reason: "a loss must be differentiated with a public scalar gradient".into(),
        }),
    }
}
