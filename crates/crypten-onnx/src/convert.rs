//! One ONNX node to one graph operation: attributes read with the spec's defaults, values
//! the graph does not support refused with a reason.

use crate::attr::Attrs;
use crate::proto::NodeProto;
use crate::tensor::{decode, dtype_of, type_name};
use crypten_nn::graph::Op;
use crypten_nn::graph::op::{
    AutoPad, Conv, ConvTranspose, CoordinateMode, DType, Gemm, NearestMode, Pool, Reduce, Resize,
};

/// Why a node cannot be translated.
pub(crate) type Refusal = String;

fn usizes(v: Option<Vec<i64>>, what: &str) -> Result<Vec<usize>, Refusal> {
    v.unwrap_or_default()
        .into_iter()
        .map(|x| usize::try_from(x).map_err(|_| format!("{what} must not be negative, got {x}")))
        .collect()
}

fn auto_pad(a: &Attrs<'_>) -> Result<AutoPad, Refusal> {
    match a.string("auto_pad").as_deref() {
        None | Some("NOTSET") | Some("") => Ok(AutoPad::NotSet),
        Some("SAME_UPPER") => Ok(AutoPad::SameUpper),
        Some("SAME_LOWER") => Ok(AutoPad::SameLower),
        Some("VALID") => Ok(AutoPad::Valid),
        Some(other) => Err(format!("auto_pad {other:?} is not an ONNX value")),
    }
}

fn reduce(a: &Attrs<'_>) -> Reduce {
    Reduce {
        axes: a.ints("axes"),
        keepdims: a.int("keepdims", 1) != 0,
        noop_with_empty_axes: a.int("noop_with_empty_axes", 0) != 0,
    }
}

fn pool(a: &Attrs<'_>, max: bool) -> Result<Pool, Refusal> {
    if max && a.int("storage_order", 0) != 0 {
        return Err("storage_order 1 (column-major indices) is not supported".into());
    }
    let kernel_shape = usizes(a.ints("kernel_shape"), "kernel_shape")?;
    if kernel_shape.is_empty() {
        return Err("kernel_shape is required".into());
    }
    if !(1..=2).contains(&kernel_shape.len()) {
        return Err(format!(
            "{}-d pooling is not supported (1-d and 2-d are)",
            kernel_shape.len()
        ));
    }
    let dilations = usizes(a.ints("dilations"), "dilations")?;
    if dilations.iter().any(|&d| d != 1) {
        return Err("pooling with dilations other than 1 is not supported".into());
    }
    Ok(Pool {
        auto_pad: auto_pad(a)?,
        ceil_mode: a.int("ceil_mode", 0) != 0,
        count_include_pad: a.int("count_include_pad", 0) != 0,
        dilations,
        kernel_shape,
        pads: usizes(a.ints("pads"), "pads")?,
        strides: usizes(a.ints("strides"), "strides")?,
    })
}

fn spatial_rank_ok(kernel: &Option<Vec<i64>>) -> Result<(), Refusal> {
    match kernel {
        Some(k) if !(1..=2).contains(&k.len()) => Err(format!(
            "{}-d convolutions are not supported (1-d and 2-d are)",
            k.len()
        )),
        _ => Ok(()),
    }
}

fn resize(a: &Attrs<'_>) -> Result<Resize, Refusal> {
    if a.int("antialias", 0) != 0 {
        return Err("antialias is not supported".into());
    }
    if a.has("axes") {
        return Err(
            "the axes attribute is not supported (give scales or sizes for every axis)".into(),
        );
    }
    let linear = match a.string("mode").as_deref() {
        None | Some("nearest") => false,
        Some("linear") | Some("bilinear") => true,
        Some(m) => {
            return Err(format!(
                "mode {m:?} is not supported (nearest and linear are)"
            ));
        }
    };
    let coordinates = match a.string("coordinate_transformation_mode").as_deref() {
        None | Some("half_pixel") => CoordinateMode::HalfPixel,
        Some("pytorch_half_pixel") => CoordinateMode::PytorchHalfPixel,
        Some("align_corners") => CoordinateMode::AlignCorners,
        Some("asymmetric") => CoordinateMode::Asymmetric,
        Some(m) => {
            return Err(format!(
                "coordinate_transformation_mode {m:?} is not supported"
            ));
        }
    };
    let nearest = match a.string("nearest_mode").as_deref() {
        None | Some("round_prefer_floor") => NearestMode::RoundPreferFloor,
        Some("round_prefer_ceil") => NearestMode::RoundPreferCeil,
        Some("floor") => NearestMode::Floor,
        Some("ceil") => NearestMode::Ceil,
        Some(m) => return Err(format!("nearest_mode {m:?} is not an ONNX value")),
    };
    Ok(Resize {
        linear,
        coordinates,
        nearest,
    })
}

/// Translates a node of the default domain. `input_dtype(i)` is the element type of the
/// node's input `i` as far as it is known.
pub(crate) fn convert(
    node: &NodeProto,
    input_dtype: impl Fn(usize) -> Option<DType>,
) -> Result<Op, Refusal> {
    let a = Attrs(&node.attribute);
    let op_type = node.op_type.as_deref().unwrap_or("");
    Ok(match op_type {
        "Conv" => {
            spatial_rank_ok(&a.ints("kernel_shape"))?;
            Op::Conv(Conv {
                auto_pad: auto_pad(&a)?,
                dilations: usizes(a.ints("dilations"), "dilations")?,
                group: usize::try_from(a.int("group", 1)).map_err(|_| "group < 0")?,
                pads: usizes(a.ints("pads"), "pads")?,
                strides: usizes(a.ints("strides"), "strides")?,
            })
        }
        "ConvTranspose" => {
            spatial_rank_ok(&a.ints("kernel_shape"))?;
            let auto = auto_pad(&a)?;
            if auto != AutoPad::NotSet && !a.has("output_shape") {
                return Err("auto_pad without output_shape is not supported".into());
            }
            Op::ConvTranspose(ConvTranspose {
                auto_pad: auto,
                dilations: usizes(a.ints("dilations"), "dilations")?,
                group: usize::try_from(a.int("group", 1)).map_err(|_| "group < 0")?,
                output_padding: usizes(a.ints("output_padding"), "output_padding")?,
                output_shape: usizes(a.ints("output_shape"), "output_shape")?,
                pads: usizes(a.ints("pads"), "pads")?,
                strides: usizes(a.ints("strides"), "strides")?,
            })
        }
        "Gemm" => Op::Gemm(Gemm {
            alpha: a.float("alpha", 1.0),
            beta: a.float("beta", 1.0),
            trans_a: a.int("transA", 0) != 0,
            trans_b: a.int("transB", 0) != 0,
        }),
        "MatMul" => Op::MatMul,
        "Add" => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div {
            integer: input_dtype(0) == Some(DType::Int),
        },
        "Mod" => Op::Mod {
            fmod: a.int("fmod", 0) != 0,
        },
        "Neg" => Op::Neg,
        "Abs" => Op::Abs,
        "Pow" => Op::Pow,
        "Sqrt" => Op::Sqrt,
        "Exp" => Op::Exp,
        "Log" => Op::Log,
        "Reciprocal" => Op::Reciprocal,
        "Clip" => Op::Clip {
            min: a.opt_float("min"),
            max: a.opt_float("max"),
        },
        "Relu" => Op::Relu,
        "LeakyRelu" => Op::LeakyRelu {
            alpha: a.float("alpha", 0.01),
        },
        "PRelu" => Op::PRelu,
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        "HardSigmoid" => Op::HardSigmoid {
            alpha: a.float("alpha", 0.2),
            beta: a.float("beta", 0.5),
        },
        "Softmax" => Op::Softmax {
            axis: a.int("axis", -1),
        },
        "LogSoftmax" => Op::LogSoftmax {
            axis: a.int("axis", -1),
        },
        "Erf" => Op::Erf,
        "Gelu" => Op::Gelu {
            tanh: match a.string("approximate").as_deref() {
                None | Some("none") => false,
                Some("tanh") => true,
                Some(other) => return Err(format!("approximate {other:?} is not an ONNX value")),
            },
        },
        "Identity" => Op::Identity,
        "HardSwish" => Op::HardSwish,
        "Softplus" => Op::Softplus,
        "Softsign" => Op::Softsign,
        "Elu" => Op::Elu {
            alpha: a.float("alpha", 1.0),
        },
        "Selu" => Op::Selu {
            alpha: a.float("alpha", 1.673_263_192_176_818_8),
            gamma: a.float("gamma", 1.050_701_022_148_132_3),
        },
        "Max" => Op::Max,
        "Min" => Op::Min,
        "Sum" => Op::Sum,
        "Mean" => Op::Mean,
        "Sign" => Op::Sign,
        "Floor" => Op::Floor,
        "Ceil" => Op::Ceil,
        "Round" => Op::Round,
        "Not" => Op::Not,
        "And" => Op::And,
        "Or" => Op::Or,
        "Xor" => Op::Xor,
        "Tile" => Op::Tile,
        "Resize" => Op::Resize(resize(&a)?),
        "ReduceMin" => Op::ReduceMin(reduce(&a)),
        "ReduceSumSquare" => Op::ReduceSumSquare(reduce(&a)),
        "ReduceL2" => Op::ReduceL2(reduce(&a)),
        "ReduceL1" => Op::ReduceL1(reduce(&a)),
        "Dropout" => {
            if node.output.get(1).is_some_and(|m| !m.is_empty()) {
                return Err("the mask output of Dropout is not supported".into());
            }
            Op::Identity
        }
        "BatchNormalization" => {
            if a.int("training_mode", 0) != 0 {
                return Err("training_mode 1 is not supported (inference only)".into());
            }
            if node.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err("the running statistics outputs are not supported".into());
            }
            Op::BatchNormalization {
                epsilon: a.float("epsilon", 1e-5),
            }
        }
        "LayerNormalization" => {
            if node.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err("the Mean and InvStdDev outputs are not supported".into());
            }
            Op::LayerNormalization {
                axis: a.int("axis", -1),
                epsilon: a.float("epsilon", 1e-5),
            }
        }
        "InstanceNormalization" => Op::InstanceNormalization {
            epsilon: a.float("epsilon", 1e-5),
        },
        "MaxPool" => {
            if node.output.get(1).is_some_and(|m| !m.is_empty()) {
                return Err("the Indices output of MaxPool is not supported".into());
            }
            Op::MaxPool(pool(&a, true)?)
        }
        "AveragePool" => Op::AveragePool(pool(&a, false)?),
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "GlobalMaxPool" => Op::GlobalMaxPool,
        "Flatten" => Op::Flatten {
            axis: a.int("axis", 1),
        },
        "Reshape" => Op::Reshape {
            allowzero: a.int("allowzero", 0) != 0,
        },
        "Transpose" => Op::Transpose {
            perm: a
                .ints("perm")
                .map(|p| usizes(Some(p), "perm"))
                .transpose()?,
        },
        "Concat" => Op::Concat {
            axis: a.int("axis", 0),
        },
        "Split" => Op::Split {
            axis: a.int("axis", 0),
            split: a.ints("split"),
        },
        "Slice" => {
            if a.has("starts") {
                return Err("Slice with attributes (opset < 10) is not supported".into());
            }
            Op::Slice
        }
        "Gather" => Op::Gather {
            axis: a.int("axis", 0),
        },
        "Squeeze" => Op::Squeeze {
            axes: a.ints("axes"),
        },
        "Unsqueeze" => Op::Unsqueeze {
            axes: a.ints("axes"),
        },
        "Expand" => Op::Expand,
        "Pad" => {
            match a.string("mode").as_deref() {
                None | Some("constant") => {}
                Some(m) => return Err(format!("mode {m:?} is not supported (constant is)")),
            }
            Op::Pad {
                pads: a.ints("pads"),
                value: a.float("value", 0.0),
            }
        }
        "Shape" => Op::Shape {
            start: a.int("start", 0),
            end: a.has("end").then(|| a.int("end", 0)),
        },
        "ConstantOfShape" => Op::ConstantOfShape {
            value: match a.tensor("value") {
                None => 0.0,
                Some(t) => {
                    let (v, _) = decode(t).map_err(|e| e.to_string())?;
                    v.iter().next().copied().unwrap_or(0.0)
                }
            },
        },
        "Range" => Op::Range,
        "Cast" => {
            let to = a.int("to", 0) as i32;
            Op::Cast {
                to: dtype_of(to)
                    .ok_or_else(|| format!("cast to {} is not supported", type_name(to)))?,
            }
        }
        "ReduceSum" => Op::ReduceSum(reduce(&a)),
        "ReduceMean" => Op::ReduceMean(reduce(&a)),
        "ReduceMax" => Op::ReduceMax(reduce(&a)),
        "Equal" => Op::Equal,
        "Greater" => Op::Greater,
        "Less" => Op::Less,
        "Where" => Op::Where,
        other => return Err(format!("operation {other} is not supported")),
    })
}

/// The element type of a translated node's outputs, from its inputs' types.
pub(crate) fn output_dtype(op: &Op, input_dtype: impl Fn(usize) -> Option<DType>) -> DType {
    match op {
        Op::Shape { .. } => DType::Int,
        Op::Equal | Op::Greater | Op::Less | Op::Not | Op::And | Op::Or | Op::Xor => DType::Bool,
        Op::Cast { to } => *to,
        Op::Where => input_dtype(1).unwrap_or(DType::Float),
        Op::ConstantOfShape { .. } => DType::Float,
        _ => input_dtype(0).unwrap_or(DType::Float),
    }
}

/// The value of a `Constant` node, from whichever attribute holds it.
pub(crate) fn constant_value(node: &NodeProto) -> Result<(ndarray::ArrayD<f64>, DType), Refusal> {
    let a = Attrs(&node.attribute);
    if let Some(t) = a.tensor("value") {
        return decode(t).map_err(|e| e.to_string());
    }
    if let Some(v) = a.opt_float("value_float") {
        return Ok((ndarray::arr0(v).into_dyn(), DType::Float));
    }
    if let Some(v) = a.floats("value_floats") {
        let v: Vec<f64> = v.into_iter().map(f64::from).collect();
        return Ok((ndarray::Array1::from(v).into_dyn(), DType::Float));
    }
    if a.has("value_int") {
        return Ok((
            ndarray::arr0(a.int("value_int", 0) as f64).into_dyn(),
            DType::Int,
        ));
    }
    if let Some(v) = a.ints("value_ints") {
        let v: Vec<f64> = v.into_iter().map(|x| x as f64).collect();
        return Ok((ndarray::Array1::from(v).into_dyn(), DType::Int));
    }
    let names: Vec<&str> = a.names().collect();
    Err(format!(
        "a Constant with {names:?} is not supported (strings, sparse tensors)"
    ))
}
