//! Local building blocks of crypten-rs: tensors over the ring Z/2^64, the fixed-point encoder
//! that maps reals into that ring, and the cryptographically secure PRG that every share is
//! drawn from.
//!
//! Nothing here communicates or knows about parties; protocols live in `crypten-mpc`.
#![deny(missing_docs)]

pub mod bitslice;
mod conv;
mod conv_direct;
mod elementwise;
mod encoder;
mod error;
mod kernels;
mod matmul;
mod prg;
mod reduce;
mod shape;
mod strided;
mod tensor;

pub use conv::{Conv1dParams, Conv2dParams};
pub use conv_direct::{ConvElement, conv2d_direct, conv2d_input_grad, conv2d_weight_grad};
pub use encoder::FixedPointEncoder;
pub use error::{Error, Result};
pub use kernels::{KernelLevel, gemm_u64, gemm_u64_acc, gemm_u64_naive, gemm_u64_with};
pub use prg::{Prg, SEED_LEN, Seed};
pub use strided::broadcast_shapes;
pub use tensor::RingTensor;
