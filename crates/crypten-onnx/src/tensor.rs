//! Tensors stored in a model (initializers, `Constant` values, attributes) as f64 arrays.

use crate::proto::TensorProto;
use crate::proto::tensor_proto::DataType;
use crate::{Error, Result};
use crypten_nn::graph::op::DType;
use ndarray::{ArrayD, IxDyn};

/// The graph's view of an ONNX element type; `None` for types it cannot hold (strings,
/// complex numbers, 8-bit floats).
pub(crate) fn dtype_of(code: i32) -> Option<DType> {
    match DataType::try_from(code).ok()? {
        DataType::Float | DataType::Double | DataType::Float16 | DataType::Bfloat16 => {
            Some(DType::Float)
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Uint8
        | DataType::Uint16
        | DataType::Uint32
        | DataType::Uint64 => Some(DType::Int),
        DataType::Bool => Some(DType::Bool),
        _ => None,
    }
}

/// The name of an element type, for errors.
pub(crate) fn type_name(code: i32) -> String {
    DataType::try_from(code).map_or_else(|_| format!("type {code}"), |t| t.as_str_name().into())
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

fn bf16_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

/// Decodes a stored tensor. External data (weights in a side file) is refused.
pub(crate) fn decode(t: &TensorProto) -> Result<(ArrayD<f64>, DType)> {
    let name = t.name.as_deref().unwrap_or("<unnamed>");
    let bad = |why: String| Error::Invalid(format!("tensor {name}: {why}"));
    let code = t.data_type.unwrap_or(0);
    let dtype = dtype_of(code)
        .ok_or_else(|| bad(format!("element type {} is not supported", type_name(code))))?;
    if !t.external_data.is_empty() || t.data_location == Some(1) {
        return Err(bad(
            "stored as external data; save the model with its weights inside the .onnx".into(),
        ));
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}"))))
        .collect::<Result<_>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad("too many elements".into()))?;
    let kind = DataType::try_from(code).map_err(|_| bad("unknown element type".into()))?;
    let values: Vec<f64> = if let Some(raw) = &t.raw_data {
        let width = match kind {
            DataType::Double | DataType::Int64 | DataType::Uint64 => 8,
            DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
            DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16 => 2,
            _ => 1,
        };
        if raw.len() != count * width {
            return Err(bad(format!(
                "{} bytes of data for {count} elements of {width} bytes",
                raw.len()
            )));
        }
        // One loop per element type: the weights of a large model are tens of millions of
        // values, and a type dispatch per element would dominate the import.
        fn each<const W: usize>(raw: &[u8], f: impl Fn([u8; W]) -> f64) -> Vec<f64> {
            raw.chunks_exact(W)
                .map(|b| {
                    let mut w = [0u8; W];
                    w.copy_from_slice(b);
                    f(w)
                })
                .collect()
        }
        match kind {
            DataType::Double => each::<8>(raw, f64::from_le_bytes),
            DataType::Float => each::<4>(raw, |b| f64::from(f32::from_le_bytes(b))),
            DataType::Float16 => each::<2>(raw, |b| f16_to_f64(u16::from_le_bytes(b))),
            DataType::Bfloat16 => each::<2>(raw, |b| bf16_to_f64(u16::from_le_bytes(b))),
            DataType::Int64 => each::<8>(raw, |b| i64::from_le_bytes(b) as f64),
            DataType::Uint64 => each::<8>(raw, |b| u64::from_le_bytes(b) as f64),
            DataType::Int32 => each::<4>(raw, |b| f64::from(i32::from_le_bytes(b))),
            DataType::Uint32 => each::<4>(raw, |b| f64::from(u32::from_le_bytes(b))),
            DataType::Int16 => each::<2>(raw, |b| f64::from(i16::from_le_bytes(b))),
            DataType::Uint16 => each::<2>(raw, |b| f64::from(u16::from_le_bytes(b))),
            DataType::Int8 => each::<1>(raw, |b| f64::from(i8::from_le_bytes(b))),
            DataType::Bool => each::<1>(raw, |b| f64::from(u8::from(b[0] != 0))),
            _ => each::<1>(raw, |b| f64::from(b[0])),
        }
    } else {
        match kind {
            DataType::Float => t.float_data.iter().map(|&v| f64::from(v)).collect(),
            DataType::Double => t.double_data.clone(),
            DataType::Int64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            DataType::Uint32 | DataType::Uint64 => {
                t.uint64_data.iter().map(|&v| v as f64).collect()
            }
            DataType::Float16 => t.int32_data.iter().map(|&v| f16_to_f64(v as u16)).collect(),
            DataType::Bfloat16 => t
                .int32_data
                .iter()
                .map(|&v| bf16_to_f64(v as u16))
                .collect(),
            DataType::Bool => t
                .int32_data
                .iter()
                .map(|&v| f64::from(u8::from(v != 0)))
                .collect(),
            _ => t.int32_data.iter().map(|&v| f64::from(v)).collect(),
        }
    };
    if values.len() != count {
        return Err(bad(format!("{} values for shape {shape:?}", values.len())));
    }
    let array = ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| bad(e.to_string()))?;
    Ok((array, dtype))
}

#[cfg(test)]
mod tests {
    use super::f16_to_f64;

    #[test]
    fn half_precision_decodes() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x3555), 0.333_251_953_125);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
    }
}
