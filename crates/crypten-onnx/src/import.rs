//! An ONNX model to a graph spec and its weights.

use crate::convert::{Refusal, constant_value, convert, output_dtype};
use crate::proto::{ModelProto, NodeProto, type_proto};
use crate::tensor::{decode, dtype_of, type_name};
use crate::{Error, Result, Unsupported};
use crypten_nn::graph::op::DType;
use crypten_nn::graph::{
    Constant, Encoding, Graph, GraphSpec, Input, Node, Op, WeightSpec, fold_channel_affine,
};
use ndarray::ArrayD;
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The opsets the importer reads. 13 to 18 are the tested range; the operations it supports
/// keep their meaning up to 21.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;

/// An imported model: the public graph and the weights, which only the model owner has.
#[derive(Clone, Debug)]
pub struct Model {
    spec: GraphSpec,
    weights: Vec<ArrayD<f64>>,
    opset: i64,
    /// Batch normalizations whose statistics the importer folded into other weights: the
    /// model's weights are then not the file's initializers and cannot be written back.
    pub(crate) derived: Vec<String>,
}

impl Model {
    /// Reads and imports an `.onnx` file.
    ///
    /// # Errors
    /// `Io` for a file that cannot be read; otherwise as [`Model::from_bytes`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Imports a serialized ONNX model.
    ///
    /// # Errors
    /// `Decode` for bytes that are not a model; `Invalid` for a model without a usable graph;
    /// `Unsupported` listing every node the graph cannot run; `Graph` when a constant
    /// subgraph fails to evaluate.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let model = ModelProto::decode(bytes).map_err(|e| Error::Decode(e.to_string()))?;
        import(&model)
    }

    /// The public graph: what the model owner sends the other parties.
    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }

    /// The weights, in the order of `spec().weights`.
    pub fn weights(&self) -> &[ArrayD<f64>] {
        &self.weights
    }

    /// The model's opset (default domain).
    pub fn opset(&self) -> i64 {
        self.opset
    }

    /// The graph with its weights, in plaintext (to run locally, or to `encrypt` as the owner).
    ///
    /// # Errors
    /// `Graph` if the spec and the weights disagree (not for a model from the importer).
    pub fn into_graph(self) -> Result<Graph> {
        Ok(Graph::new(self.spec, self.weights)?)
    }
}

/// Inputs that must be public, by operation: shapes, axes, indices, bounds, exponents.
fn public_positions(op_type: &str) -> &'static [usize] {
    match op_type {
        "Reshape" | "Expand" | "Gather" | "Squeeze" | "Unsqueeze" | "Split" | "Pow"
        | "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceSumSquare"
        | "ReduceL2" | "ReduceL1" | "Tile" => &[1],
        "Resize" => &[1, 2, 3],
        "Floor" | "Ceil" | "Round" => &[0],
        "Slice" => &[1, 2, 3, 4],
        "Pad" => &[1, 2, 3],
        "Clip" => &[1, 2],
        "ConstantOfShape" => &[0],
        "Range" => &[0, 1, 2],
        _ => &[],
    }
}

/// Inputs that the graph can only read as public values: a private value there is refused
/// at import (Clip's bounds may be private, so they are not here).
fn must_be_public(op_type: &str) -> &'static [usize] {
    match op_type {
        "Clip" => &[],
        "Mod" => &[0, 1],
        other => public_positions(other),
    }
}

/// Magnitude that public infinities and float sentinels (masks written as `-inf` or
/// `finfo.min`) become: far below anything softmax or max keeps, and small enough for
/// fixed-point products.
pub const MASK_MAGNITUDE: f64 = 16384.0;

/// Replaces infinities and values beyond `1e30` by `±MASK_MAGNITUDE`; NaN is refused.
fn sanitize(name: &str, mut array: ArrayD<f64>) -> Result<ArrayD<f64>> {
    let mut nan = false;
    array.mapv_inplace(|v| {
        nan |= v.is_nan();
        if v.abs() >= 1e30 {
            MASK_MAGNITUDE.copysign(v)
        } else {
            v
        }
    });
    if nan {
        return Err(Error::Invalid(format!("tensor {name} holds NaN")));
    }
    Ok(array)
}

/// What the importer knows of a value name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Input,
    Constant,
    Weight,
    Computed,
}

struct Builder {
    kinds: HashMap<String, Kind>,
    dtypes: HashMap<String, DType>,
    spec: GraphSpec,
    weights: Vec<ArrayD<f64>>,
    refused: Vec<Unsupported>,
    /// Batch normalizations folded into a per-channel scale and shift.
    folded: Vec<String>,
}

impl Builder {
    fn define(&mut self, name: &str, kind: Kind, dtype: DType) {
        self.kinds.insert(name.to_string(), kind);
        self.dtypes.insert(name.to_string(), dtype);
    }

    /// Whether a value is known to all parties (constants and what is computed from them).
    fn is_public(&self, name: &str) -> bool {
        self.kinds.get(name) == Some(&Kind::Constant)
    }

    fn refuse(&mut self, node: &str, op: &str, reason: impl Into<String>) {
        self.refused.push(Unsupported {
            node: node.into(),
            op: op.into(),
            reason: reason.into(),
        });
    }
}

fn import(model: &ModelProto) -> Result<Model> {
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
        .and_then(|o| o.version)
        .ok_or_else(|| Error::Invalid("no opset for the default domain".into()))?;
    if !OPSETS.contains(&opset) {
        return Err(Error::Invalid(format!(
            "opset {opset} is not supported: export with an opset_version from 13 to 21 (13 to 18 are tested)"
        )));
    }
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Invalid("the model has no graph".into()))?;
    if !graph.sparse_initializer.is_empty() {
        return Err(Error::Invalid(
            "sparse initializers are not supported".into(),
        ));
    }

    // Where each initializer is read, to tell weights from public constants.
    let mut private_use: HashSet<&str> = HashSet::new();
    for node in &graph.node {
        let public = public_positions(node.op_type.as_deref().unwrap_or(""));
        for (i, name) in node.input.iter().enumerate() {
            if !public.contains(&i) {
                private_use.insert(name);
            }
        }
    }
    let mut b = Builder {
        kinds: HashMap::new(),
        dtypes: HashMap::new(),
        spec: GraphSpec {
            inputs: Vec::new(),
            outputs: Vec::new(),
            nodes: Vec::new(),
            constants: Vec::new(),
            weights: Vec::new(),
        },
        weights: Vec::new(),
        refused: Vec::new(),
        folded: Vec::new(),
    };
    for t in &graph.initializer {
        let name = t.name.as_deref().unwrap_or("");
        if name.is_empty() {
            return Err(Error::Invalid("an initializer without a name".into()));
        }
        let (array, dtype) = decode(t)?;
        let array = sanitize(name, array)?;
        // Integer and boolean tensors are structure (shapes, indices, masks); so is a float
        // read only where a public value is required. Every other float is a weight.
        if dtype != DType::Float || !private_use.contains(name) {
            b.spec.constants.push(Constant::new(name, &array));
            b.define(name, Kind::Constant, dtype);
        } else {
            b.spec.weights.push(WeightSpec {
                name: name.into(),
                shape: array.shape().to_vec(),
            });
            b.define(name, Kind::Weight, dtype);
            b.weights.push(array);
        }
    }
    for input in &graph.input {
        let name = input.name.clone().unwrap_or_default();
        if b.kinds.contains_key(&name) {
            continue; // an initializer listed as an input (IR version < 4)
        }
        let Some(type_proto::Value::TensorType(t)) =
            input.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Err(Error::Invalid(format!("input {name} is not a tensor")));
        };
        let code = t.elem_type.unwrap_or(0);
        let dtype = dtype_of(code).ok_or_else(|| {
            Error::Invalid(format!(
                "input {name} has unsupported type {}",
                type_name(code)
            ))
        })?;
        let shape =
            t.shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(crate::proto::tensor_shape_proto::dimension::Value::DimValue(
                                v,
                            )) if v > 0 => usize::try_from(v).ok(),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
        b.spec.inputs.push(Input {
            name: name.clone(),
            shape,
            encoding: Encoding::Values,
        });
        b.define(&name, Kind::Input, dtype);
    }

    let mut names: HashSet<String> = HashSet::new();
    for (index, node) in graph.node.iter().enumerate() {
        let op_type = node.op_type.clone().unwrap_or_default();
        let mut name = node
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{op_type}_{index}"));
        if !names.insert(name.clone()) {
            name = format!("{name}_{index}");
            names.insert(name.clone());
        }
        let domain = node.domain.as_deref().unwrap_or("");
        if !domain.is_empty() && domain != "ai.onnx" {
            b.refuse(
                &name,
                &format!("{domain}.{op_type}"),
                "operations outside the default ONNX domain are not supported",
            );
            continue;
        }
        if let Some(missing) = node
            .input
            .iter()
            .find(|i| !i.is_empty() && !b.kinds.contains_key(i.as_str()))
        {
            return Err(Error::Invalid(format!(
                "node {name} reads {missing}, which is not defined before it"
            )));
        }
        if op_type == "Constant" {
            match constant_value(node) {
                Ok((array, dtype)) => {
                    let out = node.output.first().cloned().unwrap_or_default();
                    let array = sanitize(&out, array)?;
                    b.spec.constants.push(Constant::new(out.clone(), &array));
                    b.define(&out, Kind::Constant, dtype);
                }
                Err(reason) => b.refuse(&name, &op_type, reason),
            }
            continue;
        }
        let translated = special(&mut b, node, &name)
            .map_or_else(|| plain_node(&b, node), Ok)
            .and_then(|(op, inputs)| privacy(&b, node, op, inputs));
        match translated {
            Ok((op, inputs)) => {
                let dt = |i: usize| {
                    node.input
                        .get(i)
                        .and_then(|n| b.dtypes.get(n.as_str()).copied())
                };
                let dtype = output_dtype(&op, dt);
                // Public when every input is (or when only the shape is read).
                let public = matches!(op, Op::Shape { .. })
                    || inputs.iter().all(|i| i.is_empty() || b.is_public(i));
                let kind = if public {
                    Kind::Constant
                } else {
                    Kind::Computed
                };
                for out in &node.output {
                    if !out.is_empty() {
                        b.define(out, kind, dtype);
                    }
                }
                b.spec.nodes.push(Node {
                    name,
                    op,
                    inputs,
                    outputs: node.output.clone(),
                });
            }
            Err(reason) => {
                for out in &node.output {
                    b.define(out, Kind::Computed, DType::Float);
                }
                b.refuse(&name, &op_type, reason);
            }
        }
    }
    if !b.refused.is_empty() {
        return Err(Error::Unsupported(b.refused));
    }
    b.spec.outputs = graph
        .output
        .iter()
        .map(|o| o.name.clone().unwrap_or_default())
        .collect();
    check_one_hot_inputs(&b.spec)?;
    let mut spec = b.spec;
    spec.fold_constants()?;
    // Weights no node reads any more (batch-norm statistics folded by their owner).
    let read: HashSet<&str> = spec
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(String::as_str))
        .chain(spec.outputs.iter().map(String::as_str))
        .collect();
    let (kept_specs, kept_values): (Vec<_>, Vec<_>) = spec
        .weights
        .iter()
        .cloned()
        .zip(b.weights)
        .filter(|(w, _)| read.contains(w.name.as_str()))
        .unzip();
    spec.weights = kept_specs;
    let mut weights = kept_values;
    // A batch normalization after a convolution (an export that kept it) joins the
    // convolution's weights: one private product fewer.
    fold_channel_affine(&mut spec, &mut weights);
    spec.validate()?;
    let derived = b.folded;
    Ok(Model {
        spec,
        weights,
        opset,
        derived,
    })
}

/// Checks a translated node against what is private: inputs that must be public, and casts.
/// A cast of a private value keeps its values when they are already of the target kind (0/1
/// comparisons to booleans or integers, anything to a float).
fn privacy(
    b: &Builder,
    node: &NodeProto,
    op: Op,
    inputs: Vec<String>,
) -> std::result::Result<(Op, Vec<String>), Refusal> {
    let op_type = node.op_type.as_deref().unwrap_or("");
    if !matches!(op, Op::Embedding) {
        for &i in must_be_public(op_type) {
            if let Some(name) = node.input.get(i).filter(|n| !n.is_empty())
                && !b.is_public(name)
            {
                return Err(format!(
                    "input {i} ({name}) must be public (a shape, axes, indices, pads or an \
                     exponent), but it depends on private data"
                ));
            }
        }
    }
    if let Op::Cast { to } = op
        && let Some(name) = inputs.first()
        && !b.is_public(name)
    {
        let from = b.dtypes.get(name.as_str()).copied().unwrap_or(DType::Float);
        return match (from, to) {
            (_, DType::Float) | (DType::Bool, _) | (DType::Int, DType::Int) => {
                Ok((Op::Identity, inputs))
            }
            _ => Err(format!(
                "a private {from:?} value cannot be cast to {to:?} (only to a float, or a 0/1 \
                 comparison result to a boolean or an integer)"
            )),
        };
    }
    Ok((op, inputs))
}

/// A node translated as the ONNX operation says.
fn plain_node(b: &Builder, node: &NodeProto) -> std::result::Result<(Op, Vec<String>), Refusal> {
    let dt = |i: usize| {
        node.input
            .get(i)
            .and_then(|n| b.dtypes.get(n.as_str()).copied())
    };
    let op = convert(node, dt)?;
    let inputs = match op {
        // Dropout's ratio and training mode are not read in inference.
        Op::Identity => node.input.iter().take(1).cloned().collect(),
        _ => node.input.clone(),
    };
    Ok((op, inputs))
}

/// Translations that depend on where the inputs come from: an embedding lookup of a graph
/// input's integer ids becomes a one-hot product; a batch normalization of the owner's
/// statistics is folded by the owner into a scale and a shift.
fn special(b: &mut Builder, node: &NodeProto, name: &str) -> Option<(Op, Vec<String>)> {
    let kind = |i: usize| {
        node.input
            .get(i)
            .and_then(|n| b.kinds.get(n.as_str()).copied())
    };
    match node.op_type.as_deref()? {
        "Gather" => {
            let axis = node
                .attribute
                .iter()
                .find(|a| a.name.as_deref() == Some("axis"))
                .and_then(|a| a.i)
                .unwrap_or(0);
            let ids = node.input.get(1)?;
            if kind(0) != Some(Kind::Weight)
                || kind(1) != Some(Kind::Input)
                || b.dtypes.get(ids.as_str()) != Some(&DType::Int)
                || axis != 0
            {
                return None;
            }
            let table = b.spec.weights.iter().find(|w| w.name == node.input[0])?;
            if table.shape.len() != 2 {
                return None;
            }
            let classes = table.shape[0];
            let input = b.spec.inputs.iter_mut().find(|i| &i.name == ids)?;
            input.encoding = Encoding::OneHot { classes };
            Some((Op::Embedding, vec![ids.clone(), node.input[0].clone()]))
        }
        "BatchNormalization" => {
            if (1..=4).any(|i| kind(i) != Some(Kind::Weight))
                || node.output.iter().skip(1).any(|o| !o.is_empty())
            {
                return None;
            }
            let epsilon = node
                .attribute
                .iter()
                .find(|a| a.name.as_deref() == Some("epsilon"))
                .and_then(|a| a.f)
                .map_or(1e-5, f64::from);
            let get = |i: usize| {
                let k = b
                    .spec
                    .weights
                    .iter()
                    .position(|w| w.name == node.input[i])?;
                b.weights.get(k)
            };
            let (scale, bias, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
            let factor = scale * &var.mapv(|v| 1.0 / (v + epsilon).sqrt());
            let shift = bias - &(mean * &factor);
            let mut inputs = vec![node.input[0].clone()];
            for (suffix, value) in [("scale", factor), ("shift", shift)] {
                let mut wname = format!("{name}.{suffix}");
                while b.kinds.contains_key(&wname) {
                    wname.push('_');
                }
                b.spec.weights.push(WeightSpec {
                    name: wname.clone(),
                    shape: value.shape().to_vec(),
                });
                b.weights.push(value);
                b.define(&wname, Kind::Weight, DType::Float);
                inputs.push(wname);
            }
            b.folded.push(name.to_string());
            Some((Op::ChannelAffine, inputs))
        }
        _ => None,
    }
}

/// A one-hot input must be read only by embedding lookups.
fn check_one_hot_inputs(spec: &GraphSpec) -> Result<()> {
    for input in &spec.inputs {
        if input.encoding == Encoding::Values {
            continue;
        }
        if let Some(node) = spec
            .nodes
            .iter()
            .find(|n| !matches!(n.op, Op::Embedding) && n.inputs.iter().any(|i| i == &input.name))
        {
            return Err(Error::Invalid(format!(
                "input {} holds ids for an embedding and is also read by node {} ({}): \
                 private ids can only be looked up",
                input.name,
                node.name,
                node.op.name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{
        AttributeProto, GraphProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
        ValueInfoProto, tensor_shape_proto,
    };

    fn input(name: &str, elem: i32) -> ValueInfoProto {
        ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(elem),
                    shape: Some(TensorShapeProto {
                        dim: vec![tensor_shape_proto::Dimension {
                            value: Some(tensor_shape_proto::dimension::Value::DimValue(4)),
                            ..Default::default()
                        }],
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(name: &str, op: &str, inputs: &[&str], outputs: &[&str], to: Option<i64>) -> NodeProto {
        NodeProto {
            name: Some(name.into()),
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: to
                .map(|t| AttributeProto {
                    name: Some("to".into()),
                    i: Some(t),
                    r#type: Some(2),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    fn model(nodes: Vec<NodeProto>, outputs: &[&str]) -> Vec<u8> {
        let graph = GraphProto {
            node: nodes,
            input: vec![input("x", 1)],
            output: outputs.iter().map(|o| input(o, 1)).collect(),
            initializer: vec![TensorProto {
                name: Some("c".into()),
                data_type: Some(1),
                dims: vec![1],
                float_data: vec![f32::NEG_INFINITY],
                ..Default::default()
            }],
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            }],
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn private_values_where_public_ones_are_needed_are_refused_at_import() {
        let bytes = model(
            vec![
                node("pow", "Pow", &["x", "x"], &["p"], None),
                node("to_int", "Cast", &["x"], &["i"], Some(7)),
                node("less", "Less", &["x", "c"], &["l"], None),
                node("to_bool", "Cast", &["l"], &["b"], Some(9)),
            ],
            &["p", "i", "b"],
        );
        let Err(Error::Unsupported(nodes)) = Model::from_bytes(&bytes) else {
            panic!("expected the private exponent and the cast to be refused");
        };
        let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(names, ["pow", "to_int"], "{nodes:?}");
        assert!(nodes[0].reason.contains("must be public"));
    }

    #[test]
    fn a_cast_of_a_private_comparison_keeps_its_values_and_infinities_become_finite() {
        let bytes = model(
            vec![
                node("less", "Less", &["x", "c"], &["l"], None),
                node("to_bool", "Cast", &["l"], &["b"], Some(9)),
                node("add", "Add", &["x", "c"], &["y"], None),
            ],
            &["b", "y"],
        );
        let m = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let cast = m.spec().nodes.iter().find(|n| n.name == "to_bool");
        assert!(matches!(cast.map(|n| &n.op), Some(Op::Identity)));
        // The -inf initializer is a weight (read by Add), finite now.
        assert_eq!(m.weights()[0].iter().next().copied(), Some(-MASK_MAGNITUDE));
    }
}
