//! The end-to-end suite (`crypten bench models`): the anchor's MLP (784-128-128-10) inference
//! and training step at batch 64, and LeNet inference at batch 1 and 64, with the model at
//! party 0 and the data (and labels) at party 1. Each record also gives the same computation
//! in plaintext f64 through the same code, and the largest difference between the two.

use crate::{Error, Record, Result, measure};
use crypten::autograd::no_grad;
use crypten::ndarray::{ArrayD, IxDyn};
use crypten::nn::optim::{Sgd, SgdConfig};
use crypten::nn::{
    Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, Target,
};
use crypten::{Conv2dParams, CrypTensor, Prg, Session, Tensor, Variable};
use std::time::Instant;

/// Every model benchmark the suite knows, in order.
pub const MODEL_NAMES: &[&str] = &[
    "mlp_infer_b64",
    "mlp_train_step_b64",
    "lenet_infer_b1",
    "lenet_infer_b64",
];

fn nn_error(e: crypten::nn::Error) -> Error {
    match e {
        crypten::nn::Error::Mpc(e) => Error::Mpc(e),
        other => Error::Mpc(crypten::Error::Config(other.to_string())),
    }
}

/// The anchor's MLP, initialised from a fixed seed.
pub fn mlp() -> Result<Sequential> {
    let mut prg = Prg::from_seed([21; 16]);
    let mut build = || -> crypten::nn::Result<Sequential> {
        Ok(Sequential::new()
            .push(Linear::new(784, 128, true, &mut prg)?)
            .push(ReLU)
            .push(Linear::new(128, 128, true, &mut prg)?)
            .push(ReLU)
            .push(Linear::new(128, 10, true, &mut prg)?))
    };
    build().map_err(nn_error)
}

/// The anchor's LeNet-like CNN for 28x28 inputs, initialised from a fixed seed.
pub fn lenet() -> Result<Sequential> {
    let mut prg = Prg::from_seed([22; 16]);
    let pool = MaxPool2d {
        kernel: (2, 2),
        stride: (2, 2),
    };
    let p = Conv2dParams::default();
    let mut build = || -> crypten::nn::Result<Sequential> {
        Ok(Sequential::new()
            .push(Conv2d::new(1, 6, (5, 5), p.clone(), true, &mut prg)?)
            .push(ReLU)
            .push(pool)
            .push(Conv2d::new(6, 16, (5, 5), p.clone(), true, &mut prg)?)
            .push(ReLU)
            .push(pool)
            .push(Flatten)
            .push(Linear::new(256, 120, true, &mut prg)?)
            .push(ReLU)
            .push(Linear::new(120, 84, true, &mut prg)?)
            .push(ReLU)
            .push(Linear::new(84, 10, true, &mut prg)?))
    };
    build().map_err(nn_error)
}

fn data(shape: &[usize], seed: u8) -> ArrayD<f64> {
    let mut prg = Prg::from_seed([seed; 16]);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || prg.uniform_f64() * 2.0 - 1.0)
}

fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// One training step: forward, cross-entropy, backward, SGD; returns the loss value.
fn train_step(
    model: &Sequential,
    sgd: &mut Sgd,
    x: &Variable,
    labels: &Variable,
) -> crypten::nn::Result<Tensor> {
    sgd.zero_grad();
    let loss = CrossEntropyLoss.forward(&model.forward(x)?, &Target::OneHot(labels.clone()))?;
    loss.backward()?;
    sgd.step()?;
    Ok(loss.value().clone())
}

fn sgd(model: &Sequential) -> Result<Sgd> {
    Sgd::new(
        model.parameters(),
        SgdConfig {
            lr: 0.05,
            ..SgdConfig::default()
        },
    )
    .map_err(nn_error)
}

/// Median seconds of a plaintext run over `reps` repetitions (after one warm-up).
fn plain_median(reps: usize, mut f: impl FnMut() -> crypten::nn::Result<()>) -> Result<f64> {
    f().map_err(nn_error)?;
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        f().map_err(nn_error)?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Runs the suite (names in `only`, or all); every party gets the records.
///
/// # Errors
/// An unknown name, or the computation's own failures.
pub fn run_models(sess: &Session, only: &[String], reps: usize) -> Result<Vec<Record>> {
    for name in only {
        if !MODEL_NAMES.contains(&name.as_str()) {
            return Err(Error::UnknownOp(name.clone()));
        }
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|n| n == name);
    let mut records = Vec::new();
    let mut push = |op: &str, shape: &[usize], m: crate::Measurement, plain: f64, note: String| {
        records.push(Record::new(sess, op, shape, &m, plain, note));
    };
    let encrypt = |x: &ArrayD<f64>| -> Result<Variable> {
        Ok(Variable::constant(CrypTensor::from_array(sess, x, 1)?))
    };
    let inference = [
        ("mlp_infer_b64", vec![64, 784]),
        ("lenet_infer_b1", vec![1, 1, 28, 28]),
        ("lenet_infer_b64", vec![64, 1, 28, 28]),
    ];
    for (name, shape) in inference {
        if !wanted(name) {
            continue;
        }
        let make = if name.starts_with("mlp") { mlp } else { lenet };
        let (plain_model, model) = (make()?, make()?);
        model.encrypt(sess, 0).map_err(nn_error)?;
        let x = data(&shape, 31);
        let xe = encrypt(&x)?;
        let xp = Variable::constant(x.clone());
        let plain_out = no_grad(|| plain_model.forward(&xp))
            .map_err(nn_error)?
            .value()
            .to_plain()?;
        let plain = plain_median(reps, || no_grad(|| plain_model.forward(&xp)).map(|_| ()))?;
        let m = measure(sess, reps, || {
            no_grad(|| model.forward(&xe)).map_err(|e| crypten::Error::Config(e.to_string()))
        })?;
        let out = no_grad(|| model.forward(&xe))
            .map_err(nn_error)?
            .value()
            .to_plain()?;
        let note = format!(
            "model at P0, data at P1; max |encrypted - plaintext| {:.2e}",
            max_diff(&out, &plain_out)
        );
        push(name, &shape, m, plain, note);
    }
    if wanted("mlp_train_step_b64") {
        let (plain_model, model) = (mlp()?, mlp()?);
        model.encrypt(sess, 0).map_err(nn_error)?;
        let x = data(&[64, 784], 32);
        let ids: Vec<usize> = (0..64).map(|i| (i * 7) % 10).collect();
        let onehot = crypten::nn::one_hot(&ids, 10).map_err(nn_error)?;
        let (xe, ye) = (encrypt(&x)?, encrypt(&onehot)?);
        let (xp, yp) = (
            Variable::constant(x.clone()),
            Variable::constant(onehot.clone()),
        );
        let mut plain_sgd = sgd(&plain_model)?;
        let plain_loss = train_step(&plain_model, &mut plain_sgd, &xp, &yp)
            .map_err(nn_error)?
            .to_plain()?
            .sum();
        let plain = plain_median(reps, || {
            train_step(&plain_model, &mut plain_sgd, &xp, &yp).map(|_| ())
        })?;
        let mut enc_sgd = sgd(&model)?;
        // The first step from the same weights, compared with plaintext; then the timed steps.
        let first_loss = train_step(&model, &mut enc_sgd, &xe, &ye)
            .map_err(nn_error)?
            .to_plain()?
            .sum();
        let m = measure(sess, reps, || {
            train_step(&model, &mut enc_sgd, &xe, &ye)
                .map_err(|e| crypten::Error::Config(e.to_string()))
        })?;
        let note = format!(
            "fwd + cross-entropy + bwd + SGD, batch 64, labels at P1; first-step loss {first_loss:.4} (plaintext {plain_loss:.4})"
        );
        push("mlp_train_step_b64", &[64, 784], m, plain, note);
    }
    Ok(records)
}
