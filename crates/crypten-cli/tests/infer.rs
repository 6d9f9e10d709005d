//! `crypten infer` end to end: the real binary, parties (and the dealer) as processes over
//! loopback, on the ONNX fixtures, against onnxruntime's outputs; and its refusals.
#![allow(clippy::unwrap_used)]

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypten-onnx/tests/fixtures")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

fn crypten(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crypten"))
        .args(args)
        .env("CRYPTEN_RECV_TIMEOUT", "30")
        .output()
        .expect("the crypten binary runs")
}

fn read(path: &Path) -> ArrayD<f64> {
    let f = || std::fs::File::open(path).unwrap();
    ArrayD::<f32>::read_npy(f())
        .map(|a| a.mapv(f64::from))
        .unwrap_or_else(|_| ArrayD::<f64>::read_npy(f()).unwrap())
}

fn nmse(got: &ArrayD<f64>, want: &ArrayD<f64>) -> f64 {
    assert_eq!(got.shape(), want.shape());
    let mse: f64 = got.iter().zip(want).map(|(a, b)| (a - b).powi(2)).sum();
    let power: f64 = want.iter().map(|b| b * b).sum();
    mse / power.max(1e-12)
}

fn argmax(a: &ArrayD<f64>) -> Vec<usize> {
    let cols = *a.shape().last().unwrap();
    a.as_slice()
        .unwrap()
        .chunks(cols)
        .map(|r| (0..cols).max_by(|&i, &j| r[i].total_cmp(&r[j])).unwrap())
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crypten-infer-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `crypten infer` on a fixture and checks the first output against onnxruntime's.
fn infer_matches(model: &str, parties: usize, classification: bool, extra: &[&str]) -> PathBuf {
    let dir = temp(&format!("{model}-{parties}-{}", extra.len()));
    let out = dir.join("y.npy");
    let n = parties.to_string();
    let (m, x, o) = (
        fixture(&format!("{model}.onnx")),
        fixture(&format!("{model}.input.npy")),
        out.display().to_string(),
    );
    let mut args = vec![
        "infer",
        "--model",
        &m,
        "--input",
        &x,
        "--output",
        &o,
        "--parties",
        &n,
    ];
    args.extend_from_slice(extra);
    let res = crypten(&args);
    assert!(
        res.status.success(),
        "{model} with {parties} parties:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let want = read(&fixtures().join(format!("{model}.output.npy")));
    let got = read(&out);
    let e = nmse(&got, &want);
    assert!(e < 1e-4, "{model} with {parties} parties: NMSE {e:e}");
    if classification {
        assert_eq!(
            argmax(&got),
            argmax(&want),
            "{model} with {parties} parties"
        );
    }
    dir
}

#[test]
fn imported_models_match_onnxruntime_with_two_and_three_parties() {
    for (model, classification) in [
        ("mlp", true),
        ("lenet", true),
        ("resnet_small", true),
        ("wav2letter_small", false),
        ("vit_small", true),
        ("text_bow", true),
        ("embedding_ids", true),
    ] {
        for parties in [2, 3] {
            infer_matches(model, parties, classification, &[]);
        }
    }
}

#[test]
fn one_party_owners_elsewhere_and_the_benchmark_model() {
    infer_matches("lenet", 1, true, &[]);
    // The model owned by party 1, the data by party 0, the output revealed to party 2 only.
    infer_matches(
        "vit_small",
        3,
        true,
        &[
            "--model-owner",
            "1",
            "--data-owner",
            "0",
            "--output-to",
            "2",
        ],
    );
    infer_matches("resnet18_w16", 2, true, &["--provider", "tfp"]);
}

#[test]
fn several_outputs_and_stats() {
    let dir = temp("outputs");
    let out = dir.join("y.npy");
    let stats = dir.join("stats.json");
    let (m, o, s) = (
        fixture("ops_shape.onnx"),
        out.display().to_string(),
        stats.display().to_string(),
    );
    let inputs: Vec<String> = (0..3)
        .map(|i| fixture(&format!("ops_shape.input{i}.npy")))
        .collect();
    let res = crypten(&[
        "infer",
        "--model",
        &m,
        "--input",
        &inputs[0],
        "--input",
        &inputs[1],
        "--input",
        &inputs[2],
        "--output",
        &o,
        "--parties",
        "2",
        "--stats",
        &s,
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("manifest.json")).unwrap()).unwrap();
    let entry = manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ops_shape")
        .unwrap();
    let names = entry["output_names"].as_array().unwrap();
    let files = entry["outputs"].as_array().unwrap();
    assert!(names.len() > 1);
    for (i, (name, file)) in names.iter().zip(files).enumerate() {
        let path = if i == 0 {
            out.clone()
        } else {
            dir.join(format!("y.{}.npy", name.as_str().unwrap()))
        };
        let e = nmse(
            &read(&path),
            &read(&fixtures().join(file.as_str().unwrap())),
        );
        assert!(e < 1e-4, "output {name}: NMSE {e:e}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(report["parties"], 2);
    assert!(report["rounds"].as_u64().unwrap() > 0);
    assert_eq!(report["bytes_sent_per_party"].as_array().unwrap().len(), 2);
    let layers = report["layers"].as_array().unwrap();
    assert!(!layers.is_empty());
    assert!(
        layers
            .iter()
            .all(|l| l["bytes_sent_per_party"].as_array().unwrap().len() == 2)
    );
}

fn fails_with(args: &[&str], needle: &str) {
    let res = crypten(args);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in:\n{err}"
    );
}

#[test]
fn bad_models_inputs_and_ranks_are_clear_errors() {
    let dir = temp("bad");
    let out = dir.join("y.npy").display().to_string();
    let model = fixture("mlp.onnx");
    let input = fixture("mlp.input.npy");
    // A truncated model.
    let bytes = std::fs::read(fixtures().join("mlp.onnx")).unwrap();
    let cut = dir.join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let cut = cut.display().to_string();
    fails_with(
        &[
            "infer", "--model", &cut, "--input", &input, "--output", &out,
        ],
        "not a valid ONNX model",
    );
    // Unsupported operations, every one named.
    let bad = fixture("bad_unsupported.onnx");
    let bad_in = fixture("bad_unsupported.input.npy");
    fails_with(
        &[
            "infer", "--model", &bad, "--input", &bad_in, "--output", &out,
        ],
        "unsupported_lstm",
    );
    fails_with(
        &[
            "infer", "--model", &bad, "--input", &bad_in, "--output", &out,
        ],
        "unsupported_nms",
    );
    // An input of the wrong shape, of the wrong type, a missing file.
    let wrong = dir.join("wrong.npy");
    ArrayD::<f32>::zeros(ndarray::IxDyn(&[2, 7]))
        .write_npy(std::fs::File::create(&wrong).unwrap())
        .unwrap();
    let wrong = wrong.display().to_string();
    fails_with(
        &[
            "infer", "--model", &model, "--input", &wrong, "--output", &out,
        ],
        "must have shape",
    );
    let ints = dir.join("ints.npy");
    ArrayD::<i64>::zeros(ndarray::IxDyn(&[2, 20]))
        .write_npy(std::fs::File::create(&ints).unwrap())
        .unwrap();
    let ints = ints.display().to_string();
    fails_with(
        &[
            "infer", "--model", &model, "--input", &ints, "--output", &out,
        ],
        "float32/float64",
    );
    // A value beyond the fixed-point range: refused, and the message never shows it.
    let huge = dir.join("huge.npy");
    let mut big = ArrayD::<f32>::zeros(ndarray::IxDyn(&[2, 20]));
    big[[1, 3]] = 7.25e15;
    big.write_npy(std::fs::File::create(&huge).unwrap())
        .unwrap();
    let huge = huge.display().to_string();
    let res = crypten(&[
        "infer", "--model", &model, "--input", &huge, "--output", &out,
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(
        err.contains("element 23") && err.contains("not shown"),
        "{err}"
    );
    assert!(
        !err.contains("7.25") && !err.contains("725"),
        "the private value leaked: {err}"
    );
    fails_with(
        &[
            "infer",
            "--model",
            "/nonexistent.onnx",
            "--input",
            &input,
            "--output",
            &out,
        ],
        "cannot read",
    );
    fails_with(
        &[
            "infer",
            "--model",
            &model,
            "--input",
            "/nonexistent.npy",
            "--output",
            &out,
        ],
        "cannot read",
    );
    // Owners out of range.
    fails_with(
        &[
            "infer",
            "--model",
            &model,
            "--input",
            &input,
            "--output",
            &out,
            "--model-owner",
            "2",
        ],
        "--model-owner 2 is not a rank of 2 parties",
    );
    fails_with(
        &[
            "infer",
            "--model",
            &model,
            "--input",
            &input,
            "--output",
            &out,
            "-n",
            "3",
            "--data-owner",
            "5",
        ],
        "--data-owner 5",
    );
    assert!(!Path::new(&out).exists(), "a failed job wrote an output");
}

#[test]
fn a_party_with_a_bad_model_stops_every_process() {
    // Across machines each party checks its own files: the model owner's failure reaches the
    // others (and the dealer) as an error naming it, and every process exits.
    let dir = temp("launch");
    let out = dir.join("y.npy").display().to_string();
    let bad = fixture("bad_unsupported.onnx");
    let input = fixture("mlp.input.npy");
    let start = std::time::Instant::now();
    let res = crypten(&[
        "launch", "-n", "3", "--", "infer", "--model", &bad, "--input", &input, "--output", &out,
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(
        err.contains("[party 0] error") && err.contains("unsupported_lstm"),
        "{err}"
    );
    assert!(
        err.contains("[party 1] error") && err.contains("party 0"),
        "{err}"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn across_machines_each_party_names_only_its_own_files() {
    // `crypten run` per party, as on separate machines: the model file only at the model
    // owner, the input and the output only at the data owner.
    let dir = temp("run");
    let out = dir.join("y.npy");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let master = format!("127.0.0.1:{port}");
    let (m, x, o) = (
        fixture("lenet.onnx"),
        fixture("lenet.input.npy"),
        out.display().to_string(),
    );
    let spawn = |rank: &str, tail: &[&str]| {
        let mut args = vec!["run", "--rank", rank, "-n", "2", "--master", &master, "--"];
        args.extend_from_slice(tail);
        Command::new(env!("CARGO_BIN_EXE_crypten"))
            .args(&args)
            .env("CRYPTEN_RECV_TIMEOUT", "30")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = vec![
        spawn("0", &["infer", "--model", &m]),
        spawn("1", &["infer", "--input", &x, "--output", &o]),
        spawn("2", &[]),
    ];
    for child in children {
        let res = child.wait_with_output().unwrap();
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
    }
    let want = read(&fixtures().join("lenet.output.npy"));
    let got = read(&out);
    assert!(nmse(&got, &want) < 1e-4);
    assert_eq!(argmax(&got), argmax(&want));
}
