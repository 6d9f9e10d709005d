//! `crypten train` end to end: the real binary, parties as separate processes over loopback
//! with a dealer process, on the digits data set cut into the files each party would hold.
//! Each split (feature columns, rows, labels at another party), the trained model written
//! back as ONNX at its owner, private inference on it, shares kept and resumed, and bad input
//! refused before any training.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten::autograd::no_grad;
use crypten::nn::Module;
use crypten::nn::train::{Dataset, Loss, Optimizer, TrainConfig, fit};
use crypten::onnx::Model;
use crypten::{Tensor, Variable};
use ndarray::{ArrayD, Axis, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn crypten(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crypten"))
        .args(args)
        .env("CRYPTEN_RECV_TIMEOUT", "30")
        .output()
        .expect("the crypten binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn digits_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/digits")
}

fn digits(file: &str) -> String {
    digits_dir().join(file).display().to_string()
}

/// A fresh directory for one test.
fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crypten-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Pixels `[rows, 64]` and labels of a digits CSV.
fn read_digits(file: &str) -> (ArrayD<f64>, Vec<usize>) {
    let text = std::fs::read_to_string(digits_dir().join(file)).unwrap();
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
        pixels.extend_from_slice(&fields[..64]);
        labels.push(fields[64] as usize);
    }
    let rows = labels.len();
    (
        ArrayD::from_shape_vec(IxDyn(&[rows, 64]), pixels).unwrap(),
        labels,
    )
}

fn argmax_rows(logits: &ArrayD<f64>) -> Vec<usize> {
    logits
        .lanes(Axis(1))
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |b, (i, &v)| if v > row[b] { i } else { b })
        })
        .collect()
}

fn accuracy(predicted: &[usize], labels: &[usize]) -> f64 {
    predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64
}

/// A model file's accuracy on the test split, in plaintext.
fn model_accuracy(path: &Path) -> f64 {
    let model = Model::load(path).unwrap();
    let (x, y) = read_digits("digits_test.csv");
    let mut shape = vec![x.shape()[0]];
    shape.extend(
        model.spec().inputs[0]
            .shape
            .iter()
            .skip(1)
            .map(|d| d.unwrap()),
    );
    let graph = model.into_graph().unwrap();
    let logits = no_grad(|| {
        graph.forward(&Variable::constant(Tensor::Plain(
            x.into_shape_with_order(IxDyn(&shape)).unwrap(),
        )))
    })
    .unwrap()
    .value()
    .to_plain()
    .unwrap();
    accuracy(&argmax_rows(&logits), &y)
}

/// The same recipe in plaintext f64 through the library's loop: the test accuracy.
fn plaintext_accuracy(model_file: &str, config: &TrainConfig) -> f64 {
    let model = Model::load(&digits_dir().join(model_file)).unwrap();
    let (x, y) = read_digits("digits_train.csv");
    let mut shape = vec![x.shape()[0]];
    shape.extend(
        model.spec().inputs[0]
            .shape
            .iter()
            .skip(1)
            .map(|d| d.unwrap()),
    );
    let graph = model.into_graph().unwrap();
    let data = Dataset {
        x: Tensor::Plain(x.into_shape_with_order(IxDyn(&shape)).unwrap()),
        y: Tensor::Plain(crypten::nn::one_hot(&y, 10).unwrap()),
    };
    fit(&graph, config, &data, None, None, &mut |_| {}).unwrap();
    let dir = workdir(&format!("plain-{model_file}"));
    let out = dir.join("plain.onnx");
    let original = std::fs::read(digits_dir().join(model_file)).unwrap();
    let weights: Vec<(String, ArrayD<f64>)> = graph
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_plain().unwrap()))
        .collect();
    std::fs::write(
        &out,
        crypten::onnx::with_weights(&original, &weights).unwrap(),
    )
    .unwrap();
    let acc = model_accuracy(&out);
    let _ = std::fs::remove_dir_all(&dir);
    acc
}

fn history(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn split(dir: &Path, by: &str, parties: &str) {
    let out = crypten(&[
        "split",
        "--input",
        &digits("digits_train.csv"),
        "--by",
        by,
        "-n",
        parties,
        "--out",
        &s(dir),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
}

/// The files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn feature_columns_at_two_parties_labels_at_a_third_model_at_the_second() {
    let dir = workdir("columns");
    split(&dir, "columns", "2");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let model = out_dir.join("trained.onnx");
    let hist = dir.join("history.json");
    let out = crypten(&[
        "train",
        "--model",
        &digits("mlp.onnx"),
        "-n",
        "3",
        "--model-owner",
        "1",
        "--data",
        &format!("0:{}", s(&dir.join("features-0.csv"))),
        "--data",
        &format!("1:{}", s(&dir.join("features-1.csv"))),
        "--join",
        "columns",
        "--labels",
        &format!("2:{}", s(&dir.join("labels.csv"))),
        "--lr",
        "0.1",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--shuffle-seed",
        "5",
        "--validation",
        &format!("0:{}", digits("digits_test.csv")),
        "--output",
        &s(&model),
        "--history",
        &s(&hist),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // One plain progress line per epoch (stderr is a pipe), from party 0 only.
    for e in 1..=3 {
        assert_eq!(
            stderr.matches(&format!("epoch {e}/3: loss ")).count(),
            1,
            "{stderr}"
        );
    }
    // Only the trained model is written: no partial or stray files.
    assert_eq!(files(&out_dir), vec!["trained.onnx".to_string()]);
    let h = history(&hist);
    let epochs = h["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    for e in epochs {
        assert_eq!(e["bytes_sent_per_party"].as_array().unwrap().len(), 3);
        assert!(e["rounds"].as_u64().unwrap() > 0);
        assert!(e["seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(e["steps"].as_u64(), Some(45));
    }
    let losses: Vec<f64> = epochs.iter().map(|e| e["loss"].as_f64().unwrap()).collect();
    assert!(losses[2] < losses[0], "the loss falls: {losses:?}");
    let revealed = epochs[2]["validation_accuracy"].as_f64().unwrap();
    let written = model_accuracy(&model);
    assert!(
        (written - revealed).abs() <= 0.01 + 1e-9,
        "the written model scores {written}, the encrypted validation said {revealed}"
    );
    let plain = plaintext_accuracy(
        "mlp.onnx",
        &TrainConfig {
            loss: Loss::CrossEntropy,
            optimizer: Optimizer::Sgd,
            lr: 0.1,
            epochs: 3,
            batch_size: 32,
            shuffle_seed: Some(5),
            ..TrainConfig::default()
        },
    );
    assert!(
        (written - plain).abs() <= 0.01 + 1e-9,
        "private training gives {written}, plaintext f64 {plain}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rows_at_each_party_with_their_labels_and_adam() {
    let dir = workdir("rows");
    split(&dir, "rows", "3");
    let model = dir.join("trained.onnx");
    let hist = dir.join("history.json");
    let mut args: Vec<String> = ["train", "--model", &digits("mlp.onnx"), "-n", "3"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    for k in 0..3 {
        let part = s(&dir.join(format!("rows-{k}.csv")));
        args.extend(["--data".into(), format!("{k}:{part}")]);
        args.extend(["--labels".into(), format!("{k}:{part}")]);
    }
    args.extend(
        [
            "--join",
            "rows",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--validation",
            &format!("2:{}", digits("digits_test.csv")),
            "--output",
            &s(&model),
            "--history",
            &s(&hist),
        ]
        .map(String::from),
    );
    let out = crypten(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let h = history(&hist);
    assert_eq!(h["optimizer"], "adam");
    let epochs = h["epochs"].as_array().unwrap();
    let acc = epochs[1]["validation_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.85,
        "Adam on the joined rows: validation accuracy {acc}"
    );
    assert!((model_accuracy(&model) - acc).abs() <= 0.01 + 1e-9);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn labels_at_another_party_then_private_inference_on_the_trained_cnn() {
    let dir = workdir("labels");
    let (x, y) = read_digits("digits_train.csv");
    let features = dir.join("images.npy");
    let labels = dir.join("labels.npy");
    x.mapv(|v| v as f32)
        .write_npy(std::fs::File::create(&features).unwrap())
        .unwrap();
    ndarray::Array1::from_iter(y.iter().map(|&l| l as i64))
        .write_npy(std::fs::File::create(&labels).unwrap())
        .unwrap();
    let model = dir.join("cnn_trained.onnx");
    let out = crypten(&[
        "train",
        "--model",
        &digits("cnn.onnx"),
        "-n",
        "2",
        "--data",
        &format!("0:{}", s(&features)),
        "--labels",
        &format!("1:{}", s(&labels)),
        "--lr",
        "0.1",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--no-shuffle",
        "--output",
        &s(&model),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let written = model_accuracy(&model);
    let plain = plaintext_accuracy(
        "cnn.onnx",
        &TrainConfig {
            lr: 0.1,
            epochs: 3,
            batch_size: 32,
            shuffle_seed: None,
            ..TrainConfig::default()
        },
    );
    assert!(
        (written - plain).abs() <= 0.01 + 1e-9,
        "private training gives {written}, plaintext f64 {plain}"
    );
    // Model hiding: party 0 keeps the trained CNN private, party 1 classifies its images.
    let (tx, ty) = read_digits("digits_test.csv");
    let test_input = dir.join("test.npy");
    tx.into_shape_with_order(IxDyn(&[ty.len(), 1, 8, 8]))
        .unwrap()
        .mapv(|v| v as f32)
        .write_npy(std::fs::File::create(&test_input).unwrap())
        .unwrap();
    let predictions = dir.join("logits.npy");
    let out = crypten(&[
        "infer",
        "--model",
        &s(&model),
        "--input",
        &s(&test_input),
        "--output",
        &s(&predictions),
        "-n",
        "2",
        "--output-to",
        "1",
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let logits = ArrayD::<f32>::read_npy(std::fs::File::open(&predictions).unwrap())
        .unwrap()
        .mapv(f64::from);
    let private = accuracy(&argmax_rows(&logits), &ty);
    assert!(
        (private - written).abs() <= 0.01 + 1e-9,
        "private inference scores {private}, the plaintext evaluator {written}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shares_kept_by_each_party_resume_training() {
    let dir = workdir("resume");
    let shares = dir.join("shares");
    let first = dir.join("first.json");
    let common = |extra: &[&str]| -> Output {
        let mut args = vec![
            "train".to_string(),
            "--model".into(),
            digits("mlp.onnx"),
            "-n".into(),
            "2".into(),
            "--data".into(),
            format!("0:{}", digits("digits_train.csv")),
            "--labels".into(),
            format!("1:{}", digits("digits_train.csv")),
            "--lr".into(),
            "0.1".into(),
            "--epochs".into(),
            "1".into(),
            "--batch-size".into(),
            "32".into(),
            "--shuffle-seed".into(),
            "2".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        crypten(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = common(&["--keep-shared", &s(&shares), "--history", &s(&first)]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        files(&shares),
        vec![
            "party-0.safetensors".to_string(),
            "party-1.safetensors".to_string()
        ]
    );
    let second = dir.join("second.json");
    let model = dir.join("resumed.onnx");
    let out = common(&[
        "--resume",
        &s(&shares),
        "--output",
        &s(&model),
        "--history",
        &s(&second),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let loss = |p: &Path| history(p)["epochs"][0]["loss"].as_f64().unwrap();
    assert!(
        loss(&second) < loss(&first) - 0.1,
        "the resumed run starts from the trained shares: {} then {}",
        loss(&first),
        loss(&second)
    );
    assert!(model_accuracy(&model) > 0.6);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `crypten train` with `data` and `labels` specs; it must fail, fast, with `expect` in
/// its error, and leave no model file.
fn refused(data: &[String], labels: &str, output: &Path, expect: &str, launch: bool) {
    let mut args: Vec<String> = Vec::new();
    if launch {
        // Straight to the parties, past the launcher's own checks: each party checks its files.
        args.extend(["launch", "-n", "2", "--"].map(String::from));
    }
    args.extend(["train", "--model", &digits("mlp.onnx"), "-n", "2"].map(String::from));
    for d in data {
        args.extend(["--data".to_string(), d.clone()]);
    }
    args.extend(
        [
            "--labels",
            labels,
            "--lr",
            "0.1",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--output",
            &s(output),
        ]
        .map(String::from),
    );
    let start = Instant::now();
    let out = crypten(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "{expect}: succeeded\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(expect),
        "expected `{expect}` in:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("epoch 1/1"),
        "{expect}: training started\n{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{expect}: took {:?}",
        start.elapsed()
    );
    assert!(!output.exists(), "{expect}: a model file was left behind");
    if let Some(parent) = output.parent().filter(|p| p.is_dir()) {
        assert!(
            files(parent).iter().all(|f| !f.contains("partial")),
            "{expect}: partial files left in {}",
            parent.display()
        );
    }
}

#[test]
fn bad_input_is_refused_before_any_training() {
    let dir = workdir("bad");
    split(&dir, "columns", "2");
    let out_model = dir.join("model.onnx");
    let (x, y) = read_digits("digits_train.csv");
    let features = dir.join("x.npy");
    x.write_npy(std::fs::File::create(&features).unwrap())
        .unwrap();
    let f0 = format!("0:{}", s(&dir.join("features-0.csv")));
    let f1 = format!("1:{}", s(&dir.join("features-1.csv")));
    let labels = format!("1:{}", s(&dir.join("labels.csv")));

    // Files of mismatched row counts: the second block loses its last rows.
    let short = dir.join("short.csv");
    let text_f1 = std::fs::read_to_string(dir.join("features-1.csv")).unwrap();
    let kept: Vec<&str> = text_f1.lines().take(1000).collect();
    std::fs::write(&short, kept.join("\n") + "\n").unwrap();
    let short_spec = format!("1:{}", s(&short));
    for launch in [false, true] {
        refused(
            &[f0.clone(), short_spec.clone()],
            &labels,
            &out_model,
            "--join columns needs the same rows in every file",
            launch,
        );
    }

    // A label index out of range.
    let mut bad_labels: Vec<i64> = y.iter().map(|&l| l as i64).collect();
    bad_labels[17] = 10;
    let bad_labels_file = dir.join("bad_labels.npy");
    ndarray::Array1::from_vec(bad_labels)
        .write_npy(std::fs::File::create(&bad_labels_file).unwrap())
        .unwrap();
    let data = [format!("0:{}", s(&features))];
    for launch in [false, true] {
        refused(
            &data,
            &format!("1:{}", s(&bad_labels_file)),
            &out_model,
            "row 17: a label outside the classes 0..10",
            launch,
        );
    }

    // NaN in a feature file.
    let mut with_nan = x.clone();
    with_nan[[5, 3]] = f64::NAN;
    let nan_file = dir.join("nan.npy");
    with_nan
        .write_npy(std::fs::File::create(&nan_file).unwrap())
        .unwrap();
    for launch in [false, true] {
        refused(
            &[format!("0:{}", s(&nan_file))],
            &labels,
            &out_model,
            "row 5, column 3 is NaN",
            launch,
        );
    }

    // A CSV without the label column (and more than one column).
    refused(&data, &f1, &out_model, "no column named label", false);

    // An output path that cannot be written.
    refused(
        &[f0.clone(), f1.clone()],
        &labels,
        &dir.join("no-such-dir").join("model.onnx"),
        "no directory",
        false,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_binary_classifier_with_bce_logits_and_a_regression_with_mse() {
    let dir = workdir("losses");
    let (x, y) = read_digits("digits_train.csv");
    let (tx, ty) = read_digits("digits_test.csv");
    let images = dir.join("images.npy");
    x.write_npy(std::fs::File::create(&images).unwrap())
        .unwrap();
    let test_images = dir.join("test_images.npy");
    tx.write_npy(std::fs::File::create(&test_images).unwrap())
        .unwrap();
    // "Is it a zero?" as a column of a CSV that also holds the digit.
    let binary_csv = |path: &Path, labels: &[usize]| {
        let mut text = String::from("label,is_zero\n");
        for &l in labels {
            text.push_str(&format!("{l},{}\n", u8::from(l == 0)));
        }
        std::fs::write(path, text).unwrap();
    };
    let (train_labels, test_labels) = (dir.join("binary.csv"), dir.join("binary_test.csv"));
    binary_csv(&train_labels, &y);
    binary_csv(&test_labels, &ty);
    let hist = dir.join("bce.json");
    let out = crypten(&[
        "train",
        "--model",
        &digits("logreg.onnx"),
        "-n",
        "2",
        "--data",
        &format!("0:{}", s(&images)),
        "--labels",
        &format!("1:{}:is_zero", s(&train_labels)),
        "--loss",
        "bce-logits",
        "--lr",
        "0.5",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--validation",
        &format!("0:{}", s(&test_images)),
        "--validation-labels",
        &format!("1:{}:is_zero", s(&test_labels)),
        "--output",
        &s(&dir.join("logreg.onnx")),
        "--history",
        &s(&hist),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let h = history(&hist);
    let last = &h["epochs"][1];
    let zeros = ty.iter().filter(|&&l| l == 0).count() as f64 / ty.len() as f64;
    let acc = last["validation_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.97 && acc > 1.0 - zeros + 0.05,
        "is-zero accuracy {acc} (always 'no' scores {})",
        1.0 - zeros
    );
    assert!(last["loss"].as_f64().unwrap() < h["epochs"][0]["loss"].as_f64().unwrap());

    // Regression of one-hot targets (float .npy) with mean squared error.
    let targets = dir.join("onehot.npy");
    crypten::nn::one_hot(&y, 10)
        .unwrap()
        .write_npy(std::fs::File::create(&targets).unwrap())
        .unwrap();
    let hist = dir.join("mse.json");
    let out = crypten(&[
        "train",
        "--model",
        &digits("mlp.onnx"),
        "-n",
        "2",
        "--data",
        &format!("0:{}", s(&images)),
        "--labels",
        &format!("1:{}", s(&targets)),
        "--loss",
        "mse",
        "--lr",
        "0.5",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--keep-shared",
        &s(&dir.join("shares")),
        "--history",
        &s(&hist),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let h = history(&hist);
    let (first, second) = (
        h["epochs"][0]["loss"].as_f64().unwrap(),
        h["epochs"][1]["loss"].as_f64().unwrap(),
    );
    assert!(second < first, "mse falls: {first} then {second}");
    assert_eq!(h["loss"], "mse");
    let _ = std::fs::remove_dir_all(&dir);
}
