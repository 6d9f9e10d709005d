//! `crypten bench paper` end to end on the small versions of the zoo: each cell as processes
//! over loopback (one party in-process), the JSON records, the progress lines, and the report
//! with its plots; and the refusals of bad arguments.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn crypten(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crypten"))
        .args(args)
        .env("CRYPTEN_RECV_TIMEOUT", "30")
        .output()
        .expect("the crypten binary runs")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crypten-paper-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn small_cells_records_progress_and_report() {
    let dir = temp("cells");
    let json = dir.join("paper.json");
    let report = dir.join("report");
    let (j, r) = (json.display().to_string(), report.display().to_string());
    let res = crypten(&[
        "bench",
        "paper",
        "--small",
        "--models",
        "text,resnet18",
        "--parties",
        "1,2,3",
        "--batch",
        "1,2",
        "--json",
        &j,
        "--report",
        &r,
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "bench paper failed:\n{stderr}");

    // Progress: each cell announced before it runs and summed up after, in order.
    let cells = [
        ("text", 1, 1),
        ("text", 2, 1),
        ("text", 3, 1),
        ("text", 1, 2),
        ("text", 2, 2),
        ("text", 3, 2),
        ("resnet18", 1, 1),
        ("resnet18", 2, 1),
        ("resnet18", 3, 1),
        ("resnet18", 1, 2),
        ("resnet18", 2, 2),
        ("resnet18", 3, 2),
    ];
    let mut from = 0;
    for (i, (model, parties, batch)) in cells.iter().enumerate() {
        let plural = if *parties == 1 { "party" } else { "parties" };
        let head = format!("[{}/12] {model}, {parties} {plural}, batch {batch}", i + 1);
        let at = stderr[from..]
            .find(&head)
            .unwrap_or_else(|| panic!("no progress line {head:?} in order:\n{stderr}"));
        from += at + head.len();
        let done = stderr[from..]
            .find(&format!("{head}: "))
            .unwrap_or_else(|| panic!("no summary line for {head:?}:\n{stderr}"));
        assert!(done > 0);
    }

    // Records: one per cell, each against the plaintext model.
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), cells.len());
    for (model, parties, batch) in cells {
        let rec = records
            .iter()
            .find(|r| r["model"] == model && r["parties"] == parties && r["batch"] == batch)
            .unwrap_or_else(|| panic!("no record for {model}, {parties}, {batch}"));
        let what = format!("{model}, {parties} parties, batch {batch}: {rec}");
        assert_eq!(rec["small"], true, "{what}");
        assert_eq!(rec["provider"], "ttp", "{what}");
        let nmse = rec["nmse"].as_f64().unwrap();
        assert!(nmse < 1e-4, "NMSE {nmse} of {what}");
        assert!(rec["seconds_per_sample"].as_f64().unwrap() > 0.0, "{what}");
        assert!(
            rec["plaintext_seconds_per_sample"].as_f64().unwrap() > 0.0,
            "{what}"
        );
        let sent = rec["bytes_sent_per_sample"].as_array().unwrap();
        let memory = rec["peak_rss_bytes"].as_array().unwrap();
        assert_eq!(sent.len(), parties, "{what}");
        assert_eq!(memory.len(), parties, "{what}");
        assert!(
            memory.iter().all(|m| m.as_u64().unwrap() > 1 << 20),
            "{what}"
        );
        let rounds = rec["rounds_per_sample"].as_f64().unwrap();
        assert!(sent.iter().all(|b| b.as_f64().unwrap() > 0.0), "{what}");
        assert!(rounds > 0.0, "{what}");
    }
    // A batch of two costs the rounds of a batch of one, spread over two samples; one party
    // runs the protocol of two.
    for (model, parties) in [("text", 1), ("text", 2), ("resnet18", 1), ("resnet18", 2)] {
        let rounds = |batch: usize| {
            records
                .iter()
                .find(|r| r["model"] == model && r["parties"] == parties && r["batch"] == batch)
                .unwrap()["rounds_per_sample"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(rounds(1), 2.0 * rounds(2), "{model}, {parties} parties");
    }

    // The profile of each cell: its operations and their rounds (party 0, the same batch).
    for rec in records {
        let profile = rec["profile"].as_array().unwrap();
        assert!(!profile.is_empty(), "{rec}");
        let ops: Vec<&str> = profile.iter().map(|o| o["op"].as_str().unwrap()).collect();
        assert!(ops.contains(&"MatMul") || ops.contains(&"Conv"), "{ops:?}");
        let rounds: f64 = profile.iter().map(|o| o["rounds"].as_f64().unwrap()).sum();
        // The cell's rounds also count the reveal of the output.
        let reveal = rec["rounds_per_sample"].as_f64().unwrap() - rounds;
        assert!(
            (0.0..=1.0).contains(&reveal),
            "the profile's rounds add up to the cell's: {rec}"
        );
    }

    // The report: tables naming each model, the command and the plots it links.
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("bench paper"), "the command is recorded:\n{md}");
    assert!(
        md.contains("Where the time goes"),
        "a profile per model:\n{md}"
    );
    for model in ["text", "resnet18"] {
        assert!(md.contains(model), "{model} in the report:\n{md}");
        for kind in ["time", "bytes", "rounds", "split"] {
            let file = format!("{model}_{kind}.svg");
            assert!(md.contains(&file), "{file} linked from the report");
            let svg = std::fs::read_to_string(report.join(&file)).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.len() > 1000,
                "{file} is a drawn SVG"
            );
        }
    }

    // --append keeps the records and replaces the cell measured again.
    let res = crypten(&[
        "bench",
        "paper",
        "--small",
        "--models",
        "text",
        "--parties",
        "2",
        "--batch",
        "1",
        "--json",
        &j,
        "--append",
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(again.as_array().unwrap().len(), cells.len());

    // The opt-in local truncation is a cell of its own, at most the exact one's rounds.
    let res = crypten(&[
        "bench",
        "paper",
        "--small",
        "--models",
        "resnet18",
        "--parties",
        "2",
        "--batch",
        "1",
        "--truncation",
        "local",
        "--json",
        &j,
        "--append",
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{stderr}");
    assert!(stderr.contains("local truncation"), "{stderr}");
    let all: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), cells.len() + 1);
    let find = |truncation: &str| {
        all.iter()
            .find(|r| {
                r["model"] == "resnet18"
                    && r["parties"] == 2
                    && r["batch"] == 1
                    && r["truncation"] == truncation
            })
            .unwrap_or_else(|| panic!("no {truncation} record"))["rounds_per_sample"]
            .as_f64()
            .unwrap()
    };
    assert!(find("local") <= find("exact"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_are_refused_before_any_cell() {
    for (args, needle) in [
        (vec!["--models", "alexnet"], "unknown model alexnet"),
        (vec!["--parties", "0"], "--parties"),
        (vec!["--batch", "0"], "--batch"),
        (vec!["--reps", "0"], "--reps"),
    ] {
        let mut all = vec!["bench", "paper", "--small"];
        all.extend(args);
        let res = crypten(&all);
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(!res.status.success(), "{all:?} succeeded");
        assert!(stderr.contains(needle), "{all:?}: {stderr}");
        assert!(!stderr.contains("[1/"), "{all:?} started a cell: {stderr}");
    }
}
