//! The paper's text sentiment model: a word-count vector times a 32-d embedding matrix, then a
//! linear layer to 2 classes.

use super::builder::{Builder, Init};
use crate::{Graph, GraphSpec, Result};

/// Sizes of the text model.
#[derive(Clone, Debug)]
pub struct TextConfig {
    /// Vocabulary size.
    pub vocabulary: usize,
    /// Embedding width.
    pub dim: usize,
    /// Classes.
    pub classes: usize,
    /// Samples per batch.
    pub batch: usize,
}

impl Default for TextConfig {
    /// The paper's: 519,820 words, 32-d embeddings, 2 classes, batch 1.
    fn default() -> Self {
        Self {
            vocabulary: 519_820,
            dim: 32,
            classes: 2,
            batch: 1,
        }
    }
}

fn build(c: &TextConfig) -> (Builder, String) {
    let mut b = Builder::new();
    let x = b.input("counts", &[Some(c.batch), Some(c.vocabulary)]);
    let table = b.weight("embedding", &[c.vocabulary, c.dim], Init::Uniform(0.1));
    let e = b.node("embed", crate::graph::Op::MatMul, &[&x, &table]);
    let y = b.gemm("fc", &e, c.dim, c.classes);
    (b, y)
}

/// The text model's spec (weights named and shaped, not drawn).
pub fn text_spec(c: &TextConfig) -> GraphSpec {
    let (b, y) = build(c);
    b.spec(&[&y])
}

/// The text model with weights drawn from `seed`.
///
/// # Errors
/// Never for a valid config (the graph is checked).
pub fn text(c: &TextConfig, seed: u64) -> Result<Graph> {
    let (b, y) = build(c);
    b.finish(&[&y], seed)
}
