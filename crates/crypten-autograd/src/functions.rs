//! Differentiable smooth functions (exp, log, sqrt, reciprocal, sigmoid, tanh, softmax,
//! log-softmax, erf, gelu, abs) on plaintext and encrypted tensors.
//!
//! Plaintext values are exact f64 (`log`, `sqrt` and `reciprocal` of values outside their
//! domain are errors there); encrypted values use the MPC approximations of `functions`, with
//! their documented domains and errors. Each backward rule reuses the forward output where
//! the derivative is a function of it (`exp`, `sigmoid`, `tanh`, `sqrt`, `reciprocal`,
//! softmax), so differentiating costs one or two products.

use crate::{Error, Result};
use crate::{Tensor, Variable};
use crypten_mpc::CrypTensor;
use ndarray::{ArrayD, Axis};

const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

fn domain(op: &'static str, reason: &str) -> Error {
    Error::InvalidArgument {
        op,
        reason: reason.into(),
    }
}

fn plain_checked(
    a: &ArrayD<f64>,
    op: &'static str,
    ok: impl Fn(f64) -> bool,
    reason: &str,
    f: impl Fn(f64) -> f64,
) -> Result<ArrayD<f64>> {
    if a.iter().any(|&v| !ok(v)) {
        return Err(domain(op, reason));
    }
    Ok(a.mapv(f))
}

fn plain_softmax(a: &ArrayD<f64>, dim: usize, log: bool) -> Result<ArrayD<f64>> {
    if dim >= a.ndim() {
        return Err(domain(
            if log { "log_softmax" } else { "softmax" },
            "dimension out of range",
        ));
    }
    let mut out = a.clone();
    for mut lane in out.lanes_mut(Axis(dim)) {
        let max = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = lane.iter().map(|&v| (v - max).exp()).sum();
        lane.mapv_inplace(|v| {
            if log {
                v - max - total.ln()
            } else {
                (v - max).exp() / total
            }
        });
    }
    Ok(out)
}

impl Tensor {
    fn map_both(
        &self,
        plain: impl Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        encrypted: impl Fn(&CrypTensor) -> Result<CrypTensor>,
    ) -> Result<Tensor> {
        Ok(match self {
            Tensor::Plain(a) => Tensor::Plain(plain(a)?),
            Tensor::Encrypted(c) => Tensor::Encrypted(encrypted(c)?),
        })
    }

    /// `e^x`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn exp(&self) -> Result<Tensor> {
        self.map_both(|a| Ok(a.mapv(f64::exp)), |c| c.exp())
    }

    /// Natural logarithm.
    ///
    /// # Errors
    /// Plaintext values `<= 0`; protocol failures.
    pub fn log(&self) -> Result<Tensor> {
        self.map_both(
            |a| plain_checked(a, "log", |v| v > 0.0, "log of a value <= 0", f64::ln),
            |c| c.log(),
        )
    }

    /// Square root.
    ///
    /// # Errors
    /// Negative plaintext values; protocol failures.
    pub fn sqrt(&self) -> Result<Tensor> {
        self.map_both(
            |a| {
                plain_checked(
                    a,
                    "sqrt",
                    |v| v >= 0.0,
                    "sqrt of a negative value",
                    f64::sqrt,
                )
            },
            |c| c.sqrt(),
        )
    }

    /// `1 / sqrt(x)`.
    ///
    /// # Errors
    /// Plaintext values `<= 0`; protocol failures.
    pub fn inv_sqrt(&self) -> Result<Tensor> {
        self.map_both(
            |a| {
                plain_checked(
                    a,
                    "inv_sqrt",
                    |v| v > 0.0,
                    "inv_sqrt of a value <= 0",
                    |v| 1.0 / v.sqrt(),
                )
            },
            |c| c.inv_sqrt(),
        )
    }

    /// `1 / x` for `x > 0`: on encrypted values the cheaper positive path (no sign).
    ///
    /// # Errors
    /// Plaintext values `<= 0`; protocol failures.
    pub fn reciprocal_positive(&self) -> Result<Tensor> {
        self.map_both(
            |a| {
                plain_checked(
                    a,
                    "reciprocal_positive",
                    |v| v > 0.0,
                    "reciprocal_positive of a value <= 0",
                    |v| 1.0 / v,
                )
            },
            |c| c.reciprocal_positive(),
        )
    }

    /// `1 / x`.
    ///
    /// # Errors
    /// Plaintext zeros; protocol failures.
    pub fn reciprocal(&self) -> Result<Tensor> {
        self.map_both(
            |a| {
                plain_checked(
                    a,
                    "reciprocal",
                    |v| v != 0.0,
                    "reciprocal of 0",
                    |v| 1.0 / v,
                )
            },
            |c| c.reciprocal(),
        )
    }

    /// The logistic function.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.map_both(
            |a| Ok(a.mapv(|v| 1.0 / (1.0 + (-v).exp()))),
            |c| c.sigmoid(),
        )
    }

    /// Hyperbolic tangent.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn tanh(&self) -> Result<Tensor> {
        self.map_both(|a| Ok(a.mapv(f64::tanh)), |c| c.tanh())
    }

    /// The error function.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn erf(&self) -> Result<Tensor> {
        self.map_both(|a| Ok(a.mapv(libm::erf)), |c| c.erf())
    }

    /// GELU, `x * Phi(x)` with the exact (erf) normal CDF.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn gelu(&self) -> Result<Tensor> {
        self.map_both(
            |a| Ok(a.mapv(|v| 0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2)))),
            |c| c.gelu(),
        )
    }

    /// Softmax along `dim`.
    ///
    /// # Errors
    /// Invalid dimension; protocol failures.
    pub fn softmax(&self, dim: usize) -> Result<Tensor> {
        self.map_both(|a| plain_softmax(a, dim, false), |c| c.softmax(dim))
    }

    /// Log-softmax along `dim`.
    ///
    /// # Errors
    /// Invalid dimension; protocol failures.
    pub fn log_softmax(&self, dim: usize) -> Result<Tensor> {
        self.map_both(|a| plain_softmax(a, dim, true), |c| c.log_softmax(dim))
    }

    /// `|x|` and its derivative `sign(x)` (+1 at 0).
    ///
    /// # Errors
    /// Protocol failures.
    pub fn abs_with_sign(&self) -> Result<(Tensor, Tensor)> {
        Ok(match self {
            Tensor::Plain(a) => (
                Tensor::Plain(a.mapv(f64::abs)),
                Tensor::Plain(a.mapv(|v| if v < 0.0 { -1.0 } else { 1.0 })),
            ),
            Tensor::Encrypted(c) => {
                let sign = c.sign()?;
                (Tensor::Encrypted(c.mul(&sign)?), Tensor::Encrypted(sign))
            }
        })
    }

    /// `1 - self`.
    fn one_minus(&self) -> Result<Tensor> {
        self.neg().add_scalar(1.0)
    }
}

impl Variable {
    fn unary(
        &self,
        name: &'static str,
        value: Tensor,
        backward: impl Fn(&Tensor) -> Result<Tensor> + 'static,
    ) -> Variable {
        Variable::from_op(
            value,
            name,
            vec![self.clone()],
            Box::new(move |g| Ok(vec![Some(backward(g)?)])),
        )
    }

    /// `e^x`; gradient `g e^x`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn exp(&self) -> Result<Variable> {
        let y = self.value().exp()?;
        let keep = y.clone();
        Ok(self.unary("exp", y, move |g| g.mul(&keep)))
    }

    /// `ln x`; gradient `g / x`.
    ///
    /// # Errors
    /// Plaintext values `<= 0`; protocol failures.
    pub fn log(&self) -> Result<Variable> {
        let x = self.value().clone();
        Ok(self.unary("log", x.log()?, move |g| g.mul(&x.reciprocal()?)))
    }

    /// `sqrt x`; gradient `g / (2 sqrt x)`.
    ///
    /// # Errors
    /// Negative plaintext values; protocol failures.
    pub fn sqrt(&self) -> Result<Variable> {
        let y = self.value().sqrt()?;
        let keep = y.clone();
        Ok(self.unary("sqrt", y, move |g| {
            g.mul(&keep.reciprocal()?)?.mul_scalar(0.5)
        }))
    }

    /// `1 / sqrt x`; gradient `-g y^3 / 2`.
    ///
    /// # Errors
    /// Plaintext values `<= 0`; protocol failures.
    pub fn inv_sqrt(&self) -> Result<Variable> {
        let y = self.value().inv_sqrt()?;
        let keep = y.clone();
        Ok(self.unary("inv_sqrt", y, move |g| {
            g.mul(&keep.mul(&keep)?.mul(&keep)?)?.mul_scalar(-0.5)
        }))
    }

    /// `1 / x`; gradient `-g y^2`.
    ///
    /// # Errors
    /// Plaintext zeros; protocol failures.
    pub fn reciprocal(&self) -> Result<Variable> {
        let y = self.value().reciprocal()?;
        let keep = y.clone();
        Ok(self.unary("reciprocal", y, move |g| {
            Ok(g.mul(&keep.mul(&keep)?)?.neg())
        }))
    }

    /// The logistic function; gradient `g y (1 - y)`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn sigmoid(&self) -> Result<Variable> {
        let y = self.value().sigmoid()?;
        let keep = y.clone();
        Ok(self.unary("sigmoid", y, move |g| g.mul(&keep.mul(&keep.one_minus()?)?)))
    }

    /// Hyperbolic tangent; gradient `g (1 - y^2)`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn tanh(&self) -> Result<Variable> {
        let y = self.value().tanh()?;
        let keep = y.clone();
        Ok(self.unary("tanh", y, move |g| g.mul(&keep.mul(&keep)?.one_minus()?)))
    }

    /// The error function; gradient `g 2/sqrt(pi) e^(-x^2)`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn erf(&self) -> Result<Variable> {
        let x = self.value().clone();
        Ok(self.unary("erf", x.erf()?, move |g| {
            let density = x.mul(&x)?.neg().exp()?.mul_scalar(FRAC_2_SQRT_PI)?;
            g.mul(&density)
        }))
    }

    /// GELU (erf form); gradient `g (Phi(x) + x phi(x))`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn gelu(&self) -> Result<Variable> {
        let x = self.value().clone();
        Ok(self.unary("gelu", x.gelu()?, move |g| {
            let cdf = x
                .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
                .erf()?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?;
            let pdf = x
                .mul(&x)?
                .mul_scalar(-0.5)?
                .exp()?
                .mul_scalar(0.5 * FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2)?;
            g.mul(&cdf.add(&x.mul(&pdf)?)?)
        }))
    }

    /// Softmax along `dim`; gradient `y (g - sum(g y, dim))`.
    ///
    /// # Errors
    /// Invalid dimension; protocol failures.
    pub fn softmax(&self, dim: usize) -> Result<Variable> {
        let y = self.value().softmax(dim)?;
        let keep = y.clone();
        Ok(self.unary("softmax", y, move |g| {
            let shape = keep.shape().to_vec();
            let dot = g.mul(&keep)?.sum(&[dim], true)?.expand(&shape)?;
            keep.mul(&g.sub(&dot)?)
        }))
    }

    /// Log-softmax along `dim`; gradient `g - softmax * sum(g, dim)`, with the softmax taken
    /// as `exp` of the output (cheaper than a second softmax).
    ///
    /// # Errors
    /// Invalid dimension; protocol failures.
    pub fn log_softmax(&self, dim: usize) -> Result<Variable> {
        let y = self.value().log_softmax(dim)?;
        let keep = y.clone();
        Ok(self.unary("log_softmax", y, move |g| {
            let shape = keep.shape().to_vec();
            let total = g.sum(&[dim], true)?.expand(&shape)?;
            g.sub(&keep.exp()?.mul(&total)?)
        }))
    }

    /// `|x|`; gradient `g sign(x)`.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn abs(&self) -> Result<Variable> {
        let (y, sign) = self.value().abs_with_sign()?;
        Ok(self.unary("abs", y, move |g| g.mul(&sign)))
    }
}
