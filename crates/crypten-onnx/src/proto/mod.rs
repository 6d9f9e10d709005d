//! The ONNX protobuf messages, generated from `onnx.proto` (ONNX 1.17, proto2) by prost-build
//! over a protox descriptor set: no protoc at build time. Regenerate with
//! `cargo run --manifest-path tools/onnx-proto/Cargo.toml` from the repository root.
#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

include!("onnx.rs");
