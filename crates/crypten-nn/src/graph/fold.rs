//! Constant folding: every node whose inputs are all public constants is computed once, when
//! the graph is built, and replaced by its results. What is left reads a graph input or a
//! weight: the part of the model that touches private data.

use super::{Constant, GraphSpec, Op, WeightSpec};
use crate::Result;
use crypten_autograd::{Tensor, Variable};
use ndarray::ArrayD;
use std::collections::{HashMap, HashSet};

impl GraphSpec {
    /// Folds constant subgraphs into constants and drops constants no node reads any more.
    /// Returns the number of nodes folded.
    ///
    /// # Errors
    /// `Node` for a node that fails on its constant inputs (a malformed model).
    pub fn fold_constants(&mut self) -> Result<usize> {
        let mut known: HashMap<String, Variable> = HashMap::new();
        for c in &self.constants {
            known.insert(
                c.name.clone(),
                Variable::constant(Tensor::Plain(c.to_array()?)),
            );
        }
        let mut kept = Vec::with_capacity(self.nodes.len());
        let mut folded = 0;
        for node in std::mem::take(&mut self.nodes) {
            let foldable = node
                .inputs
                .iter()
                .all(|name| name.is_empty() || known.contains_key(name));
            if !foldable {
                kept.push(node);
                continue;
            }
            let args: Vec<Option<Variable>> = node
                .inputs
                .iter()
                .map(|name| known.get(name).cloned())
                .collect();
            let outputs = node.eval(&args)?;
            for (name, value) in node.outputs.iter().zip(outputs) {
                if let Tensor::Plain(a) = value.value() {
                    self.constants.push(Constant::new(name.clone(), a));
                    known.insert(name.clone(), value);
                }
            }
            folded += 1;
        }
        self.nodes = kept;
        let read: HashSet<&str> = self
            .nodes
            .iter()
            .flat_map(|n| n.inputs.iter().map(String::as_str))
            .chain(self.outputs.iter().map(String::as_str))
            .collect();
        let constants = std::mem::take(&mut self.constants);
        self.constants = constants
            .into_iter()
            .filter(|c| read.contains(c.name.as_str()))
            .collect();
        Ok(folded)
    }
}

/// Folds each per-channel affine map (`ChannelAffine`, a batch normalization at inference)
/// that follows a convolution into that convolution's weights and bias, at the model owner,
/// in plaintext: `conv(x, W, b) * s + t = conv(x, W * s, b * s + t)` per output channel. The
/// graph computes the same function with one private product fewer per folded pair (one
/// round each). Only pairs whose intermediate value, weights, scale and shift nothing else
/// reads are folded. `weights` holds the values of `spec.weights`, in order; both shrink by
/// the weights folded away. Returns the number of pairs folded.
pub fn fold_channel_affine(spec: &mut GraphSpec, weights: &mut Vec<ArrayD<f64>>) -> usize {
    let mut readers: HashMap<String, usize> = HashMap::new();
    for name in spec
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter())
        .chain(spec.outputs.iter())
    {
        *readers.entry(name.clone()).or_default() += 1;
    }
    let index: HashMap<String, usize> = spec
        .weights
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.clone(), i))
        .collect();
    let producer: HashMap<String, usize> = spec
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.clone(), i)))
        .collect();
    let only_reader = |name: &str| readers.get(name) == Some(&1);
    let mut dropped_nodes = HashSet::new();
    let mut dropped_weights = HashSet::new();
    for a in 0..spec.nodes.len() {
        let affine = &spec.nodes[a];
        if affine.op != Op::ChannelAffine || affine.inputs.len() != 3 {
            continue;
        }
        let (x, s, t) = (&affine.inputs[0], &affine.inputs[1], &affine.inputs[2]);
        let Some(&c) = producer.get(x) else { continue };
        let conv = &spec.nodes[c];
        let (Some(&si), Some(&ti)) = (index.get(s), index.get(t)) else {
            continue;
        };
        let Some(&wi) = conv.inputs.get(1).and_then(|w| index.get(w)) else {
            continue;
        };
        let bias = conv.inputs.get(2).filter(|b| !b.is_empty());
        let bi = match bias {
            Some(b) => match index.get(b) {
                Some(&bi) if only_reader(b) => Some(bi),
                _ => continue,
            },
            None => None,
        };
        let channels = weights[wi].shape().first().copied().unwrap_or(0);
        let fits = matches!(conv.op, Op::Conv(_))
            && conv.outputs.len() == 1
            && only_reader(x)
            && only_reader(&conv.inputs[1])
            && only_reader(s)
            && only_reader(t)
            && [si, ti].iter().all(|&i| weights[i].shape() == [channels])
            && bi.is_none_or(|i| weights[i].shape() == [channels]);
        if !fits {
            continue;
        }
        let (scale, shift) = (weights[si].clone(), weights[ti].clone());
        for (ch, mut filter) in weights[wi].outer_iter_mut().enumerate() {
            filter.mapv_inplace(|v| v * scale[[ch]]);
        }
        // The shift becomes the bias (plus the old bias, scaled).
        if let Some(bi) = bi {
            let old = &weights[bi];
            weights[ti] = &shift + &(old * &scale);
            dropped_weights.insert(bi);
        }
        dropped_weights.insert(si);
        let out = affine.outputs[0].clone();
        let t = t.clone();
        let conv = &mut spec.nodes[c];
        conv.inputs.truncate(2);
        conv.inputs.push(t);
        conv.outputs[0] = out;
        dropped_nodes.insert(a);
    }
    let folded = dropped_nodes.len();
    let mut n = 0;
    spec.nodes.retain(|_| {
        n += 1;
        !dropped_nodes.contains(&(n - 1))
    });
    let kept: Vec<(WeightSpec, ArrayD<f64>)> = std::mem::take(&mut spec.weights)
        .into_iter()
        .zip(std::mem::take(weights))
        .enumerate()
        .filter(|(i, _)| !dropped_weights.contains(i))
        .map(|(_, pair)| pair)
        .collect();
    (spec.weights, *weights) = kept.into_iter().unzip();
    folded
}
