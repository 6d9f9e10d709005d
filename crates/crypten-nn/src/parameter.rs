//! `Parameter`: a trainable tensor of a module, with its gradient.

use crate::Result;
use crypten_autograd::{Tensor, Variable};
use crypten_mpc::{CrypTensor, Session};
use std::cell::RefCell;
use std::rc::Rc;

/// A trainable tensor (plaintext or encrypted) and its accumulated gradient.
///
/// Modules hold parameters behind `Rc`, and optimizers hold the same `Rc`s, so an update is
/// seen by the module. [`Parameter::var`] hands the value to autograd as a leaf whose gradient
/// lands in this parameter.
#[derive(Debug)]
pub struct Parameter {
    value: RefCell<Tensor>,
    grad: Rc<RefCell<Option<Tensor>>>,
}

impl Parameter {
    /// A parameter holding `value`.
    pub fn new(value: impl Into<Tensor>) -> Rc<Self> {
        Rc::new(Self {
            value: RefCell::new(value.into()),
            grad: Rc::new(RefCell::new(None)),
        })
    }

    /// The current value.
    pub fn value(&self) -> Tensor {
        self.value.borrow().clone()
    }

    /// Replaces the value (optimizers, loading a state dict).
    pub fn set(&self, value: Tensor) {
        *self.value.borrow_mut() = value;
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.value.borrow().shape().to_vec()
    }

    /// Whether the value is encrypted (without copying it).
    pub fn is_encrypted(&self) -> bool {
        self.value.borrow().is_encrypted()
    }

    /// The value as an autograd leaf whose gradient accumulates in this parameter.
    pub fn var(&self) -> Variable {
        Variable::with_grad_cell(self.value(), true, Rc::clone(&self.grad))
    }

    /// The accumulated gradient.
    pub fn grad(&self) -> Option<Tensor> {
        self.grad.borrow().clone()
    }

    /// Clears the gradient.
    pub fn zero_grad(&self) {
        *self.grad.borrow_mut() = None;
    }

    /// Shares the value from party `src` (the others' plaintext values are ignored; they only
    /// need the right shape). Already encrypted parameters are left as they are.
    ///
    /// # Errors
    /// NaN/inf/out-of-range values at `src`; invalid `src`.
    pub fn encrypt(&self, sess: &Session, src: usize) -> Result<()> {
        let encrypted = match &*self.value.borrow() {
            Tensor::Plain(a) => CrypTensor::from_array(sess, a, src)?,
            Tensor::Encrypted(_) => return Ok(()),
        };
        self.set(Tensor::Encrypted(encrypted));
        self.zero_grad();
        Ok(())
    }

    /// Reveals an encrypted value to every party (one round) and keeps it in plaintext.
    ///
    /// # Errors
    /// Communication failures.
    pub fn decrypt(&self) -> Result<()> {
        let plain = self.value.borrow().to_plain()?;
        self.set(Tensor::Plain(plain));
        self.zero_grad();
        Ok(())
    }
}

/// The `weight` and optional `bias` of a layer, named as PyTorch names them.
pub(crate) fn weight_and_bias(
    weight: &Rc<Parameter>,
    bias: Option<&Rc<Parameter>>,
) -> Vec<(String, Rc<Parameter>)> {
    let mut out = vec![("weight".to_string(), Rc::clone(weight))];
    if let Some(b) = bias {
        out.push(("bias".to_string(), Rc::clone(b)));
    }
    out
}
