//! Constant folding: every node whose inputs are all public constants is computed once, when
//! the graph is built, and replaced by its results. What is left reads a graph input or a
//! weight: the part of the model that touches private data.

use super::{Constant, GraphSpec};
use crate::Result;
use crypten_autograd::{Tensor, Variable};
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
