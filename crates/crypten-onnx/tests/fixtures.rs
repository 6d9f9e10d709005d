//! Every fixture model (PyTorch exports and single-op graphs, see `fixtures/README.md`) against
//! onnxruntime's outputs: in plaintext, and encrypted with 2 and 3 parties, the model owned by
//! party 0 and the data by the last party.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crypten_autograd::{Tensor, Variable};
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind};
use crypten_nn::graph::{Encoding, Graph, GraphSpec};
use crypten_nn::{Module, one_hot};
use crypten_onnx::{Error, Model};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

struct Fixture {
    name: String,
    inputs: Vec<ArrayD<f64>>,
    outputs: Vec<ArrayD<f64>>,
    classification: bool,
    expect_error: bool,
}

fn read_npy(path: &Path) -> ArrayD<f64> {
    let open = || std::fs::File::open(path).unwrap();
    if let Ok(a) = ArrayD::<f32>::read_npy(open()) {
        return a.mapv(f64::from);
    }
    if let Ok(a) = ArrayD::<f64>::read_npy(open()) {
        return a;
    }
    if let Ok(a) = ArrayD::<i64>::read_npy(open()) {
        return a.mapv(|v| v as f64);
    }
    panic!("cannot read {}", path.display())
}

fn fixtures() -> Vec<Fixture> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap();
    let files = |v: &serde_json::Value| -> Vec<ArrayD<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| read_npy(&dir().join(f.as_str().unwrap())))
            .collect()
    };
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Fixture {
            name: m["name"].as_str().unwrap().to_string(),
            inputs: files(&m["inputs"]),
            outputs: files(&m["outputs"]),
            classification: m["classification"].as_bool().unwrap_or(false),
            expect_error: m["expect_error"].as_bool().unwrap_or(false),
        })
        .collect()
}

fn load(name: &str) -> Model {
    Model::load(&dir().join(format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What the data owner shares for each input: one-hot ids where the graph says so.
fn encode(spec: &GraphSpec, inputs: &[ArrayD<f64>]) -> Vec<ArrayD<f64>> {
    spec.inputs
        .iter()
        .zip(inputs)
        .map(|(input, data)| match input.encoding {
            Encoding::Values => data.clone(),
            Encoding::OneHot { classes } => {
                let ids: Vec<usize> = data.iter().map(|&v| v as usize).collect();
                let flat = one_hot(&ids, classes).unwrap();
                let mut shape = data.shape().to_vec();
                shape.push(classes);
                flat.into_shape_with_order(shape).unwrap()
            }
        })
        .collect()
}

/// Mean squared error over the reference's mean square (floored for all-zero references).
fn nmse(got: &ArrayD<f64>, want: &ArrayD<f64>) -> f64 {
    assert_eq!(got.shape(), want.shape());
    let n = want.len().max(1) as f64;
    let mse = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n;
    let power = want.iter().map(|b| b * b).sum::<f64>() / n;
    mse / power.max(1e-6)
}

fn argmax_rows(a: &ArrayD<f64>) -> Vec<usize> {
    let cols = *a.shape().last().unwrap();
    a.as_slice()
        .unwrap()
        .chunks(cols)
        .map(|row| {
            (0..cols)
                .max_by(|&i, &j| row[i].total_cmp(&row[j]))
                .unwrap()
        })
        .collect()
}

fn check(f: &Fixture, got: &[ArrayD<f64>], bound: f64, what: &str) {
    assert_eq!(got.len(), f.outputs.len(), "{}: outputs", f.name);
    for (i, (g, want)) in got.iter().zip(&f.outputs).enumerate() {
        let e = nmse(g, want);
        eprintln!("{} {what}: output {i} NMSE {e:.2e}", f.name);
        assert!(e < bound, "{} {what}: output {i} has NMSE {e:e}", f.name);
    }
    if f.classification {
        assert_eq!(
            argmax_rows(&got[0]),
            argmax_rows(&f.outputs[0]),
            "{} {what}: argmax differs",
            f.name
        );
    }
}

#[test]
fn every_fixture_matches_onnxruntime_in_plaintext() {
    for f in fixtures().iter().filter(|f| !f.expect_error) {
        let model = load(&f.name);
        let inputs: Vec<Variable> = encode(model.spec(), &f.inputs)
            .into_iter()
            .map(|a| Variable::constant(Tensor::Plain(a)))
            .collect();
        let graph = model.into_graph().unwrap();
        let outputs: Vec<ArrayD<f64>> = graph
            .forward_all(&inputs)
            .unwrap_or_else(|e| panic!("{}: {e}", f.name))
            .iter()
            .map(|v| v.value().to_plain().unwrap())
            .collect();
        check(f, &outputs, 1e-9, "plaintext");
    }
}

fn encrypted(f: &Fixture, parties: usize) -> Vec<ArrayD<f64>> {
    let bytes = std::fs::read(dir().join(format!("{}.onnx", f.name))).unwrap();
    let results = run(parties, ProviderKind::TrustedThirdParty, |sess| {
        let data_owner = parties - 1;
        // The owner imports the file; the others get the spec as bytes, without weights.
        let model = Model::from_bytes(&bytes).unwrap();
        let wire = model.spec().to_bytes().unwrap();
        let graph = if sess.rank() == 0 {
            model.into_graph().unwrap()
        } else {
            Graph::from_spec(GraphSpec::from_bytes(&wire).unwrap()).unwrap()
        };
        graph.encrypt(&sess, 0).unwrap();
        let inputs = encode(graph.spec(), &f.inputs)
            .iter()
            .map(|a| {
                let mine = if sess.rank() == data_owner {
                    a.clone()
                } else {
                    ArrayD::zeros(a.raw_dim())
                };
                Ok(Variable::constant(Tensor::Encrypted(
                    CrypTensor::from_array(&sess, &mine, data_owner)?,
                )))
            })
            .collect::<crypten_mpc::Result<Vec<_>>>()?;
        let outputs = graph
            .forward_all(&inputs)
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        outputs.iter().map(|v| v.value().to_plain()).collect()
    })
    .unwrap();
    results.into_iter().next().unwrap()
}

#[test]
fn every_fixture_matches_onnxruntime_encrypted_with_two_and_three_parties() {
    for f in fixtures().iter().filter(|f| !f.expect_error) {
        // The benchmark model runs end to end in the `crypten infer` tests.
        if f.name == "resnet18_w16" {
            continue;
        }
        for parties in [2, 3] {
            let got = encrypted(f, parties);
            check(f, &got, 1e-4, &format!("{parties} parties"));
        }
    }
}

#[test]
fn unsupported_nodes_are_listed_together() {
    let err = Model::load(&dir().join("bad_unsupported.onnx")).unwrap_err();
    let Error::Unsupported(nodes) = &err else {
        panic!("expected Unsupported, got {err}");
    };
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["unsupported_lstm", "unsupported_nms"]);
    let text = err.to_string();
    assert!(
        text.contains("LSTM") && text.contains("NonMaxSuppression"),
        "{text}"
    );
}

#[test]
fn corrupt_truncated_and_missing_models_are_errors() {
    let bytes = std::fs::read(dir().join("lenet.onnx")).unwrap();
    for cut in [1, 17, bytes.len() / 2, bytes.len() - 3] {
        assert!(
            Model::from_bytes(&bytes[..cut]).is_err(),
            "a model cut at {cut} bytes was accepted"
        );
    }
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(Model::from_bytes(&garbage).is_err());
    assert!(matches!(Model::from_bytes(&[]), Err(Error::Invalid(_))));
    assert!(matches!(
        Model::load(Path::new("/nonexistent/model.onnx")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn the_spec_holds_no_weight_values_and_shape_chains_are_folded() {
    let model = load("mlp");
    let spec = model.spec();
    assert!(!spec.weights.is_empty());
    for c in &spec.constants {
        assert!(
            !spec.weights.iter().any(|w| w.name == c.name),
            "weight {} is a public constant",
            c.name
        );
    }
    // No node of the spec reads only public values: those were computed at import.
    let public: std::collections::HashSet<&str> =
        spec.constants.iter().map(|c| c.name.as_str()).collect();
    for n in &spec.nodes {
        assert!(
            n.inputs
                .iter()
                .any(|i| !i.is_empty() && !public.contains(i.as_str())),
            "node {} ({}) reads only constants",
            n.name,
            n.op.name()
        );
    }
    let bytes = spec.to_bytes().unwrap();
    let weight_bytes: usize = model.weights().iter().map(|w| w.len() * 4).sum();
    assert!(bytes.len() < weight_bytes, "the spec carries the weights");
}
