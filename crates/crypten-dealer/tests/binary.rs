//! The `crypten-dealer` binary refuses a missing or inconsistent environment with a clear
//! error instead of waiting for parties. (Serving parties is tested end to end through
//! `crypten ttp`, which runs the same `run_from_env`, in crypten-cli's tests.)
#![allow(clippy::unwrap_used)] // Tests may unwrap: a failure is the test failing.

use std::process::Command;

fn dealer(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crypten-dealer"));
    for var in [
        "RANK",
        "WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
        "CRYPTEN_RECV_TIMEOUT",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.envs(env.iter().copied()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_variable_is_named() {
    let (ok, stderr) = dealer(&[]);
    assert!(!ok);
    assert!(
        stderr.contains("environment variable RANK is not set"),
        "{stderr}"
    );
}

#[test]
fn a_party_rank_is_not_a_dealer() {
    let env = [
        ("RANK", "1"),
        ("WORLD_SIZE", "2"),
        ("MASTER_ADDR", "127.0.0.1"),
        ("MASTER_PORT", "9"),
    ];
    let (ok, stderr) = dealer(&env);
    assert!(!ok);
    assert!(
        stderr
            .contains("the dealer must be rank 2 (the number of parties), this endpoint is rank 1"),
        "{stderr}"
    );
}

#[test]
fn a_bad_timeout_is_refused() {
    let env = [
        ("RANK", "2"),
        ("WORLD_SIZE", "2"),
        ("MASTER_ADDR", "127.0.0.1"),
        ("MASTER_PORT", "9"),
        ("CRYPTEN_RECV_TIMEOUT", "-3"),
    ];
    let (ok, stderr) = dealer(&env);
    assert!(!ok);
    assert!(stderr.contains("CRYPTEN_RECV_TIMEOUT"), "{stderr}");
}
