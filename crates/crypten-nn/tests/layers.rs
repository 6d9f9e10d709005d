//! Losses, normalisation, dropout and Adam: plaintext against f64 references, encrypted (2
//! parties) against plaintext.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions unwrap too

use crypten_autograd::{Tensor, Variable};
use crypten_core::Prg;
use crypten_mpc::simulator::run;
use crypten_mpc::{CrypTensor, ProviderKind};
use crypten_nn::optim::{Adam, AdamConfig};
use crypten_nn::{
    BatchNorm, BceLoss, BceWithLogitsLoss, CrossEntropyLoss, Dropout, L1Loss, LayerNorm, Module,
    MseLoss, Parameter, Target,
};
use ndarray::{ArrayD, Axis, IxDyn};

fn data(shape: &[usize], seed: u8, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || lo + prg.uniform_f64() * (hi - lo))
}

fn max_err(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn scalar(v: &Variable) -> f64 {
    v.value()
        .to_plain()
        .unwrap()
        .iter()
        .copied()
        .next()
        .unwrap()
}

/// Every loss and its gradient with respect to the prediction, for one input set.
fn losses(
    pred: &Variable,
    prob: &Variable,
    target: &Variable,
    labels: &Variable,
) -> crypten_nn::Result<Vec<(f64, ArrayD<f64>)>> {
    let mut out = Vec::new();
    let ids = Target::Indices(vec![2, 0, 1, 2]);
    let onehot = Target::OneHot(labels.clone());
    for which in 0..6 {
        let (x, loss) = match which {
            0 => (pred, MseLoss.forward(pred, target)?),
            1 => (pred, L1Loss.forward(pred, target)?),
            2 => (prob, BceLoss.forward(prob, target)?),
            3 => (pred, BceWithLogitsLoss.forward(pred, target)?),
            4 => (pred, CrossEntropyLoss.forward(pred, &ids)?),
            _ => (pred, CrossEntropyLoss.forward(pred, &onehot)?),
        };
        x.zero_grad();
        loss.backward()?;
        out.push((scalar(&loss), x.grad().unwrap().to_plain()?));
        x.zero_grad();
    }
    Ok(out)
}

#[test]
fn losses_match_references_and_encrypted_runs() {
    let (pred, prob, target) = (
        data(&[4, 3], 1, -2.0, 2.0),
        data(&[4, 3], 2, 0.05, 0.95),
        data(&[4, 3], 3, 0.0, 1.0),
    );
    let labels = crypten_nn::one_hot(&[2, 0, 1, 2], 3).unwrap();
    let leaf = |a: &ArrayD<f64>| Variable::leaf(a.clone(), true);
    let plain = losses(
        &leaf(&pred),
        &leaf(&prob),
        &Variable::constant(target.clone()),
        &Variable::constant(labels.clone()),
    )
    .unwrap();
    // f64 references.
    let n = 12.0;
    let mse = pred
        .iter()
        .zip(target.iter())
        .map(|(p, t)| (p - t).powi(2))
        .sum::<f64>()
        / n;
    let l1 = pred
        .iter()
        .zip(target.iter())
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / n;
    let bce = -prob
        .iter()
        .zip(target.iter())
        .map(|(p, t)| t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        .sum::<f64>()
        / n;
    let bcel = pred
        .iter()
        .zip(target.iter())
        .map(|(z, t)| (1.0 + z.exp()).ln() - t * z)
        .sum::<f64>()
        / n;
    let logsm: Vec<f64> = pred
        .lanes(Axis(1))
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            row[[2, 0, 1, 2][i]] - lse
        })
        .collect();
    let ce = -logsm.iter().sum::<f64>() / 4.0;
    for (i, want) in [mse, l1, bce, bcel, ce, ce].into_iter().enumerate() {
        assert!(
            (plain[i].0 - want).abs() < 1e-12,
            "loss {i}: {} vs {want}",
            plain[i].0
        );
    }
    // Gradient of cross-entropy: (softmax - onehot) / N.
    let sm = pred.map_axis(Axis(1), |row| row.iter().map(|v| v.exp()).sum::<f64>());
    let ce_grad = ArrayD::from_shape_fn(IxDyn(&[4, 3]), |ix| {
        (pred[[ix[0], ix[1]]].exp() / sm[[ix[0]]] - labels[[ix[0], ix[1]]]) / 4.0
    });
    assert!(max_err(&plain[4].1, &ce_grad) < 1e-12);
    assert!(max_err(&plain[5].1, &ce_grad) < 1e-12);
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let enc = |a: &ArrayD<f64>, src| {
            Ok::<_, crypten_mpc::Error>(Variable::leaf(
                CrypTensor::from_array(&sess, a, src)?,
                true,
            ))
        };
        let labels_enc = Variable::constant(CrypTensor::from_array(&sess, &labels, 1)?);
        let got = losses(
            &enc(&pred, 0)?,
            &enc(&prob, 0)?,
            &Variable::constant(CrypTensor::from_array(&sess, &target, 1)?),
            &labels_enc,
        )
        .unwrap();
        Ok(got)
    })
    .unwrap();
    for (i, ((lp, gp), (le, ge))) in plain.iter().zip(&out[0]).enumerate() {
        assert!((lp - le).abs() < 5e-3, "loss {i}: {le} vs {lp}");
        assert!(max_err(gp, ge) < 5e-3, "gradient {i}: {}", max_err(gp, ge));
    }
}

#[test]
fn normalisation_layers_normalise_and_agree_encrypted() {
    let x2 = data(&[8, 3], 4, -3.0, 5.0);
    let x4 = data(&[4, 2, 3, 3], 5, -1.0, 3.0);
    let forward = |bn1: &mut BatchNorm,
                   bn2: &BatchNorm,
                   ln: &LayerNorm,
                   a: Tensor,
                   b: Tensor|
     -> crypten_nn::Result<Vec<ArrayD<f64>>> {
        let train1 = bn1
            .forward(&Variable::constant(a.clone()))?
            .value()
            .to_plain()?;
        let train2 = bn2.forward(&Variable::constant(b))?.value().to_plain()?;
        let layer = ln
            .forward(&Variable::constant(a.clone()))?
            .value()
            .to_plain()?;
        bn1.set_training(false);
        let eval1 = bn1.forward(&Variable::constant(a))?.value().to_plain()?;
        let (rm, rv) = bn1.running_stats();
        Ok(vec![
            train1,
            train2,
            layer,
            eval1,
            rm.to_plain()?,
            rv.to_plain()?,
        ])
    };
    let (mut bn1, bn2, ln) = (
        BatchNorm::new_1d(3).unwrap(),
        BatchNorm::new_2d(2).unwrap(),
        LayerNorm::new(3).unwrap(),
    );
    let plain = forward(
        &mut bn1,
        &bn2,
        &ln,
        Tensor::Plain(x2.clone()),
        Tensor::Plain(x4.clone()),
    )
    .unwrap();
    for c in 0..3 {
        let col = plain[0].index_axis(Axis(1), c);
        assert!(
            col.mean().unwrap().abs() < 1e-9
                && (col.mapv(|v| v * v).mean().unwrap() - 1.0).abs() < 1e-3
        );
        let mean = x2.index_axis(Axis(1), c).mean().unwrap();
        assert!((plain[4][[c]] - 0.1 * mean).abs() < 1e-12, "running mean");
    }
    for row in plain[2].lanes(Axis(1)) {
        assert!(row.mean().unwrap().abs() < 1e-9);
    }
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let (mut bn1, bn2, ln) = (
            BatchNorm::new_1d(3).unwrap(),
            BatchNorm::new_2d(2).unwrap(),
            LayerNorm::new(3).unwrap(),
        );
        let a = Tensor::Encrypted(CrypTensor::from_array(&sess, &x2, 0)?);
        let b = Tensor::Encrypted(CrypTensor::from_array(&sess, &x4, 1)?);
        Ok(forward(&mut bn1, &bn2, &ln, a, b).unwrap())
    })
    .unwrap();
    for (i, (p, e)) in plain.iter().zip(&out[0]).enumerate() {
        assert!(max_err(p, e) < 2e-2, "output {i}: {}", max_err(p, e));
    }
}

#[test]
fn dropout_drops_at_its_rate_and_hides_its_mask() {
    let x = ArrayD::from_elem(IxDyn(&[4000]), 1.0);
    let mut layer = Dropout::new(0.25, Prg::from_seed([1; 16])).unwrap();
    let y = layer
        .forward(&Variable::constant(x.clone()))
        .unwrap()
        .value()
        .to_plain()
        .unwrap();
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / 4000.0;
    assert!((dropped - 0.25).abs() < 0.03, "{dropped}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-12));
    layer.set_training(false);
    assert_eq!(
        layer
            .forward(&Variable::constant(x.clone()))
            .unwrap()
            .value()
            .to_plain()
            .unwrap(),
        x
    );
    assert!(Dropout::new(1.0, Prg::from_seed([1; 16])).is_err());
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let layer = Dropout::new(0.25, Prg::from_seed([1; 16])).unwrap();
        let xe = Variable::constant(CrypTensor::from_array(&sess, &x, 0)?);
        layer.forward(&xe).unwrap().value().to_plain()
    })
    .unwrap();
    let dropped = out[0].iter().filter(|&&v| v.abs() < 1e-3).count() as f64 / 4000.0;
    assert!((dropped - 0.25).abs() < 0.03, "{dropped}");
    assert!(
        out[0]
            .iter()
            .all(|&v| v.abs() < 1e-3 || (v - 4.0 / 3.0).abs() < 1e-3)
    );
}

#[test]
fn adam_follows_its_update_rule_in_plaintext_and_encrypted() {
    let config = AdamConfig {
        lr: 0.1,
        eps: 1e-3,
        ..AdamConfig::default()
    };
    let steps =
        |p: &std::rc::Rc<Parameter>, adam: &mut Adam| -> crypten_nn::Result<Vec<ArrayD<f64>>> {
            let mut out = Vec::new();
            for _ in 0..3 {
                adam.zero_grad();
                p.var().square()?.sum_all()?.backward()?;
                adam.step()?;
                out.push(p.value().to_plain()?);
            }
            Ok(out)
        };
    let start = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0, -2.0, 0.5]).unwrap();
    let p = Parameter::new(start.clone());
    let plain = steps(&p, &mut Adam::new(vec![p.clone()], config).unwrap()).unwrap();
    // Reference: g = 2p; m, v with bias correction.
    let (mut x, mut m, mut v) = (start.clone(), start.mapv(|_| 0.0), start.mapv(|_| 0.0));
    for (t, got) in plain.iter().enumerate() {
        let g = x.mapv(|a| 2.0 * a);
        m = &m * 0.9 + &g * 0.1;
        v = &v * 0.999 + &g.mapv(|a| a * a) * 0.001;
        let (b1, b2) = (
            1.0 - 0.9f64.powi(t as i32 + 1),
            1.0 - 0.999f64.powi(t as i32 + 1),
        );
        x = &x
            - &ndarray::Zip::from(&m)
                .and(&v)
                .map_collect(|&m, &v| 0.1 * (m / b1) / ((v / b2).sqrt() + 1e-3));
        assert!(max_err(got, &x) < 1e-12, "step {t}");
    }
    let out = run(2, ProviderKind::TrustedThirdParty, |sess| {
        let p = Parameter::new(start.clone());
        p.encrypt(&sess, 0).unwrap();
        Ok(steps(&p, &mut Adam::new(vec![p.clone()], config).unwrap()).unwrap())
    })
    .unwrap();
    for (a, b) in out[0].iter().zip(&plain) {
        assert!(max_err(a, b) < 1e-2, "{}", max_err(a, b));
    }
}

/// Gradient of `sum(w * layer(x))` with respect to `x` and the layer's parameters.
fn norm_grads(
    layer: &dyn Module,
    x: Tensor,
    w: &ArrayD<f64>,
) -> crypten_nn::Result<Vec<ArrayD<f64>>> {
    let xv = Variable::leaf(x, true);
    layer.zero_grad();
    layer
        .forward(&xv)?
        .mul(&Variable::constant(w.clone()))?
        .sum_all()?
        .backward()?;
    let mut out = vec![xv.grad().unwrap().to_plain()?];
    for p in layer.parameters() {
        out.push(p.grad().unwrap().to_plain()?);
    }
    Ok(out)
}

#[test]
fn normalisation_and_dropout_gradients() {
    let x = data(&[6, 4], 7, -2.0, 3.0);
    let w = data(&[6, 4], 8, -1.0, 1.0);
    let layers = || (BatchNorm::new_1d(4).unwrap(), LayerNorm::new(4).unwrap());
    let (bn, ln) = layers();
    let plain = [
        norm_grads(&bn, Tensor::Plain(x.clone()), &w).unwrap(),
        norm_grads(&ln, Tensor::Plain(x.clone()), &w).unwrap(),
    ];
    // Finite differences on the input.
    let eval = |layer: &dyn Module, x: ArrayD<f64>| {
        layer
            .forward(&Variable::constant(x))
            .unwrap()
            .value()
            .to_plain()
            .unwrap()
            .iter()
            .zip(w.iter())
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let h = 1e-6;
    for (which, grads) in plain.iter().enumerate() {
        let (bn, ln) = layers();
        let layer: &dyn Module = if which == 0 { &bn } else { &ln };
        for j in 0..x.len() {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus.as_slice_mut().unwrap()[j] += h;
            minus.as_slice_mut().unwrap()[j] -= h;
            let numeric = (eval(layer, plus) - eval(layer, minus)) / (2.0 * h);
            assert!(
                (numeric - grads[0].as_slice().unwrap()[j]).abs() < 1e-5,
                "layer {which} element {j}"
            );
        }
    }
    for parties in [2, 3] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let (bn, ln) = layers();
            let enc = || CrypTensor::from_array(&sess, &x, 0).map(Tensor::Encrypted);
            Ok([
                norm_grads(&bn, enc()?, &w).unwrap(),
                norm_grads(&ln, enc()?, &w).unwrap(),
            ])
        })
        .unwrap();
        for (p, e) in plain.iter().flatten().zip(out[0].iter().flatten()) {
            assert!(max_err(p, e) < 2e-2, "{parties} parties: {}", max_err(p, e));
        }
    }
    // Dropout: the gradient is the mask scaled by 1/(1-p).
    let layer = Dropout::new(0.5, Prg::from_seed([3; 16])).unwrap();
    let xv = Variable::leaf(ArrayD::from_elem(IxDyn(&[200]), 1.0), true);
    let y = layer.forward(&xv).unwrap();
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        xv.grad().unwrap().to_plain().unwrap(),
        y.value().to_plain().unwrap()
    );
}

#[test]
fn linear_costs_one_round_and_matches_plaintext_with_three_and_four_parties() {
    let x = data(&[5, 3, 6], 40, -2.0, 2.0);
    let grad_seed = data(&[5, 3, 4], 41, -1.0, 1.0);
    let layer = || crypten_nn::Linear::new(6, 4, true, &mut Prg::from_seed([42; 16])).unwrap();
    // Plaintext reference: output and parameter gradients for the seed gradient.
    let plain = layer();
    let input = Variable::leaf(Tensor::Plain(x.clone()), false);
    let y = plain.forward(&input).unwrap();
    y.backward_with(Tensor::Plain(grad_seed.clone())).unwrap();
    let expected: Vec<ArrayD<f64>> = std::iter::once(y.value().to_plain().unwrap())
        .chain(
            plain
                .parameters()
                .iter()
                .map(|p| p.grad().unwrap().to_plain().unwrap()),
        )
        .collect();
    for parties in [3, 4] {
        let out = run(parties, ProviderKind::TrustedThirdParty, |sess| {
            let m = layer();
            m.encrypt(&sess, 0).unwrap();
            let input = Variable::leaf(CrypTensor::from_array(&sess, &x, 1)?, false);
            let before = sess.stats();
            let y = m.forward(&input).unwrap();
            let rounds = sess.stats().since(&before).rounds;
            let seed = CrypTensor::from_array(&sess, &grad_seed, 2)?;
            y.backward_with(Tensor::Encrypted(seed)).unwrap();
            let mut got = vec![y.value().to_plain().unwrap()];
            for p in m.parameters() {
                got.push(p.grad().unwrap().to_plain().unwrap());
            }
            Ok((rounds, got))
        })
        .unwrap();
        let (rounds, got) = &out[0];
        assert_eq!(*rounds, 1, "{parties} parties: forward rounds");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            let err = max_err(g, e);
            assert!(err < 2e-3, "{parties} parties, output/gradient #{i}: {err}");
        }
    }
}
