//! torchaudio's Wav2Letter on raw waveforms: 1-d convolutions with filter sizes 250 (stride
//! 160), 48 (stride 2), seven of 7, then 32 and 1, ReLU after each, 250 channels and 2,000 in
//! the last two hidden layers, log-softmax over the labels.

use super::builder::Builder;
use crate::graph::Op;
use crate::{Graph, GraphSpec, Result};

/// Sizes of Wav2Letter.
#[derive(Clone, Debug)]
pub struct Wav2LetterConfig {
    /// Audio samples per clip.
    pub samples: usize,
    /// Channels of the first nine layers.
    pub channels: usize,
    /// Channels of the two wide layers.
    pub wide: usize,
    /// Output labels.
    pub labels: usize,
    /// Clips per batch.
    pub batch: usize,
}

impl Default for Wav2LetterConfig {
    /// The paper's: 1 s of 16 kHz audio, 250 and 2,000 channels, 29 labels, batch 1.
    fn default() -> Self {
        Self {
            samples: 16_000,
            channels: 250,
            wide: 2_000,
            labels: 29,
            batch: 1,
        }
    }
}

fn build(c: &Wav2LetterConfig) -> (Builder, String) {
    let mut b = Builder::new();
    let x = b.input("waveform", &[Some(c.batch), Some(1), Some(c.samples)]);
    let ch = c.channels;
    // (in, out, kernel, stride, padding), as torchaudio's layers.
    let mut layers = vec![(1, ch, 250, 160, 45), (ch, ch, 48, 2, 23)];
    layers.extend(std::iter::repeat_n((ch, ch, 7, 1, 3), 7));
    layers.extend([
        (ch, c.wide, 32, 1, 16),
        (c.wide, c.wide, 1, 1, 0),
        (c.wide, c.labels, 1, 1, 0),
    ]);
    let mut h = x;
    for (i, (cin, cout, k, s, p)) in layers.into_iter().enumerate() {
        let conv = b.conv(&format!("conv{i}"), &h, cin, cout, &[k], s, p, true);
        h = b.relu(&format!("relu{i}"), &conv);
    }
    let y = b.node("log_softmax", Op::LogSoftmax { axis: 1 }, &[&h]);
    (b, y)
}

/// Wav2Letter's spec (weights named and shaped, not drawn).
pub fn wav2letter_spec(c: &Wav2LetterConfig) -> GraphSpec {
    let (b, y) = build(c);
    b.spec(&[&y])
}

/// Wav2Letter with weights drawn from `seed`.
///
/// # Errors
/// Never for a valid config (the graph is checked).
pub fn wav2letter(c: &Wav2LetterConfig, seed: u64) -> Result<Graph> {
    let (b, y) = build(c);
    b.finish(&[&y], seed)
}
