//! torchvision's ResNet-18: a 7x7 stem, max pooling, four stages of two basic blocks, global
//! average pooling and a linear classifier; batch norm in inference form (scale and shift).

use super::builder::Builder;
use crate::graph::Op;
use crate::{Graph, GraphSpec, Result};

/// Sizes of ResNet-18.
#[derive(Clone, Debug)]
pub struct ResNetConfig {
    /// Channels of the first stage (64 in torchvision); the others double it.
    pub width: usize,
    /// Image height and width.
    pub image: usize,
    /// Classes.
    pub classes: usize,
    /// Images per batch.
    pub batch: usize,
}

impl Default for ResNetConfig {
    /// The paper's: width 64, 224x224 images, 1,000 classes, batch 1.
    fn default() -> Self {
        Self {
            width: 64,
            image: 224,
            classes: 1_000,
            batch: 1,
        }
    }
}

fn block(b: &mut Builder, name: &str, x: &str, cin: usize, cout: usize, stride: usize) -> String {
    let c1 = b.conv(
        &format!("{name}.conv1"),
        x,
        cin,
        cout,
        &[3, 3],
        stride,
        1,
        false,
    );
    let n1 = b.batch_norm(&format!("{name}.bn1"), &c1, cout);
    let r1 = b.relu(&format!("{name}.relu1"), &n1);
    let c2 = b.conv(
        &format!("{name}.conv2"),
        &r1,
        cout,
        cout,
        &[3, 3],
        1,
        1,
        false,
    );
    let n2 = b.batch_norm(&format!("{name}.bn2"), &c2, cout);
    let skip = if stride != 1 || cin != cout {
        let d = b.conv(
            &format!("{name}.downsample.0"),
            x,
            cin,
            cout,
            &[1, 1],
            stride,
            0,
            false,
        );
        b.batch_norm(&format!("{name}.downsample.1"), &d, cout)
    } else {
        x.to_string()
    };
    let sum = b.node(&format!("{name}.add"), Op::Add, &[&n2, &skip]);
    b.relu(&format!("{name}.relu2"), &sum)
}

fn build(c: &ResNetConfig) -> (Builder, String) {
    let mut b = Builder::new();
    let x = b.input(
        "image",
        &[Some(c.batch), Some(3), Some(c.image), Some(c.image)],
    );
    let w = c.width;
    let stem = b.conv("conv1", &x, 3, w, &[7, 7], 2, 3, false);
    let stem = b.batch_norm("bn1", &stem, w);
    let stem = b.relu("relu", &stem);
    let mut h = b.max_pool("maxpool", &stem, 3, 2, 1);
    let mut cin = w;
    for (stage, mult) in [1, 2, 4, 8].into_iter().enumerate() {
        let cout = w * mult;
        let stride = if stage == 0 { 1 } else { 2 };
        h = block(
            &mut b,
            &format!("layer{}.0", stage + 1),
            &h,
            cin,
            cout,
            stride,
        );
        h = block(&mut b, &format!("layer{}.1", stage + 1), &h, cout, cout, 1);
        cin = cout;
    }
    let pooled = b.node("avgpool", Op::GlobalAveragePool, &[&h]);
    let flat = b.node("flatten", Op::Flatten { axis: 1 }, &[&pooled]);
    let y = b.gemm("fc", &flat, 8 * w, c.classes);
    (b, y)
}

/// ResNet-18's spec (weights named and shaped, not drawn).
pub fn resnet18_spec(c: &ResNetConfig) -> GraphSpec {
    let (b, y) = build(c);
    b.spec(&[&y])
}

/// ResNet-18 with weights drawn from `seed`, for inference: each batch normalization folded
/// into the convolution before it, as PyTorch's export in evaluation mode gives it.
///
/// # Errors
/// Never for a valid config (the graph is checked).
pub fn resnet18(c: &ResNetConfig, seed: u64) -> Result<Graph> {
    let (b, y) = build(c);
    b.finish_for_inference(&[&y], seed)
}
