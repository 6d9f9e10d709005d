//! The model zoo: the four architectures of the CrypTen paper's benchmarks as graphs, with
//! random weights from a fixed seed. Each takes its sizes from a config whose `Default` is
//! the paper's model; smaller configs keep the same structure for tests.
//!
//! - [`text`]: a word-count vector times an embedding matrix, then a linear layer;
//! - [`wav2letter`]: torchaudio's Wav2Letter on raw waveforms (1-d convolutions);
//! - [`resnet18`]: torchvision's ResNet-18 (batch norm in inference form);
//! - [`vit`]: torchvision's ViT-B/16 (pre-norm encoder layers, GELU, a class token).
//!
//! The graphs are the same `GraphSpec`s an ONNX import produces, built from the same
//! operations, so they run in plaintext, encrypted and with gradients.

mod builder;
mod resnet;
mod text;
mod vit;
mod wav2letter;

pub use resnet::{ResNetConfig, resnet18, resnet18_spec};
pub use text::{TextConfig, text, text_spec};
pub use vit::{VitConfig, vit, vit_spec};
pub use wav2letter::{Wav2LetterConfig, wav2letter, wav2letter_spec};

/// The number of weight values of a spec (its parameters).
pub fn parameter_count(spec: &crate::GraphSpec) -> usize {
    spec.weights
        .iter()
        .map(|w| w.shape.iter().product::<usize>())
        .sum()
}

#[cfg(test)]
mod tests;
