//! `Tensor`: a plaintext f64 array or an encrypted `CrypTensor`, with the operations autograd
//! and the `nn` layers need. Mixed operands work in every binary operation: a plaintext
//! operand is public to all parties, so `encrypted op plaintext` uses the cheaper public
//! variant of the protocol, and the result is encrypted.

use crate::plain;
use crate::{Error, Result};
use crypten_mpc::{Bilinear, CrypTensor};
use ndarray::{ArrayD, Axis, IxDyn};

/// A plaintext or encrypted tensor.
#[derive(Clone, Debug)]
pub enum Tensor {
    /// A public (or local, not yet shared) f64 array.
    Plain(ArrayD<f64>),
    /// A secret-shared fixed-point tensor.
    Encrypted(CrypTensor),
}

impl From<ArrayD<f64>> for Tensor {
    fn from(a: ArrayD<f64>) -> Self {
        Self::Plain(a)
    }
}

impl From<CrypTensor> for Tensor {
    fn from(c: CrypTensor) -> Self {
        Self::Encrypted(c)
    }
}

impl Tensor {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Self::Plain(a) => a.shape(),
            Self::Encrypted(c) => c.shape(),
        }
    }

    /// Whether the tensor is secret-shared.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, Self::Encrypted(_))
    }

    /// The encrypted tensor, if it is one.
    pub fn as_encrypted(&self) -> Option<&CrypTensor> {
        match self {
            Self::Encrypted(c) => Some(c),
            Self::Plain(_) => None,
        }
    }

    /// The plaintext value: a copy for a plaintext tensor; for an encrypted one, a reveal to
    /// all parties (one round: every party must call it).
    ///
    /// # Errors
    /// Communication failures.
    pub fn to_plain(&self) -> Result<ArrayD<f64>> {
        match self {
            Self::Plain(a) => Ok(a.clone()),
            Self::Encrypted(c) => c.get_plain_text(),
        }
    }

    /// `self + other` (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        Ok(match (self, other) {
            (Self::Plain(a), Self::Plain(b)) => {
                Self::Plain(plain::zip_broadcast("add", a, b, |x, y| x + y)?)
            }
            (Self::Encrypted(a), Self::Plain(b)) | (Self::Plain(b), Self::Encrypted(a)) => {
                Self::Encrypted(a.add_plain(b)?)
            }
            (Self::Encrypted(a), Self::Encrypted(b)) => Self::Encrypted(a.add(b)?),
        })
    }

    /// `self + bias` for a layer's bias or a residual added to a product's result: as
    /// [`Self::add`], but a settled encrypted operand joins a deferred one without a settling
    /// round (see [`CrypTensor::add_bias`]).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn add_bias(&self, bias: &Tensor) -> Result<Tensor> {
        match (self, bias) {
            (Self::Encrypted(a), Self::Encrypted(b)) => Ok(Self::Encrypted(a.add_bias(b)?)),
            _ => self.add(bias),
        }
    }

    /// `self - other` (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.add(&other.neg())
    }

    /// `-self`.
    pub fn neg(&self) -> Tensor {
        match self {
            Self::Plain(a) => Self::Plain(a.mapv(|v| -v)),
            Self::Encrypted(c) => Self::Encrypted(c.neg()),
        }
    }

    /// `self * other` elementwise (broadcasting).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        Ok(match (self, other) {
            (Self::Plain(a), Self::Plain(b)) => {
                Self::Plain(plain::zip_broadcast("mul", a, b, |x, y| x * y)?)
            }
            (Self::Encrypted(a), Self::Plain(b)) | (Self::Plain(b), Self::Encrypted(a)) => {
                Self::Encrypted(a.mul_plain(b)?)
            }
            (Self::Encrypted(a), Self::Encrypted(b)) => Self::Encrypted(a.mul(b)?),
        })
    }

    /// `self * c` for a public scalar.
    ///
    /// # Errors
    /// Encoding errors; protocol failures.
    pub fn mul_scalar(&self, c: f64) -> Result<Tensor> {
        Ok(match self {
            Self::Plain(a) => Self::Plain(a.mapv(|v| v * c)),
            Self::Encrypted(t) => Self::Encrypted(t.mul_scalar(c)?),
        })
    }

    /// `self + c` for a public scalar.
    ///
    /// # Errors
    /// Encoding errors.
    pub fn add_scalar(&self, c: f64) -> Result<Tensor> {
        Ok(match self {
            Self::Plain(a) => Self::Plain(a.mapv(|v| v + c)),
            Self::Encrypted(t) => Self::Encrypted(t.add_scalar(c)?),
        })
    }

    /// Matrix product of operands with at least two dimensions (batch dimensions broadcast).
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        if self.shape().len() < 2 || other.shape().len() < 2 {
            return Err(Error::InvalidArgument {
                op: "matmul",
                reason: "autograd matmul needs operands of at least 2 dimensions".into(),
            });
        }
        Ok(match (self, other) {
            (Self::Plain(a), Self::Plain(b)) => Self::Plain(plain::matmul(a, b)?),
            (Self::Encrypted(a), Self::Plain(b)) => Self::Encrypted(a.matmul_plain(b)?),
            (Self::Plain(a), Self::Encrypted(b)) => Self::Encrypted(b.plain_matmul(a)?),
            (Self::Encrypted(a), Self::Encrypted(b)) => Self::Encrypted(a.matmul(b)?),
        })
    }

    /// `self + mat1 @ mat2` (PyTorch's `addmm`): a matmul plus a bias broadcast over its rows.
    /// With every operand encrypted it is [`CrypTensor::addmm`], which costs the rounds of the
    /// matmul alone.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn addmm(&self, mat1: &Tensor, mat2: &Tensor) -> Result<Tensor> {
        match (self, mat1, mat2) {
            (Self::Encrypted(bias), Self::Encrypted(x), Self::Encrypted(w)) => {
                Ok(Self::Encrypted(bias.addmm(x, w)?))
            }
            _ => mat1.matmul(mat2)?.add(self),
        }
    }

    /// Completes, together, the work the protocols postponed on the encrypted tensors among
    /// `tensors` (a truncation waiting to ride on a later opening, say): one round for all of
    /// them, where finishing them one by one would cost a round each. Optimizers call it on
    /// a step's gradients and updates. Plaintext tensors and tensors with nothing pending are
    /// skipped.
    ///
    /// # Errors
    /// Protocol failures.
    pub fn settle_all<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> Result<()> {
        let encrypted: Vec<&CrypTensor> = tensors
            .into_iter()
            .filter_map(Tensor::as_encrypted)
            .collect();
        CrypTensor::settle_all(&encrypted)
    }

    /// A bilinear map `op(self, other)` (convolutions and their gradients), on any mix of
    /// plaintext and encrypted operands.
    ///
    /// # Errors
    /// Shape mismatch; protocol failures.
    pub fn bilinear(&self, other: &Tensor, op: &Bilinear) -> Result<Tensor> {
        Ok(match (self, other) {
            (Self::Plain(a), Self::Plain(b)) => Self::Plain(plain::bilinear(op, a, b)?),
            (Self::Encrypted(a), Self::Plain(b)) => {
                Self::Encrypted(a.bilinear_plain(op, b, false)?)
            }
            (Self::Plain(a), Self::Encrypted(b)) => Self::Encrypted(b.bilinear_plain(op, a, true)?),
            (Self::Encrypted(a), Self::Encrypted(b)) => Self::Encrypted(a.bilinear(b, op)?),
        })
    }

    /// Swap two dimensions.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Tensor> {
        Ok(match self {
            Self::Plain(a) => {
                if d0 >= a.ndim() || d1 >= a.ndim() {
                    return Err(invalid(
                        "transpose",
                        format!("dims {d0}, {d1} of {:?}", a.shape()),
                    ));
                }
                let mut v = a.view();
                v.swap_axes(d0, d1);
                Self::Plain(v.as_standard_layout().into_owned())
            }
            Self::Encrypted(c) => Self::Encrypted(c.transpose(d0, d1)?),
        })
    }

    /// Reshape.
    ///
    /// # Errors
    /// Element count mismatch.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(match self {
            Self::Plain(a) => Self::Plain(
                a.as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(shape))
                    .map_err(|_| invalid("reshape", format!("{:?} into {shape:?}", a.shape())))?,
            ),
            Self::Encrypted(c) => Self::Encrypted(c.reshape(shape)?),
        })
    }

    /// Sum over `dims`.
    ///
    /// # Errors
    /// Invalid dimensions.
    pub fn sum(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        Ok(match self {
            Self::Plain(a) => {
                let mut sorted = dims.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() != dims.len() || sorted.iter().any(|&d| d >= a.ndim()) {
                    return Err(invalid("sum", format!("dims {dims:?} of {:?}", a.shape())));
                }
                let mut out = a.clone();
                for &d in sorted.iter().rev() {
                    out = out.sum_axis(Axis(d));
                    if keepdim {
                        out = out.insert_axis(Axis(d));
                    }
                }
                Self::Plain(out)
            }
            Self::Encrypted(c) => Self::Encrypted(c.sum(dims, keepdim)?),
        })
    }

    /// Broadcast to `shape`.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(match self {
            Self::Plain(a) => Self::Plain(
                a.broadcast(IxDyn(shape))
                    .ok_or_else(|| invalid("expand", format!("{:?} to {shape:?}", a.shape())))?
                    .to_owned(),
            ),
            Self::Encrypted(c) => Self::Encrypted(c.expand(shape)?),
        })
    }

    /// Sum a broadcast tensor back down to `shape`.
    ///
    /// # Errors
    /// `shape` does not broadcast to this tensor's shape.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        Ok(match self {
            Self::Plain(a) => Self::Plain(plain::sum_to_shape(a, shape)?),
            Self::Encrypted(c) => Self::Encrypted(c.sum_to_shape(shape)?),
        })
    }
}

fn invalid(op: &'static str, reason: String) -> Error {
    Error::InvalidArgument { op, reason }
}
