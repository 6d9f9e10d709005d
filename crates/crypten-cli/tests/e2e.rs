//! End-to-end tests: the real `crypten` binary, parties as separate processes over loopback
//! TCP, with the trusted third party as its own process.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn crypten(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crypten"))
        .args(args)
        .env("CRYPTEN_RECV_TIMEOUT", "20")
        .output()
        .expect("the crypten binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_with_three_parties_and_a_dealer_process() {
    let out = crypten(&["launch", "-n", "3", "--ttp", "--", "demo"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for rank in 0..3 {
        assert!(
            stdout.contains(&format!("[party {rank}] revealed Y = X @ W + b")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("[party {rank}] party {rank} total:")),
            "{stdout}"
        );
    }
    // Each party prints only its own input.
    assert!(stdout.contains("[party 0] my input: features"));
    assert!(!stdout.contains("[party 1] my input: features"));
    assert!(stdout.contains("[party 2] my input: bias"));
    // Products cost one round with three parties too (the truncation is deferred), the
    // bias included.
    let costs = |label: &str, rounds: u64| {
        stdout.lines().any(|l| {
            l.starts_with(&format!("[party 1] cost of {label} "))
                && l.ends_with(&format!(" {rounds} round(s)"))
        })
    };
    assert!(costs("Y = X @ W + b", 1), "{stdout}");
    assert!(costs("Y * Y", 1), "{stdout}");
}

#[test]
fn the_validation_mode_reaches_launched_parties() {
    // CRYPTEN_VALIDATE turns on the revealing checks in every party: the demo's results are
    // unchanged and each checked product costs the reveals of its check.
    let out = Command::new(env!("CARGO_BIN_EXE_crypten"))
        .args(["demo"])
        .env("CRYPTEN_RECV_TIMEOUT", "20")
        .env("CRYPTEN_VALIDATE", "reveal-and-check")
        .output()
        .expect("the crypten binary runs");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("max |error| of Y against plaintext f64"),
        "{stdout}"
    );
    let product = stdout
        .lines()
        .find(|l| l.starts_with("[party 0] cost of Y * Y "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        !product.ends_with(" 1 round(s)") && !product.ends_with(" 0 round(s)"),
        "the check's reveals: {product}"
    );
}

#[test]
fn demo_launches_itself_with_defaults() {
    let out = crypten(&["demo"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("[party 1] revealed Y * Y"), "{stdout}");
    // With two parties as with more: one round for the linear layer, one per product.
    for (label, rounds) in [("Y = X @ W + b", 1), ("Y * Y", 1)] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("[party 0] cost of {label} "))
                    && l.ends_with(&format!(" {rounds} round(s)"))),
            "{stdout}"
        );
    }
}

#[test]
fn a_dead_party_makes_every_other_party_fail_naming_it() {
    let start = Instant::now();
    let out = crypten(&[
        "launch",
        "-n",
        "3",
        "--timeout",
        "30",
        "--",
        "probe",
        "--fault",
        "die",
        "--culprit",
        "1",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "took {:?}",
        start.elapsed()
    );
    for rank in [0, 2] {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("[party {rank}] error:")))
            .unwrap_or_else(|| panic!("party {rank} reported no error:\n{stderr}"));
        assert!(line.contains("party 1 closed the connection"), "{line}");
    }
    assert!(stderr.contains("failed: "), "{stderr}");
}

#[test]
fn diverging_parties_report_divergence() {
    let out = crypten(&[
        "launch",
        "-n",
        "2",
        "--provider",
        "tfp",
        "--timeout",
        "30",
        "--",
        "probe",
        "--fault",
        "diverge",
        "--culprit",
        "1",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("[party 0] error:"))
        .unwrap_or_else(|| panic!("party 0 reported no error:\n{stderr}"));
    assert!(line.contains("diverged"), "{line}");
}

#[test]
fn probe_without_faults_succeeds() {
    let out = crypten(&["launch", "-n", "4", "--", "probe", "--fault", "none"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout.matches("probe finished").count(), 4, "{stdout}");
}

#[test]
fn bench_ops_writes_json_records() {
    let dir = std::env::temp_dir().join(format!("crypten-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ops.json");
    let out = crypten(&[
        "bench",
        "ops",
        "--parties",
        "2",
        "--reps",
        "1",
        "--only",
        "mul,sum",
        "--json",
        path.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let json = std::fs::read_to_string(&path).unwrap();
    for field in [
        "\"op\"",
        "\"parties\"",
        "\"shape\"",
        "\"seconds\"",
        "\"bytes_per_party\"",
        "\"rounds\"",
    ] {
        assert!(json.contains(field), "{json}");
    }
    assert!(json.contains("\"op\": \"mul\""), "{json}");
    assert!(stdout.contains("[party 0] mul"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The number after `key` on the first line containing it.
fn number_after(text: &str, key: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{text}"));
    let rest = &line[line.find(key).unwrap() + key.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn the_four_use_cases_train_privately_as_separate_processes() {
    for (name, parties) in [
        ("feature-aggregation", "3"),
        ("data-labelling", "2"),
        ("dataset-augmentation", "3"),
        ("model-hiding", "2"),
    ] {
        let out = crypten(&["launch", "-n", parties, "--", "example", name]);
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "{name}: stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let acc = number_after(&stdout, "test accuracy ");
        assert!(acc > 0.75, "{name}: accuracy {acc}\n{stdout}");
        if name != "model-hiding" {
            let reference = number_after(&stdout, "reference (plaintext on pooled data): ");
            assert!(
                (acc - reference).abs() <= 0.01 + 1e-9,
                "{name}: {acc} vs plaintext {reference}"
            );
        }
        // Only the designated party saw the predictions.
        assert_eq!(stdout.matches("test accuracy").count(), 1, "{stdout}");
    }
}

#[test]
fn bench_models_reports_inference_and_training_costs() {
    let out = crypten(&[
        "bench",
        "models",
        "--parties",
        "2",
        "--reps",
        "1",
        "--only",
        "mlp_infer_b64,lenet_infer_b1",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for name in ["mlp_infer_b64", "lenet_infer_b1"] {
        let diff = number_after(
            &stdout,
            &format!("{name}: model at P0, data at P1; max |encrypted - plaintext| "),
        );
        assert!(diff < 1e-3, "{name}: {diff}");
    }
}
