//! The same training loop on plaintext and on encrypted data and models (2 and 3 parties),
//! and the optimizer's update rules against hand-computed references.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_autograd::Variable;
use crypten_core::Prg;
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind};
use crypten_nn::optim::{Sgd, SgdConfig};
use crypten_nn::{Linear, Module, MseLoss, Parameter, Sequential};
use ndarray::{ArrayD, IxDyn, array};

/// Synthetic regression data: y = x A + 0.5 with a fixed A.
fn regression(samples: usize) -> (ArrayD<f64>, ArrayD<f64>) {
    let mut prg = Prg::from_seed([9; 16]);
    let x = ArrayD::from_shape_simple_fn(IxDyn(&[samples, 3]), || prg.uniform_f64() * 2.0 - 1.0);
    let a = array![[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5]];
    let x2 = x.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    let y = (x2.dot(&a) + 0.5).into_dyn();
    (x, y)
}

fn model() -> Sequential {
    let mut prg = Prg::from_seed([3; 16]);
    Sequential::new()
        .push(Linear::new(3, 8, true, &mut prg).unwrap())
        .push(crypten_nn::ReLU)
        .push(Linear::new(8, 2, true, &mut prg).unwrap())
}

/// The training loop under test: identical for plaintext and encrypted tensors.
fn train(
    model: &dyn Module,
    x: &Variable,
    y: &Variable,
    steps: usize,
) -> crypten_nn::Result<Vec<f64>> {
    let config = SgdConfig {
        lr: 0.1,
        momentum: 0.5,
        weight_decay: 1e-3,
        ..SgdConfig::default()
    };
    let mut optimizer = Sgd::new(model.parameters(), config)?;
    let mut losses = Vec::new();
    for _ in 0..steps {
        optimizer.zero_grad();
        let loss = MseLoss.forward(&model.forward(x)?, y)?;
        loss.backward()?;
        optimizer.step()?;
        losses.push(loss.value().to_plain()?.sum());
    }
    Ok(losses)
}

fn weights(model: &dyn Module) -> Vec<ArrayD<f64>> {
    model
        .parameters()
        .iter()
        .map(|p| p.value().to_plain().unwrap())
        .collect()
}

#[test]
fn the_same_loop_trains_in_plaintext_and_encrypted() {
    let (x, y) = regression(32);
    let plain_model = model();
    let plain_losses = train(
        &plain_model,
        &Variable::constant(x.clone()),
        &Variable::constant(y.clone()),
        15,
    )
    .unwrap();
    assert!(plain_losses[14] < plain_losses[0] * 0.5, "{plain_losses:?}");
    let plain_weights = weights(&plain_model);
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            // Party 0 owns the model, the last party the data.
            let m = model();
            m.encrypt(&sess, 0).unwrap();
            let data_owner = parties - 1;
            let xs = Variable::constant(CrypTensor::from_array(&sess, &x, data_owner)?);
            let ys = Variable::constant(CrypTensor::from_array(&sess, &y, data_owner)?);
            let losses = train(&m, &xs, &ys, 15).unwrap();
            assert!(m.parameters().iter().all(|p| p.value().is_encrypted()));
            Ok((losses, weights(&m)))
        })
        .unwrap();
        let (losses, w) = &out[0];
        for (step, (a, b)) in losses.iter().zip(&plain_losses).enumerate() {
            assert!(
                (a - b).abs() < 1e-2 * b.abs().max(1.0),
                "{parties} parties, step {step}: {a} vs {b}"
            );
        }
        for (got, want) in w.iter().zip(&plain_weights) {
            let err = got
                .iter()
                .zip(want.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 5e-3, "{parties} parties: weight error {err}");
        }
    }
}

#[test]
fn sgd_matches_the_update_rules() {
    // One parameter, constant gradient 1: plain SGD, momentum, Nesterov, weight decay.
    let cases = [
        (
            SgdConfig {
                lr: 0.1,
                ..SgdConfig::default()
            },
            [0.9, 0.8, 0.7],
        ),
        // v1 = 1, v2 = 1.5, v3 = 1.75
        (
            SgdConfig {
                lr: 0.1,
                momentum: 0.5,
                ..SgdConfig::default()
            },
            [0.9, 0.75, 0.575],
        ),
        // d = g + 0.5 v: 1.5, 1.75, 1.875
        (
            SgdConfig {
                lr: 0.1,
                momentum: 0.5,
                nesterov: true,
                ..SgdConfig::default()
            },
            [0.85, 0.675, 0.4875],
        ),
        // d = 1 + 0.5 p: 1.5 -> 0.85, 1.425 -> 0.7075, 1.35375 -> 0.572125
        (
            SgdConfig {
                lr: 0.1,
                weight_decay: 0.5,
                ..SgdConfig::default()
            },
            [0.85, 0.7075, 0.572125],
        ),
    ];
    for (config, expected) in cases {
        let p = Parameter::new(ArrayD::from_elem(IxDyn(&[1]), 1.0));
        let mut sgd = Sgd::new(vec![p.clone()], config).unwrap();
        for want in expected {
            p.var().sum_all().unwrap().backward().unwrap();
            sgd.step().unwrap();
            sgd.zero_grad();
            let got = p.value().to_plain().unwrap()[[0]];
            assert!((got - want).abs() < 1e-12, "{config:?}: {got} vs {want}");
        }
    }
    assert!(
        Sgd::new(
            vec![],
            SgdConfig {
                lr: -1.0,
                ..SgdConfig::default()
            }
        )
        .is_err()
    );
    assert!(
        Sgd::new(
            vec![],
            SgdConfig {
                nesterov: true,
                ..SgdConfig::default()
            }
        )
        .is_err()
    );
}

#[test]
fn layers_reject_wrong_input_shapes() {
    let layer = Linear::new(3, 2, true, &mut Prg::from_seed([1; 16])).unwrap();
    let err = layer
        .forward(&Variable::constant(ArrayD::zeros(IxDyn(&[4, 5]))))
        .err()
        .unwrap();
    assert!(err.to_string().contains("Linear"), "{err}");
    assert!(Linear::new(0, 2, true, &mut Prg::from_seed([1; 16])).is_err());
}

#[test]
fn a_small_cnn_trains_the_same_in_plaintext_and_encrypted() {
    let mut prg = Prg::from_seed([5; 16]);
    let x = ArrayD::from_shape_simple_fn(IxDyn(&[4, 1, 6, 6]), || prg.uniform_f64());
    let y = ArrayD::from_shape_simple_fn(IxDyn(&[4, 2]), || prg.uniform_f64());
    let make = || {
        let mut prg = Prg::from_seed([6; 16]);
        let p = crypten_core::Conv2dParams {
            stride: (2, 2),
            padding: (1, 1),
            ..Default::default()
        };
        Sequential::new()
            .push(crypten_nn::Conv2d::new(1, 3, (3, 3), p, true, &mut prg).unwrap())
            .push(crypten_nn::Flatten)
            .push(Linear::new(27, 2, true, &mut prg).unwrap())
    };
    let plain_model = make();
    let plain_losses = train(
        &plain_model,
        &Variable::constant(x.clone()),
        &Variable::constant(y.clone()),
        6,
    )
    .unwrap();
    assert!(plain_losses[5] < plain_losses[0], "{plain_losses:?}");
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let m = make();
        m.encrypt(&sess, 0).unwrap();
        let xs = Variable::constant(CrypTensor::from_array(&sess, &x, 1)?);
        let ys = Variable::constant(CrypTensor::from_array(&sess, &y, 1)?);
        Ok(train(&m, &xs, &ys, 6).unwrap())
    })
    .unwrap();
    for (a, b) in out[0].iter().zip(&plain_losses) {
        assert!((a - b).abs() < 1e-2 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn embedding_is_a_one_hot_product_with_gradients_on_used_rows() {
    let mut prg = Prg::from_seed([2; 16]);
    let table = crypten_nn::Embedding::new(5, 3, &mut prg).unwrap();
    let ids = [4usize, 0, 4];
    let x = Variable::constant(crypten_nn::one_hot(&ids, 5).unwrap());
    let y = table.forward(&x).unwrap();
    let w = table.weight().value().to_plain().unwrap();
    let got = y.value().to_plain().unwrap();
    for (row, &id) in ids.iter().enumerate() {
        for j in 0..3 {
            assert_eq!(got[[row, j]], w[[id, j]]);
        }
    }
    y.sum_all().unwrap().backward().unwrap();
    let g = table.weight().grad().unwrap().to_plain().unwrap();
    assert_eq!(g[[4, 0]], 2.0);
    assert_eq!(g[[0, 1]], 1.0);
    assert_eq!(g[[2, 2]], 0.0);
    assert!(crypten_nn::one_hot(&[5], 5).is_err());
}
