//! Adam (Kingma & Ba): per-parameter first and second moment estimates with bias correction.

use crate::{Error, Parameter, Result};
use crypten_autograd::Tensor;
use crypten_autograd::no_grad;
use std::rc::Rc;

/// Adam settings (PyTorch's meaning and defaults).
///
/// With encrypted parameters, the second moment `g^2` of a gradient below `2^-f/2` (`f` the
/// fractional bits, 16 by default) rounds to 0, so `sqrt(v)` is only resolved to `2^-f/2`:
/// a smaller `eps` would divide by a denominator that encodes as 0. The step therefore uses
/// `max(eps, 2^-f/2)` (`2^-8` by default) on encrypted parameters, and `eps` as given on
/// plaintext ones.
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// The Adam optimizer.
pub struct Adam {
    config: AdamConfig,
    params: Vec<Rc<Parameter>>,
    moments: Vec<Option<(Tensor, Tensor)>>,
    step: i32,
}

impl Adam {
    /// An optimizer for `params`.
    ///
    /// # Errors
    /// `Config` for a non-positive learning rate, decays outside [0, 1), or a negative `eps`
    /// or weight decay.
    pub fn new(params: Vec<Rc<Parameter>>, config: AdamConfig) -> Result<Self> {
        let c = config;
        let ok = c.lr.is_finite()
            && c.lr > 0.0
            && (0.0..1.0).contains(&c.beta1)
            && (0.0..1.0).contains(&c.beta2)
            && c.eps >= 0.0
            && c.weight_decay >= 0.0;
        if !ok {
            return Err(Error::Config {
                what: "Adam",
                reason: format!("{c:?}"),
            });
        }
        let moments = params.iter().map(|_| None).collect();
        Ok(Self {
            config,
            params,
            moments,
            step: 0,
        })
    }

    /// Clears every parameter's gradient.
    pub fn zero_grad(&self) {
        for p in &self.params {
            p.zero_grad();
        }
    }

    /// One update. Parameters without a gradient are skipped.
    ///
    /// All parameters are updated together: their gradients and moments are flattened into one
    /// tensor, so that the square, the square root and the reciprocal run once per step rather
    /// than once per parameter (on encrypted parameters, the rounds of one update instead of
    /// one per tensor).
    ///
    /// # Errors
    /// Protocol failures on encrypted parameters.
    pub fn step(&mut self) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let (bias1, bias2) = (1.0 - c.beta1.powi(self.step), 1.0 - c.beta2.powi(self.step));
        no_grad(|| {
            // (index, value, gradient) of every parameter that has a gradient.
            let mut items = Vec::new();
            for (i, p) in self.params.iter().enumerate() {
                let Some(mut g) = p.grad() else { continue };
                let value = p.value();
                if c.weight_decay != 0.0 {
                    g = g.add(&value.mul_scalar(c.weight_decay)?)?;
                }
                items.push((i, value, g));
            }
            let Some(first) = items.first() else {
                return Ok(());
            };
            let encrypted = first.2.is_encrypted();
            if items.iter().any(|(_, _, g)| g.is_encrypted() != encrypted) {
                return Err(Error::Config {
                    what: "Adam",
                    reason: "the gradients are partly encrypted and partly plaintext: encrypt \
                             the whole model"
                        .into(),
                });
            }
            let flat = |t: &Tensor| t.reshape(&[t.shape().iter().product()]);
            let cat = |parts: Vec<Tensor>| Tensor::cat(&parts.iter().collect::<Vec<_>>(), 0);
            let g = cat(items
                .iter()
                .map(|(_, _, g)| flat(g))
                .collect::<crypten_autograd::Result<_>>()?)?;
            // Moments not started yet are zeros (of the gradient's kind): b * 0 + (1 - b) g.
            let previous = |pick: fn(&(Tensor, Tensor)) -> &Tensor| -> Result<Tensor> {
                let parts = items
                    .iter()
                    .map(|(i, _, g)| match &self.moments[*i] {
                        Some(m) => flat(pick(m)),
                        None => flat(&g.mul_scalar(0.0)?),
                    })
                    .collect::<crypten_autograd::Result<Vec<_>>>()?;
                Ok(cat(parts)?)
            };
            let (m_prev, v_prev) = (previous(|m| &m.0)?, previous(|m| &m.1)?);
            let g2 = g.mul(&g)?;
            let m = m_prev
                .mul_scalar(c.beta1)?
                .add(&g.mul_scalar(1.0 - c.beta1)?)?;
            let v = v_prev
                .mul_scalar(c.beta2)?
                .add(&g2.mul_scalar(1.0 - c.beta2)?)?;
            let eps = match &v {
                Tensor::Encrypted(e) => {
                    let half = e.session().encoder().frac_bits() / 2;
                    c.eps.max(0.5f64.powi(half as i32))
                }
                Tensor::Plain(_) => c.eps,
            };
            // The denominator is at least eps > 0: the positive reciprocal applies.
            let denominator = v.mul_scalar(1.0 / bias2)?.sqrt()?.add_scalar(eps)?;
            let update = m
                .mul(&denominator.reciprocal_positive()?)?
                .mul_scalar(c.lr / bias1)?;
            let mut offset = 0;
            for (i, value, _) in items {
                let shape = value.shape().to_vec();
                let len: usize = shape.iter().product();
                let part = |t: &Tensor| t.narrow(0, offset, len)?.reshape(&shape);
                self.params[i].set(value.sub(&part(&update)?)?);
                self.moments[i] = Some((part(&m)?, part(&v)?));
                offset += len;
            }
            Ok(())
        })
    }
}
