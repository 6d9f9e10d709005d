//! Private training of imported PyTorch models on a real data set (the digits in
//! `data/digits`), through the library's training loop, against the same loop in plaintext
//! f64 with the same initial weights, batch order and schedule: 2 and 3 parties on the
//! in-memory communicator, an MLP and a small CNN. The trained weights go back into the ONNX
//! file, which imports again and classifies as the trained graph did.

use crypten_autograd::{Tensor, Variable, no_grad};
use crypten_mpc::{Config, CrypTensor, Session, simulator};
use crypten_nn::graph::Graph;
use crypten_nn::train::{Dataset, EpochRecord, Loss, Optimizer, TrainConfig, evaluate, fit};
use crypten_nn::{Module, one_hot};
use crypten_onnx::{Model, with_weights};
use ndarray::{ArrayD, IxDyn};
use std::path::PathBuf;

fn digits_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/digits")
}

/// Pixels `[rows, 64]` and labels of a digits CSV.
fn digits(file: &str) -> (ArrayD<f64>, Vec<usize>) {
    let text = std::fs::read_to_string(digits_dir().join(file)).expect("digits csv");
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<f64> = line
            .split(',')
            .map(|f| f.parse().expect("number"))
            .collect();
        pixels.extend_from_slice(&fields[..64]);
        labels.push(fields[64] as usize);
    }
    let rows = labels.len();
    (
        ArrayD::from_shape_vec(IxDyn(&[rows, 64]), pixels).expect("shape"),
        labels,
    )
}

fn config() -> TrainConfig {
    TrainConfig {
        loss: Loss::CrossEntropy,
        optimizer: Optimizer::Sgd,
        lr: 0.1,
        momentum: 0.0,
        weight_decay: 0.0,
        epochs: 4,
        batch_size: 32,
        shuffle_seed: Some(11),
    }
}

/// The model's input shape for `rows` samples (`[rows, 64]` or `[rows, 1, 8, 8]`).
fn input_shape(model: &Model, rows: usize) -> Vec<usize> {
    let mut shape = vec![rows];
    shape.extend(
        model.spec().inputs[0]
            .shape
            .iter()
            .skip(1)
            .map(|d| d.expect("fixed")),
    );
    shape
}

struct Outcome {
    history: Vec<EpochRecord>,
    /// Test accuracy as the training loop's evaluation revealed it.
    accuracy: f64,
    /// The trained weights, by name.
    weights: Vec<(String, ArrayD<f64>)>,
}

fn plaintext(model_file: &str) -> Outcome {
    let model = Model::load(&digits_dir().join(model_file)).expect("model");
    let (x, y) = digits("digits_train.csv");
    let (tx, ty) = digits("digits_test.csv");
    let shape = input_shape(&model, x.shape()[0]);
    let tshape = input_shape(&model, tx.shape()[0]);
    let graph = model.into_graph().expect("graph");
    let train = Dataset {
        x: Tensor::Plain(x.into_shape_with_order(IxDyn(&shape)).expect("shape")),
        y: Tensor::Plain(one_hot(&y, 10).expect("labels")),
    };
    let test = Dataset {
        x: Tensor::Plain(tx.into_shape_with_order(IxDyn(&tshape)).expect("shape")),
        y: Tensor::Plain(one_hot(&ty, 10).expect("labels")),
    };
    let history = fit(&graph, &config(), &train, None, None, &mut |_| {}).expect("fit");
    let (_, accuracy) = evaluate(&graph, Loss::CrossEntropy, &test, 64).expect("evaluate");
    let weights = graph
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_plain().expect("plain")))
        .collect();
    Outcome {
        history,
        accuracy: accuracy.expect("accuracy"),
        weights,
    }
}

/// Features at party 0, labels at the last party, the model at party 1 (data labelling with
/// a third-party model when there are 3 parties).
fn encrypted(model_file: &str, parties: usize) -> Outcome {
    let results = simulator::run_with(parties, Config::default(), |sess: Session| {
        let owner = 1;
        let labeller = parties - 1;
        let model = Model::load(&digits_dir().join(model_file)).expect("model");
        let (x, y) = digits("digits_train.csv");
        let (tx, ty) = digits("digits_test.csv");
        let shape = input_shape(&model, x.shape()[0]);
        let tshape = input_shape(&model, tx.shape()[0]);
        let mine = (sess.rank() == owner).then(|| model.into_graph().expect("graph"));
        let graph = Graph::share_from(&sess, owner, mine).expect("share model");
        // Every party passes the same-shaped arrays; only the owner's values are read.
        let share = |a: &ArrayD<f64>, from: usize| -> crypten_mpc::Result<Tensor> {
            let mine = if sess.rank() == from {
                a.clone()
            } else {
                ArrayD::zeros(a.raw_dim())
            };
            Ok(Tensor::Encrypted(CrypTensor::from_array(
                &sess, &mine, from,
            )?))
        };
        let train = Dataset {
            x: share(&x.into_shape_with_order(IxDyn(&shape)).expect("shape"), 0)?,
            y: share(&one_hot(&y, 10).expect("labels"), labeller)?,
        };
        let test = Dataset {
            x: share(&tx.into_shape_with_order(IxDyn(&tshape)).expect("shape"), 0)?,
            y: share(&one_hot(&ty, 10).expect("labels"), labeller)?,
        };
        let history =
            fit(&graph, &config(), &train, None, Some(&sess), &mut |_| {}).map_err(|e| {
                crypten_mpc::Error::InvalidArgument {
                    op: "fit",
                    reason: e.to_string(),
                }
            })?;
        let (_, accuracy) = evaluate(&graph, Loss::CrossEntropy, &test, 64).map_err(|e| {
            crypten_mpc::Error::InvalidArgument {
                op: "evaluate",
                reason: e.to_string(),
            }
        })?;
        // The trained weights go to the model owner only.
        let mut weights = Vec::new();
        for (name, p) in graph.named_parameters() {
            let c = p.value();
            let c = c.as_encrypted().expect("encrypted weights");
            if let Some(v) = c.reveal_to(owner)? {
                weights.push((name, v));
            }
        }
        assert_eq!(weights.is_empty(), sess.rank() != owner);
        Ok((history, accuracy, weights))
    })
    .expect("parties");
    let (history, accuracy, weights) = results.into_iter().nth(1).expect("owner");
    Outcome {
        history,
        accuracy: accuracy.expect("accuracy"),
        weights,
    }
}

/// The accuracy of a model file on the test split, evaluated in plaintext.
fn file_accuracy(bytes: &[u8]) -> f64 {
    let model = Model::from_bytes(bytes).expect("trained model imports");
    let (tx, ty) = digits("digits_test.csv");
    let shape = input_shape(&model, tx.shape()[0]);
    let graph = model.into_graph().expect("graph");
    let logits = no_grad(|| {
        graph.forward(&Variable::constant(Tensor::Plain(
            tx.into_shape_with_order(IxDyn(&shape)).expect("shape"),
        )))
    })
    .expect("forward")
    .value()
    .to_plain()
    .expect("plain");
    let right = logits
        .rows()
        .into_iter()
        .zip(&ty)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (i, &v)| if v > row[b] { i } else { b });
            best == **label
        })
        .count();
    right as f64 / ty.len() as f64
}

fn compare(model_file: &str, parties: &[usize]) {
    let plain = plaintext(model_file);
    assert!(
        plain.accuracy > 0.8,
        "{model_file}: plaintext accuracy {} (the recipe should learn)",
        plain.accuracy
    );
    for &n in parties {
        let enc = encrypted(model_file, n);
        assert_eq!(enc.history.len(), plain.history.len());
        for (e, p) in enc.history.iter().zip(&plain.history) {
            assert!(
                (e.loss - p.loss).abs() < 0.02,
                "{model_file}, {n} parties, epoch {}: loss {} vs plaintext {}",
                e.epoch,
                e.loss,
                p.loss
            );
            assert!(e.rounds > 0 && e.bytes_sent > 0, "costs are measured");
        }
        assert!(
            (enc.accuracy - plain.accuracy).abs() <= 0.01 + 1e-9,
            "{model_file}, {n} parties: test accuracy {} vs plaintext {}",
            enc.accuracy,
            plain.accuracy
        );
        // The trained weights written back into the ONNX file: it imports again and gives
        // the accuracy the encrypted evaluation revealed.
        let original = std::fs::read(digits_dir().join(model_file)).expect("model bytes");
        let trained = with_weights(&original, &enc.weights).expect("export");
        let acc = file_accuracy(&trained);
        assert!(
            (acc - enc.accuracy).abs() <= 0.01 + 1e-9,
            "{model_file}, {n} parties: the exported model scores {acc}, the encrypted \
             evaluation {}",
            enc.accuracy
        );
        for ((name, w), (pname, pw)) in enc.weights.iter().zip(&plain.weights) {
            assert_eq!(name, pname);
            let diff = (w - pw).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
            assert!(
                diff < 0.05,
                "{model_file}, {n} parties: weight {name} off by {diff}"
            );
        }
    }
}

#[test]
fn an_imported_mlp_trains_privately_to_plaintext_accuracy() {
    compare("mlp.onnx", &[2, 3]);
}

#[test]
fn an_imported_cnn_trains_privately_to_plaintext_accuracy() {
    compare("cnn.onnx", &[2, 3]);
}

#[test]
fn export_refuses_unknown_weights_and_wrong_shapes() {
    let original = std::fs::read(digits_dir().join("mlp.onnx")).expect("model bytes");
    let model = Model::from_bytes(&original).expect("model");
    model.check_exportable().expect("plain initializers");
    let name = model.spec().weights[0].name.clone();
    let shape = model.spec().weights[0].shape.clone();
    let bad_shape = vec![(name.clone(), ArrayD::zeros(IxDyn(&[shape[0] + 1])))];
    let err = with_weights(&original, &bad_shape).expect_err("wrong shape");
    assert!(err.to_string().contains(&name), "{err}");
    let unknown = vec![("no_such_weight".to_string(), ArrayD::zeros(IxDyn(&[1])))];
    let err = with_weights(&original, &unknown).expect_err("unknown name");
    assert!(err.to_string().contains("no_such_weight"), "{err}");
    // Zeros written back: the model imports with zero weights.
    let zeros: Vec<(String, ArrayD<f64>)> = model
        .spec()
        .weights
        .iter()
        .map(|w| (w.name.clone(), ArrayD::zeros(IxDyn(&w.shape))))
        .collect();
    let again =
        Model::from_bytes(&with_weights(&original, &zeros).expect("export")).expect("imports");
    assert!(again.weights().iter().all(|w| w.iter().all(|&v| v == 0.0)));
    assert_eq!(again.spec(), model.spec());
}
