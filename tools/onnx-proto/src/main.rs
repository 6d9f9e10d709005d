//! Generates the ONNX protobuf messages for crypten-onnx with protox (a Rust protobuf
//! compiler) and prost-build, without a protoc binary.
//!
//! Usage, from the repository root:
//! `cargo run --manifest-path tools/onnx-proto/Cargo.toml -- DIR`
//! where DIR holds `onnx.proto` (for instance unpacked from the `onnx` wheel on PyPI:
//! `pip download onnx==1.17.0 --no-deps` and unzip `onnx/onnx.proto`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: onnx-proto DIR (the directory holding onnx.proto)")?;
    let descriptors = protox::compile(["onnx.proto"], [dir])?;
    let out = PathBuf::from("crates/crypten-onnx/src/proto");
    prost_build::Config::new()
        .out_dir(&out)
        // The messages only: the proto's comments stay in the ONNX repository.
        .disable_comments(["."])
        .compile_fds(descriptors)?;
    println!("wrote {}", out.join("onnx.rs").display());
    Ok(())
}
