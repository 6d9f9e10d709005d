//! Private training reaches the accuracy of plaintext training: logistic regression and a
//! 2-hidden-layer MLP trained in MPC (2 and 3 parties) against the same models trained in f64
//! with the same seed and schedule, and a small CNN whose loss decreases over an epoch.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_autograd::{Tensor, Variable};
use crypten_core::Prg;
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind};
use crypten_nn::optim::{Sgd, SgdConfig};
use crypten_nn::{BceWithLogitsLoss, CrossEntropyLoss, Linear, Module, ReLU, Sequential, Target};
use ndarray::{ArrayD, Axis, IxDyn};

/// Gaussian-ish blobs: `classes` centres in `dim` dimensions, labels by centre.
fn blobs(samples: usize, dim: usize, classes: usize, seed: u8) -> (ArrayD<f64>, Vec<usize>) {
    let mut prg = Prg::from_seed([seed; 16]);
    let centres: Vec<Vec<f64>> = (0..classes)
        .map(|_| (0..dim).map(|_| prg.uniform_f64() * 4.0 - 2.0).collect())
        .collect();
    let labels: Vec<usize> = (0..samples).map(|i| i % classes).collect();
    let x = ArrayD::from_shape_fn(IxDyn(&[samples, dim]), |ix| {
        // Sum of uniforms: a bell-shaped spread around the centre.
        let noise: f64 = (0..3).map(|_| prg.uniform_f64() - 0.5).sum();
        centres[labels[ix[0]]][ix[1]] + 3.5 * noise
    });
    (x, labels)
}

fn accuracy(logits: &ArrayD<f64>, labels: &[usize]) -> f64 {
    let hits = logits
        .lanes(Axis(1))
        .into_iter()
        .zip(labels)
        .filter(|(row, label)| {
            let label = **label;
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (i, &v)| if v > row[b] { i } else { b });
            if row.len() == 1 {
                (row[0] > 0.0) == (label == 1)
            } else {
                best == label
            }
        });
    hits.count() as f64 / labels.len() as f64
}

/// Mini-batch training shared by plaintext and MPC; returns test accuracy.
/// The training schedule.
#[derive(Clone, Copy)]
struct Schedule {
    binary: bool,
    epochs: usize,
    batch: usize,
}

fn fit(
    model: &dyn Module,
    x: &Tensor,
    targets: &[Variable],
    test_x: &Tensor,
    test_labels: &[usize],
    Schedule {
        binary,
        epochs,
        batch,
    }: Schedule,
) -> crypten_nn::Result<f64> {
    let mut sgd = Sgd::new(
        model.parameters(),
        SgdConfig {
            lr: 0.3,
            momentum: 0.5,
            ..SgdConfig::default()
        },
    )?;
    let n = x.shape()[0];
    for _ in 0..epochs {
        for (b, start) in (0..n).step_by(batch).enumerate() {
            let len = batch.min(n - start);
            let xb = Variable::constant(narrow(x, start, len)?);
            sgd.zero_grad();
            let logits = model.forward(&xb)?;
            let loss = if binary {
                BceWithLogitsLoss.forward(&logits, &targets[b])?
            } else {
                CrossEntropyLoss.forward(&logits, &Target::OneHot(targets[b].clone()))?
            };
            loss.backward()?;
            sgd.step()?;
        }
    }
    let logits = crypten_autograd::no_grad(|| model.forward(&Variable::constant(test_x.clone())))?;
    Ok(accuracy(&logits.value().to_plain()?, test_labels))
}

fn narrow(t: &Tensor, start: usize, len: usize) -> crypten_autograd::Result<Tensor> {
    Ok(match t {
        Tensor::Plain(a) => Tensor::Plain(
            a.slice_axis(Axis(0), ndarray::Slice::from(start..start + len))
                .to_owned(),
        ),
        Tensor::Encrypted(c) => Tensor::Encrypted(c.narrow(0, start, len)?),
    })
}

fn targets_for(labels: &[usize], classes: usize, batch: usize, binary: bool) -> Vec<ArrayD<f64>> {
    labels
        .chunks(batch)
        .map(|chunk| {
            if binary {
                ArrayD::from_shape_fn(IxDyn(&[chunk.len(), 1]), |ix| chunk[ix[0]] as f64)
            } else {
                crypten_nn::one_hot(chunk, classes).unwrap()
            }
        })
        .collect()
}

fn check(make: fn() -> Sequential, classes: usize, binary: bool, epochs: usize) {
    let (all, all_labels) = blobs(360, 6, classes, 11);
    let x = all
        .slice_axis(Axis(0), ndarray::Slice::from(0..240))
        .to_owned();
    let tx = all
        .slice_axis(Axis(0), ndarray::Slice::from(240..360))
        .to_owned();
    let (labels, tlabels) = (all_labels[..240].to_vec(), all_labels[240..].to_vec());
    let batch = 40;
    let schedule = Schedule {
        binary,
        epochs,
        batch,
    };
    let targets = targets_for(&labels, classes, batch, binary);
    let plain_targets: Vec<Variable> = targets
        .iter()
        .map(|t| Variable::constant(t.clone()))
        .collect();
    let plain = fit(
        &make(),
        &Tensor::Plain(x.clone()),
        &plain_targets,
        &Tensor::Plain(tx.clone()),
        &tlabels,
        schedule,
    )
    .unwrap();
    // Well above chance (1/classes), below 100%: the data is noisy enough to tell models apart.
    assert!(plain > 0.75 && plain < 1.0, "plaintext accuracy {plain}");
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            // Party 0 holds the features, the last party the labels (the data-labelling case).
            let xe = Tensor::Encrypted(CrypTensor::from_array(&sess, &x, 0)?);
            let te = Tensor::Encrypted(CrypTensor::from_array(&sess, &tx, 0)?);
            let ye = targets
                .iter()
                .map(|t| {
                    Ok(Variable::constant(CrypTensor::from_array(
                        &sess,
                        t,
                        parties - 1,
                    )?))
                })
                .collect::<crypten_mpc::Result<Vec<_>>>()?;
            let model = make();
            model.encrypt(&sess, 0).unwrap();
            Ok(fit(&model, &xe, &ye, &te, &tlabels, schedule).unwrap())
        })
        .unwrap();
        println!(
            "{parties} parties: test accuracy encrypted {:.4}, plaintext {plain:.4}",
            out[0]
        );
        assert!(
            (out[0] - plain).abs() <= 0.01 + 1e-9,
            "{parties} parties: encrypted {} vs plaintext {plain}",
            out[0]
        );
    }
}

#[test]
fn logistic_regression_matches_plaintext_accuracy() {
    check(
        || Sequential::new().push(Linear::new(6, 1, true, &mut Prg::from_seed([7; 16])).unwrap()),
        2,
        true,
        4,
    );
}

#[test]
fn mlp_matches_plaintext_accuracy() {
    let make = || {
        let mut prg = Prg::from_seed([8; 16]);
        Sequential::new()
            .push(Linear::new(6, 16, true, &mut prg).unwrap())
            .push(ReLU)
            .push(Linear::new(16, 16, true, &mut prg).unwrap())
            .push(ReLU)
            .push(Linear::new(16, 3, true, &mut prg).unwrap())
    };
    check(make, 3, false, 8);
}

#[test]
fn a_small_cnn_trains_an_epoch_with_decreasing_loss() {
    // 8x8 single-channel images: class 0 has a bright left half, class 1 a bright right half.
    let mut prg = Prg::from_seed([13; 16]);
    let (n, batch) = (96, 16);
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let images = ArrayD::from_shape_fn(IxDyn(&[n, 1, 8, 8]), |ix| {
        let bright = (ix[3] < 4) == (labels[ix[0]] == 0);
        (if bright { 0.8 } else { 0.2 }) + 0.4 * (prg.uniform_f64() - 0.5)
    });
    let make = || {
        let mut prg = Prg::from_seed([14; 16]);
        let p = crypten_core::Conv2dParams {
            padding: (1, 1),
            ..Default::default()
        };
        Sequential::new()
            .push(crypten_nn::Conv2d::new(1, 4, (3, 3), p, true, &mut prg).unwrap())
            .push(ReLU)
            .push(crypten_nn::MaxPool2d {
                kernel: (2, 2),
                stride: (2, 2),
            })
            .push(crypten_nn::Flatten)
            .push(Linear::new(64, 2, true, &mut prg).unwrap())
    };
    let targets = targets_for(&labels, 2, batch, false);
    let epoch =
        |model: &dyn Module, x: &Tensor, targets: &[Variable]| -> crypten_nn::Result<Vec<f64>> {
            let mut sgd = Sgd::new(
                model.parameters(),
                SgdConfig {
                    lr: 0.2,
                    momentum: 0.5,
                    ..SgdConfig::default()
                },
            )?;
            let mut losses = Vec::new();
            for (b, target) in targets.iter().enumerate() {
                sgd.zero_grad();
                let logits = model.forward(&Variable::constant(narrow(x, b * batch, batch)?))?;
                let loss = CrossEntropyLoss.forward(&logits, &Target::OneHot(target.clone()))?;
                loss.backward()?;
                sgd.step()?;
                losses.push(loss.value().to_plain()?.sum());
            }
            Ok(losses)
        };
    let plain_targets: Vec<Variable> = targets
        .iter()
        .map(|t| Variable::constant(t.clone()))
        .collect();
    let plain = epoch(&make(), &Tensor::Plain(images.clone()), &plain_targets).unwrap();
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let model = make();
        model.encrypt(&sess, 0).unwrap();
        let x = Tensor::Encrypted(CrypTensor::from_array(&sess, &images, 1)?);
        let ys = targets
            .iter()
            .map(|t| Ok(Variable::constant(CrypTensor::from_array(&sess, t, 1)?)))
            .collect::<crypten_mpc::Result<Vec<_>>>()?;
        Ok(epoch(&model, &x, &ys).unwrap())
    })
    .unwrap();
    for losses in [&plain, &out[0]] {
        let (first, last) = (
            losses[0] + losses[1],
            losses[losses.len() - 2] + losses[losses.len() - 1],
        );
        assert!(
            last < 0.7 * first,
            "loss did not decrease over the epoch: {losses:?}"
        );
    }
    for (a, b) in out[0].iter().zip(&plain) {
        assert!((a - b).abs() < 2e-2, "encrypted {a} vs plaintext {b}");
    }
}
