//! The graph on its own: a hand-built spec run in plaintext and encrypted, its bytes, folding
//! and the errors of malformed specs. The operations' semantics are tested against
//! onnxruntime through the ONNX importer's fixtures.
#![allow(clippy::unwrap_used)]

use super::op::{Gemm, Reduce};
use super::*;
use crypten_mpc::ProviderKind;
use crypten_mpc::simulator::run;
use ndarray::arr2;

fn node(name: &str, op: Op, inputs: &[&str], outputs: &[&str]) -> Node {
    Node {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
    }
}

/// `softmax(relu(x @ w^T + b) reshaped by a folded shape chain)`.
fn spec() -> GraphSpec {
    GraphSpec {
        inputs: vec![Input {
            name: "x".into(),
            shape: vec![None, Some(3)],
            encoding: Encoding::Values,
        }],
        outputs: vec!["y".into()],
        nodes: vec![
            node(
                "fc",
                Op::Gemm(Gemm {
                    alpha: 1.0,
                    beta: 1.0,
                    trans_a: false,
                    trans_b: true,
                }),
                &["x", "w", "b"],
                &["h"],
            ),
            node("act", Op::Relu, &["h"], &["r"]),
            // A public chain: [2] * 1 -> folded at build time.
            node("twice", Op::Mul, &["two", "one"], &["dims"]),
            node(
                "shape",
                Op::Shape {
                    start: 0,
                    end: None,
                },
                &["r"],
                &["s"],
            ),
            node("re", Op::Reshape { allowzero: false }, &["r", "s"], &["r2"]),
            node(
                "sum",
                Op::ReduceSum(Reduce {
                    axes: None,
                    keepdims: true,
                    noop_with_empty_axes: true,
                }),
                &["r2", "dims"],
                &["unused"],
            ),
            node("soft", Op::Softmax { axis: -1 }, &["r2"], &["y"]),
        ],
        constants: vec![
            Constant::new("two", &ndarray::arr1(&[1.0]).into_dyn()),
            Constant::new("one", &ndarray::arr1(&[1.0]).into_dyn()),
        ],
        weights: vec![
            WeightSpec {
                name: "w".into(),
                shape: vec![4, 3],
            },
            WeightSpec {
                name: "b".into(),
                shape: vec![4],
            },
        ],
    }
}

fn weights() -> Vec<ArrayD<f64>> {
    vec![
        arr2(&[
            [0.5, -1.0, 0.25],
            [1.0, 0.5, -0.5],
            [-0.25, 0.75, 1.0],
            [0.1, 0.2, 0.3],
        ])
        .into_dyn(),
        ndarray::arr1(&[0.1, -0.2, 0.3, 0.0]).into_dyn(),
    ]
}

fn expected(x: &ArrayD<f64>) -> ArrayD<f64> {
    let w = &weights()[0];
    let b = &weights()[1];
    let mut out = ArrayD::zeros(IxDyn(&[x.shape()[0], 4]));
    for i in 0..x.shape()[0] {
        let h: Vec<f64> = (0..4)
            .map(|j| {
                let dot: f64 = (0..3).map(|k| x[[i, k]] * w[[j, k]]).sum();
                (dot + b[[j]]).max(0.0)
            })
            .collect();
        let m = h.iter().copied().fold(f64::MIN, f64::max);
        let z: f64 = h.iter().map(|v| (v - m).exp()).sum();
        for j in 0..4 {
            out[[i, j]] = (h[j] - m).exp() / z;
        }
    }
    out
}

fn input() -> ArrayD<f64> {
    arr2(&[[1.0, 2.0, -1.0], [0.5, -0.5, 2.0]]).into_dyn()
}

#[test]
fn runs_in_plaintext_and_folds_public_chains() {
    let mut spec = spec();
    assert_eq!(
        spec.fold_constants().unwrap(),
        1,
        "only the Mul is constant"
    );
    assert!(spec.constants.iter().any(|c| c.name == "dims"));
    assert!(!spec.constants.iter().any(|c| c.name == "two"));
    let graph = Graph::new(spec, weights()).unwrap();
    let y = graph
        .forward(&Variable::constant(Tensor::Plain(input())))
        .unwrap();
    let err = (y.value().to_plain().unwrap() - expected(&input()))
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-12, "plaintext graph off by {err}");
}

#[test]
fn runs_encrypted_with_weights_from_their_owner() {
    for parties in [2, 3] {
        let results = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            // Only the owner (rank 0) knows the weights; the others build from the spec.
            let bytes = spec().to_bytes().unwrap();
            let spec = GraphSpec::from_bytes(&bytes).unwrap();
            let graph = if sess.rank() == 0 {
                Graph::new(spec, weights())
            } else {
                Graph::from_spec(spec)
            }
            .unwrap();
            graph.encrypt(&sess, 0).unwrap();
            let x = crypten_mpc::CrypTensor::from_array(&sess, &input(), parties - 1)?;
            let (y, costs) = graph
                .forward_profiled(&[Variable::constant(Tensor::Encrypted(x))], &sess)
                .unwrap();
            assert_eq!(costs.len(), graph.spec().nodes.len());
            y[0].value().to_plain()
        })
        .unwrap();
        let err = (&results[0] - &expected(&input()))
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-2, "{parties} parties: off by {err}");
    }
}

#[test]
fn rejects_malformed_specs_and_inputs() {
    let mut bad = spec();
    bad.nodes[1].inputs[0] = "nowhere".into();
    assert!(matches!(bad.validate(), Err(Error::Graph(m)) if m.contains("nowhere")));
    let mut twice = spec();
    twice.nodes[1].outputs[0] = "h".into();
    assert!(twice.validate().is_err());
    assert!(GraphSpec::from_bytes(&[1, 2, 3]).is_err());
    let bytes = spec().to_bytes().unwrap();
    assert!(GraphSpec::from_bytes(&bytes[..bytes.len() / 2]).is_err());
    assert!(Graph::new(spec(), vec![]).is_err());
    let graph = Graph::new(spec(), weights()).unwrap();
    let wrong = Variable::constant(Tensor::Plain(ArrayD::zeros(IxDyn(&[2, 4]))));
    let e = graph.forward(&wrong).err().unwrap().to_string();
    assert!(e.contains("input x must have shape [?, 3]"), "{e}");
}

#[test]
fn gradients_flow_through_the_graph_encrypted_as_in_plaintext() {
    // d/dw of sum(softmax(...) * t): plaintext against two parties.
    let target = arr2(&[[1.0, 0.0, 0.5, 0.0], [0.0, 2.0, 0.0, 1.0]]).into_dyn();
    let grads = |graph: &Graph, x: Variable| {
        let y = graph.forward(&x).unwrap();
        let loss = y
            .mul(&Variable::constant(Tensor::Plain(target.clone())))
            .unwrap()
            .sum_all()
            .unwrap();
        loss.backward().unwrap();
        graph
            .weights()
            .iter()
            .map(|p| p.grad().unwrap().to_plain().unwrap())
            .collect::<Vec<_>>()
    };
    let plain = Graph::new(spec(), weights()).unwrap();
    let want = grads(&plain, Variable::constant(Tensor::Plain(input())));
    let got = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let graph = Graph::new(spec(), weights()).unwrap();
        graph.encrypt(&sess, 0).unwrap();
        let x = crypten_mpc::CrypTensor::from_array(&sess, &input(), 1)?;
        let g = grads(&graph, Variable::constant(Tensor::Encrypted(x)));
        graph.decrypt().unwrap();
        Ok(g)
    })
    .unwrap();
    for (g, w) in got[0].iter().zip(&want) {
        let err = (g - w).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-2, "gradient off by {err}");
        assert!(
            w.iter().any(|v| v.abs() > 1e-3),
            "a zero gradient tests nothing"
        );
    }
}

fn conv() -> Op {
    Op::Conv(op::Conv {
        group: 1,
        ..op::Conv::default()
    })
}

/// `conv(x) -> affine -> relu`, twice: the first convolution has a bias, the second none and
/// its output is also read by an `Add`, so only the first pair may be folded.
fn conv_affine_spec() -> (GraphSpec, Vec<ArrayD<f64>>) {
    let weight = |name: &str, shape: &[usize]| WeightSpec {
        name: name.into(),
        shape: shape.to_vec(),
    };
    let spec = GraphSpec {
        inputs: vec![Input {
            name: "x".into(),
            shape: vec![None, Some(2), Some(5), Some(5)],
            encoding: Encoding::Values,
        }],
        outputs: vec!["y".into()],
        nodes: vec![
            node("c1", conv(), &["x", "w1", "b1"], &["h1"]),
            node("bn1", Op::ChannelAffine, &["h1", "s1", "t1"], &["a1"]),
            node("r1", Op::Relu, &["a1"], &["z1"]),
            node("c2", conv(), &["z1", "w2"], &["h2"]),
            node("bn2", Op::ChannelAffine, &["h2", "s2", "t2"], &["a2"]),
            node("skip", Op::Add, &["a2", "h2"], &["y"]),
        ],
        constants: vec![],
        weights: vec![
            weight("w1", &[3, 2, 3, 3]),
            weight("b1", &[3]),
            weight("s1", &[3]),
            weight("t1", &[3]),
            weight("w2", &[2, 3, 1, 1]),
            weight("s2", &[2]),
            weight("t2", &[2]),
        ],
    };
    let mut prg = crypten_core::Prg::from_seed([3; 16]);
    let weights = spec
        .weights
        .iter()
        .map(|w| ArrayD::from_shape_simple_fn(IxDyn(&w.shape), || prg.uniform_f64() * 2.0 - 1.0))
        .collect();
    (spec, weights)
}

/// The graph's output on `x` in plaintext.
fn run_plain(spec: GraphSpec, weights: Vec<ArrayD<f64>>, x: &ArrayD<f64>) -> ArrayD<f64> {
    let graph = Graph::new(spec, weights).unwrap();
    let y = graph
        .forward(&Variable::constant(Tensor::Plain(x.clone())))
        .unwrap();
    y.value().to_plain().unwrap()
}

#[test]
fn channel_affine_after_a_convolution_folds_into_its_weights() {
    let (spec, weights) = conv_affine_spec();
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 2, 5, 5]), |i| {
        ((i[0] * 7 + i[1] * 5 + i[2] * 3 + i[3]) % 11) as f64 / 5.0 - 1.0
    });
    let run = |spec, weights| run_plain(spec, weights, &x);
    let want = run(spec.clone(), weights.clone());
    let (mut folded, mut folded_weights) = (spec, weights);
    assert_eq!(fold_channel_affine(&mut folded, &mut folded_weights), 1);
    let names: Vec<&str> = folded.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["c1", "r1", "c2", "bn2", "skip"]);
    let kept: Vec<&str> = folded.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        kept,
        ["w1", "t1", "w2", "s2", "t2"],
        "scale and old bias dropped"
    );
    assert_eq!(folded.nodes[0].inputs, ["x", "w1", "t1"]);
    assert_eq!(folded.nodes[0].outputs, ["a1"]);
    let got = run(folded, folded_weights);
    let err = (got - &want).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-12, "folded graph off by {err}");
}

#[test]
fn channel_affine_after_a_convolution_without_bias_takes_the_shift_as_bias() {
    let (mut spec, weights) = conv_affine_spec();
    // Make the second pair foldable: the Add reads the affine's output twice instead.
    spec.nodes[5].inputs = vec!["a2".into(), "a2".into()];
    let x = ArrayD::from_elem(IxDyn(&[1, 2, 5, 5]), 0.5);
    let run = |spec, weights| run_plain(spec, weights, &x);
    let want = run(spec.clone(), weights.clone());
    let (mut folded, mut folded_weights) = (spec, weights);
    assert_eq!(fold_channel_affine(&mut folded, &mut folded_weights), 2);
    assert_eq!(folded.nodes.len(), 4);
    assert_eq!(folded.nodes[2].inputs, ["z1", "w2", "t2"]);
    let got = run(folded, folded_weights);
    let err = (got - &want).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-12, "folded graph off by {err}");
}
