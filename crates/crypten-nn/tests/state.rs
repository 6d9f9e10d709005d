//! Saving and loading parameters: plaintext `.safetensors` and `.npy`, and per-party shares;
//! malformed or mismatched files are errors, never panics.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_core::Prg;
use crypten_mpc::ProviderKind;
use crypten_mpc::simulator::run;
use crypten_nn::state::{
    load_npy_dir, load_safetensors, load_shares, save_npy_dir, save_safetensors, save_shares,
    state_dict,
};
use crypten_nn::{Linear, Module, Sequential};
use std::path::PathBuf;

fn model(seed: u8) -> Sequential {
    let mut prg = Prg::from_seed([seed; 16]);
    Sequential::new()
        .push(Linear::new(3, 4, true, &mut prg).unwrap())
        .push(Linear::new(4, 2, false, &mut prg).unwrap())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crypten-nn-state-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn plaintext_round_trips() {
    let dir = scratch("plain");
    let (a, b) = (model(1), model(2));
    save_safetensors(&a, &dir.join("m.safetensors")).unwrap();
    load_safetensors(&b, &dir.join("m.safetensors")).unwrap();
    assert_eq!(state_dict(&a).unwrap(), state_dict(&b).unwrap());
    let c = model(3);
    save_npy_dir(&a, &dir.join("npy")).unwrap();
    load_npy_dir(&c, &dir.join("npy")).unwrap();
    assert_eq!(state_dict(&a).unwrap(), state_dict(&c).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mismatched_or_malformed_files_are_errors() {
    let dir = scratch("bad");
    let mut prg = Prg::from_seed([1; 16]);
    let other = Sequential::new().push(Linear::new(3, 5, true, &mut prg).unwrap());
    save_safetensors(&other, &dir.join("other.safetensors")).unwrap();
    let err = load_safetensors(&model(1), &dir.join("other.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("shape") || err.contains("missing"), "{err}");
    std::fs::write(dir.join("garbage.safetensors"), [0xffu8; 64]).unwrap();
    assert!(load_safetensors(&model(1), &dir.join("garbage.safetensors")).is_err());
    std::fs::write(dir.join("short.safetensors"), [1u8, 0, 0]).unwrap();
    assert!(load_safetensors(&model(1), &dir.join("short.safetensors")).is_err());
    assert!(load_safetensors(&model(1), &dir.join("absent.safetensors")).is_err());
    assert!(load_npy_dir(&model(1), &dir.join("absent")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shares_round_trip_per_party_and_check_metadata() {
    let dir = scratch("shares");
    let expected = state_dict(&model(1)).unwrap();
    let out = run(2, ProviderKind::InsecureTrustedFirstParty, |sess| {
        let m = model(1);
        m.encrypt(&sess, 0).unwrap();
        let path = dir.join(format!("party{}.safetensors", sess.rank()));
        save_shares(&m, &sess, &path).unwrap();
        let fresh = model(9);
        fresh.encrypt(&sess, 0).unwrap();
        load_shares(&fresh, &sess, &path).unwrap();
        // Another party's file is refused (by its metadata, or as missing if not yet written).
        let wrong = dir.join(format!("party{}.safetensors", 1 - sess.rank()));
        let refused = load_shares(&fresh, &sess, &wrong).is_err();
        Ok((state_dict(&fresh).unwrap(), refused))
    })
    .unwrap();
    for (state, refused) in out {
        assert_eq!(state.len(), expected.len());
        for ((n1, a), (n2, b)) in state.iter().zip(&expected) {
            assert_eq!(n1, n2);
            let err = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(err <= 1.0 / 131072.0, "{n1}: {err}");
        }
        assert!(refused);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
