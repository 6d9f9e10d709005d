//! Resampling (ONNX's Resize): nearest neighbours as a public index selection per axis,
//! linear interpolation as a product with a public interpolation matrix per axis.

use super::{Args, constant, invalid};
use crate::Result;
use crypten_autograd::Variable;
use ndarray::{Array2, ArrayD};
use serde::{Deserialize, Serialize};

/// How an output coordinate maps to an input coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordinateMode {
    /// `(o + 0.5) / scale - 0.5`.
    HalfPixel,
    /// As `HalfPixel`, but 0 for an output of size 1.
    PytorchHalfPixel,
    /// `o (in - 1) / (out - 1)`.
    AlignCorners,
    /// `o / scale`.
    Asymmetric,
}

/// How nearest mode rounds a coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NearestMode {
    /// Halves down.
    RoundPreferFloor,
    /// Halves up.
    RoundPreferCeil,
    /// Down.
    Floor,
    /// Up.
    Ceil,
}

/// Resize attributes: `x [, roi [, scales [, sizes]]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resize {
    /// Linear interpolation rather than nearest neighbours.
    pub linear: bool,
    /// The coordinate transformation.
    pub coordinates: CoordinateMode,
    /// Rounding in nearest mode.
    pub nearest: NearestMode,
}

impl Resize {
    fn source(&self, o: usize, input: usize, output: usize, scale: f64) -> f64 {
        let o = o as f64;
        match self.coordinates {
            CoordinateMode::HalfPixel => (o + 0.5) / scale - 0.5,
            CoordinateMode::PytorchHalfPixel if output > 1 => (o + 0.5) / scale - 0.5,
            CoordinateMode::PytorchHalfPixel => 0.0,
            CoordinateMode::AlignCorners if output > 1 => {
                o * (input as f64 - 1.0) / (output as f64 - 1.0)
            }
            CoordinateMode::AlignCorners => 0.0,
            CoordinateMode::Asymmetric => o / scale,
        }
    }

    pub(super) fn eval(&self, a: &Args<'_>) -> Result<Variable> {
        let x = a.get(0)?;
        let shape = x.shape().to_vec();
        let rank = shape.len();
        let scales = a
            .public(2)?
            .filter(|s| !s.is_empty())
            .map(|s| s.iter().copied().collect::<Vec<f64>>());
        let sizes = a.ints(3)?;
        let (out, scale): (Vec<usize>, Vec<f64>) = match (sizes, scales) {
            (Some(sizes), _) if sizes.len() == rank => {
                let out: Vec<usize> = sizes
                    .iter()
                    .map(|&s| usize::try_from(s).map_err(|_| invalid(format!("size {s}"))))
                    .collect::<Result<_>>()?;
                let scale = out
                    .iter()
                    .zip(&shape)
                    .map(|(&o, &i)| o as f64 / i as f64)
                    .collect();
                (out, scale)
            }
            (_, Some(scales)) if scales.len() == rank => {
                let out = scales
                    .iter()
                    .zip(&shape)
                    .map(|(&s, &i)| (i as f64 * s).floor() as usize)
                    .collect();
                (out, scales)
            }
            _ => {
                return Err(invalid(
                    "Resize needs scales or sizes for every axis".into(),
                ));
            }
        };
        let mut y = x.clone();
        for axis in 0..rank {
            let (input, output) = (shape[axis], out[axis]);
            let coords: Vec<f64> = (0..output)
                .map(|o| self.source(o, input, output, scale[axis]))
                .collect();
            if output == input && coords.iter().enumerate().all(|(o, &c)| c == o as f64) {
                continue;
            }
            if output == 0 || input == 0 {
                return Err(invalid(format!(
                    "resize of axis {axis} from {input} to {output}"
                )));
            }
            let last = (input - 1) as f64;
            y = if self.linear {
                let mut m = Array2::<f64>::zeros((input, output));
                for (o, &c) in coords.iter().enumerate() {
                    let c = c.clamp(0.0, last);
                    let i0 = c.floor() as usize;
                    let i1 = (i0 + 1).min(input - 1);
                    let w = c - i0 as f64;
                    m[[i0, o]] += 1.0 - w;
                    m[[i1, o]] += w;
                }
                along(&y, axis, &m.into_dyn())?
            } else {
                let idx: Vec<usize> = coords
                    .iter()
                    .map(|&c| {
                        let r = match self.nearest {
                            NearestMode::RoundPreferFloor => {
                                if c.fract() == 0.5 {
                                    c.floor()
                                } else {
                                    c.round()
                                }
                            }
                            NearestMode::RoundPreferCeil => c.round(),
                            NearestMode::Floor => c.floor(),
                            NearestMode::Ceil => c.ceil(),
                        };
                        r.clamp(0.0, last) as usize
                    })
                    .collect();
                y.index_select(axis, &idx)?
            };
        }
        Ok(y)
    }
}

/// `y` with `axis` mapped through the public matrix `m` (`[in, out]`).
fn along(y: &Variable, axis: usize, m: &ArrayD<f64>) -> Result<Variable> {
    let rank = y.shape().len();
    let mut perm: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
    perm.push(axis);
    let moved = y.permute(&perm)?;
    let s = moved.shape().to_vec();
    let rows: usize = s[..rank - 1].iter().product();
    let out = m.shape()[1];
    let z = moved
        .reshape(&[rows, s[rank - 1]])?
        .matmul(&constant(m.clone()))?;
    let mut zs = s[..rank - 1].to_vec();
    zs.push(out);
    let z = z.reshape(&zs)?;
    // Undo the permutation.
    let mut inverse = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    Ok(z.permute(&inverse)?)
}
