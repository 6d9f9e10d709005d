//! `Conv2d`: 2-d convolution with an optional bias.

use crate::{Error, Module, Parameter, Result, init};
use crypten_autograd::Variable;
use crypten_core::{Conv2dParams, Prg};
use std::rc::Rc;

/// Validates a convolution layer's sizes and returns its fan-in (`in/groups * taps`).
fn checked_fan_in(
    what: &'static str,
    in_channels: usize,
    out_channels: usize,
    taps: usize,
    groups: usize,
) -> Result<usize> {
    if in_channels == 0
        || out_channels == 0
        || taps == 0
        || groups == 0
        || !in_channels.is_multiple_of(groups)
        || !out_channels.is_multiple_of(groups)
    {
        return Err(Error::Config {
            what,
            reason: format!(
                "{in_channels} -> {out_channels} channels, {taps} kernel taps, {groups} groups"
            ),
        });
    }
    Ok(in_channels / groups * taps)
}

/// A 2-d convolution layer: weight `[O, C/groups, KH, KW]`, bias `[O]`.
pub struct Conv2d {
    params: Conv2dParams,
    weight: Rc<Parameter>,
    bias: Option<Rc<Parameter>>,
}

impl Conv2d {
    /// A layer initialised uniformly in `±1/sqrt(C/groups * KH * KW)` from `prg`.
    ///
    /// # Errors
    /// `Config` for zero sizes or groups that do not divide the channel counts.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        params: Conv2dParams,
        bias: bool,
        prg: &mut Prg,
    ) -> Result<Self> {
        let g = params.groups;
        let fan_in = checked_fan_in("Conv2d", in_channels, out_channels, kernel.0 * kernel.1, g)?;
        let weight = Parameter::new(init::default_for_fan_in(
            &[out_channels, in_channels / g, kernel.0, kernel.1],
            fan_in,
            prg,
        ));
        let bias =
            bias.then(|| Parameter::new(init::default_for_fan_in(&[out_channels], fan_in, prg)));
        Ok(Self {
            params,
            weight,
            bias,
        })
    }
}

impl Module for Conv2d {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let w = self.weight.var();
        let mut y = input.conv2d(&w, &self.params)?;
        if let Some(b) = &self.bias {
            let out_channels = self.weight.shape()[0];
            y = y.add_bias(&b.var().reshape(&[1, out_channels, 1, 1])?)?;
        }
        Ok(y)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        crate::parameter::weight_and_bias(&self.weight, self.bias.as_ref())
    }
}

/// A 1-d convolution layer: weight `[O, C/groups, K]`, bias `[O]`.
pub struct Conv1d {
    params: crypten_core::Conv1dParams,
    weight: Rc<Parameter>,
    bias: Option<Rc<Parameter>>,
}

impl Conv1d {
    /// A layer initialised uniformly in `±1/sqrt(C/groups * K)` from `prg`.
    ///
    /// # Errors
    /// `Config` for zero sizes or groups that do not divide the channel counts.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        params: crypten_core::Conv1dParams,
        bias: bool,
        prg: &mut Prg,
    ) -> Result<Self> {
        let g = params.groups;
        let fan_in = checked_fan_in("Conv1d", in_channels, out_channels, kernel, g)?;
        let weight = Parameter::new(init::default_for_fan_in(
            &[out_channels, in_channels / g, kernel],
            fan_in,
            prg,
        ));
        let bias =
            bias.then(|| Parameter::new(init::default_for_fan_in(&[out_channels], fan_in, prg)));
        Ok(Self {
            params,
            weight,
            bias,
        })
    }
}

impl Module for Conv1d {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let mut y = input.conv1d(&self.weight.var(), &self.params)?;
        if let Some(b) = &self.bias {
            let out_channels = self.weight.shape()[0];
            y = y.add_bias(&b.var().reshape(&[1, out_channels, 1])?)?;
        }
        Ok(y)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        crate::parameter::weight_and_bias(&self.weight, self.bias.as_ref())
    }
}

/// Flattens every dimension after the first: `[N, ...] -> [N, prod(...)]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, input: &Variable) -> Result<Variable> {
        let shape = input.shape();
        let Some((&n, rest)) = shape.split_first() else {
            return Err(Error::InputShape {
                layer: "Flatten",
                expected: "at least 1 dimension".into(),
                got: shape.to_vec(),
            });
        };
        Ok(input.reshape(&[n, rest.iter().product()])?)
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        Vec::new()
    }
}
