//! `Graph`: a model as a serializable dataflow graph of allow-listed operations.
//!
//! A graph is what an imported model (ONNX) becomes, and what plans sent to workers will
//! carry. Its [`GraphSpec`] is public: the inputs, the nodes (each an [`Op`] with its
//! attributes), the public constants and the names and shapes of the weights. The weights'
//! values are not part of the spec: they belong to the model's owner, who shares them with
//! [`Module::encrypt`]; every other party builds the same graph from the spec alone, with
//! zeros in place of the weights, which `encrypt` then replaces by its shares.
//!
//! The graph runs on [`Variable`]s, so the same graph evaluates in plaintext, on encrypted
//! values, and with gradients (to be trained). Public values (shapes, indices, constants)
//! stay plaintext throughout: an operation whose inputs are all public is computed locally
//! and costs no communication.

mod fold;
pub mod op;
mod share;
mod spec;

pub use fold::fold_channel_affine;
pub use op::Op;
pub use spec::{Constant, Encoding, GraphSpec, Input, Node, WeightSpec};

use crate::{Error, Module, Parameter, Result};
use crypten_autograd::{Tensor, Variable};
use crypten_mpc::Session;
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

/// A graph with its weights: the spec, and one parameter per weight of the spec.
pub struct Graph {
    spec: GraphSpec,
    weights: Vec<Rc<Parameter>>,
}

/// What one node cost when the graph ran (see [`Graph::forward_profiled`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeCost {
    /// The node's name.
    pub node: String,
    /// Its operation, by its ONNX name.
    pub op: &'static str,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Bytes this party sent.
    pub bytes_sent: u64,
    /// Bytes this party received.
    pub bytes_received: u64,
    /// Communication rounds.
    pub rounds: u64,
}

impl Graph {
    /// A graph with the given weight values, in the order of `spec.weights`.
    ///
    /// # Errors
    /// `Graph` when the spec is inconsistent or a weight's shape differs from its spec.
    pub fn new(spec: GraphSpec, weights: Vec<ArrayD<f64>>) -> Result<Self> {
        spec.validate()?;
        if weights.len() != spec.weights.len() {
            return Err(Error::Graph(format!(
                "{} weight values for {} weights",
                weights.len(),
                spec.weights.len()
            )));
        }
        for (w, value) in spec.weights.iter().zip(&weights) {
            if value.shape() != w.shape.as_slice() {
                return Err(Error::Graph(format!(
                    "weight {} has shape {:?}, the graph says {:?}",
                    w.name,
                    value.shape(),
                    w.shape
                )));
            }
        }
        let weights = weights.into_iter().map(Parameter::new).collect();
        Ok(Self { spec, weights })
    }

    /// The graph of a party that does not own the model: zeros in place of the weights, to be
    /// replaced by the owner's shares (`encrypt`).
    ///
    /// # Errors
    /// `Graph` when the spec is inconsistent.
    pub fn from_spec(spec: GraphSpec) -> Result<Self> {
        let zeros = spec
            .weights
            .iter()
            .map(|w| ArrayD::zeros(IxDyn(&w.shape)))
            .collect();
        Self::new(spec, zeros)
    }

    /// The public description of the graph (no weight values).
    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }

    /// The weights, in the order of `spec().weights`.
    pub fn weights(&self) -> &[Rc<Parameter>] {
        &self.weights
    }

    /// Runs the graph on one value per graph input; returns one value per graph output.
    ///
    /// # Errors
    /// `Graph` for a wrong number of inputs; `Node` naming the node that failed and why.
    pub fn forward_all(&self, inputs: &[Variable]) -> Result<Vec<Variable>> {
        self.run(inputs, None).map(|(outputs, _)| outputs)
    }

    /// Like [`Graph::forward_all`], and measures each node: time, bytes and rounds of this
    /// party in `sess`.
    ///
    /// # Errors
    /// As [`Graph::forward_all`].
    pub fn forward_profiled(
        &self,
        inputs: &[Variable],
        sess: &Session,
    ) -> Result<(Vec<Variable>, Vec<NodeCost>)> {
        self.run(inputs, Some(sess))
    }

    fn run(
        &self,
        inputs: &[Variable],
        sess: Option<&Session>,
    ) -> Result<(Vec<Variable>, Vec<NodeCost>)> {
        let spec = &self.spec;
        if inputs.len() != spec.inputs.len() {
            return Err(Error::Graph(format!(
                "the graph takes {} inputs, got {}",
                spec.inputs.len(),
                inputs.len()
            )));
        }
        for (input, value) in spec.inputs.iter().zip(inputs) {
            input.check_shape(value.shape())?;
        }
        let last_use = spec.last_uses();
        let mut values: HashMap<&str, Variable> = HashMap::new();
        for (input, value) in spec.inputs.iter().zip(inputs) {
            values.insert(&input.name, value.clone());
        }
        for c in &spec.constants {
            values.insert(&c.name, Variable::constant(Tensor::Plain(c.to_array()?)));
        }
        for (w, p) in spec.weights.iter().zip(&self.weights) {
            values.insert(&w.name, p.var());
        }
        let mut costs = Vec::new();
        for (index, node) in spec.nodes.iter().enumerate() {
            let args = node
                .inputs
                .iter()
                .map(|name| {
                    if name.is_empty() {
                        Ok(None)
                    } else {
                        values.get(name.as_str()).cloned().map(Some).ok_or_else(|| {
                            Error::Graph(format!("node {}: unknown value {name}", node.name))
                        })
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            let before = sess.map(|s| (s.stats(), Instant::now()));
            let outputs = node.eval(&args)?;
            if let (Some(s), Some((stats, start))) = (sess, before) {
                let d = s.stats().since(&stats);
                costs.push(NodeCost {
                    node: node.name.clone(),
                    op: node.op.name(),
                    seconds: start.elapsed().as_secs_f64(),
                    bytes_sent: d.bytes_sent,
                    bytes_received: d.bytes_received,
                    rounds: d.rounds,
                });
            }
            for (name, value) in node.outputs.iter().zip(outputs) {
                if !name.is_empty() {
                    values.insert(name, value);
                }
            }
            // Free what no later node reads: an activation lives only as long as it is needed.
            for name in node.inputs.iter() {
                if last_use.get(name.as_str()) == Some(&index) {
                    values.remove(name.as_str());
                }
            }
        }
        let outputs = spec
            .outputs
            .iter()
            .map(|name| {
                values
                    .get(name.as_str())
                    .cloned()
                    .ok_or_else(|| Error::Graph(format!("output {name} is never computed")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((outputs, costs))
    }
}

impl Module for Graph {
    /// The first output of a graph with exactly one input.
    fn forward(&self, input: &Variable) -> Result<Variable> {
        self.forward_all(std::slice::from_ref(input))?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Graph("the graph has no outputs".into()))
    }

    fn named_parameters(&self) -> Vec<(String, Rc<Parameter>)> {
        self.spec
            .weights
            .iter()
            .zip(&self.weights)
            .map(|(w, p)| (w.name.clone(), Rc::clone(p)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
