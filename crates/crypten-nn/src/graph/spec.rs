//! The public, serializable description of a graph.

use super::Op;
use crate::{Error, Result};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A graph without its weight values: everything the parties share in the clear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphSpec {
    /// The graph inputs, in order.
    pub inputs: Vec<Input>,
    /// The names of the graph outputs, in order.
    pub outputs: Vec<String>,
    /// The nodes, in an order where every value is computed before it is read.
    pub nodes: Vec<Node>,
    /// Public constants (shapes, indices, fixed tensors of the architecture).
    pub constants: Vec<Constant>,
    /// The weights: names and shapes only; their values are the model owner's.
    pub weights: Vec<WeightSpec>,
}

/// A graph input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// Its name.
    pub name: String,
    /// Its shape as declared, `None` for a dimension of any size (a batch, say). For a
    /// one-hot input this is the shape of the indices, without the classes.
    pub shape: Vec<Option<usize>>,
    /// How the data owner turns its data into the value the graph reads.
    pub encoding: Encoding,
}

/// How a graph input is encoded by its owner before it is shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// Real values, as given.
    Values,
    /// Integer ids in `0..classes`, shared as one-hot vectors (a trailing dimension of
    /// `classes`): an embedding lookup becomes a product, and no party learns the ids.
    OneHot {
        /// The number of distinct ids.
        classes: usize,
    },
}

/// A public constant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Constant {
    /// Its name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values in row-major order.
    pub values: Vec<f64>,
}

/// A weight: its values belong to the model owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightSpec {
    /// Its name (the initializer's name in an imported model).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

/// One operation of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// A name unique in the graph, for errors and cost accounting.
    pub name: String,
    /// The operation and its attributes.
    pub op: Op,
    /// The values it reads; an empty name is an absent optional input.
    pub inputs: Vec<String>,
    /// The values it writes; an empty name is an unused optional output.
    pub outputs: Vec<String>,
}

impl Node {
    /// Applies the node's operation to its input values, naming the node in any error.
    ///
    /// # Errors
    /// `Node` wrapping the operation's error.
    pub fn eval(
        &self,
        args: &[Option<crypten_autograd::Variable>],
    ) -> Result<Vec<crypten_autograd::Variable>> {
        self.op
            .eval(args, self.outputs.len())
            .map_err(|e| Error::Node {
                node: self.name.clone(),
                op: self.op.name(),
                cause: Box::new(e),
            })
    }
}

impl Input {
    /// Checks a value's shape against the declared one (the value of a one-hot input has the
    /// trailing dimension of the classes).
    ///
    /// # Errors
    /// `Graph` on a mismatch.
    pub fn check_shape(&self, shape: &[usize]) -> Result<()> {
        let ids = match self.encoding {
            Encoding::Values => shape,
            Encoding::OneHot { classes } => match shape.split_last() {
                Some((&last, ids)) if last == classes => ids,
                _ => {
                    return Err(Error::Graph(format!(
                        "input {} is one-hot over {classes} classes, got shape {shape:?}",
                        self.name
                    )));
                }
            },
        };
        self.check_data_shape(ids)
    }

    /// Checks the shape of the data before encoding (the ids of a one-hot input).
    ///
    /// # Errors
    /// `Graph` on a mismatch.
    pub fn check_data_shape(&self, shape: &[usize]) -> Result<()> {
        let fits = shape.len() == self.shape.len()
            && shape
                .iter()
                .zip(&self.shape)
                .all(|(&got, want)| want.is_none_or(|w| w == got));
        if fits {
            Ok(())
        } else {
            let want: Vec<String> = self
                .shape
                .iter()
                .map(|d| d.map_or("?".into(), |d| d.to_string()))
                .collect();
            Err(Error::Graph(format!(
                "input {} must have shape [{}], got {shape:?}",
                self.name,
                want.join(", ")
            )))
        }
    }
}

impl Constant {
    /// A constant holding `array`.
    pub fn new(name: impl Into<String>, array: &ArrayD<f64>) -> Self {
        Self {
            name: name.into(),
            shape: array.shape().to_vec(),
            values: array.iter().copied().collect(),
        }
    }

    /// The constant as an array.
    ///
    /// # Errors
    /// `Graph` when the values do not fill the shape.
    pub fn to_array(&self) -> Result<ArrayD<f64>> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.values.clone()).map_err(|_| {
            Error::Graph(format!(
                "constant {} has {} values for shape {:?}",
                self.name,
                self.values.len(),
                self.shape
            ))
        })
    }
}

impl GraphSpec {
    /// Checks that every name is defined once, every node reads only values defined before
    /// it, and every output is defined.
    ///
    /// # Errors
    /// `Graph` naming the first problem.
    pub fn validate(&self) -> Result<()> {
        let mut defined: HashSet<&str> = HashSet::new();
        let sources = self
            .inputs
            .iter()
            .map(|i| i.name.as_str())
            .chain(self.constants.iter().map(|c| c.name.as_str()))
            .chain(self.weights.iter().map(|w| w.name.as_str()));
        for name in sources {
            if name.is_empty() || !defined.insert(name) {
                return Err(Error::Graph(format!(
                    "value name {name:?} is empty or repeated"
                )));
            }
        }
        for c in &self.constants {
            c.to_array()?;
        }
        for node in &self.nodes {
            for name in &node.inputs {
                if !name.is_empty() && !defined.contains(name.as_str()) {
                    return Err(Error::Graph(format!(
                        "node {} reads {name}, which is not defined before it",
                        node.name
                    )));
                }
            }
            for name in &node.outputs {
                if !name.is_empty() && !defined.insert(name) {
                    return Err(Error::Graph(format!(
                        "node {} writes {name}, which is already defined",
                        node.name
                    )));
                }
            }
        }
        for name in &self.outputs {
            if !defined.contains(name.as_str()) {
                return Err(Error::Graph(format!("output {name} is never defined")));
            }
        }
        Ok(())
    }

    /// For every value read by a node, the index of the last node that reads it (graph
    /// outputs excluded: they are never freed).
    pub(crate) fn last_uses(&self) -> HashMap<&str, usize> {
        let mut last = HashMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            for name in &node.inputs {
                last.insert(name.as_str(), i);
            }
        }
        for name in &self.outputs {
            last.remove(name.as_str());
        }
        last
    }

    /// The spec as bytes, to send to the other parties.
    ///
    /// # Errors
    /// `Graph` if serialization fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        postcard::to_stdvec(self).map_err(|e| Error::Graph(format!("cannot serialize: {e}")))
    }

    /// A spec received from another party, checked.
    ///
    /// # Errors
    /// `Graph` for malformed bytes or an inconsistent graph.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let spec: Self = postcard::from_bytes(bytes)
            .map_err(|e| Error::Graph(format!("malformed graph description: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }
}
