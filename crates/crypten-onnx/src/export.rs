//! A trained model back to ONNX: the original file with its weights' initializers replaced by
//! new values. Everything else (the graph, its names, opsets and metadata) stays as it was, so
//! the result loads wherever the original did (onnxruntime, PyTorch's ONNX tools).

use crate::import::Model;
use crate::proto::ModelProto;
use crate::proto::tensor_proto::DataType;
use crate::{Error, Result};
use ndarray::ArrayD;
use prost::Message;
use std::collections::HashMap;

impl Model {
    /// Checks that every weight of the imported graph is an initializer of the file, unchanged
    /// by the importer, so that trained values can be written back with
    /// [`with_weights`]. Batch normalizations become a per-channel scale and shift at import
    /// (or join the convolution before them): such a model can run, but not be written back.
    ///
    /// # Errors
    /// `Invalid` naming the weights that the importer derived.
    pub fn check_exportable(&self) -> Result<()> {
        if self.derived.is_empty() {
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "batch normalization(s) {} keep statistics that the importer folds into a scale and \
             shift, so the trained weights could not be written back as ONNX; train a model \
             without BatchNormalization nodes",
            self.derived.join(", ")
        )))
    }
}

/// `original` (an ONNX model's bytes) with each initializer named in `weights` replaced by
/// the given values, stored in the initializer's own element type (float32 or float64).
///
/// # Errors
/// `Decode` for bytes that are not a model; `Invalid` for a name that is not a float
/// initializer of the model, or a value of another shape.
pub fn with_weights(original: &[u8], weights: &[(String, ArrayD<f64>)]) -> Result<Vec<u8>> {
    let mut model = ModelProto::decode(original).map_err(|e| Error::Decode(e.to_string()))?;
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| Error::Invalid("the model has no graph".into()))?;
    let mut pending: HashMap<&str, &ArrayD<f64>> =
        weights.iter().map(|(n, v)| (n.as_str(), v)).collect();
    for t in &mut graph.initializer {
        let Some(value) = t.name.as_deref().and_then(|n| pending.remove(n)) else {
            continue;
        };
        let name = t.name.clone().unwrap_or_default();
        let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
        if dims != value.shape() {
            return Err(Error::Invalid(format!(
                "weight {name}: new value of shape {:?} for an initializer of shape {dims:?}",
                value.shape()
            )));
        }
        let raw: Vec<u8> = match DataType::try_from(t.data_type.unwrap_or(0)) {
            Ok(DataType::Float) => value
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
            Ok(DataType::Double) => value.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            _ => {
                return Err(Error::Invalid(format!(
                    "weight {name}: only float32 and float64 initializers can be written back"
                )));
            }
        };
        t.float_data.clear();
        t.double_data.clear();
        t.external_data.clear();
        t.data_location = None;
        t.raw_data = Some(raw);
    }
    if !pending.is_empty() {
        let mut names: Vec<&str> = pending.into_keys().collect();
        names.sort_unstable();
        return Err(Error::Invalid(format!(
            "no initializer named {} in the model",
            names.join(", ")
        )));
    }
    Ok(model.encode_to_vec())
}
