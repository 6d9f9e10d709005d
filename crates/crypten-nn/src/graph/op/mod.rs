//! The allow-listed operations of a graph, by family, with ONNX's names and semantics.
//!
//! Every operation takes its inputs as [`Variable`]s, plaintext or encrypted, and returns its
//! outputs; inputs that must be public (shapes, axes, indices, pads) are plaintext values, and
//! an operation whose inputs are all plaintext runs locally in plaintext.

mod activation;
mod compare;
mod elementwise;
mod linear;
mod norm;
mod pool;
mod reduce;
mod resize;
mod shape;

pub use linear::{AutoPad, Conv, ConvTranspose, Gemm};
pub use pool::Pool;
pub use reduce::Reduce;
pub use resize::{CoordinateMode, NearestMode, Resize};
pub use shape::DType;

use crate::{Error, Result};
use crypten_autograd::{Tensor, Variable};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

/// An operation and its attributes. Inputs read from values (ONNX's inputs) are not here:
/// they are the node's inputs, in ONNX's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    // Linear maps (linear.rs).
    /// 1-d or 2-d convolution: `x, w [, bias]`.
    Conv(Conv),
    /// 1-d or 2-d transposed convolution: `x, w [, bias]`.
    ConvTranspose(ConvTranspose),
    /// `alpha A' B' + beta C`: `a, b [, c]`.
    Gemm(Gemm),
    /// Matrix product with numpy semantics (batched, broadcast, 1-d operands).
    MatMul,
    /// An embedding lookup as a product: `one_hot_ids, table` (the ids one-hot encoded by
    /// their owner, see [`super::Encoding::OneHot`]).
    Embedding,
    // Elementwise arithmetic (elementwise.rs).
    /// `a + b`, broadcast.
    Add,
    /// `a - b`, broadcast.
    Sub,
    /// `a * b`, broadcast.
    Mul,
    /// `a / b`, broadcast; by a private `b` through its reciprocal. `integer` truncates
    /// (ONNX's division of integer tensors, public only).
    Div {
        /// Integer division.
        integer: bool,
    },
    /// Remainder of public values: the sign of the divisor (`fmod` false, integers) or of
    /// the dividend (`fmod` true, C's fmod).
    Mod {
        /// C's fmod.
        fmod: bool,
    },
    /// `-x`.
    Neg,
    /// Elementwise maximum of the inputs, broadcast.
    Max,
    /// Elementwise minimum of the inputs, broadcast.
    Min,
    /// Sum of the inputs, broadcast.
    Sum,
    /// Mean of the inputs, broadcast.
    Mean,
    /// -1, 0 or 1.
    Sign,
    /// Rounding of public values.
    Floor,
    /// Rounding of public values.
    Ceil,
    /// Rounding of public values (half to even).
    Round,
    /// `|x|`.
    Abs,
    /// `x ^ y` for a public exponent: integers, 0.5 and -0.5.
    Pow,
    /// Square root.
    Sqrt,
    /// Exponential.
    Exp,
    /// Natural logarithm.
    Log,
    /// `1 / x`.
    Reciprocal,
    /// `min(max(x, lo), hi)`: bounds as inputs 1 and 2, or as these attributes.
    Clip {
        /// Lower bound attribute.
        min: Option<f64>,
        /// Upper bound attribute.
        max: Option<f64>,
    },
    // Activations (activation.rs).
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x >= 0`, `alpha x` below.
    LeakyRelu {
        /// Slope below zero.
        alpha: f64,
    },
    /// `x` for `x >= 0`, `slope x` below: `x, slope`.
    PRelu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `clip(alpha x + beta, 0, 1)`.
    HardSigmoid {
        /// Slope.
        alpha: f64,
        /// Offset.
        beta: f64,
    },
    /// Softmax along one axis.
    Softmax {
        /// The axis (negative counts from the end).
        axis: i64,
    },
    /// Log-softmax along one axis.
    LogSoftmax {
        /// The axis (negative counts from the end).
        axis: i64,
    },
    /// Error function.
    Erf,
    /// GELU, exact (erf) or with the tanh approximation.
    Gelu {
        /// The tanh approximation.
        tanh: bool,
    },
    /// The input unchanged (also inference-mode Dropout).
    Identity,
    /// `x relu6(x + 3) / 6`.
    HardSwish,
    /// `log(1 + exp(x))`.
    Softplus,
    /// `x` above zero, `alpha (exp(x) - 1)` below.
    Elu {
        /// Scale below zero.
        alpha: f64,
    },
    /// `gamma elu(x, alpha)`.
    Selu {
        /// Scale below zero.
        alpha: f64,
        /// Overall scale.
        gamma: f64,
    },
    /// `x / (1 + |x|)`.
    Softsign,
    // Normalization (norm.rs).
    /// Inference batch normalization: `x, scale, bias, mean, var`.
    BatchNormalization {
        /// Added to the variance.
        epsilon: f64,
    },
    /// Batch normalization folded by the model owner into `x * scale + shift` per channel
    /// (axis 1): `x, scale, shift`.
    ChannelAffine,
    /// Normalization over the axes from `axis` on: `x, scale [, bias]`.
    LayerNormalization {
        /// First normalized axis (negative counts from the end).
        axis: i64,
        /// Added to the variance.
        epsilon: f64,
    },
    /// Normalization over the spatial axes of each sample and channel: `x, scale, bias`.
    InstanceNormalization {
        /// Added to the variance.
        epsilon: f64,
    },
    // Pooling (pool.rs).
    /// Max pooling, 1-d or 2-d.
    MaxPool(Pool),
    /// Average pooling, 1-d or 2-d.
    AveragePool(Pool),
    /// Mean over the spatial axes.
    GlobalAveragePool,
    /// Maximum over the spatial axes.
    GlobalMaxPool,
    // Shapes and indexing (shape.rs).
    /// Flatten to 2-d at `axis`.
    Flatten {
        /// Split point (negative counts from the end).
        axis: i64,
    },
    /// Reshape to the shape in input 1 (0 copies a dimension unless `allowzero`, -1 infers).
    Reshape {
        /// A 0 means a dimension of size 0.
        allowzero: bool,
    },
    /// Permute axes (reversed without `perm`).
    Transpose {
        /// The permutation.
        perm: Option<Vec<usize>>,
    },
    /// Concatenate along `axis`.
    Concat {
        /// The axis (negative counts from the end).
        axis: i64,
    },
    /// Split along `axis` into the node's outputs: sizes from input 1, from `split`, or equal.
    Split {
        /// The axis (negative counts from the end).
        axis: i64,
        /// Sizes (older opsets' attribute).
        split: Option<Vec<i64>>,
    },
    /// Slice: `x, starts, ends [, axes [, steps]]`.
    Slice,
    /// Select public indices (input 1) along `axis`.
    Gather {
        /// The axis (negative counts from the end).
        axis: i64,
    },
    /// Remove axes of size 1 (input 1 or attribute; all of them when absent).
    Squeeze {
        /// Axes attribute (older opsets).
        axes: Option<Vec<i64>>,
    },
    /// Insert axes of size 1 (input 1 or attribute).
    Unsqueeze {
        /// Axes attribute (older opsets).
        axes: Option<Vec<i64>>,
    },
    /// Broadcast to the shape in input 1 (bidirectionally, as ONNX's Expand).
    Expand,
    /// Constant padding: `x, pads [, value [, axes]]`, or the attributes.
    Pad {
        /// Pads attribute (older opsets): all begins, then all ends.
        pads: Option<Vec<i64>>,
        /// Padding value attribute.
        value: f64,
    },
    /// The input's shape as a public 1-d tensor, dims `start..end`.
    Shape {
        /// First dim.
        start: i64,
        /// One past the last dim.
        end: Option<i64>,
    },
    /// A public tensor of the shape in input 0, filled with `value`.
    ConstantOfShape {
        /// The fill value.
        value: f64,
    },
    /// `start, limit, delta` to a public 1-d range.
    Range,
    /// Conversion of a public value's type; a private value may only be cast to a float.
    Cast {
        /// The target type.
        to: DType,
    },
    // Reductions (reduce.rs).
    /// Sum over axes.
    ReduceSum(Reduce),
    /// Mean over axes.
    ReduceMean(Reduce),
    /// Maximum over axes.
    ReduceMax(Reduce),
    /// Minimum over axes.
    ReduceMin(Reduce),
    /// Sum of squares over axes.
    ReduceSumSquare(Reduce),
    /// Square root of the sum of squares over axes.
    ReduceL2(Reduce),
    /// Sum of absolute values over axes.
    ReduceL1(Reduce),
    // Comparisons and selection (compare.rs).
    /// `a == b` as 0/1.
    Equal,
    /// `a > b` as 0/1.
    Greater,
    /// `a < b` as 0/1.
    Less,
    /// `cond ? a : b`.
    Where,
    /// `1 - x` on 0/1 values.
    Not,
    /// `x y` on 0/1 values.
    And,
    /// `x + y - x y` on 0/1 values.
    Or,
    /// `x + y - 2 x y` on 0/1 values.
    Xor,
    /// Repeat along each axis (public repeats in input 1).
    Tile,
    /// Nearest or linear resampling (see [`Resize`]).
    Resize(Resize),
}

impl Op {
    /// The operation's ONNX name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Conv(_) => "Conv",
            Self::ConvTranspose(_) => "ConvTranspose",
            Self::Gemm(_) => "Gemm",
            Self::MatMul => "MatMul",
            Self::Embedding => "Gather",
            Self::Add => "Add",
            Self::Sub => "Sub",
            Self::Mul => "Mul",
            Self::Div { .. } => "Div",
            Self::Mod { .. } => "Mod",
            Self::Neg => "Neg",
            Self::Abs => "Abs",
            Self::Pow => "Pow",
            Self::Sqrt => "Sqrt",
            Self::Exp => "Exp",
            Self::Log => "Log",
            Self::Reciprocal => "Reciprocal",
            Self::Clip { .. } => "Clip",
            Self::Relu => "Relu",
            Self::LeakyRelu { .. } => "LeakyRelu",
            Self::PRelu => "PRelu",
            Self::Sigmoid => "Sigmoid",
            Self::Tanh => "Tanh",
            Self::HardSigmoid { .. } => "HardSigmoid",
            Self::Softmax { .. } => "Softmax",
            Self::LogSoftmax { .. } => "LogSoftmax",
            Self::Erf => "Erf",
            Self::Gelu { .. } => "Gelu",
            Self::Identity => "Identity",
            Self::HardSwish => "HardSwish",
            Self::Softplus => "Softplus",
            Self::Elu { .. } => "Elu",
            Self::Selu { .. } => "Selu",
            Self::Softsign => "Softsign",
            Self::Max => "Max",
            Self::Min => "Min",
            Self::Sum => "Sum",
            Self::Mean => "Mean",
            Self::Sign => "Sign",
            Self::Floor => "Floor",
            Self::Ceil => "Ceil",
            Self::Round => "Round",
            Self::Not => "Not",
            Self::And => "And",
            Self::Or => "Or",
            Self::Xor => "Xor",
            Self::Tile => "Tile",
            Self::Resize(_) => "Resize",
            Self::ReduceMin(_) => "ReduceMin",
            Self::ReduceSumSquare(_) => "ReduceSumSquare",
            Self::ReduceL2(_) => "ReduceL2",
            Self::ReduceL1(_) => "ReduceL1",
            Self::BatchNormalization { .. } | Self::ChannelAffine => "BatchNormalization",
            Self::LayerNormalization { .. } => "LayerNormalization",
            Self::InstanceNormalization { .. } => "InstanceNormalization",
            Self::MaxPool(_) => "MaxPool",
            Self::AveragePool(_) => "AveragePool",
            Self::GlobalAveragePool => "GlobalAveragePool",
            Self::GlobalMaxPool => "GlobalMaxPool",
            Self::Flatten { .. } => "Flatten",
            Self::Reshape { .. } => "Reshape",
            Self::Transpose { .. } => "Transpose",
            Self::Concat { .. } => "Concat",
            Self::Split { .. } => "Split",
            Self::Slice => "Slice",
            Self::Gather { .. } => "Gather",
            Self::Squeeze { .. } => "Squeeze",
            Self::Unsqueeze { .. } => "Unsqueeze",
            Self::Expand => "Expand",
            Self::Pad { .. } => "Pad",
            Self::Shape { .. } => "Shape",
            Self::ConstantOfShape { .. } => "ConstantOfShape",
            Self::Range => "Range",
            Self::Cast { .. } => "Cast",
            Self::ReduceSum(_) => "ReduceSum",
            Self::ReduceMean(_) => "ReduceMean",
            Self::ReduceMax(_) => "ReduceMax",
            Self::Equal => "Equal",
            Self::Greater => "Greater",
            Self::Less => "Less",
            Self::Where => "Where",
        }
    }

    /// Applies the operation to `inputs` (`None` for an absent optional input), producing
    /// `outputs` values (the number of outputs only matters to Split).
    ///
    /// # Errors
    /// Missing or private inputs that must be public, shapes, attribute values; protocol
    /// failures.
    pub fn eval(&self, inputs: &[Option<Variable>], outputs: usize) -> Result<Vec<Variable>> {
        let a = Args(inputs);
        let one = |v: Variable| Ok(vec![v]);
        match self {
            Self::Conv(c) => one(c.eval(&a)?),
            Self::ConvTranspose(c) => one(c.eval(&a)?),
            Self::Gemm(g) => one(g.eval(&a)?),
            Self::MatMul => one(linear::matmul(a.get(0)?, a.get(1)?)?),
            Self::Embedding => one(linear::embedding(a.get(0)?, a.get(1)?)?),
            // A residual connection or a bias: no settling round (see `add_bias`).
            Self::Add => one(a.get(0)?.add_bias(a.get(1)?)?),
            Self::Sub => one(a.get(0)?.sub(a.get(1)?)?),
            Self::Mul => one(a.get(0)?.mul(a.get(1)?)?),
            Self::Div { integer } => one(elementwise::div(a.get(0)?, a.get(1)?, *integer)?),
            Self::Mod { fmod } => one(elementwise::modulo(a.get(0)?, a.get(1)?, *fmod)?),
            Self::Neg => one(a.get(0)?.neg()),
            Self::Abs => one(a.get(0)?.abs()?),
            Self::Pow => one(elementwise::pow(a.get(0)?, &a)?),
            Self::Sqrt => one(elementwise::unary(a.get(0)?, Variable::sqrt)?),
            Self::Exp => one(elementwise::unary(a.get(0)?, Variable::exp)?),
            Self::Log => one(elementwise::unary(a.get(0)?, Variable::log)?),
            Self::Reciprocal => one(elementwise::unary(a.get(0)?, Variable::reciprocal)?),
            Self::Clip { min, max } => one(elementwise::clip(&a, *min, *max)?),
            Self::Relu => one(a.get(0)?.relu()?),
            Self::LeakyRelu { alpha } => one(activation::leaky_relu(a.get(0)?, *alpha)?),
            Self::PRelu => one(activation::prelu(a.get(0)?, a.get(1)?)?),
            Self::Sigmoid => one(a.get(0)?.sigmoid()?),
            Self::Tanh => one(a.get(0)?.tanh()?),
            Self::HardSigmoid { alpha, beta } => {
                one(activation::hard_sigmoid(a.get(0)?, *alpha, *beta)?)
            }
            Self::Softmax { axis } => {
                let x = a.get(0)?;
                one(x.softmax(axis_of(*axis, x.shape().len())?)?)
            }
            Self::LogSoftmax { axis } => {
                let x = a.get(0)?;
                one(x.log_softmax(axis_of(*axis, x.shape().len())?)?)
            }
            Self::Erf => one(a.get(0)?.erf()?),
            Self::Gelu { tanh } => one(activation::gelu(a.get(0)?, *tanh)?),
            Self::Identity => one(a.get(0)?.clone()),
            Self::HardSwish => one(activation::hard_swish(a.get(0)?)?),
            Self::Softplus => one(activation::softplus(a.get(0)?)?),
            Self::Elu { alpha } => one(activation::elu(a.get(0)?, *alpha)?),
            Self::Selu { alpha, gamma } => {
                one(activation::elu(a.get(0)?, *alpha)?.mul_scalar(*gamma)?)
            }
            Self::Softsign => {
                let x = a.get(0)?;
                one(x.mul(&x.abs()?.add_scalar(1.0)?.reciprocal()?)?)
            }
            Self::Max => one(elementwise::extremum(inputs, true)?),
            Self::Min => one(elementwise::extremum(inputs, false)?),
            Self::Sum => one(elementwise::sum(inputs)?),
            Self::Mean => {
                let n = inputs.iter().flatten().count().max(1);
                one(elementwise::sum(inputs)?.mul_scalar(1.0 / n as f64)?)
            }
            Self::Sign => one(elementwise::sign(a.get(0)?)?),
            Self::Floor => one(elementwise::public_map(a.get(0)?, f64::floor, "Floor")?),
            Self::Ceil => one(elementwise::public_map(a.get(0)?, f64::ceil, "Ceil")?),
            Self::Round => one(elementwise::public_map(
                a.get(0)?,
                f64::round_ties_even,
                "Round",
            )?),
            Self::Not => one(a.get(0)?.neg().add_scalar(1.0)?),
            Self::And => one(a.get(0)?.mul(a.get(1)?)?),
            Self::Or => {
                let (x, y) = (a.get(0)?, a.get(1)?);
                one(x.add(y)?.sub(&x.mul(y)?)?)
            }
            Self::Xor => {
                let (x, y) = (a.get(0)?, a.get(1)?);
                one(x.add(y)?.sub(&x.mul(y)?.mul_scalar(2.0)?)?)
            }
            Self::Tile => one(shape::tile(&a)?),
            Self::Resize(r) => one(r.eval(&a)?),
            Self::ReduceMin(r) => one(r
                .max(&Args(&[Some(a.get(0)?.neg()), a.opt(1).cloned()]))?
                .neg()),
            Self::ReduceSumSquare(r) => {
                one(r.sum(&Args(&[Some(a.get(0)?.square()?), a.opt(1).cloned()]))?)
            }
            Self::ReduceL2(r) => one(r
                .sum(&Args(&[Some(a.get(0)?.square()?), a.opt(1).cloned()]))?
                .sqrt()?),
            Self::ReduceL1(r) => one(r.sum(&Args(&[Some(a.get(0)?.abs()?), a.opt(1).cloned()]))?),
            Self::BatchNormalization { epsilon } => one(norm::batch_norm(&a, *epsilon)?),
            Self::ChannelAffine => one(norm::channel_affine(a.get(0)?, a.get(1)?, a.get(2)?)?),
            Self::LayerNormalization { axis, epsilon } => {
                one(norm::layer_norm(&a, *axis, *epsilon)?)
            }
            Self::InstanceNormalization { epsilon } => one(norm::instance_norm(&a, *epsilon)?),
            Self::MaxPool(p) => one(p.max(a.get(0)?)?),
            Self::AveragePool(p) => one(p.average(a.get(0)?)?),
            Self::GlobalAveragePool => one(pool::global_average(a.get(0)?)?),
            Self::GlobalMaxPool => one(pool::global_max(a.get(0)?)?),
            Self::Flatten { axis } => one(shape::flatten(a.get(0)?, *axis)?),
            Self::Reshape { allowzero } => one(shape::reshape(&a, *allowzero)?),
            Self::Transpose { perm } => one(shape::transpose(a.get(0)?, perm.as_deref())?),
            Self::Concat { axis } => one(shape::concat(inputs, *axis)?),
            Self::Split { axis, split } => shape::split(&a, *axis, split.as_deref(), outputs),
            Self::Slice => one(shape::slice(&a)?),
            Self::Gather { axis } => one(shape::gather(&a, *axis)?),
            Self::Squeeze { axes } => one(shape::squeeze(&a, axes.as_deref())?),
            Self::Unsqueeze { axes } => one(shape::unsqueeze(&a, axes.as_deref())?),
            Self::Expand => one(shape::expand(&a)?),
            Self::Pad { pads, value } => one(shape::pad(&a, pads.as_deref(), *value)?),
            Self::Shape { start, end } => one(shape::shape_of(a.get(0)?, *start, *end)?),
            Self::ConstantOfShape { value } => one(shape::constant_of_shape(&a, *value)?),
            Self::Range => one(shape::range(&a)?),
            Self::Cast { to } => one(shape::cast(a.get(0)?, *to)?),
            Self::ReduceSum(r) => one(r.sum(&a)?),
            Self::ReduceMean(r) => one(r.mean(&a)?),
            Self::ReduceMax(r) => one(r.max(&a)?),
            Self::Equal => one(compare::compare(a.get(0)?, a.get(1)?, compare::Cmp::Eq)?),
            Self::Greater => one(compare::compare(a.get(0)?, a.get(1)?, compare::Cmp::Gt)?),
            Self::Less => one(compare::compare(a.get(0)?, a.get(1)?, compare::Cmp::Lt)?),
            Self::Where => one(compare::select(a.get(0)?, a.get(1)?, a.get(2)?)?),
        }
    }
}

/// A node's inputs, with accessors that say what is wrong.
pub(crate) struct Args<'a>(&'a [Option<Variable>]);

impl Args<'_> {
    /// A required input.
    pub(crate) fn get(&self, i: usize) -> Result<&Variable> {
        self.opt(i)
            .ok_or_else(|| invalid(format!("input {i} is required")))
    }

    /// An optional input.
    pub(crate) fn opt(&self, i: usize) -> Option<&Variable> {
        self.0.get(i).and_then(Option::as_ref)
    }

    /// An optional input that must be public.
    pub(crate) fn public(&self, i: usize) -> Result<Option<&ArrayD<f64>>> {
        match self.opt(i).map(Variable::value) {
            None => Ok(None),
            Some(Tensor::Plain(a)) => Ok(Some(a)),
            Some(Tensor::Encrypted(_)) => Err(invalid(format!(
                "input {i} must be public (a shape, axes, indices or a bound), not private"
            ))),
        }
    }

    /// An optional public input of integers, flattened.
    pub(crate) fn ints(&self, i: usize) -> Result<Option<Vec<i64>>> {
        self.public(i)?.map(to_ints).transpose()
    }

    /// An optional public scalar (a one-element tensor).
    pub(crate) fn scalar(&self, i: usize) -> Result<Option<f64>> {
        match self.public(i)? {
            None => Ok(None),
            Some(a) if a.len() == 1 => Ok(a.iter().next().copied()),
            Some(a) => Err(invalid(format!(
                "input {i} must be a single value, got shape {:?}",
                a.shape()
            ))),
        }
    }
}

/// The values of a public integer tensor.
pub(crate) fn to_ints(a: &ArrayD<f64>) -> Result<Vec<i64>> {
    a.iter()
        .map(|&v| {
            // Saturating: ONNX writes "to the end" as the largest int64.
            if v.fract() == 0.0 {
                Ok(v as i64)
            } else {
                Err(invalid(format!("expected integers, got {v}")))
            }
        })
        .collect()
}

/// An axis in `0..rank` from ONNX's possibly negative one.
pub(crate) fn axis_of(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(invalid(format!("axis {axis} out of range for rank {rank}")))
    }
}

/// A public constant variable.
pub(crate) fn constant(a: ArrayD<f64>) -> Variable {
    Variable::constant(Tensor::Plain(a))
}

/// An operation's invalid input or attribute.
pub(crate) fn invalid(reason: String) -> Error {
    Error::Graph(reason)
}
