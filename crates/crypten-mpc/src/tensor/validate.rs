//! Validation mode (`Config::validation`): each checked operation reveals its inputs and its
//! result, recomputes the result in f64 and fails on the first element out of the fixed-point
//! range or off its plaintext value. A debugging tool that reveals everything it checks.

use crate::{CrypTensor, Error, Result, Validation};
use ndarray::ArrayD;

/// How far a checked result may be from its plaintext value: `ABS + REL |want|`. Above every
/// documented error of the operations checked.
const ABS: f64 = 1e-3;
const REL: f64 = 1e-2;

/// A plaintext recomputation of an operation from its revealed inputs; `None` where there is
/// none (only the range is checked then).
pub(crate) type Reference<'a> = Option<Box<dyn FnOnce(&[ArrayD<f64>]) -> ArrayD<f64> + 'a>>;

impl CrypTensor {
    /// Whether this session checks every operation (validation mode).
    pub(crate) fn validates(&self) -> bool {
        self.sess.config().validation == Validation::RevealAndCheck
    }

    /// In validation mode, checks `self`, the result of `op` on `inputs`: every element within
    /// the range of a fixed-point product (`2^(62 - 2f)`) and, given a `reference`, within
    /// `1e-3 + 1e-2 |want|` of it (non-finite plaintext values are outside the operation's
    /// domain and fail too). Does nothing otherwise.
    ///
    /// # Errors
    /// `Validation` naming `op` and the first wrong element; communication failures of the
    /// reveals.
    pub(crate) fn validated(
        self,
        op: &'static str,
        inputs: &[&CrypTensor],
        reference: Reference<'_>,
    ) -> Result<Self> {
        if !self.validates() {
            return Ok(self);
        }
        let got = self.get_plain_text()?;
        let limit = 2f64.powi(62 - 2 * self.sess.encoder().frac_bits() as i32);
        let wrong = |index: usize, reason: String| Error::Validation { op, index, reason };
        let Some(reference) = reference else {
            // No plaintext recomputation: the range alone.
            if let Some((i, v)) = got.iter().enumerate().find(|(_, v)| v.abs() >= limit) {
                return Err(wrong(
                    i,
                    format!(
                        "the result {v:e} is beyond the fixed-point range ({limit:e}): an \
                         overflow or a failed truncation"
                    ),
                ));
            }
            return Ok(self);
        };
        let revealed = inputs
            .iter()
            .map(|t| t.get_plain_text())
            .collect::<Result<Vec<_>>>()?;
        let want = reference(&revealed);
        if want.shape() != got.shape() {
            return Err(wrong(
                0,
                format!("shape {:?}, plaintext {:?}", got.shape(), want.shape()),
            ));
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if !w.is_finite() {
                return Err(wrong(
                    i,
                    format!("the plaintext value is {w}: the input is outside the domain"),
                ));
            }
            if w.abs() >= limit {
                return Err(wrong(
                    i,
                    format!(
                        "the plaintext value {w:e} is beyond the fixed-point range ({limit:e}): \
                         an overflow (the result is {g:e})"
                    ),
                ));
            }
            if (g - w).abs() > ABS + REL * w.abs() {
                return Err(wrong(
                    i,
                    format!(
                        "the result is {g}, plaintext {w}: a failed truncation or a wrong input"
                    ),
                ));
            }
        }
        Ok(self)
    }
}
