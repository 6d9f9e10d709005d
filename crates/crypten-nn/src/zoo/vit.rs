//! torchvision's ViT-B/16: 16x16 patches embedded by a convolution, a class token and learned
//! position embeddings, pre-norm encoder layers (multi-head self-attention, an MLP with GELU),
//! a final layer norm and a linear head on the class token.

use super::builder::{Builder, Init};
use crate::graph::Op;
use crate::{Graph, GraphSpec, Result};

/// Sizes of the vision transformer.
#[derive(Clone, Debug)]
pub struct VitConfig {
    /// Image height and width.
    pub image: usize,
    /// Patch size.
    pub patch: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Token width.
    pub width: usize,
    /// Hidden width of the MLP.
    pub mlp: usize,
    /// Classes.
    pub classes: usize,
    /// Images per batch.
    pub batch: usize,
}

impl Default for VitConfig {
    /// ViT-B/16: 224x224, 12 layers, 12 heads, width 768, MLP 3,072, 1,000 classes, batch 1.
    fn default() -> Self {
        Self {
            image: 224,
            patch: 16,
            layers: 12,
            heads: 12,
            width: 768,
            mlp: 3_072,
            classes: 1_000,
            batch: 1,
        }
    }
}

fn attention(b: &mut Builder, name: &str, x: &str, c: &VitConfig, tokens: usize) -> String {
    let (bs, d, h) = (c.batch as i64, c.width, c.heads);
    let hd = d / h;
    let qkv = b.linear(&format!("{name}.in_proj"), x, d, 3 * d);
    let shape = b.shape(&[bs, tokens as i64, 3, h as i64, hd as i64]);
    let split = b.node(
        &format!("{name}.split"),
        Op::Reshape { allowzero: false },
        &[&qkv, &shape],
    );
    let heads = b.node(
        &format!("{name}.heads"),
        Op::Transpose {
            perm: Some(vec![2, 0, 3, 1, 4]),
        },
        &[&split],
    );
    let pick = |b: &mut Builder, i: usize, what: &str| {
        let idx = b.scalar("index", i as f64);
        b.node(
            &format!("{name}.{what}"),
            Op::Gather { axis: 0 },
            &[&heads, &idx],
        )
    };
    let (q, k, v) = (pick(b, 0, "q"), pick(b, 1, "k"), pick(b, 2, "v"));
    let kt = b.node(
        &format!("{name}.kt"),
        Op::Transpose {
            perm: Some(vec![0, 1, 3, 2]),
        },
        &[&k],
    );
    let scores = b.node(&format!("{name}.scores"), Op::MatMul, &[&q, &kt]);
    let scale = b.scalar("scale", 1.0 / (hd as f64).sqrt());
    let scaled = b.node(&format!("{name}.scale"), Op::Mul, &[&scores, &scale]);
    let attn = b.node(
        &format!("{name}.softmax"),
        Op::Softmax { axis: -1 },
        &[&scaled],
    );
    let mixed = b.node(&format!("{name}.mix"), Op::MatMul, &[&attn, &v]);
    let back = b.node(
        &format!("{name}.merge"),
        Op::Transpose {
            perm: Some(vec![0, 2, 1, 3]),
        },
        &[&mixed],
    );
    let shape = b.shape(&[bs, tokens as i64, d as i64]);
    let merged = b.node(
        &format!("{name}.flat"),
        Op::Reshape { allowzero: false },
        &[&back, &shape],
    );
    b.linear(&format!("{name}.out_proj"), &merged, d, d)
}

fn build(c: &VitConfig) -> (Builder, String) {
    let mut b = Builder::new();
    let (bs, d) = (c.batch, c.width);
    let grid = c.image / c.patch;
    let tokens = grid * grid + 1;
    let x = b.input("image", &[Some(bs), Some(3), Some(c.image), Some(c.image)]);
    let patches = b.conv("conv_proj", &x, 3, d, &[c.patch, c.patch], c.patch, 0, true);
    let shape = b.shape(&[bs as i64, d as i64, (grid * grid) as i64]);
    let flat = b.node(
        "patches",
        Op::Reshape { allowzero: false },
        &[&patches, &shape],
    );
    let seq = b.node(
        "tokens",
        Op::Transpose {
            perm: Some(vec![0, 2, 1]),
        },
        &[&flat],
    );
    let cls = b.weight("class_token", &[1, 1, d], Init::Uniform(0.02));
    let batch = b.shape(&[bs as i64, 1, d as i64]);
    let cls = b.node("class_tokens", Op::Expand, &[&cls, &batch]);
    let seq = b.node("with_class", Op::Concat { axis: 1 }, &[&cls, &seq]);
    let pos = b.weight("pos_embedding", &[1, tokens, d], Init::Uniform(0.02));
    let mut h = b.node("positions", Op::Add, &[&seq, &pos]);
    for i in 0..c.layers {
        let name = format!("encoder.layers.{i}");
        let n1 = b.layer_norm(&format!("{name}.ln_1"), &h, d);
        let a = attention(&mut b, &format!("{name}.self_attention"), &n1, c, tokens);
        h = b.node(&format!("{name}.add_1"), Op::Add, &[&h, &a]);
        let n2 = b.layer_norm(&format!("{name}.ln_2"), &h, d);
        let up = b.linear(&format!("{name}.mlp.0"), &n2, d, c.mlp);
        let act = b.node(
            &format!("{name}.mlp.gelu"),
            Op::Gelu { tanh: false },
            &[&up],
        );
        let down = b.linear(&format!("{name}.mlp.3"), &act, c.mlp, d);
        h = b.node(&format!("{name}.add_2"), Op::Add, &[&h, &down]);
    }
    let n = b.layer_norm("encoder.ln", &h, d);
    let first = b.scalar("index", 0.0);
    let cls_out = b.node("class_output", Op::Gather { axis: 1 }, &[&n, &first]);
    let y = b.gemm("heads.head", &cls_out, d, c.classes);
    (b, y)
}

/// The vision transformer's spec (weights named and shaped, not drawn).
pub fn vit_spec(c: &VitConfig) -> GraphSpec {
    let (b, y) = build(c);
    b.spec(&[&y])
}

/// The vision transformer with weights drawn from `seed`.
///
/// # Errors
/// Never for a valid config (the graph is checked).
pub fn vit(c: &VitConfig, seed: u64) -> Result<Graph> {
    let (b, y) = build(c);
    b.finish(&[&y], seed)
}
