//! Pooling layers.

use crate::{Module, Parameter, Result};
use crypten_autograd::Variable;
use std::rc::Rc;

/// Max pooling without padding.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// Window size (rows, columns).
    pub kernel: (usize, usize),
    /// Stride (rows, columns).
    pub stride: (usize, usize),
}

impl Module for MaxPool2d {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        Ok(input.max_pool2d(self.kernel, self.stride)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }
}

/// Average pooling (padding counts in the divisor).
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// Window size (rows, columns).
    pub kernel: (usize, usize),
    /// Stride (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding (rows, columns).
    pub padding: (usize, usize),
}

impl Module for AvgPool2d {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        Ok(input.avg_pool2d(self.kernel, self.stride, self.padding)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }
}

/// Adaptive average pooling to a fixed output size.
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d {
    /// Output size (rows, columns).
    pub output: (usize, usize),
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        Ok(input.adaptive_avg_pool2d(self.output)?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }
}
