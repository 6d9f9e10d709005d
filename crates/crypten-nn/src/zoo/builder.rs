//! Building a `Graph` by hand: inputs, weights drawn from a seed, constants and nodes.

use crate::graph::op::{AutoPad, Conv, Gemm, Pool};
use crate::graph::{
    Constant, Encoding, Graph, GraphSpec, Input, Node, Op, WeightSpec, fold_channel_affine,
};
use crate::{Result, init};
use crypten_core::Prg;
use ndarray::{ArrayD, IxDyn};

/// How a weight is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Init {
    /// Uniform in `[-b, b)`.
    Uniform(f64),
    /// All `v`.
    Fill(f64),
}

/// A graph under construction: the spec, and how each weight will be drawn.
pub(crate) struct Builder {
    spec: GraphSpec,
    inits: Vec<Init>,
    count: usize,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Self {
            spec: GraphSpec {
                inputs: Vec::new(),
                outputs: Vec::new(),
                nodes: Vec::new(),
                constants: Vec::new(),
                weights: Vec::new(),
            },
            inits: Vec::new(),
            count: 0,
        }
    }

    fn fresh(&mut self, base: &str) -> String {
        self.count += 1;
        format!("{base}_{}", self.count)
    }

    pub(crate) fn input(&mut self, name: &str, shape: &[Option<usize>]) -> String {
        self.spec.inputs.push(Input {
            name: name.into(),
            shape: shape.to_vec(),
            encoding: Encoding::Values,
        });
        name.into()
    }

    pub(crate) fn weight(&mut self, name: &str, shape: &[usize], init: Init) -> String {
        self.spec.weights.push(WeightSpec {
            name: name.into(),
            shape: shape.to_vec(),
        });
        self.inits.push(init);
        name.into()
    }

    pub(crate) fn constant(&mut self, base: &str, values: &[f64]) -> String {
        let name = self.fresh(base);
        let array = ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec())
            .unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0])));
        self.spec
            .constants
            .push(Constant::new(name.clone(), &array));
        name
    }

    /// A 0-d public constant (a scalar index or factor).
    pub(crate) fn scalar(&mut self, base: &str, value: f64) -> String {
        let name = self.fresh(base);
        self.spec.constants.push(Constant::new(
            name.clone(),
            &ndarray::arr0(value).into_dyn(),
        ));
        name
    }

    pub(crate) fn shape(&mut self, dims: &[i64]) -> String {
        let values: Vec<f64> = dims.iter().map(|&d| d as f64).collect();
        self.constant("shape", &values)
    }

    pub(crate) fn node(&mut self, name: &str, op: Op, inputs: &[&str]) -> String {
        let out = format!("{name}.out");
        self.spec.nodes.push(Node {
            name: name.into(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![out.clone()],
        });
        out
    }

    /// A convolution (1-d or 2-d by the kernel's length) with He-uniform weights and a bias.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn conv(
        &mut self,
        name: &str,
        x: &str,
        cin: usize,
        cout: usize,
        kernel: &[usize],
        stride: usize,
        pad: usize,
        bias: bool,
    ) -> String {
        let fan_in = cin * kernel.iter().product::<usize>();
        let mut shape = vec![cout, cin];
        shape.extend_from_slice(kernel);
        let w = self.weight(
            &format!("{name}.weight"),
            &shape,
            Init::Uniform((6.0 / fan_in as f64).sqrt()),
        );
        let mut inputs = vec![x.to_string(), w];
        if bias {
            inputs.push(self.weight(&format!("{name}.bias"), &[cout], Init::Uniform(0.1)));
        }
        let n = kernel.len();
        let op = Op::Conv(Conv {
            auto_pad: AutoPad::NotSet,
            dilations: vec![1; n],
            group: 1,
            pads: vec![pad; 2 * n],
            strides: vec![stride; n],
        });
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node(name, op, &refs)
    }

    /// `x @ W + b` for `x` of any rank (weights stored `[in, out]`).
    pub(crate) fn linear(&mut self, name: &str, x: &str, fin: usize, fout: usize) -> String {
        let w = self.weight(
            &format!("{name}.weight"),
            &[fin, fout],
            Init::Uniform(1.0 / (fin as f64).sqrt()),
        );
        let b = self.weight(&format!("{name}.bias"), &[fout], Init::Uniform(0.1));
        let y = self.node(&format!("{name}.matmul"), Op::MatMul, &[x, &w]);
        self.node(&format!("{name}.add"), Op::Add, &[&y, &b])
    }

    /// `x @ W^T + b` for 2-d `x` (Gemm, PyTorch's layout).
    pub(crate) fn gemm(&mut self, name: &str, x: &str, fin: usize, fout: usize) -> String {
        let w = self.weight(
            &format!("{name}.weight"),
            &[fout, fin],
            Init::Uniform(1.0 / (fin as f64).sqrt()),
        );
        let b = self.weight(&format!("{name}.bias"), &[fout], Init::Uniform(0.1));
        let op = Op::Gemm(Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: true,
        });
        self.node(name, op, &[x, &w, &b])
    }

    /// Inference batch normalization with identity statistics and a learned scale and shift.
    pub(crate) fn batch_norm(&mut self, name: &str, x: &str, channels: usize) -> String {
        let scale = self.weight(&format!("{name}.weight"), &[channels], Init::Fill(1.0));
        let shift = self.weight(&format!("{name}.bias"), &[channels], Init::Fill(0.0));
        self.node(name, Op::ChannelAffine, &[x, &scale, &shift])
    }

    pub(crate) fn layer_norm(&mut self, name: &str, x: &str, features: usize) -> String {
        let scale = self.weight(&format!("{name}.weight"), &[features], Init::Fill(1.0));
        let bias = self.weight(&format!("{name}.bias"), &[features], Init::Fill(0.0));
        let op = Op::LayerNormalization {
            axis: -1,
            epsilon: 1e-6,
        };
        self.node(name, op, &[x, &scale, &bias])
    }

    pub(crate) fn relu(&mut self, name: &str, x: &str) -> String {
        self.node(name, Op::Relu, &[x])
    }

    pub(crate) fn max_pool(&mut self, name: &str, x: &str, k: usize, s: usize, p: usize) -> String {
        let op = Op::MaxPool(Pool {
            kernel_shape: vec![k, k],
            strides: vec![s, s],
            pads: vec![p; 4],
            ..Pool::default()
        });
        self.node(name, op, &[x])
    }

    /// The spec alone (weights named and shaped, not drawn).
    pub(crate) fn spec(mut self, outputs: &[&str]) -> GraphSpec {
        self.spec.outputs = outputs.iter().map(|s| s.to_string()).collect();
        self.spec
    }

    /// The spec and its weights drawn from `seed`.
    fn draw(self, outputs: &[&str], seed: u64) -> (GraphSpec, Vec<ArrayD<f64>>) {
        let inits = self.inits.clone();
        let spec = self.spec(outputs);
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let mut prg = Prg::from_seed(key);
        let weights = spec
            .weights
            .iter()
            .zip(inits)
            .map(|(w, init)| match init {
                Init::Uniform(b) => init::uniform(&w.shape, b, &mut prg),
                Init::Fill(v) => ArrayD::from_elem(IxDyn(&w.shape), v),
            })
            .collect();
        (spec, weights)
    }

    /// The graph with its weights drawn from `seed`.
    pub(crate) fn finish(self, outputs: &[&str], seed: u64) -> Result<Graph> {
        let (spec, weights) = self.draw(outputs, seed);
        Graph::new(spec, weights)
    }

    /// The graph for inference, as an export in evaluation mode gives it: each batch
    /// normalization after a convolution folded into the convolution's weights by the model
    /// owner (one private product fewer per convolution).
    pub(crate) fn finish_for_inference(self, outputs: &[&str], seed: u64) -> Result<Graph> {
        let (mut spec, mut weights) = self.draw(outputs, seed);
        fold_channel_affine(&mut spec, &mut weights);
        Graph::new(spec, weights)
    }
}
