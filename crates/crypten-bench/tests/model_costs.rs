//! The model benchmarks' rounds, asserted from the stats: MLP and LeNet inference and an MLP
//! training step, the same for 2 and 3 parties with exact truncation (the default), and the
//! 2-party figures of the opt-in local truncation.
#![allow(clippy::unwrap_used)]

use crypten::simulator::run_with;
use crypten::{Config, ProviderKind, Truncation};
use crypten_bench::models::run_models;

/// (benchmark, rounds with exact truncation, rounds with local truncation at 2 parties)
const EXPECTED: [(&str, u64, u64); 4] = [
    ("mlp_infer_b64", 11, 11),
    ("lenet_infer_b1", 37, 37),
    ("lenet_infer_b64", 37, 37),
    ("mlp_train_step_b64", 67, 59),
];

fn rounds(parties: usize, truncation: Truncation) -> Vec<(String, u64)> {
    let config = Config {
        provider: ProviderKind::TrustedThirdParty,
        truncation,
        ..Config::default()
    };
    let records = run_with(parties, config, |sess| {
        run_models(&sess, &[], 1).map_err(|e| crypten::Error::Config(e.to_string()))
    })
    .unwrap();
    records[0]
        .iter()
        .map(|r| (r.op.clone(), r.rounds))
        .collect()
}

#[test]
fn model_rounds_are_the_same_for_two_and_three_parties() {
    let mut failures = Vec::new();
    for (parties, truncation) in [
        (2, Truncation::Exact),
        (3, Truncation::Exact),
        (2, Truncation::Local),
    ] {
        for (name, got) in rounds(parties, truncation) {
            let Some(&(_, exact, local)) = EXPECTED.iter().find(|e| e.0 == name) else {
                continue;
            };
            let want = if truncation == Truncation::Local {
                local
            } else {
                exact
            };
            if got != want {
                failures.push(format!(
                    "{name}, {parties} parties, {truncation:?}: {got} rounds, documented {want}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
